"""ShapeWorld scenes for detect/segment/pose: determinism, annotations agree with pixels."""

from __future__ import annotations

import numpy as np
import pytest

from visionkit.data import scenes as S
from visionkit.data import shapeworld as sw
from visionkit.data.figures import JOINTS, SKELETON, StickFigure, random_figure


def _scenes(task, n=24, seed=5, size=128):
    return list(S.iter_scenes(task, n, seed, size))


def test_joints_and_skeleton():
    assert len(JOINTS) >= 10 and len(set(JOINTS)) == len(JOINTS)
    assert {"head", "neck", "l_wrist", "r_ankle"} <= set(JOINTS)
    used = {j for pair in SKELETON for j in pair}
    assert used == set(range(len(JOINTS)))  # every joint is on a limb
    assert S.CATEGORIES[S.FIGURE_ID] == "figure" and S.CATEGORIES[:-1] == sw.CLASSES


@pytest.mark.parametrize("task", S.SCENE_TASKS)
def test_deterministic_from_seed_and_index(task):
    a = [sw.render(s) for s in S.iter_scenes(task, 3, seed=2, size=64, start=4)]
    b = sw.render(S.scene_for(task, 2, 5, size=64))
    c = [sw.render(s) for s in S.iter_scenes(task, 3, seed=3, size=64, start=4)]
    assert np.array_equal(a[1], b)
    assert a[0].shape == (64, 64, 3) and a[0].dtype == np.uint8
    assert not all(np.array_equal(x, y) for x, y in zip(a, c))
    anns1 = S.annotate(S.scene_for(task, 2, 5, 64))
    anns2 = S.annotate(S.scene_for(task, 2, 5, 64))
    assert len(anns1) == len(anns2)
    assert all(np.array_equal(p.mask, q.mask) and np.array_equal(p.box, q.box) for p, q in zip(anns1, anns2))


def test_detect_scenes_have_variety():
    scenes = _scenes("detect", n=60, seed=1, size=96)
    counts = [len(s.objects) for s in scenes]
    assert 0 in counts  # empty scenes
    assert max(counts) >= 10  # crowded scenes
    h = w = 96
    cut = occluded = figures = 0
    for s in scenes:
        for obj, m in zip(s.objects, sw.visible_masks(s)):
            full = obj.mask(h, w)
            figures += isinstance(obj, StickFigure)
            occluded += bool((full & ~m).any())
            pts = obj.joints if isinstance(obj, StickFigure) else obj.polygon()[0]
            cut += bool((pts.min(0) < 0).any() or (pts.max(0) > w - 1).any())
    assert cut >= 3 and occluded >= 3 and figures >= 3


@pytest.mark.parametrize("task", ["detect", "pose"])
def test_annotations_agree_with_masks(task):
    for scene in _scenes(task, n=16):
        anns = S.annotate(scene)
        sem = sw.semantic_map(scene)
        union = np.zeros_like(sem)
        for a in anns:
            assert a.mask.sum() >= 24  # hidden objects were dropped
            ys, xs = np.nonzero(a.mask)
            x1, y1, x2, y2 = a.box
            assert (x1, y1, x2, y2) == (xs.min(), ys.min(), xs.max() + 1, ys.max() + 1)
            assert not (union[a.mask] > 0).any()  # visible masks are disjoint
            union[a.mask] = a.class_id + 1
        assert np.array_equal(union, sem)


def test_keypoints_lie_on_figure_pixels_and_occlusion_is_flagged():
    seen = {0: 0, 1: 0, 2: 0}
    for scene in _scenes("pose", n=30, size=128):
        h, w = scene.height, scene.width
        for obj, a in zip(scene.objects, S.annotate(scene)):
            if not isinstance(obj, StickFigure):
                assert a.keypoints is None
                continue
            assert a.keypoints.shape == (len(JOINTS), 3)
            full = obj.mask(h, w)
            for (x, y, v), (jx, jy) in zip(a.keypoints, obj.joints):
                seen[int(v)] += 1
                r, c = int(round(jy)), int(round(jx))
                if v == 0:
                    assert not (0 <= r < h and 0 <= c < w) and x == y == 0
                    continue
                assert full[r, c]  # the joint is on the drawn figure
                assert a.mask[r, c] == (v == 2)  # visible exactly when not covered
    assert all(seen[v] > 0 for v in (0, 1, 2))


def test_figure_pixels_have_its_colour():
    bg = sw.Background("flat", (0, 0, 0), (0, 0, 0))
    fig = random_figure(np.random.default_rng(0), S.FIGURE_ID, 96, 96, 80, (250, 10, 10))
    scene = sw.Scene(96, 96, bg, [fig])
    img = sw.render(scene)
    (a,) = S.annotate(scene)
    for x, y, v in a.keypoints:
        assert v == 2
        assert img[int(round(y)), int(round(x)), 0] > 200
    assert img[a.mask, 0].mean() > 200 and img[~a.mask, 0].mean() < 30


@pytest.mark.parametrize("task", ["detect", "pose"])
def test_every_shape_shows_enough_of_itself_to_be_told(task):
    """A shape cut by the frame counts its outside part as hidden: a circle half out of the
    picture looks like a semicircle, so it must not be annotated (or painted) as a circle."""

    kept = 0
    for scene in _scenes(task, n=40, seed=3, size=96):
        for obj, m in zip(scene.objects, sw.visible_masks(scene)):
            if isinstance(obj, StickFigure):
                continue
            # the whole shape, drawn on a canvas big enough for any position
            pad = int(obj.size) + 4
            whole = sw.SceneObject(obj.class_id, (obj.centre[0] + pad, obj.centre[1] + pad), obj.size,
                                   obj.rotation, params=obj.params)
            area = whole.mask(96 + 2 * pad, 96 + 2 * pad).sum()
            assert m.sum() >= S.MIN_VISIBLE * area, (obj.label, int(m.sum()), int(area))
            kept += 1
    assert kept > 40
