import numpy as np
import pytest

from visionkit.cards import InputSpec
from visionkit.preprocess import preprocess


def gradient(h=100, w=200):
    img = np.zeros((h, w, 3), np.uint8)
    img[..., 0] = np.linspace(0, 255, w, dtype=np.uint8)[None]
    img[..., 1] = np.linspace(0, 255, h, dtype=np.uint8)[:, None]
    img[..., 2] = 77
    return img


def test_values_layout_and_channel_order():
    img = gradient()
    spec = InputSpec(size=(100, 200), mean=(0.5, 0.5, 0.5), std=(0.25, 0.25, 0.25))
    t, _ = preprocess(img, spec)
    assert t.shape == (1, 3, 100, 200) and t.dtype == np.float32
    np.testing.assert_allclose(t[0, 2], (77 / 255 - 0.5) / 0.25, rtol=1e-6)
    bgr, _ = preprocess(img, InputSpec(size=(100, 200), layout="NHWC", channel_order="bgr", scale=1.0))
    assert bgr.shape == (1, 100, 200, 3)
    np.testing.assert_array_equal(bgr[0, ..., 0], 77)  # blue first
    np.testing.assert_array_equal(bgr[0, ..., 2], img[..., 0])


@pytest.mark.parametrize("dtype", ["float16", "uint8", "int8"])
def test_dtypes(dtype):
    t, _ = preprocess(gradient(), InputSpec(size=(32, 32), dtype=dtype, scale=1.0,
                                            mean=(128, 128, 128) if dtype == "int8" else (0, 0, 0)))
    assert t.dtype == np.dtype(dtype)
    if dtype == "int8":
        assert t.min() >= -128 and t.max() <= 127


def test_shorter_side_resize_and_centre_crop_map_points_back():
    img = gradient(100, 200)
    spec = InputSpec(size=(50, 50), resize=50)
    t, tr = preprocess(img, spec)
    assert t.shape == (1, 3, 50, 50)
    # the crop keeps the horizontal middle: input x=0 is image x=50
    np.testing.assert_allclose(tr.to_image(np.array([0.0, 0.0])), [50.0, 0.0], atol=1e-4)
    np.testing.assert_allclose(tr.to_image(tr.to_input(np.array([120.0, 30.0]))), [120.0, 30.0], atol=1e-4)


def test_letterbox_pads_and_maps_boxes_back():
    img = gradient(100, 200)
    for align, offset in (("center", 25), ("topleft", 0)):
        spec = InputSpec(size=(100, 100), letterbox=True, letterbox_align=align, scale=1.0)
        t, tr = preprocess(img, spec)
        assert t.shape == (1, 3, 100, 100)
        pad_row = 0 if align == "center" else 99
        np.testing.assert_array_equal(t[0, :, pad_row, 50], 114)
        np.testing.assert_allclose(tr.to_image(np.array([0, offset, 100, offset + 50.0])), [0, 0, 200, 100], atol=1e-4)


def test_stretch_transform():
    t, tr = preprocess(gradient(100, 200), InputSpec(size=(50, 50)))
    np.testing.assert_allclose(tr.to_image(np.array([50.0, 50.0])), [200.0, 100.0])


@pytest.mark.parametrize("layout", ["NCHW", "NHWC"])
@pytest.mark.parametrize("order", ["rgb", "bgr"])
@pytest.mark.parametrize("dtype", ["float32", "float16"])
def test_per_channel_normalisation_matches_the_formula(layout, order, dtype):
    img = np.random.default_rng(3).integers(0, 256, (37, 53, 3), dtype=np.uint8)
    spec = InputSpec(size=(37, 53), layout=layout, dtype=dtype, channel_order=order, scale=1 / 255,
                     mean=(0.485, 0.456, 0.406), std=(0.229, 0.224, 0.225))
    t, _ = preprocess(img, spec)
    pixels = img[..., ::-1] if order == "bgr" else img
    want = (pixels / 255.0 - np.array(spec.mean)) / np.array(spec.std)
    want = want.transpose(2, 0, 1)[None] if layout == "NCHW" else want[None]
    assert t.dtype == np.dtype(dtype) and t.flags.c_contiguous
    assert np.allclose(t, want, atol=1e-5 if dtype == "float32" else 4e-3)
