"""ShapeWorld tracking sequences: moving shapes and stick figures with an id each, frame by frame.

:func:`script` draws sequence ``index`` of set ``seed`` (a pure function of the two): objects from
the samplers of :mod:`~visionkit.data.scenes`, a world path for each, a static occluder, the
background and the camera's path. Every sequence of at least :data:`MIN_FRAMES` frames stages a
*crossing* (two objects reach one point at one frame; the higher ``z`` hides the other), an
*occlusion* (an object passes behind a pole across the frame that hides it wholly), an *entry* and
an *exit* through the borders, and two *similar* objects (same class and colour, about the same
size) side by side; three in four (``index % 4 != 3``) have camera *pans*, smooth translations of the whole
scene, background included. Motion is piecewise constant velocity, changed over ramps of a few
frames (constant acceleration) and held for 0.5 s around each staged event.

:func:`sequence` renders the frames and boxes every object whose outline reaches into the frame
(a :class:`TrackBox`: track id, class id, box of the visible mask as in
:func:`~visionkit.data.scenes.annotate`, visibility). Rule: ``visibility`` = visible pixels /
pixels of the whole outline (parts outside the frame count as hidden). A box below
:data:`MIN_VISIBLE`, or with fewer than :data:`MIN_PIXELS` pixels, stays in the ground truth with
MOT ``conf`` 0 (not *considered*: evaluation ignores it, as MOTChallenge does for heavily occluded
people). A wholly hidden object gets the box of its whole outline clipped to the frame.

Written as MOTChallenge folders by :mod:`visionkit.data.mot_folders`. :func:`training_frame` draws
still frames of such sequences for training detectors on what a tracker is scored on.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace
from functools import lru_cache
from types import SimpleNamespace

import cv2
import numpy as np

from .figures import StickFigure
from .scenes import _figure
from .shapeworld import (
    CLASSES,
    Clutter,
    Scene,
    Size,
    _hw,
    contrasting_colour,
    random_background,
    random_clutter,
    random_object,
    render,
    visible_masks,
)

__all__ = ["FRAMES_PER_SEQUENCE", "MIN_FRAMES", "MIN_PIXELS", "MIN_VISIBLE", "Script", "Track", "TrackBox",
           "frame_scene", "script", "sequence", "training_frame"]

MIN_VISIBLE = 0.25  # lower than scenes' 0.6: a tracker follows through partial occlusion
MIN_PIXELS = 12
MIN_FRAMES = 40  # shorter sequences may miss staged events
_TAG = 4  # this sampler's random stream (scenes.py uses 1-3)
#: still frames for training: ten of each sequence of 100 frames, 0.4 s apart at 25 fps, so a
#: set of frames holds many sequences' staged events rather than one sequence's every moment
FRAMES_PER_SEQUENCE, _TRAINING_LENGTH = 10, 100


@dataclass
class TrackBox:
    """One object in one frame: ``box`` xyxy float32 (x2/y2 exclusive) of its visible pixels."""

    track_id: int
    class_id: int
    box: np.ndarray
    visibility: float
    pixels: int

    @property
    def consider(self) -> bool:
        return self.visibility >= MIN_VISIBLE and self.pixels >= MIN_PIXELS


@dataclass
class Track:
    """An object: ``item`` centred on the origin, world ``path`` (T, 2), ``spin`` rad/frame,
    ``area`` pixels of its whole outline, which lies within ``lo .. hi`` of its centre."""

    item: object
    path: np.ndarray
    spin: float
    area: int
    lo: np.ndarray
    hi: np.ndarray


@dataclass
class Script:
    """All one sequence is rendered from; ``camera`` (T, 2) is the view's world offset and
    ``canvas`` the background (with static clutter) reaching ``margin`` px beyond the view."""

    height: int
    width: int
    fps: float
    tracks: list[Track]
    camera: np.ndarray
    canvas: np.ndarray
    margin: int
    occluders: list[Clutter]
    events: list[tuple[str, int, tuple[int, ...]]]  # (kind, 0-based frame, track ids)
    noise: tuple[float, int, bool]  # sigma, seed, blur

    @property
    def n_frames(self) -> int:
        return len(self.camera)


def _placed(item, xy, turn: float = 0.0):
    if isinstance(item, StickFigure):
        return replace(item, joints=item.joints + xy)
    return replace(item, centre=(float(xy[0]), float(xy[1])), rotation=item.rotation + turn)


def _track(item, path: np.ndarray, spin: float = 0.0) -> Track:
    if isinstance(item, StickFigure):
        pad = item.head_radius + item.thickness / 2 + 1
        lo, hi = item.joints.min(0) - pad, item.joints.max(0) + pad
    else:  # a bound over every rotation, as shapes spin
        r = np.linalg.norm(item.polygon()[0], axis=1).max() + 1
        lo, hi = np.array([-r, -r]), np.array([r, r])
    side = np.ceil(hi - lo).astype(int) + 2
    return Track(item, path, spin, max(1, int(_placed(item, 1 - lo).mask(side[1], side[0]).sum())), lo, hi)


def _unit(angle: float) -> np.ndarray:
    return np.array([np.cos(angle), np.sin(angle)])


def _path(rng, n: int, t0: int, p0, v0, fps: float, before: int | None = None,
          after: int | None = None) -> np.ndarray:
    """(n, 2) positions through ``p0`` at frame ``t0``: velocity ``v0`` held ``before``/``after``
    frames either side (0.5 s by default), then turned every 0.6-2 s over 3-10 frame ramps."""
    calm, base, knots = int(0.5 * fps), float(np.hypot(*v0)), {}
    for sign, hold in ((-1, calm if before is None else before), (1, calm if after is None else after)):
        t, v = t0 + sign * hold, np.asarray(v0, np.float64)
        knots[t] = v
        while 0 < t < n - 1:
            speed = np.clip(np.hypot(*v) * rng.uniform(0.6, 1.5), 0.4 * base, 2.0 * base)
            v = speed * _unit(np.arctan2(v[1], v[0]) + rng.normal(0, 0.6))
            t += sign * int(rng.integers(3, 11))
            knots[t] = v
            t += sign * int(rng.uniform(0.6, 2.0) * fps)
            knots[t] = v
    ts = sorted(knots)
    vel = np.stack([np.interp(np.arange(n), ts, [knots[k][i] for k in ts]) for i in (0, 1)], 1)
    cum = np.concatenate([np.zeros((1, 2)), np.cumsum(vel[:-1], 0)])
    return np.asarray(p0, np.float64) + cum - cum[t0]


def _template(rng, figure: bool, s: int, against, scale: float = 0.11):
    if figure:  # scenes' sampler: 0.18-0.42 of the frame tall
        fig = _figure(rng, s, s, 0.6 * s, against, 0, True)
        return replace(fig, joints=fig.joints - (fig.joints.min(0) + fig.joints.max(0)) / 2)
    obj = random_object(rng, int(rng.integers(len(CLASSES))), s, s, rng.uniform(0.05, scale) * s, against)
    return replace(obj, centre=(0.0, 0.0))


def _outside(tr: Track, xy, h: int, w: int) -> bool:
    lo, hi = xy + tr.lo, xy + tr.hi
    return bool(hi[0] < 0 or hi[1] < 0 or lo[0] > w or lo[1] > h)


def script(seed: int, index: int, n_frames: int, size: Size = 256, fps: float = 25.0) -> Script:
    """Sequence ``index`` of the track set ``seed``: its objects, paths, camera and events."""
    h, w = _hw(size)
    if n_frames < 1 or min(h, w) < 32 or not fps > 0 or seed < 0 or index < 0:
        raise ValueError(f"bad sequence: seed {seed}, index {index}, {n_frames} frames, {h}x{w}, {fps} fps")
    rng = np.random.default_rng([int(seed), _TAG, int(index)])
    n, s, dims = int(n_frames), min(h, w), np.array([w, h], np.float64)
    bg = random_background(rng)
    against = (bg.colour, bg.colour2)
    camera, events = np.zeros((n, 2)), []
    for _ in range(int(rng.integers(1, 3)) if index % 4 != 3 else 0):  # smoothstep pans, 8-25 % of s
        start, span = int(rng.integers(0, max(1, n - int(fps)))), rng.uniform(1.0, 2.5) * fps
        u = np.clip((np.arange(n) - start) / span, 0.0, 1.0)[:, None]
        camera += rng.uniform(0.08, 0.25) * s * _unit(rng.uniform(0, 2 * np.pi)) * u * u * (3 - 2 * u)
        events.append(("pan", start, ()))
    margin = int(np.ceil(np.abs(camera).max())) + 2
    bh, bw = h + 2 * margin, w + 2 * margin
    canvas = render(Scene(bh, bw, bg, [random_clutter(rng, bh, bw, -1, False) for _ in range(rng.integers(5))]))
    speed = rng.uniform(0.12, 0.3) * s / fps  # px/frame: crossing the frame takes 3-8 s
    figure_role = int(rng.choice([0, 1, 3, 4]))  # one staged part is played by a stick figure
    tracks: list[Track] = []

    def add(role: int, t0: int, screen, v, item=None, **kw) -> Track:
        if item is None:
            item = _template(rng, role == figure_role or (role > 4 and rng.random() < 0.3), s, against)
        spin = rng.normal(0, 0.5) / fps if not isinstance(item, StickFigure) and rng.random() < 0.5 else 0.0
        tracks.append(_track(item, _path(rng, n, t0, np.asarray(screen) + camera[t0], v, fps, **kw), spin))
        return tracks[-1]

    def frame(lo: float, hi: float) -> int:
        return min(n - 1, int(rng.uniform(lo, hi) * n))

    def along(axis: int, at: float):  # a point at ``at`` of the frame along ``axis``, inner across
        return np.where(np.arange(2) == axis, at, rng.uniform(0.3, 0.7, 2)) * dims

    # the pole stands across the frame (axis 0: upright, passed along x); the crossing is on
    # one side of it, so that the pole does not hide it
    axis, side, t_cross, t_occ = int(rng.integers(2)), rng.choice([-1, 1]), frame(0.3, 0.7), frame(0.3, 0.7)
    cross, a = along(axis, 0.5 + side * rng.uniform(0.22, 0.36)), rng.uniform(0, 2 * np.pi)
    add(0, t_cross, cross, speed * _unit(a))
    add(1, t_cross, cross, speed * rng.uniform(0.8, 1.3) * _unit(a + rng.choice([-1, 1]) * rng.uniform(1, 2.6)))
    item = _template(rng, False, s, against, scale=0.08)  # small, so the pole need not be wide
    at, heading = along(axis, 0.5 - side * rng.uniform(0.0, 0.1)), axis * np.pi / 2 + rng.choice([0, np.pi])
    probe = _track(item, np.zeros((1, 2)))
    extent = (probe.hi - probe.lo)[axis]
    half = extent * rng.uniform(0.55, 0.65)  # a little wider than the object, which vanishes
    # fast enough to pass behind it within 1.5 s (and 30 % of the sequence): seen on both sides
    v = max(speed, (2 * half + extent) / min(0.3 * n, 1.5 * fps) / 0.9) * _unit(heading + rng.uniform(-0.4, 0.4))
    add(2, t_occ, at, v, item=item)
    c, far = at[axis] + camera[t_occ, axis], (-margin - 4, (h, w)[axis] + margin + 4)
    pole = np.array([(c - half, far[0]), (c + half, far[0]), (c + half, far[1]), (c - half, far[1])])
    occluders = [Clutter("blob", pole[:, ::1 - 2 * axis], contrasting_colour(rng, against)[1], z=10_000)]
    events += [("crossing", t_cross, (0, 1)), ("occlusion", t_occ, (2,))]

    # entry and exit through a random border, straight on the border's side of the anchor
    # frame; faster on each try until the object starts (ends) wholly outside, pans or not
    for role, t0, kind in ((3, frame(0.2, 0.4), "entry"), (4, frame(0.6, 0.8), "exit")):
        item, border = _template(rng, figure_role == role, s, against), int(rng.integers(4))
        normal = np.round(_unit(border * np.pi / 2))  # outward: right, down, left, up
        anchor = dims / 2 + normal * (dims / 2 - 0.06 * s) + (1 - np.abs(normal)) * dims * rng.uniform(-0.3, 0.3)
        v = speed * _unit(border * np.pi / 2 + (kind == "entry") * np.pi + rng.uniform(-0.6, 0.6))
        end = 0 if kind == "entry" else n - 1
        for _ in range(12):
            tr = add(role, t0, anchor, v, item=item, **({"before": t0} if kind == "entry" else {"after": n}))
            if _outside(tr, tr.path[end] - camera[end], h, w):
                break
            tracks.pop()
            v = v * 1.4
        else:
            tracks.append(tr)  # too short a sequence to stage it; keep the object anyway
        events.append((kind, t0, (len(tracks) - 1,)))

    # look-alikes: one path, the copy beside it and drifting slowly
    first = add(5, frame(0.3, 0.7), rng.uniform(0.3, 0.7, 2) * dims, speed * _unit(rng.uniform(0, 2 * np.pi)),
                item=_template(rng, False, s, against))
    d = first.path[-1] - first.path[0] if n > 1 else np.ones(2)
    offset = _unit(np.arctan2(d[1], d[0]) + np.pi / 2) * (first.hi[0] - first.lo[0]) * rng.uniform(1.1, 1.5)
    drift = rng.uniform(-0.25, 0.25) * speed * _unit(rng.uniform(0, 2 * np.pi)) * (np.arange(n)[:, None] - n / 2)
    twin = replace(first.item, size=first.item.size * rng.uniform(0.9, 1.1), rotation=rng.uniform(0, 2 * np.pi))
    tracks.append(_track(twin, first.path + offset + drift, first.spin))
    events.append(("similar", 0, (len(tracks) - 2, len(tracks) - 1)))

    for _ in range(int(rng.integers(1, 4))):  # wanderers
        v = speed * rng.uniform(0.6, 1.4) * _unit(rng.uniform(0, 2 * np.pi))
        add(6, frame(0, 1), rng.uniform(0.1, 0.9, 2) * dims, v)
    for k, (tr, z) in enumerate(zip(tracks, rng.permutation(len(tracks)))):
        tr.item = replace(tr.item, z=int(z), track_id=k + 1)  # distinct z: someone is in front
    events = [(kind, t, tuple(i + 1 for i in ids)) for kind, t, ids in events]
    noise = (float(rng.uniform(1, 5)) if rng.random() < 0.5 else 0.0, int(rng.integers(2**31)), rng.random() < 0.15)
    return Script(h, w, float(fps), tracks, camera, canvas, margin, occluders, events, noise)


def frame_scene(sc: Script, t: int) -> Scene:
    """Frame ``t`` (0-based) as a :class:`~visionkit.data.shapeworld.Scene` in screen pixels."""
    cam = sc.camera[t]
    items = [_placed(tr.item, tr.path[t] - cam, tr.spin * t) for tr in sc.tracks
             if not _outside(tr, tr.path[t] - cam, sc.height, sc.width)]
    items += [replace(o, points=o.points - cam) for o in sc.occluders]
    h, w, (sigma, seed, blur) = sc.height, sc.width, sc.noise
    centre = (sc.margin + cam[0] + (w - 1) / 2, sc.margin + cam[1] + (h - 1) / 2)  # sub-pixel: no judder
    view = SimpleNamespace(render=lambda *_: cv2.getRectSubPix(sc.canvas, (w, h), centre, patchType=cv2.CV_32F))
    return Scene(h, w, view, items, sigma, seed + t, blur)


def _annotations(sc: Script, scene: Scene) -> list[TrackBox]:
    area = {tr.item.track_id: tr.area for tr in sc.tracks}
    out = []
    for obj, m in zip(scene.objects, visible_masks(scene)):
        # annotate()'s box by cv2: its np.nonzero over every mask took a third of a frame's time
        px, (x, y, w, h) = cv2.countNonZero(m.view(np.uint8)), cv2.boundingRect(m.view(np.uint8))
        if px == 0:  # wholly covered: where its outline is, if that reaches into the frame
            x, y, w, h = cv2.boundingRect(obj.mask(scene.height, scene.width).view(np.uint8))
            if w == 0:
                continue
        box = np.array([x, y, x + w, y + h], np.float32)
        out.append(TrackBox(obj.track_id, obj.class_id, box, min(1.0, px / area[obj.track_id]), px))
    return sorted(out, key=lambda b: b.track_id)


def sequence(seed: int, index: int, n_frames: int, size: Size = 256,
             fps: float = 25.0) -> Iterator[tuple[np.ndarray, list[TrackBox]]]:
    """Per frame of sequence ``index`` of set ``seed``: the RGB uint8 picture and its boxes."""
    sc = script(seed, index, n_frames, size, fps)
    for t in range(sc.n_frames):
        scene = frame_scene(sc, t)
        yield render(scene), _annotations(sc, scene)


@lru_cache(maxsize=2)  # a worker makes a sequence's frames one after another
def _training_script(seed: int, index: int) -> Script:
    return script(seed, index, _TRAINING_LENGTH)


def training_frame(seed: int, index: int) -> Scene:
    """Still frame ``index`` of the training set ``seed``: frame ``index % 10`` (0.4 s apart,
    from a phase of its own) of sequence ``index // 10 + 1`` of that seed's 100-frame sequences.
    Objects the ground truth does not consider (:attr:`TrackBox.consider`: mostly hidden, or a
    few pixels at the border) are removed, not painted, as scenes drop what cannot be told: the
    rest are the boxes a tracker's detector is scored on, half-hidden ones included."""
    q, k = divmod(int(index), FRAMES_PER_SEQUENCE)
    sc = _training_script(int(seed), q + 1)
    step = _TRAINING_LENGTH // FRAMES_PER_SEQUENCE
    scene = frame_scene(sc, k * step + q % step)
    # what is left out includes objects whose outline only grazes the frame: they have no box
    seen = {b.track_id for b in _annotations(sc, scene) if b.consider}
    scene.items = [it for it in scene.items if not it.annotated or it.track_id in seen]
    return scene
