"""Still images in and out: any image file becomes an RGB uint8 HxWx3 array, or a one-line error.

OpenCV decodes; this module decides what it is allowed to decode. Before any pixel is decoded
the file's magic bytes name its format, its header gives the size (a decompression bomb is
refused without being decoded), and JPEG/PNG files are walked to their end marker, because a
truncated JPEG would otherwise come back as a partly grey picture.

Choices:

* Alpha is composited over **white**: transparent pixels carry arbitrary (often black) colour
  underneath, and logos and scans with transparency are drawn to be seen on white.
* 16-bit samples are rescaled (``round(v * 255 / 65535)``), not truncated; float samples
  (HDR, float TIFF) are clipped to 0..1 (no tone mapping).
* EXIF orientation is applied for JPEG (APP1) and PNG (eXIf), as phones and browsers do.
* OpenCV's own log lines are silenced while it works for us. libjpeg writes "Corrupt JPEG
  data" for damaged (not truncated) entropy data straight to stderr; silencing that would
  mean redirecting the process-wide fd 2, which would swallow other threads' output, so those
  few lines are left alone (the truncation checks below keep the common case quiet).
"""

from __future__ import annotations

import os
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import cv2
import numpy as np

from .errors import InputError, UsageError
from .textfile import not_regular
from .imageheaders import ImageInput, _header, describe_start, image_size, sniff_format  # noqa: F401 (re-exported)

# FFmpeg prints container errors ("moov atom not found") itself; OpenCV reads this variable
# when it first loads FFmpeg. setdefault: a user who sets it keeps their choice.
os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")

#: refuse images with more pixels than this (VISIONKIT_MAX_PIXELS overrides it)
DEFAULT_MAX_PIXELS = 128_000_000

IMAGE_EXTENSIONS = frozenset({
    ".jpg", ".jpeg", ".jpe", ".jfif", ".png", ".bmp", ".dib", ".gif", ".tif", ".tiff",
    ".webp", ".pbm", ".pgm", ".ppm", ".pnm", ".jp2", ".j2k", ".avif", ".hdr", ".ras", ".sr",
})
VIDEO_EXTENSIONS = frozenset({
    ".mp4", ".m4v", ".mov", ".avi", ".mkv", ".webm", ".mpg", ".mpeg", ".wmv", ".flv",
    ".ts", ".mts", ".m2ts", ".3gp", ".ogv",
})

# --- keeping OpenCV quiet ------------------------------------------------------------------

_quiet_lock = threading.Lock()
_quiet_depth = 0
_saved_level = 0


@contextmanager
def opencv_quiet() -> Iterator[None]:
    """Silence OpenCV's log while inside (reference-counted, so threads may nest it)."""
    global _quiet_depth, _saved_level
    logging = getattr(getattr(cv2, "utils", None), "logging", None)
    if logging is None:  # very old builds: nothing to silence with
        yield
        return
    with _quiet_lock:
        if _quiet_depth == 0:
            _saved_level = logging.setLogLevel(logging.LOG_LEVEL_SILENT)
        _quiet_depth += 1
    try:
        yield
    finally:
        with _quiet_lock:
            _quiet_depth -= 1
            if _quiet_depth == 0:
                logging.setLogLevel(_saved_level)


# --- decoding ----------------------------------------------------------------------------------


def max_pixels_from_env() -> int:
    """VISIONKIT_MAX_PIXELS when set (e.g. ``64000000`` or ``64e6``), else the default."""
    value = os.environ.get("VISIONKIT_MAX_PIXELS", "").strip()
    if not value:
        return DEFAULT_MAX_PIXELS
    try:
        limit = int(float(value))
    except ValueError:
        limit = 0
    if limit <= 0:
        raise UsageError(f"VISIONKIT_MAX_PIXELS={value!r}: expected a positive number of pixels")
    return limit


def _check_pixels(source: str, width: int, height: int, limit: int) -> None:
    if width * height > limit:
        raise InputError(
            f"{source}: image is {width}x{height} ({width * height / 1e6:.0f} megapixels), above the "
            f"limit of {limit / 1e6:.0f} megapixels (VISIONKIT_MAX_PIXELS)"
        )


