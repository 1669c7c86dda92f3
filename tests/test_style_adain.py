"""The arbitrary-style network: any style picture or painting through the bundled AdaIN decoder,
the style option choosing another network, style pictures of every kind, the paintings."""

import cv2
import numpy as np
import pytest

import visionkit as vk
from visionkit.bundled import models_dir, sample_picture
from visionkit.imageio import write_image
from visionkit.errors import UsageError
from visionkit.plugins.style.arbitrary import adain, moments, work_size
from visionkit.plugins.style.paintings import KINDS, painting, parse_name

from .test_style import make_image_model


@pytest.fixture(scope="module")
def photo():
    return cv2.resize(vk.read_image(sample_picture()), (160, 120))


def test_paintings_follow_their_seed():
    for kind in KINDS:
        a, b = painting(kind, 3, 64), painting(kind, 3, 64)
        assert a.shape == (64, 64, 3) and a.dtype == np.uint8 and np.array_equal(a, b)
        assert not np.array_equal(a, painting(kind, 4, 64)) and a.std() > 10
    assert parse_name("strokes:7") == ("strokes", 7) and parse_name("mosaic") == ("mosaic", 1)
    assert parse_name("starry.jpg") is None and parse_name("mosaic:x") is None


def test_adain_gives_each_channel_the_style_statistics():
    rng = np.random.default_rng(0)
    content = rng.normal(3, 2, (1, 4, 8, 8)).astype(np.float32)
    style = rng.normal(-1, 0.5, (1, 4, 6, 6)).astype(np.float32)
    out = adain(content, moments(style))
    mean, std = moments(out)
    s_mean, s_std = moments(style)
    np.testing.assert_allclose(mean, s_mean, atol=1e-4)
    np.testing.assert_allclose(std, s_std, rtol=1e-3)
    torch = pytest.importorskip("torch")
    from visionkit.plugins.style.nn.adain import adain as adain_torch

    np.testing.assert_allclose(adain_torch(torch.from_numpy(content), torch.from_numpy(style)).numpy(), out,
                               rtol=1e-4, atol=1e-4)


def test_the_default_model_paints_any_style(photo, tmp_path):
    pipe = vk.Pipeline("style", threads=1)
    assert pipe.tasks["style"].model_name == "style_adain.onnx" and pipe.backbone is not None
    mosaic = pipe(photo)["style"]
    assert mosaic.image.shape == photo.shape and mosaic.style == "mosaic"
    assert mosaic.info["network_size"] == [160, 128]
    write_image(tmp_path / "waves.png", painting("bands", 5, 128))
    pipe.set_options("style", style=str(tmp_path / "waves.png"))
    waves = pipe(photo)["style"]
    assert waves.style == "waves" and np.abs(waves.image.astype(int) - mosaic.image).mean() > 5
    # strength blends the maps: less of the style, nearer the frame
    pipe.set_options("style", strength=0.2)
    weak = pipe(photo)["style"]
    far = lambda im: np.abs(im.astype(int) - photo).mean()  # noqa: E731
    assert far(weak.image) < far(waves.image)
    pipe.set_options("style", strength=1.0, size=64)
    assert pipe(photo)["style"].image.shape == (48, 64, 3)


def test_the_output_takes_the_style_colours(photo, tmp_path):
    """A red painting makes a redder picture than a blue one: the style's statistics arrive."""
    red = np.zeros((128, 128, 3), np.uint8)
    red[..., 0] = painting("ink", 2, 128)[..., 0] // 2 + 120
    blue = red[..., ::-1].copy()
    pipe = vk.Pipeline("style", threads=1)
    out = {}
    for name, picture in (("red", red), ("blue", blue)):
        write_image(tmp_path / f"{name}.png", picture)
        pipe.set_options("style", style=str(tmp_path / f"{name}.png"))
        out[name] = pipe(photo)["style"].image.reshape(-1, 3).mean(axis=0)
    assert out["red"][0] - out["red"][2] > 20 and out["blue"][2] - out["blue"][0] > 20


@pytest.mark.parametrize("shape, message", [
    ((1, 1, 3), "1x1: at least 32 px"),
    ((20, 400, 3), "400x20: at least 32 px"),
])
def test_style_pictures_too_small_are_one_line(tmp_path, shape, message):
    write_image(tmp_path / "tiny.png", np.zeros(shape, np.uint8))
    with pytest.raises(UsageError, match=message):
        vk.Pipeline("style", options={"style": {"style": str(tmp_path / "tiny.png")}})


def test_style_pictures_of_every_kind_work(photo, tmp_path):
    grey = painting("dots", 1, 96)[..., 0]
    alpha = np.dstack([painting("mosaic", 2, 96), np.full((96, 96), 128, np.uint8)])
    long = cv2.resize(painting("strokes", 3, 200), (20000, 40))
    pipe = vk.Pipeline("style", threads=1)
    for name, picture in (("grey", grey), ("alpha", alpha), ("long", long)):
        write_image(tmp_path / f"{name}.png", picture)
        pipe.set_options("style", style=str(tmp_path / f"{name}.png"))
        assert pipe(photo)["style"].image.shape == photo.shape
    (tmp_path / "page.png").write_text("<html>not a picture</html>")
    for bad, message in (("page.png", "not an image"), ("missing.png", "neither a picture file")):
        with pytest.raises(UsageError, match=message):
            pipe.set_options("style", style=str(tmp_path / bad))


