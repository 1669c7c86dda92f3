"""ShapeWorld: determinism, every class renders, annotations agree with the pixels."""

from __future__ import annotations

import numpy as np
import pytest

from visionkit.data import shapeworld as sw
from visionkit.data.shapes import CLASSES, sample_params, unit_contours


def test_classes_are_distinct_and_enough():
    assert len(CLASSES) >= 12
    assert len(set(CLASSES)) == len(CLASSES)
    assert sw.CLASSES == CLASSES


def test_same_seed_same_pixels_other_seed_other_pixels():
    a, la = sw.classify_dataset(20, seed=3, size=64)
    b, lb = sw.classify_dataset(20, seed=3, size=64)
    c, _ = sw.classify_dataset(20, seed=4, size=64)
    assert a.dtype == np.uint8 and a.shape == (20, 64, 64, 3)
    assert np.array_equal(a, b) and np.array_equal(la, lb)
    assert not np.array_equal(a, c)
    # sample i depends only on (seed, i): a slice made alone matches
    tail = list(sw.iter_classify(5, seed=3, size=64, start=15))
    assert all(np.array_equal(img, a[15 + k]) and lab == la[15 + k] for k, (img, lab) in enumerate(tail))


def test_classify_sample_rng_and_non_square():
    img, cid = sw.classify_sample(np.random.default_rng(1), size=(48, 80))
    img2, cid2 = sw.classify_sample(np.random.default_rng(1), size=(48, 80))
    assert img.shape == (48, 80, 3) and img.dtype == np.uint8
    assert 0 <= cid < len(CLASSES) and cid == cid2 and np.array_equal(img, img2)


def test_dataset_is_balanced():
    _, labels = sw.classify_dataset(3 * len(CLASSES), seed=0, size=32)
    assert np.bincount(labels, minlength=len(CLASSES)).tolist() == [3] * len(CLASSES)


@pytest.mark.parametrize("name", CLASSES)
def test_every_class_renders_visibly(name):
    cid = CLASSES.index(name)
    rng = np.random.default_rng(cid)
    scene = sw.classify_scene(rng, size=64, class_id=cid)
    img = sw.render(scene)
    (mask,) = [m for o, m in zip(scene.objects, sw.visible_masks(scene)) if o.class_id == cid]
    assert mask.sum() > 0.04 * mask.size  # a large main shape
    inside, outside = img[mask].astype(float).mean(0), img[~mask].astype(float).mean(0)
    assert np.abs(inside - outside).max() > 20  # contrast against the background
    contours = unit_contours(name, sample_params(name, rng))
    assert all(c.ndim == 2 and c.shape[1] == 2 and len(c) >= 3 for c in contours)
    assert np.abs(contours[0]).max() <= 1.0 + 1e-6


def _clean_scene() -> sw.Scene:
    bg = sw.Background("flat", (40, 40, 40), (40, 40, 40))
    a = sw.SceneObject(CLASSES.index("square"), (30.0, 30.0), 18.0, colour=(250, 0, 0), z=0)
    b = sw.SceneObject(CLASSES.index("circle"), (48.0, 40.0), 16.0, colour=(0, 250, 0), z=1)
    ring = sw.SceneObject(CLASSES.index("ring"), (20.0, 60.0), 14.0, colour=(0, 0, 250), z=2,
                          params={"hole": 0.6})
    line = sw.Clutter("line", np.array([[0.0, 25.0], [79.0, 25.0]]), (255, 255, 255), 2.0, z=5)
    return sw.Scene(80, 80, bg, [a, b, ring, line])


def test_annotations_agree_with_pixels():
    scene = _clean_scene()
    img = sw.render(scene)
    masks = sw.instance_masks(scene)
    assert masks.shape == (3, 80, 80)
    # visible masks are disjoint and the upper circle cuts into the square
    assert (masks.sum(0) <= 1).all()
    assert (masks[0] & scene.objects[1].mask(80, 80)).sum() == 0
    assert masks[0].sum() < scene.objects[0].mask(80, 80).sum()
    # the clutter line on top removes pixels from the square but is never annotated
    assert scene.objects[0].mask(80, 80)[25, 20:28].all()
    assert not masks[:, 25, 20:28].any()
    # each mask's pixels carry its object's colour, nearly exactly (no noise, no blur)
    for obj, m in zip(scene.objects, masks):
        diff = np.abs(img[m].astype(int) - np.array(obj.colour)).max(1)
        assert np.median(diff) <= 2 and (diff <= 128).all()
    # the ring has a hole showing the background
    cx, cy = 20, 60
    assert not masks[2][cy, cx] and tuple(img[cy, cx]) == (40, 40, 40)
    # boxes enclose the masks tightly
    for box, m in zip(sw.boxes(scene), masks):
        ys, xs = np.nonzero(m)
        assert tuple(box) == (xs.min(), ys.min(), xs.max() + 1, ys.max() + 1)
    # the semantic map is the union of the instance masks, labelled class_id + 1
    sem = sw.semantic_map(scene)
    for obj, m in zip(scene.objects, masks):
        assert (sem[m] == obj.class_id + 1).all()
    assert (sem[~masks.any(0)] == 0).all()


def test_fully_covered_object_gets_empty_box():
    bg = sw.Background("flat", (0, 0, 0), (0, 0, 0))
    small = sw.SceneObject(CLASSES.index("circle"), (20.0, 20.0), 4.0, colour=(255, 0, 0), z=0)
    big = sw.SceneObject(CLASSES.index("square"), (20.0, 20.0), 15.0, colour=(0, 255, 0), z=1)
    scene = sw.Scene(40, 40, bg, [small, big])
    assert sw.boxes(scene)[0].tolist() == [0, 0, 0, 0]
    assert sw.instance_masks(scene)[0].sum() == 0


def test_main_shape_fully_inside_frame():
    for i in range(30):
        scene = sw.classify_scene(np.random.default_rng(i), size=64)
        pts = scene.objects[0].polygon()[0]
        assert pts.min() >= 0 and pts[:, 0].max() <= 64 and pts[:, 1].max() <= 64
