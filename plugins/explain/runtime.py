"""The ``explain`` task: what the classifier looked at, what a unit responds to, and how little
it takes to fool it, beside the frame's predictions.

Each method makes one :class:`visionkit.results.Explanation`. Occlusion, activations and top
patches run on onnxruntime alone (any classifier, third-party ones too); saliency, Grad-CAM,
guided backpropagation, class models, feature inversion and adversarial examples need
gradients, so they import torch (the ``[train]`` extra) on first use. The class explained is
the frame's top prediction unless ``target`` names one (a label, or its number).
"""

from __future__ import annotations

from typing import Any, ClassVar, Mapping

import numpy as np

from visionkit.errors import UsageError
from visionkit.preprocess import network_pixels, to_tensor
from visionkit.results import Explanation
from visionkit.tasks import Task, TaskInputs

from . import pictures
from .activations import TopPatches, folder_images, layer_map, picture_cells, strongest_channel
from .occlusion import occlusion_map
from .scorer import ClassScorer

#: every method, in the order the app lists them
METHODS = ("occlusion", "saliency", "gradcam", "guided", "activation", "patches", "classmodel", "inversion",
           "fgsm", "pgd")
#: methods that need torch
GRADIENT_METHODS = frozenset({"saliency", "gradcam", "guided", "classmodel", "inversion", "fgsm", "pgd"})
#: the layer each method reads when ``layer`` is left empty ("" for Grad-CAM: the model's last map)
DEFAULT_LAYERS = {"activation": "c4", "patches": "c4", "inversion": "c3", "gradcam": ""}
DEFAULT_STEPS = {"pgd": 10, "classmodel": 150, "inversion": 200}
#: folder searches kept (one per unit): a video with channel -1 moves between a few units
PATCH_CACHE = 8


