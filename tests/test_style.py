"""The style task: a network whose output is a picture, back at the frame's size, with strength
and luminance-only transfer; the third-party fast style networks through a card; bad outputs."""

import json

import cv2
import numpy as np
import pytest

import visionkit as vk
from visionkit.cli import main
from visionkit.errors import ModelError

from .conftest import _save, realworld


def make_image_model(path, *, size=16, op="negate", out_shape=None, channel_order="bgr", scale=1.0, output="image"):
    """A picture -> picture model: 255 - x (``negate``), or a constant output of ``out_shape``."""
    from onnx import TensorProto, helper, numpy_helper

    from visionkit.cards import InputSpec, ModelCard

    inits = [numpy_helper.from_array(np.array(255.0 * scale, np.float32), "top")]
    if op == "negate":
        nodes = [helper.make_node("Sub", ["top", "x"], ["y"])]
    else:  # a fixed output of another shape (a broken or wrongly described model)
        value = np.full(out_shape, np.nan if op == "nan" else 1.0, np.float32)
        inits.append(numpy_helper.from_array(value, "const"))
        nodes = [helper.make_node("ReduceMean", ["x"], ["m"], keepdims=1),
                 helper.make_node("Mul", ["m", "zero"], ["z"]),
                 helper.make_node("Add", ["const", "z"], ["y"])]
        inits.append(numpy_helper.from_array(np.array(0.0, np.float32), "zero"))
    graph = helper.make_graph(nodes, "image_model",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, size, size])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [None, None, None, None])],
                              initializer=inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    card = ModelCard(task="style", name="negative", output=output,
                     input=InputSpec(size=(size, size), channel_order=channel_order, scale=scale))
    return _save(model, path, card)


@pytest.fixture
def frame():
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, (16, 16, 3), dtype=np.uint8)


def test_the_output_picture_comes_back_in_rgb_at_the_frame_size(tmp_path, frame):
    for order, scale in (("bgr", 1.0), ("rgb", 1 / 255)):
        model = make_image_model(tmp_path / f"neg_{order}.onnx", channel_order=order, scale=scale)
        result = vk.Pipeline(["style"], models={"style": str(model)})(frame)
        styled = result["style"]
        assert styled.style == "negative" and styled.image.shape == frame.shape
        np.testing.assert_allclose(styled.image.astype(int), 255 - frame.astype(int), atol=1)
        assert np.array_equal(vk.render(result), styled.image)  # the styled picture is the base
        assert json.loads(json.dumps(result.to_dict()))["results"]["style"]["width"] == 16