def test_the_style_option_can_name_another_network(photo, tmp_path):
    negative = make_image_model(tmp_path / "negative.onnx", size=32, channel_order="rgb")
    pipe = vk.Pipeline("style", threads=1)
    pipe.set_options("style", style=str(negative))
    result = pipe(photo)["style"]
    assert result.style == "negative" and pipe.tasks["style"].model_name == "negative.onnx"
    assert abs(result.image.astype(int).mean() - (255 - photo.astype(int).mean())) < 3
    pipe.set_options("style", style="ink")
    assert pipe(photo)["style"].style == "ink"
    with pytest.raises(vk.VisionkitError, match="not a style network"):
        pipe.set_options("style", style=str(models_dir() / "shapeworld_classify.onnx"))


def test_a_fixed_style_network_refuses_a_style_picture(tmp_path):
    negative = make_image_model(tmp_path / "negative.onnx")
    with pytest.raises(UsageError, match="paints one style"):
        vk.Pipeline("style", models={"style": str(negative)}, options={"style": {"style": "mosaic"}})


def test_work_sizes_keep_the_aspect_on_the_decoder_grid():
    assert work_size(300, 451, 512) == (336, 512)
    assert work_size(40, 20000, 512) == (32, 512)  # the backbone needs 32 px a side


def test_the_bundled_decoder_moves_a_held_out_picture_to_its_style(tmp_path):
    """On a painting and a scene it never saw, the bundled decoder's picture is much nearer the
    style than the content was, and keeps the content within the bound its card states."""
    pytest.importorskip("torch")
    from visionkit.plugins.style.nn.gatys import LossNetwork, score

    content = cv2.resize(vk.read_image(sample_picture()), (192, 144))
    style = painting("mosaic", 123457, 192)
    pipe = vk.Pipeline("style", threads=1, options={"style": {"size": 192}})
    pipe.set_options("style", style=str(write_image(tmp_path / "held_out.png", style)))
    styled = pipe(content)["style"].image
    net = LossNetwork(models_dir() / "efficientnet_lite0_backbone.onnx")
    before, after = score(net, content, style, content), score(net, content, style, styled)
    card = pipe.tasks["style"].card
    assert after.style < 0.5 * before.style
    assert after.content < 1.5 * card.metrics["content_loss"]


def test_colour_matching_gives_the_target_mean_and_covariance():
    from visionkit.plugins.style.picture import colour_statistics, match_colours

    rng = np.random.default_rng(0)
    picture = np.clip(rng.normal(100, 20, (40, 50, 3)), 0, 255).astype(np.uint8)
    target = np.clip(rng.multivariate_normal([180, 60, 90], [[300, 120, 0], [120, 200, 0], [0, 0, 50]], 4000),
                     0, 255).reshape(40, 100, 3).astype(np.uint8)
    matched = match_colours(picture, colour_statistics(target))
    mean, cov = colour_statistics(matched)
    t_mean, t_cov = colour_statistics(target)
    np.testing.assert_allclose(mean, t_mean, atol=1.0)
    np.testing.assert_allclose(cov, t_cov, atol=12)


def test_the_bundled_fast_network_paints_its_painting(tmp_path):
    """The bundled fast network, on a scene it never saw: much nearer its painting's style than
    the scene was, the content within the bound its card states, at its card's 320 px."""
    pytest.importorskip("torch")
    from visionkit.plugins.style.nn.gatys import LossNetwork, score

    content = cv2.resize(vk.read_image(sample_picture()), (256, 192))
    pipe = vk.Pipeline("style", models={"style": str(models_dir() / "mosaic_style.onnx")}, threads=1)
    result = pipe(content)["style"]
    assert result.style == "mosaic_style" and result.info["network_size"] == [320, 320]
    card = pipe.tasks["style"].card
    assert card.provenance["data"]["style"] == {"painting": "mosaic"}
    style = painting("mosaic", 1, 256)
    net = LossNetwork(models_dir() / "efficientnet_lite0_backbone.onnx")
    before, after = score(net, content, style, content), score(net, content, style, result.image)
    assert after.style < 0.5 * before.style
    assert after.content < 1.5 * card.metrics["content_loss"]
    with pytest.raises(UsageError, match="paints one style"):
        pipe.set_options("style", style="ink")


def test_a_refused_style_leaves_the_one_in_force(photo, tmp_path):
    pipe = vk.Pipeline("style", threads=1, options={"style": {"style": "ink:2"}})
    with pytest.raises(UsageError):
        pipe.set_options("style", style=str(tmp_path / "missing.png"))
    assert pipe.tasks["style"].options["style"] == "ink:2" and pipe(photo)["style"].style == "ink:2"