def check_regular_file(path: str | os.PathLike, source: str | None = None) -> None:
    """Refuse what is not a regular file before anything opens it: reading a FIFO or a
    device named ``x.jpg`` would wait forever (or never end)."""
    source = source or os.fsdecode(os.fspath(path))
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        raise InputError(f"{source}: no such file or directory") from None
    except PermissionError:
        raise InputError(f"{source}: permission denied") from None
    except OSError as exc:  # a symlink loop, a name too long
        raise InputError(f"{source}: cannot read ({exc.strerror or exc})") from None
    what = not_regular(mode)
    if what is not None:
        raise InputError(f"{source}: is {what}, not a regular file")


def _open_regular(path, source: str):
    """Open for reading without ever blocking: O_NONBLOCK keeps a FIFO's open from waiting
    for a writer, and the descriptor's own fstat decides (no race with a renamed file)."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    try:
        what = not_regular(os.fstat(fd).st_mode)
        if what is not None:
            raise InputError(f"{source}: is {what}, not a regular file")
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def _read_file(path, source: str) -> bytes:
    try:
        with _open_regular(path, source) as f:
            head = f.read(64)
            if not head:
                raise InputError(f"{source}: empty file")
            # refuse a video or a web page by its first bytes, before reading all of it
            if sniff_format(head) in (None, "video", "HEIF"):
                return head
            return head + f.read()
    except FileNotFoundError:
        raise InputError(f"{source}: no such file") from None
    except IsADirectoryError:
        raise InputError(f"{source}: is a directory, not an image file") from None
    except PermissionError:
        raise InputError(f"{source}: permission denied") from None
    except OSError as exc:
        raise InputError(f"{source}: cannot read ({exc.strerror or exc})") from None


def read_image(path_or_bytes: ImageInput, *, max_pixels: int | None = None,
               source: str | None = None) -> np.ndarray:
    """Decode an image file (or its bytes) to an RGB uint8 HxWx3 C-contiguous array.

    :param max_pixels: refuse larger images; None means VISIONKIT_MAX_PIXELS, else
        :data:`DEFAULT_MAX_PIXELS`.
    :param source: the name used in error messages (default: the path, or ``<bytes>``).
    :raises InputError: one line naming the source and why it cannot be read.
    """
    if isinstance(path_or_bytes, (bytes, bytearray, memoryview)):
        source = source or "<bytes>"
        data = bytes(path_or_bytes)
        if not data:
            raise InputError(f"{source}: empty data")
    else:
        source = source or os.fspath(path_or_bytes)
        if os.path.isdir(path_or_bytes):
            raise InputError(f"{source}: is a directory, not an image file")
        data = _read_file(path_or_bytes, source)
    fmt = sniff_format(data[:64])
    if fmt is None:
        raise InputError(f"{source}: not an image (starts with {describe_start(data)})")
    if fmt == "video":
        raise InputError(f"{source}: a video, not a still image")
    if fmt in ("HEIF", "OpenEXR"):
        raise InputError(f"{source}: {fmt} images are not supported here (convert to PNG or JPEG)")
    size, orientation, problem = _header(fmt, data, to_end=True)
    if problem:
        raise InputError(f"{source}: {problem}")
    limit = max_pixels if max_pixels is not None else max_pixels_from_env()
    if size:
        _check_pixels(source, size[0], size[1], limit)
    with opencv_quiet():
        try:
            decoded = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
        except cv2.error as exc:  # e.g. above OpenCV's own OPENCV_IO_MAX_IMAGE_PIXELS
            why = "larger than OpenCV's decode limit" if "MAX_IMAGE" in str(exc) else "corrupt file"
            raise InputError(f"{source}: cannot decode {fmt} ({why})") from None
    if decoded is None or decoded.size == 0:
        raise InputError(f"{source}: cannot decode {fmt} (corrupt file or unsupported variant)")
    _check_pixels(source, decoded.shape[1], decoded.shape[0], limit)
    rgb = to_rgb8(decoded, source=source)
    return _apply_orientation(rgb, orientation) if orientation else rgb


def _apply_orientation(image: np.ndarray, orientation: int) -> np.ndarray:
    """Undo EXIF orientation 2..8 (what the camera stored vs. how it was held)."""
    t = image.transpose(1, 0, 2)
    turned = {
        2: image[:, ::-1], 3: image[::-1, ::-1], 4: image[::-1],
        5: t, 6: t[:, ::-1], 7: t[::-1, ::-1], 8: t[::-1],
    }.get(orientation, image)
    return np.ascontiguousarray(turned)


def flatten_alpha(image: np.ndarray) -> np.ndarray:
    """Composite a 4-channel uint8 image over white; returns its first three channels."""
    color, alpha = image[..., :3], image[..., 3:]
    if alpha.min() == 255:
        return color
    a = alpha.astype(np.uint16)
    return ((color * a + 255 * (255 - a) + 127) // 255).astype(np.uint8)


def to_rgb8(image: np.ndarray, *, bgr: bool = True, source: str = "image") -> np.ndarray:
    """Any OpenCV-style image (grey, 3 or 4 channels; uint8, uint16 or float) as RGB uint8
    HxWx3, C-contiguous. ``bgr=False`` for arrays already in RGB(A) order."""
    if image.dtype == np.uint16:
        image = ((image.astype(np.uint32) + 128) // 257).astype(np.uint8)
    elif image.dtype in (np.float32, np.float64):
        image = (np.clip(image, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
    elif image.dtype != np.uint8:
        raise InputError(f"{source}: unsupported sample type {image.dtype}")
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[..., 0]
    if image.ndim == 2:
        return cv2.cvtColor(image, cv2.COLOR_GRAY2RGB)
    if image.ndim != 3 or image.shape[2] not in (3, 4):
        raise InputError(f"{source}: unsupported image layout {image.shape}")
    if image.shape[2] == 4:
        image = flatten_alpha(image)
    if bgr:
        return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)  # makes a new contiguous array
    return np.ascontiguousarray(image)


# --- writing -----------------------------------------------------------------------------------

_WRITE_OPTIONS = {
    ".png": [cv2.IMWRITE_PNG_COMPRESSION, 3], ".jpg": [cv2.IMWRITE_JPEG_QUALITY, 95],
    ".jpeg": [cv2.IMWRITE_JPEG_QUALITY, 95], ".bmp": [], ".tif": [], ".tiff": [],
    ".webp": [cv2.IMWRITE_WEBP_QUALITY, 95],
}


def write_image(path: str | os.PathLike, rgb: np.ndarray, *, overwrite: bool = True) -> Path:
    """Write an RGB (or grey, or RGBA for PNG/TIFF/WebP) uint8 image; the suffix picks the
    format. Creates parent folders; the file appears whole or not at all, and an existing one
    is replaced only with ``overwrite``."""
    path = Path(path)
    options = _WRITE_OPTIONS.get(path.suffix.lower())
    if options is None:
        raise InputError(f"{path}: cannot write {path.suffix or 'files without a suffix'} (use .png or .jpg)")
    if not isinstance(rgb, np.ndarray) or rgb.dtype != np.uint8 or not (
            rgb.ndim == 2 or (rgb.ndim == 3 and rgb.shape[2] in (1, 3, 4))):
        what = f"{rgb.dtype} array of shape {rgb.shape}" if isinstance(rgb, np.ndarray) else type(rgb).__name__
        raise InputError(f"{path}: expected an RGB uint8 HxWx3 image, got {what}")
    if rgb.ndim == 3 and rgb.shape[2] == 4 and path.suffix.lower() in (".jpg", ".jpeg", ".bmp"):
        rgb = flatten_alpha(rgb)
    if rgb.ndim == 3 and rgb.shape[2] >= 3:
        rgb = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR if rgb.shape[2] == 3 else cv2.COLOR_RGBA2BGRA)
    with opencv_quiet():
        try:
            ok, encoded = cv2.imencode(path.suffix.lower(), rgb, options)
        except cv2.error:
            ok = False
    if not ok:
        raise InputError(f"{path}: OpenCV cannot encode this image as {path.suffix}")
    from .outputs import discard, publish, temp_path

    tmp = temp_path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_bytes(encoded.tobytes())
    except OSError as exc:
        discard(tmp)
        raise InputError(f"{path}: cannot write ({exc.strerror or exc})") from None
    publish(tmp, path, overwrite)
    return path