def test_strength_size_and_keep_colours(tmp_path, frame):
    model = make_image_model(tmp_path / "neg.onnx")
    pipe = vk.Pipeline(["style"], models={"style": str(model)}, options={"style": {"strength": 0.0}})
    assert np.array_equal(pipe(frame)["style"].image, frame)  # strength 0: the frame itself
    pipe.set_options("style", strength=1.0, size=40)
    assert pipe(frame)["style"].image.shape == (40, 40, 3)
    pipe.set_options("style", size=0, keep_colours=True)
    mid = (frame // 3 + 85).astype(np.uint8)  # mid tones: the new lightness keeps every colour in gamut
    kept = pipe(mid)["style"].image
    frame = mid
    chroma = lambda im: cv2.cvtColor(im, cv2.COLOR_RGB2YCrCb)[..., 1:].astype(int)  # noqa: E731
    luma = lambda im: cv2.cvtColor(im, cv2.COLOR_RGB2YCrCb)[..., 0].astype(int)  # noqa: E731
    assert np.abs(chroma(kept) - chroma(frame)).max() <= 2  # the frame's colours ...
    assert np.abs(luma(kept) - luma(255 - frame)).max() <= 2  # ... the network's lightness


@pytest.mark.parametrize("op, shape, message", [
    ("const", [1, 5, 16, 16], "is not one 3-channel picture"),
    ("const", [1, 3, 2, 2], "is not a picture to show"),
    ("nan", [1, 3, 16, 16], "NaN or infinite"),
])
def test_an_output_that_is_no_picture_is_one_line(tmp_path, frame, op, shape, message):
    model = make_image_model(tmp_path / "bad.onnx", op=op, out_shape=shape)
    result = vk.Pipeline(["style"], models={"style": str(model)}).predict_batch([frame])[0]
    assert not result.ok and message in result.error and "\n" not in result.error


def test_an_image_model_given_to_classify_is_refused(tmp_path):
    model = make_image_model(tmp_path / "neg.onnx")
    with pytest.raises(vk.VisionkitError, match="is a 'style' model, not 'classify'"):
        vk.Pipeline(["classify"], models={"classify": str(model)})


def test_a_style_card_must_say_image(tmp_path):
    model = make_image_model(tmp_path / "neg.onnx", output="logits")
    with pytest.raises(ModelError, match="names no style decoder"):
        vk.Pipeline(["style"], models={"style": str(model)})


def test_a_third_party_fast_style_network_through_its_card(tmp_path, capsys):
    model = tmp_path / "candy.onnx"
    model.symlink_to(realworld("models", "style_transfer", "candy.onnx"))
    assert main(["models", "card", str(model), "--task", "style", "--channel-order", "bgr", "--scale", "1",
                 "--output", "image"]) == 0
    photo = cv2.resize(vk.read_image(realworld("images", "winml", "style_input.jpg")), (320, 240))
    pipe = vk.Pipeline(["style"], models={"style": str(model)}, threads=1)
    styled = pipe(photo)["style"]
    assert styled.image.shape == photo.shape and styled.style == "candy"
    assert styled.info["network_size"] == [720, 720]
    # a different picture, with the frame's layout: the styled picture correlates with its lightness
    grey = lambda im: cv2.cvtColor(im, cv2.COLOR_RGB2GRAY).astype(np.float64).ravel()  # noqa: E731
    assert np.abs(styled.image.astype(int) - photo).mean() > 20
    assert np.corrcoef(grey(styled.image), grey(photo))[0, 1] > 0.2
    big = cv2.resize(photo, (2400, 1800))
    pipe(big)
    assert any("fine detail is lost" in n for n in pipe.notes)


# -- Gatys et al.'s optimisation --------------------------------------------------------------

def _stripes(h, w, period=6):
    image = np.zeros((h, w, 3), np.uint8)
    image[:, :, 0] = np.where((np.arange(w) // period) % 2, 230, 20)[None, :]
    image[:, :, 2] = np.where((np.arange(h) // period) % 2, 200, 40)[:, None]
    return image


def test_optimisation_lowers_the_style_loss(tmp_path, capsys):
    pytest.importorskip("torch")
    photo = np.clip(np.random.default_rng(0).normal(120, 30, (48, 64, 3)), 0, 255).astype(np.uint8)
    vk_write = __import__("visionkit.imageio", fromlist=["write_image"]).write_image
    vk_write(tmp_path / "photo.png", photo)
    vk_write(tmp_path / "style.png", _stripes(64, 64))
    assert main(["style", "optimize", str(tmp_path / "photo.png"), str(tmp_path / "style.png"), "--size", "64",
                 "--steps", "8", "--json", "--out", str(tmp_path / "out.png")]) == 0
    numbers = json.loads(capsys.readouterr().out)
    assert (tmp_path / "out.png").exists() and numbers["size"] == [64, 48]
    from visionkit.bundled import resolve_model
    from visionkit.plugins.style.nn.gatys import LossNetwork, optimise

    import torch

    net = LossNetwork(resolve_model("asset:efficientnet_lite0_backbone.onnx"))
    start = torch.from_numpy(photo.astype(np.float32))[None]
    targets = net.targets(start, torch.from_numpy(_stripes(64, 64).astype(np.float32))[None])
    _, style_before, _ = net.losses(start, *targets)  # the photo itself: no style yet
    _, losses = optimise(net, photo, _stripes(64, 64), steps=30, style_weight=5.0, lr=8.0)
    assert losses.style < 0.7 * float(style_before)


@pytest.mark.parametrize("style, message", [
    (np.zeros((1, 1, 3), np.uint8), "at least 32 px"),
    (np.full((40, 40), 128, np.uint8), None),  # grey: read as RGB
    (np.full((40, 40, 4), 128, np.uint8), None),  # alpha: dropped
])
def test_style_pictures_of_any_kind(tmp_path, capsys, style, message):
    pytest.importorskip("torch")
    cv2.imwrite(str(tmp_path / "style.png"), style)
    cv2.imwrite(str(tmp_path / "photo.png"), _stripes(40, 40))
    code = main(["style", "optimize", str(tmp_path / "photo.png"), str(tmp_path / "style.png"), "--size", "40",
                 "--steps", "1", "--out", str(tmp_path / "out.png")])
    err = capsys.readouterr().err
    if message:
        assert code == 2 and message in err and "Traceback" not in err
    else:
        assert code == 0, err


def test_score_measures_any_stylised_picture(tmp_path, capsys):
    pytest.importorskip("torch")
    photo = np.clip(np.random.default_rng(0).normal(120, 30, (48, 64, 3)), 0, 255).astype(np.uint8)
    cv2.imwrite(str(tmp_path / "photo.png"), photo)
    cv2.imwrite(str(tmp_path / "style.png"), _stripes(64, 64))
    assert main(["style", "optimize", str(tmp_path / "photo.png"), str(tmp_path / "style.png"), "--size", "64",
                 "--steps", "30", "--style-weight", "5", "--out", str(tmp_path / "styled.png")]) == 0
    (tmp_path / "broken.png").write_text("no")
    capsys.readouterr()
    code = main(["style", "score", str(tmp_path / "photo.png"), str(tmp_path / "style.png"), str(tmp_path / "photo.png"),
                 str(tmp_path / "styled.png"), str(tmp_path / "broken.png"), "--size", "64", "--json"])
    out = capsys.readouterr()
    rows = [json.loads(line) for line in out.out.splitlines()]
    assert code == 1 and "broken.png" in out.err  # the bad one listed, the others measured
    itself, styled = rows
    assert itself["content_loss"] < 1e-6  # the photo has its own content exactly
    assert styled["style_loss"] < itself["style_loss"]  # the optimised picture is nearer the style
