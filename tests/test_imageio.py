"""visionkit.imageio: every still image becomes RGB uint8 HxWx3, or a one-line InputError."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest

from visionkit import imageio
from visionkit.errors import InputError, UsageError
from visionkit.imageio import image_size, read_image, write_image

REALWORLD = Path("/work/shared/realworld")


# --- hand-built files --------------------------------------------------------------------------

def chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png(width: int, height: int, depth: int, color_type: int, rows: list[bytes], extra: bytes = b"") -> bytes:
    """A PNG written by hand, for the variants cv2.imwrite does not make (palette, LA, eXIf)."""
    ihdr = struct.pack(">IIBBBBB", width, height, depth, color_type, 0, 0, 0)
    idat = zlib.compress(b"".join(b"\x00" + row for row in rows))
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + extra + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def exif_tiff(orientation: int, little_endian: bool = False) -> bytes:
    """A TIFF-structured EXIF block whose only tag is Orientation."""
    o = "<" if little_endian else ">"
    header = (b"II*\x00" if little_endian else b"MM\x00*") + struct.pack(o + "I", 8)
    return header + struct.pack(o + "H", 1) + struct.pack(o + "HHIHH", 0x0112, 3, 1, orientation, 0) + struct.pack(o + "I", 0)


def with_exif(jpeg: bytes, orientation: int, little_endian: bool = False) -> bytes:
    payload = b"Exif\x00\x00" + exif_tiff(orientation, little_endian)
    return jpeg[:2] + b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload + jpeg[2:]


def quadrants_bgr(height: int = 48, width: int = 64) -> np.ndarray:
    """Four flat colours, so any rotation or flip shows, and JPEG keeps them recognisable."""
    image = np.zeros((height, width, 3), np.uint8)
    image[: height // 2, : width // 2] = (0, 0, 255)
    image[: height // 2, width // 2:] = (0, 255, 0)
    image[height // 2:, : width // 2] = (255, 0, 0)
    image[height // 2:, width // 2:] = (255, 255, 255)
    return image


def encode(ext: str, image: np.ndarray, *params: int) -> bytes:
    ok, data = cv2.imencode(ext, image, list(params))
    assert ok
    return data.tobytes()


@pytest.fixture()
def jpeg_bytes() -> bytes:
    return encode(".jpg", quadrants_bgr(), cv2.IMWRITE_JPEG_QUALITY, 95)


def put(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def assert_rgb8(image: np.ndarray, shape: tuple[int, int]) -> None:
    assert image.dtype == np.uint8 and image.shape == (*shape, 3) and image.flags.c_contiguous


# --- good images -------------------------------------------------------------------------------

def test_colour_png_comes_back_rgb(tmp_path):
    bgr = quadrants_bgr()
    path = put(tmp_path, "q.png", encode(".png", bgr))
    image = read_image(path)
    assert_rgb8(image, (48, 64))
    assert np.array_equal(image, bgr[..., ::-1])
    assert np.array_equal(read_image(path.read_bytes()), image)  # bytes in, same result


def test_grey_becomes_three_channels(tmp_path):
    grey = np.arange(48 * 64, dtype=np.uint32).reshape(48, 64).astype(np.uint8)
    for ext in (".png", ".jpg"):
        image = read_image(put(tmp_path, "g" + ext, encode(ext, grey)))
        assert_rgb8(image, (48, 64))
        assert np.array_equal(image[..., 0], image[..., 2])


def test_one_pixel_png_is_not_refused(tmp_path):
    image = read_image(put(tmp_path, "dot.png", png(1, 1, 8, 0, [b"\x07"])))
    assert_rgb8(image, (1, 1))
    assert image.tolist() == [[[7, 7, 7]]]


def test_alpha_is_composited_over_white(tmp_path):
    rgba = np.zeros((2, 3, 4), np.uint8)
    rgba[..., :3] = (200, 40, 0)  # RGB
    rgba[..., 3] = [[0, 128, 255], [255, 255, 255]]
    path = put(tmp_path, "a.png", encode(".png", cv2.cvtColor(rgba, cv2.COLOR_RGBA2BGRA)))
    image = read_image(path)
    assert image[0, 0].tolist() == [255, 255, 255]       # transparent -> white
    assert image[0, 2].tolist() == [200, 40, 0]           # opaque -> itself
    assert image[0, 1].tolist() == [227, 147, 127]        # half -> halfway to white


def test_grey_with_alpha_png(tmp_path):
    image = read_image(put(tmp_path, "la.png", png(2, 1, 8, 4, [bytes([10, 255, 10, 0])])))
    assert image.tolist() == [[[10, 10, 10], [255, 255, 255]]]


def test_palette_png_with_and_without_transparency(tmp_path):
    palette = chunk(b"PLTE", bytes([255, 0, 0, 0, 0, 255]))
    plain = read_image(put(tmp_path, "p.png", png(2, 1, 8, 3, [bytes([0, 1])], palette)))
    assert plain.tolist() == [[[255, 0, 0], [0, 0, 255]]]
    trns = palette + chunk(b"tRNS", bytes([255, 0]))
    see_through = read_image(put(tmp_path, "pt.png", png(2, 1, 8, 3, [bytes([0, 1])], trns)))
    assert see_through.tolist() == [[[255, 0, 0], [255, 255, 255]]]


@pytest.mark.parametrize("ext", [".png", ".tiff"])
def test_16_bit_is_rescaled_not_truncated(tmp_path, ext):
    # 255 would become 0 if the high byte were kept and 255 if the low byte were
    values = np.array([[0, 255, 257, 32896, 65535]], np.uint16)
    grey = read_image(put(tmp_path, "g16" + ext, encode(ext, values)))
    assert grey[..., 0].tolist() == [[0, 1, 1, 128, 255]]
    colour = np.dstack([values, np.zeros_like(values), np.full_like(values, 65535)])  # BGR
    rgb = read_image(put(tmp_path, "c16" + ext, encode(ext, colour)))
    assert rgb[0, 3].tolist() == [255, 0, 128]


@pytest.mark.parametrize("orientation", range(1, 9))
@pytest.mark.parametrize("little_endian", [False, True])
def test_exif_orientation_matches_opencv(tmp_path, jpeg_bytes, orientation, little_endian):
    data = with_exif(jpeg_bytes, orientation, little_endian)
    reference = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)  # applies EXIF
    image = read_image(put(tmp_path, "o.jpg", data))
    assert image.flags.c_contiguous
    assert np.array_equal(image, reference[..., ::-1])


def test_exif_rotation_turns_phone_photo_upright(tmp_path, jpeg_bytes):
    image = read_image(put(tmp_path, "phone.jpg", with_exif(jpeg_bytes, 6)))  # 90 degrees clockwise
    assert image.shape == (64, 48, 3)
    # the stored top-left (red) ends top-right; bottom-left (blue) ends top-left
    assert np.abs(image[5, -5].astype(int) - (255, 0, 0)).max() < 40
    assert np.abs(image[5, 5].astype(int) - (0, 0, 255)).max() < 40


def test_png_exif_orientation(tmp_path):
    rows = [bytes([0]), bytes([255])]  # 1 wide, 2 tall: black over white
    data = png(1, 2, 8, 0, rows, chunk(b"eXIf", exif_tiff(8)))
    image = read_image(put(tmp_path, "o.png", data))
    assert image[..., 0].tolist() == [[0, 255]]  # turned 90 degrees counter-clockwise


@pytest.mark.parametrize("ext", [".jpg", ".png", ".bmp", ".webp", ".tiff", ".ppm", ".jp2"])
def test_other_formats_decode(tmp_path, ext):
    bgr = quadrants_bgr()
    params = [cv2.IMWRITE_WEBP_QUALITY, 101] if ext == ".webp" else []
    image = read_image(put(tmp_path, "f" + ext, encode(ext, bgr, *params)))
    assert_rgb8(image, (48, 64))
    assert np.abs(image.astype(int) - bgr[..., ::-1]).mean() < 8


@pytest.mark.skipif(not (REALWORLD / "images").is_dir(), reason="real-world images absent")
def test_realworld_images_match_opencv():
    kitten = read_image(REALWORLD / "images/winml/kitten_224.png")  # RGBA
    assert_rgb8(kitten, (224, 224))
    for name in ("winml/cat.jpg", "winml/fish.png", "street.jpg"):
        path = REALWORLD / "images" / name
        reference = cv2.imread(str(path), cv2.IMREAD_COLOR)[..., ::-1]
        image = read_image(path)
        assert image.shape == reference.shape
        assert np.abs(image.astype(int) - reference).max() <= 1
        assert image_size(path) == (image.shape[1], image.shape[0])


# --- bad images: one line, names the source, nothing on stderr ---------------------------------

def refuse(path_or_bytes, capfd, match: str, **kwargs) -> str:
    with pytest.raises(InputError) as info:
        read_image(path_or_bytes, **kwargs)
    message = str(info.value)
    assert "\n" not in message
    assert match in message, message
    assert capfd.readouterr().err == ""
    return message


def test_missing_file(tmp_path, capfd):
    path = tmp_path / "nope.jpg"
    assert refuse(path, capfd, "no such file") == f"{path}: no such file"


def test_directory(tmp_path, capfd):
    refuse(tmp_path, capfd, "is a directory")


def test_empty_file(tmp_path, capfd):
    path = put(tmp_path, "empty.png", b"")
    assert refuse(path, capfd, "empty file") == f"{path}: empty file"


def test_html_named_jpg(tmp_path, capfd):
    path = put(tmp_path, "photo.jpg", b"<!DOCTYPE html>\n<html><body>404</body></html>")
    message = refuse(path, capfd, "not an image")
    assert message == f"{path}: not an image (starts with '<!DOCTYPE html>')"


def test_utf8_text_with_bom(tmp_path, capfd):
    path = put(tmp_path, "note.png", "\ufeffnaïve résumé text".encode())
    refuse(path, capfd, "not an image (starts with 'naïve résum')")


def test_binary_junk(tmp_path, capfd):
    refuse(put(tmp_path, "x.png", bytes(range(7, 40))), capfd, "not an image (starts with 07 08 09")


def test_video_named_jpg(tmp_path, capfd):
    data = b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2" + bytes(64)
    refuse(put(tmp_path, "clip.jpg", data), capfd, "a video, not a still image")


def test_heic_is_named(tmp_path, capfd):
    data = b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + bytes(64)
    refuse(put(tmp_path, "IMG_0001.HEIC", data), capfd, "HEIF images are not supported")


@pytest.mark.parametrize("keep", [0.5, 0.9])
def test_truncated_jpeg(tmp_path, capfd, keep):
    data = encode(".jpg", np.random.default_rng(0).integers(0, 255, (200, 200, 3), np.uint8))
    path = put(tmp_path, "cut.jpg", data[: int(len(data) * keep)])
    assert refuse(path, capfd, "truncated JPEG") == f"{path}: truncated JPEG (no end-of-image marker)"


def test_jpeg_missing_only_its_end_marker(tmp_path, capfd, jpeg_bytes):
    # libjpeg decodes this with a grey tail and a warning on stderr; it must be refused
    refuse(put(tmp_path, "cut.jpg", jpeg_bytes[:-2]), capfd, "truncated JPEG")


def test_jpeg_cut_in_headers(tmp_path, capfd, jpeg_bytes):
    refuse(put(tmp_path, "cut.jpg", jpeg_bytes[:30]), capfd, "truncated JPEG")


def test_progressive_jpeg_is_walked_to_its_end(tmp_path, capfd):
    data = encode(".jpg", quadrants_bgr(), cv2.IMWRITE_JPEG_PROGRESSIVE, 1)
    assert_rgb8(read_image(data), (48, 64))
    refuse(data[: len(data) * 3 // 4], capfd, "truncated JPEG")


def test_jpeg_with_trailing_bytes_is_fine(jpeg_bytes):
    assert_rgb8(read_image(jpeg_bytes + b"\x00" * 100 + b"vendor data"), (48, 64))


def test_undecodable_jpeg(capfd):
    refuse(b"\xff\xd8\xff\xd9", capfd, "cannot decode JPEG", source="blank.jpg")


def test_truncated_png(tmp_path, capfd):
    data = encode(".png", np.random.default_rng(1).integers(0, 255, (100, 100, 3), np.uint8))
    for keep in (len(data) // 2, len(data) - 12, 20):
        path = put(tmp_path, "cut.png", data[:keep])
        refuse(path, capfd, "PNG")
    assert "truncated PNG (no IEND chunk)" in refuse(data[:-12], capfd, "", source="cut.png")


def test_corrupt_png_chunk(tmp_path, capfd):
    data = bytearray(encode(".png", quadrants_bgr()))
    data[data.find(b"IDAT") + 10] ^= 0xFF  # libpng would print "IDAT: invalid ..." and fail
    path = put(tmp_path, "bad.png", bytes(data))
    assert refuse(path, capfd, "checksum") == f"{path}: corrupt PNG (bad checksum in IDAT chunk)"


def test_truncated_webp_and_bmp(capfd):
    webp = encode(".webp", quadrants_bgr())
    refuse(webp[: len(webp) // 2], capfd, "truncated WebP", source="cut.webp")
    bmp = encode(".bmp", quadrants_bgr())
    refuse(bmp[: len(bmp) // 2], capfd, "truncated BMP", source="cut.bmp")


# --- sizes and decompression bombs --------------------------------------------------------------

def bomb_png(width: int, height: int) -> bytes:
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\x00" * 64))
            + chunk(b"IEND", b""))


def bomb_jpeg(width: int, height: int) -> bytes:
    sof = b"\xff\xc0" + struct.pack(">HBHHB", 11, 8, height, width, 1) + b"\x01\x11\x00"
    return b"\xff\xd8" + sof + b"\xff\xda\x00\x08\x01\x01\x00\x00\x3f\x00" + b"\x12\x34" * 8 + b"\xff\xd9"


@pytest.fixture()
def no_decoding(monkeypatch):
    """A bomb must be refused from its header: decoding it at all is a failure."""
    def forbidden(*args, **kwargs):
        raise AssertionError("cv2.imdecode was called on a decompression bomb")
    monkeypatch.setattr(imageio.cv2, "imdecode", forbidden)


@pytest.mark.parametrize("make", [bomb_png, bomb_jpeg])
def test_bomb_refused_from_header(tmp_path, capfd, no_decoding, make):
    path = put(tmp_path, "bomb.img", make(40000, 40000))
    assert image_size(path) == (40000, 40000)
    message = refuse(path, capfd, "40000x40000")
    assert message == (f"{path}: image is 40000x40000 (1600 megapixels), above the limit of "
                       "128 megapixels (VISIONKIT_MAX_PIXELS)")


def test_bmp_gif_webp_bombs_refused_from_header(no_decoding, capfd):
    bmp = bytearray(encode(".bmp", quadrants_bgr()))
    bmp[18:26] = struct.pack("<ii", 30000, -30000)  # negative height: top-down rows
    refuse(bytes(bmp), capfd, "30000x30000", source="bomb.bmp")
    gif = b"GIF89a" + struct.pack("<HH", 60000, 60000) + b"\x00\x00\x00" + b"\x3b"
    refuse(gif, capfd, "60000x60000", source="bomb.gif")
    webp = bytearray(encode(".webp", quadrants_bgr(), cv2.IMWRITE_WEBP_QUALITY, 101))  # VP8L
    bits = (16383) | (16383 << 14)
    webp[21:25] = bits.to_bytes(4, "little")
    refuse(bytes(webp), capfd, "16384x16384", source="bomb.webp")


@pytest.mark.parametrize("ext,params", [
    (".jpg", []), (".png", []), (".bmp", []), (".tiff", []), (".ppm", []),
    (".webp", [cv2.IMWRITE_WEBP_QUALITY, 80]), (".webp", [cv2.IMWRITE_WEBP_QUALITY, 101]),
])
def test_image_size_from_header(tmp_path, ext, params):
    path = put(tmp_path, "s" + ext, encode(ext, quadrants_bgr(30, 50), *params))
    assert image_size(path) == (50, 30)
    assert image_size(path.read_bytes()) == (50, 30)


def test_image_size_of_gif_and_extended_webp():
    assert image_size(b"GIF89a" + struct.pack("<HH", 7, 5) + bytes(8)) == (7, 5)
    vp8x = b"RIFF" + struct.pack("<I", 30) + b"WEBPVP8X" + struct.pack("<I", 10) + bytes(4)
    assert image_size(vp8x + (639).to_bytes(3, "little") + (479).to_bytes(3, "little")) == (640, 480)


def test_image_size_of_non_images(tmp_path):
    assert image_size(tmp_path / "missing.png") is None
    assert image_size(put(tmp_path, "empty.png", b"")) is None
    assert image_size(put(tmp_path, "text.png", b"hello")) is None
    assert image_size(tmp_path) is None


def test_max_pixels_argument_and_environment(monkeypatch, capfd, jpeg_bytes):
    refuse(jpeg_bytes, capfd, "64x48", max_pixels=1000, source="small.jpg")
    assert read_image(jpeg_bytes, max_pixels=64 * 48).shape == (48, 64, 3)
    monkeypatch.setenv("VISIONKIT_MAX_PIXELS", "1e3")
    refuse(jpeg_bytes, capfd, "above the limit", source="small.jpg")
    monkeypatch.setenv("VISIONKIT_MAX_PIXELS", "lots")
    with pytest.raises(UsageError, match="VISIONKIT_MAX_PIXELS"):
        read_image(jpeg_bytes)


def test_formats_without_parsed_size_are_checked_after_decoding(capfd):
    jp2 = encode(".jp2", quadrants_bgr())
    assert image_size(jp2) is None
    refuse(jp2, capfd, "64x48", max_pixels=100, source="x.jp2")


# --- writing -----------------------------------------------------------------------------------

def test_write_png_round_trip_and_parent_folders(tmp_path):
    rgb = quadrants_bgr()[..., ::-1]
    path = write_image(tmp_path / "a" / "b" / "out.png", rgb)
    assert np.array_equal(read_image(path), rgb)
    assert [p.name for p in path.parent.iterdir()] == ["out.png"]  # no temporary left behind


def test_write_jpeg_and_rgba(tmp_path):
    rgb = quadrants_bgr()[..., ::-1]
    assert np.abs(read_image(write_image(tmp_path / "o.JPG", rgb)).astype(int) - rgb).mean() < 3
    rgba = np.zeros((4, 4, 4), np.uint8)
    rgba[..., 0] = 255  # red, fully transparent
    assert read_image(write_image(tmp_path / "t.png", rgba))[0, 0].tolist() == [255, 255, 255]
    assert read_image(write_image(tmp_path / "t.jpg", rgba))[0, 0].tolist() == [255, 255, 255]


def test_write_refusals(tmp_path):
    with pytest.raises(InputError, match=r"cannot write \.gif"):
        write_image(tmp_path / "x.gif", np.zeros((4, 4, 3), np.uint8))
    with pytest.raises(InputError, match="expected an RGB uint8 HxWx3 image, got float32"):
        write_image(tmp_path / "x.png", np.zeros((4, 4, 3), np.float32))
    blocker = put(tmp_path, "file", b"x")
    with pytest.raises(InputError, match="cannot write"):
        write_image(blocker / "x.png", np.zeros((4, 4, 3), np.uint8))


def test_extension_sets():
    assert ".jpg" in imageio.IMAGE_EXTENSIONS and ".mp4" in imageio.VIDEO_EXTENSIONS
    assert not imageio.IMAGE_EXTENSIONS & imageio.VIDEO_EXTENSIONS
    assert all(e == e.lower() and e.startswith(".") for e in imageio.IMAGE_EXTENSIONS | imageio.VIDEO_EXTENSIONS)