class ExplainTask(Task):
    name: ClassVar[str] = "explain"
    requires_model: ClassVar[bool] = False
    #: the explanation names its class and score: the classifier's own panel would repeat it
    draws_needs: ClassVar[bool] = True
    default_options: ClassVar[Mapping[str, Any]] = {
        "method": "occlusion", "target": "", "layer": "", "channel": -1, "patch": 32, "stride": 16,
        "eps": 2.0, "steps": 0, "folder": "", "images": 200, "seed": 0,
    }
    option_limits: ClassVar[Mapping[str, tuple]] = {
        "channel": (-1, None), "patch": (1, 4096), "stride": (1, 4096), "eps": (0.0, 255.0), "steps": (0, 100_000),
        "images": (1, 1_000_000), "seed": (0, None),
    }
    option_choices: ClassVar[Mapping[str, tuple]] = {"method": METHODS}

    def __init__(self, model=None, **options: Any) -> None:
        super().__init__(model, **options)
        self._scorer: ClassScorer | None = None
        self._scorer_model: Any = None
        self._differentiable: dict[bool, Any] = {}
        self._patch_cache: dict[tuple, TopPatches] = {}

    def needs(self) -> tuple[str, ...]:
        return ("classify",)

    # -- what every method shares -----------------------------------------------------------------
    def scorer(self, context) -> ClassScorer:
        model = context.task("classify").model
        if self._scorer is None or self._scorer_model is not model:
            self._scorer, self._scorer_model = ClassScorer(context), model
            self._differentiable.clear()
        return self._scorer

    def differentiable(self, scorer: ClassScorer, guided: bool = False):
        if guided not in self._differentiable:
            from .nn.gradients import Differentiable

            self._differentiable[guided] = Differentiable(scorer, guided=guided)
        return self._differentiable[guided]

    def class_id(self, scorer: ClassScorer, inputs: TaskInputs) -> int:
        target = str(self.options["target"]).strip()
        top = inputs.results.get("classify")
        if target:
            probs = getattr(top, "probabilities", None)
            return scorer.class_id(target, None if probs is None else len(probs))
        if top is None or not top.class_ids:
            raise UsageError("explain: no prediction to explain; name a class with target=")
        return int(top.class_ids[0])

    def steps(self) -> int:
        return int(self.options["steps"]) or DEFAULT_STEPS.get(self.options["method"], 1)

    def layer(self) -> str:
        return str(self.options["layer"]).strip() or DEFAULT_LAYERS.get(self.options["method"], "")

    def decode(self, outputs: list[np.ndarray], inputs: TaskInputs) -> Explanation:
        if inputs.context is None:
            raise UsageError("explain runs inside a pipeline (it needs the classifier's sessions)")
        method = self.options["method"]
        scorer = self.scorer(inputs.context)
        if method in ("activation", "patches") and inputs.context.backbone is None:
            raise UsageError(f"explain: {method} reads the shared backbone's feature maps; the classifier "
                             f"{scorer.model.path.name} does not run on it")
        frame = _Frame(inputs.image, scorer.spec)
        return getattr(self, f"_{method}")(frame, scorer, inputs)

    # -- forward passes only ----------------------------------------------------------------------
    def _occlusion(self, frame, scorer, inputs) -> Explanation:
        cid = self.class_id(scorer, inputs)
        heat, numbers = occlusion_map(scorer.probabilities, frame.pixels, frame.region, cid,
                                      patch=int(self.options["patch"]), stride=int(self.options["stride"]))
        return Explanation("occlusion", _class_target(scorer, cid), heatmap=frame.heat(np.maximum(heat, 0)),
                           numbers=numbers)

    def _layer_maps(self, frame, scorer, inputs, layer: str):
        """``(frame, maps, cells)``: the frame as the backbone saw it, one layer's maps of it, and
        the cells over the picture. The maps are the pipeline's own backbone pass of this frame."""
        spec = inputs.context.backbone.card.input
        if not scorer.on_backbone:  # a standalone classifier saw the frame at its own size
            frame = _Frame(inputs.image, spec)
        feats = inputs.features
        if feats is None:
            feats = inputs.context.features_batch(to_tensor(frame.pixels, spec))
        maps = layer_map(feats, layer)
        stride = frame.pixels.shape[0] // maps.shape[1]
        return frame, maps, picture_cells(frame.region, stride, maps.shape[1:])

    def _activation(self, frame, scorer, inputs) -> Explanation:
        layer = self.layer()
        frame, maps, cells = self._layer_maps(frame, scorer, inputs, layer)
        channel = self._channel(maps, cells)
        grid = np.maximum(maps[channel], 0)
        numbers = {"layer": layer, "channel": channel, "channels": int(maps.shape[0]),
                   "max": round(float(grid[cells].max()), 6), "mean": round(float(grid[cells].mean()), 6)}
        heat = pictures.upsample(grid, frame.pixels.shape[:2])
        return Explanation("activation", f"{layer} channel {channel}", heatmap=frame.heat(heat), numbers=numbers)

    def _channel(self, maps: np.ndarray, cells) -> int:
        channel = int(self.options["channel"])
        if channel >= len(maps):
            raise UsageError(f"explain: the layer has channels 0-{len(maps) - 1}, not {channel}")
        return strongest_channel(maps, cells) if channel < 0 else channel

    def _patches(self, frame, scorer, inputs) -> Explanation:
        folder = str(self.options["folder"]).strip()
        if not folder:
            raise UsageError("explain: patches searches a folder of pictures; give it with folder=DIR")
        layer = self.layer()
        channel = int(self.options["channel"])
        if channel < 0:
            _, maps, cells = self._layer_maps(frame, scorer, inputs, layer)
            channel = strongest_channel(maps, cells)
        key = (str(inputs.context.backbone.path), folder, layer, channel, int(self.options["images"]))
        found = self._patch_cache.pop(key, None)
        if found is None:  # a folder is searched once per unit, not once per frame
            found = TopPatches(inputs.context.features_batch, inputs.context.backbone.card.input, layer, channel)
            found.add(folder_images(folder, int(self.options["images"])))
        self._patch_cache[key] = found  # the newest last; the oldest goes beyond PATCH_CACHE
        while len(self._patch_cache) > PATCH_CACHE:
            self._patch_cache.pop(next(iter(self._patch_cache)))
        grid = pictures.mosaic([patch for _, _, patch in found.found], columns=3, size=max(64, found.side))
        numbers = {"layer": layer, "channel": channel, "pictures": found.seen, "field_px": found.side,
                   "top": [{"picture": name, "activation": round(v, 6)} for v, name, _ in found.found]}
        return Explanation("patches", f"{layer} channel {channel}", picture=pictures.fit(grid, inputs.image.shape),
                           numbers=numbers)

    # -- gradients --------------------------------------------------------------------------------
    def _expected(self, inputs) -> np.ndarray | None:
        top = inputs.results.get("classify")
        return None if top is None else top.probabilities

    def checked(self, scorer: ClassScorer, frame, inputs):
        """The differentiable classifier, once its probabilities on this frame have matched
        onnxruntime's (for a method that never runs the frame itself: the others check inside
        their first pass)."""
        model = self.differentiable(scorer)
        expected = self._expected(inputs)
        if expected is not None:
            model.check(model(model.tensor(frame.pixels, grad=False))[0], expected)
        return model

    def _saliency(self, frame, scorer, inputs) -> Explanation:
        from .nn.gradients import saliency

        cid = self.class_id(scorer, inputs)
        heat = saliency(self.differentiable(scorer), frame.pixels, cid, self._expected(inputs)) * frame.mask
        return Explanation("saliency", _class_target(scorer, cid), heatmap=frame.heat(heat),
                           numbers=_score(inputs, cid))

    def _guided(self, frame, scorer, inputs) -> Explanation:
        from .nn.gradients import input_gradient

        cid = self.class_id(scorer, inputs)
        grad, _ = input_gradient(self.differentiable(scorer, guided=True), frame.pixels, cid, self._expected(inputs))
        grad = grad * frame.mask[..., None]
        # the classic rendering: the gradient as a picture, grey at zero, three standard
        # deviations to either end
        spread = 3 * float(grad[frame.mask > 0].std()) or 1.0
        picture = np.clip(127.5 + 127.5 * grad / spread, 0, 255).astype(np.uint8)
        return Explanation("guided", _class_target(scorer, cid), picture=frame.region.crop(picture),
                           heatmap=frame.heat(np.abs(grad).max(axis=2)), numbers=_score(inputs, cid))

    def _gradcam(self, frame, scorer, inputs) -> Explanation:
        from .nn.gradients import grad_cam

        cid = self.class_id(scorer, inputs)
        model = self.differentiable(scorer)
        layer = self.layer() or model.default_layer()
        cam = grad_cam(model, frame.pixels, cid, layer, self._expected(inputs))
        heat = pictures.upsample(cam, frame.pixels.shape[:2]) * frame.mask
        return Explanation("gradcam", _class_target(scorer, cid), heatmap=frame.heat(heat),
                           numbers={**_score(inputs, cid), "layer": layer, "grid": list(cam.shape)})

    def _classmodel(self, frame, scorer, inputs) -> Explanation:
        from .nn.synthesis import class_model

        cid = self.class_id(scorer, inputs)
        model = self.checked(scorer, frame, inputs)
        pixels, numbers = class_model(model, tuple(scorer.spec.size), cid,
                                      steps=self.steps(), seed=int(self.options["seed"]))
        picture = pictures.fit(pixels.astype(np.uint8), inputs.image.shape)
        return Explanation("classmodel", _class_target(scorer, cid), picture=picture, numbers=numbers)

    def _inversion(self, frame, scorer, inputs) -> Explanation:
        from .nn.synthesis import invert

        model = self.differentiable(scorer)
        layer = self.layer() or model.default_layer()
        pixels, numbers = invert(model, frame.pixels, layer, steps=self.steps(), seed=int(self.options["seed"]),
                                 expected=self._expected(inputs))
        return Explanation("inversion", f"layer {layer}", picture=frame.region.crop(pixels.astype(np.uint8)),
                           numbers={"layer": layer, **numbers})

    def _fgsm(self, frame, scorer, inputs) -> Explanation:
        return self._attack("fgsm", frame, scorer, inputs)

    def _pgd(self, frame, scorer, inputs) -> Explanation:
        return self._attack("pgd", frame, scorer, inputs)

    def _attack(self, method: str, frame, scorer, inputs) -> Explanation:
        from .nn.adversarial import fgsm, pgd

        cid = self.class_id(scorer, inputs)
        eps = float(self.options["eps"])
        if eps != round(eps) or eps < 1:
            eps = float(max(1, round(eps)))
            self.note(f"a picture holds whole grey levels: eps is {eps:g} (levels of 255)")
        model = self.differentiable(scorer)
        expected = self._expected(inputs)
        if method == "fgsm":
            adv = fgsm(model, frame.pixels, frame.mask, cid, eps, expected=expected)
        else:
            adv = pgd(model, frame.pixels, frame.mask, cid, eps, steps=self.steps(), expected=expected)
        adv = adv.astype(np.uint8)
        # the classifier's own probabilities of this frame, unless it did not run on it
        before = expected if expected is not None else scorer.probabilities(frame.pixels[None])[0]
        after = scorer.probabilities(adv[None])[0]
        old, new = int(np.argmax(before)), int(np.argmax(after))
        delta = adv.astype(np.float32) - frame.pixels
        numbers = {
            "eps": eps, "before": {"class": scorer.label(old), "score": round(float(before[old]), 6),
                                   "target_score": round(float(before[cid]), 6)},
            "after": {"class": scorer.label(new), "score": round(float(after[new]), 6),
                      "target_score": round(float(after[cid]), 6)},
            # the prediction changed: with a named class that was not the top one, the attack
            # pushes away from that class and may leave the top prediction where it was
            "flipped": new != old, "linf": float(np.abs(delta).max()),
        }
        if method == "pgd":
            numbers["steps"] = self.steps()
        # the picture is the adversarial example itself (classify it again: the same answer);
        # the perturbation, stretched to be seen, is drawn over it as an inset
        return Explanation(method, _class_target(scorer, cid), picture=frame.region.crop(adv), numbers=numbers,
                           images={"perturbation": pictures.signed_picture(frame.region.crop(delta))})


class _Frame:
    """The frame at the network's input size, where it lies there, and the way back."""

    def __init__(self, image: np.ndarray, spec) -> None:
        self.image = image
        self.pixels, self.transform = network_pixels(image, spec)
        self.pixels = np.ascontiguousarray(self.pixels)
        self.region = pictures.Region.of(self.transform, image.shape, self.pixels.shape)
        self.mask = self.region.mask(self.pixels.shape)

    def heat(self, heat: np.ndarray) -> np.ndarray:
        return pictures.to_frame(heat, self.transform, self.image.shape)


def _class_target(scorer: ClassScorer, class_id: int) -> str:
    return f"class {scorer.label(class_id)!r} ({class_id})"


def _score(inputs: TaskInputs, class_id: int) -> dict[str, float]:
    top = inputs.results.get("classify")
    if top is None or top.probabilities is None:
        return {}
    return {"score": round(float(top.probabilities[class_id]), 6)}
