"""What an image file is, how big it is, and whether it is whole, from its bytes alone.

Magic bytes name the format; the header gives the size (so a decompression bomb is refused
before any pixel is decoded) and the EXIF orientation; JPEG and PNG files are walked to their
end marker, because a truncated JPEG would otherwise decode as a partly grey picture.
Nothing here decodes pixels.
"""

from __future__ import annotations

import mmap
import os
import re
import struct
import zlib
from typing import Union

ImageInput = Union[str, os.PathLike, bytes, bytearray, memoryview]

# --- what is this file? ----------------------------------------------------------------------

_MAGIC = (
    (b"\xff\xd8\xff", "JPEG"), (b"\x89PNG\r\n\x1a\n", "PNG"), (b"GIF87a", "GIF"),
    (b"GIF89a", "GIF"), (b"II*\x00", "TIFF"), (b"MM\x00*", "TIFF"), (b"II+\x00", "TIFF"),
    (b"MM\x00+", "TIFF"), (b"\x00\x00\x00\x0cjP  \r\n\x87\n", "JPEG 2000"),
    (b"\xff\x4f\xff\x51", "JPEG 2000"), (b"#?RADIANCE", "HDR"), (b"#?RGBE", "HDR"),
    (b"\x59\xa6\x6a\x95", "Sun raster"), (b"v/1\x01", "OpenEXR"),
)
_BMP_HEADER_SIZES = {12, 40, 52, 56, 64, 108, 124}
_HEIF_BRANDS = {b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1", b"msf1"}


def sniff_format(head: bytes) -> str | None:
    """The image format named by a file's first bytes (64 are plenty), or None.

    Videos and HEIF come back as ``"video"`` / ``"HEIF"`` so callers can say what they are.
    """
    for magic, name in _MAGIC:
        if head.startswith(magic):
            return name
    if head[:2] == b"BM" and len(head) >= 18 and struct.unpack_from("<I", head, 14)[0] in _BMP_HEADER_SIZES:
        return "BMP"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "WebP"
    if re.match(rb"P[1-7]\s", head):
        return "PNM"
    if head[4:8] == b"ftyp":
        brands = {head[i:i + 4] for i in range(8, min(len(head), 64) - 3, 4)}
        if brands & {b"avif", b"avis"}:
            return "AVIF"
        return "HEIF" if brands & _HEIF_BRANDS else "video"
    if (head[:4] == b"RIFF" and head[8:11] == b"AVI") or head.startswith(b"\x1a\x45\xdf\xa3"):
        return "video"
    return None


def describe_start(head: bytes) -> str:
    """The first bytes of a file, quoted if they read as text, else as hex (for messages)."""
    head = head[:16]
    for cut in range(4):  # the 16th byte may split a UTF-8 character
        try:
            text = head[:len(head) - cut].decode("utf-8").lstrip("\ufeff")
        except UnicodeDecodeError:
            continue
        if text and all(c.isprintable() or c in "\r\n\t" for c in text):
            return repr(" ".join(text.split()))
        break
    return head[:8].hex(" ")


# --- headers: size, orientation, completeness ------------------------------------------------

_JPEG_SOF = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
# in entropy-coded data 0xFF is followed by 0x00 (stuffing) or a restart marker; anything else
# is the next real marker
_JPEG_NEXT_MARKER = re.compile(rb"\xff[^\x00\xd0-\xd7\xff]")


def _tiff_ifd0(buf, wanted: set[int]) -> dict[int, int]:
    """Integer tags of a TIFF structure's first IFD (a TIFF file, or an EXIF block)."""
    order = {b"II*\x00": "<", b"MM\x00*": ">"}.get(bytes(buf[:4]))
    if order is None:
        return {}
    tags: dict[int, int] = {}
    try:
        (ifd,) = struct.unpack_from(order + "I", buf, 4)
        (count,) = struct.unpack_from(order + "H", buf, ifd)
        for i in range(min(count, 512)):
            tag, kind, n = struct.unpack_from(order + "HHI", buf, ifd + 2 + 12 * i)
            if tag in wanted and n == 1 and kind in (3, 4):
                tags[tag] = struct.unpack_from(order + ("H" if kind == 3 else "I"), buf, ifd + 10 + 12 * i)[0]
    except struct.error:  # a cut-off IFD: whatever was read is all there is
        pass
    return tags


def _exif_orientation(exif) -> int | None:
    value = _tiff_ifd0(exif, {0x0112}).get(0x0112)
    return value if value in range(1, 9) else None


def _jpeg_header(buf, to_end: bool):
    """Walks JPEG markers. -> (size, orientation, problem); problem None when intact."""
    size = orientation = None
    pos, n = 2, len(buf)
    while True:
        pos = buf.find(b"\xff", pos)  # skips stray bytes between segments, as libjpeg does
        while 0 <= pos < n and buf[pos] == 0xFF:
            pos += 1
        if pos < 0 or pos >= n:
            return size, orientation, "truncated JPEG (no end-of-image marker)"
        marker = buf[pos]
        pos += 1
        if marker == 0xD9:
            return size, orientation, None
        if marker in (0x00, 0x01) or 0xD0 <= marker <= 0xD7:  # no length field
            continue
        if pos + 2 > n:
            return size, orientation, "truncated JPEG (cut inside a header)"
        length = int.from_bytes(buf[pos:pos + 2], "big")
        if length < 2 or pos + length > n:
            return size, orientation, "truncated JPEG (cut inside a header)"
        if marker in _JPEG_SOF and size is None and length >= 7:
            height, width = struct.unpack_from(">HH", buf, pos + 3)
            size = (width, height) if width and height else None
        elif marker == 0xE1 and orientation is None and buf[pos + 2:pos + 8] == b"Exif\x00\x00":
            orientation = _exif_orientation(buf[pos + 8:pos + length])
        pos += length
        if marker == 0xDA:
            if not to_end:
                return size, orientation, None
            found = _JPEG_NEXT_MARKER.search(buf, pos)
            if found is None:
                return size, orientation, "truncated JPEG (no end-of-image marker)"
            pos = found.start()


def _png_header(buf, to_end: bool):
    """Walks PNG chunks, checking each CRC. -> (size, orientation, problem)."""
    if len(buf) < 33 or buf[12:16] != b"IHDR":
        return None, None, "truncated or corrupt PNG (no IHDR header)"
    size = struct.unpack_from(">II", buf, 16)
    if not to_end:
        return size, None, None
    view = memoryview(buf)  # CRCs over large IDAT chunks without copying them
    orientation, pos, n = None, 8, len(buf)
    while True:
        if pos + 12 > n:
            return size, orientation, "truncated PNG (no IEND chunk)"
        length, kind = struct.unpack_from(">I4s", buf, pos)
        end = pos + 12 + length
        if end > n:
            return size, orientation, "truncated PNG (no IEND chunk)"
        # a bad CRC would make libpng print to stderr and fail: refuse first, with the reason
        if zlib.crc32(view[pos + 4:end - 4]) != struct.unpack_from(">I", buf, end - 4)[0]:
            # a crafted chunk type may hold any bytes, a line break too: name it safely
            name = kind.decode("latin-1") if kind.isalpha() else kind.hex(" ")
            return size, orientation, f"corrupt PNG (bad checksum in {name} chunk)"
        if kind == b"eXIf":
            orientation = _exif_orientation(view[pos + 8:end - 4])
        if kind == b"IEND":
            return size, orientation, None
        pos = end


def _other_size(fmt: str, buf):
    """Width and height from the headers of the remaining common formats, else None."""
    try:
        if fmt == "GIF":
            return struct.unpack_from("<HH", buf, 6)
        if fmt == "BMP":
            if struct.unpack_from("<I", buf, 14)[0] == 12:
                return struct.unpack_from("<HH", buf, 18)
            width, height = struct.unpack_from("<ii", buf, 18)
            return abs(width), abs(height)  # negative height: rows stored top-down
        if fmt == "TIFF":
            tags = _tiff_ifd0(buf, {256, 257})
            return (tags[256], tags[257]) if len(tags) == 2 else None
        if fmt == "PNM":
            # one whitespace byte per repetition: "\s+" inside "(...)+" backtracks exponentially
            found = re.match(rb"P[1-7](?:\s|#[^\n]*\n)+(\d+)(?:\s|#[^\n]*\n)+(\d+)", buf[:1024])
            return (int(found[1]), int(found[2])) if found else None
        if fmt == "WebP":
            kind = bytes(buf[12:16])
            if kind == b"VP8 " and buf[23:26] == b"\x9d\x01\x2a":
                width, height = struct.unpack_from("<HH", buf, 26)
                return width & 0x3FFF, height & 0x3FFF
            if kind == b"VP8L" and buf[20] == 0x2F:
                bits = int.from_bytes(buf[21:25], "little")
                return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
            if kind == b"VP8X":
                return int.from_bytes(buf[24:27], "little") + 1, int.from_bytes(buf[27:30], "little") + 1
    except (struct.error, IndexError):
        pass
    return None


def _header(fmt: str, buf, to_end: bool):
    if fmt == "JPEG":
        return _jpeg_header(buf, to_end)
    if fmt == "PNG":
        return _png_header(buf, to_end)
    problem = None
    if fmt == "WebP" and len(buf) < 8 + int.from_bytes(buf[4:8], "little"):
        problem = "truncated WebP (shorter than its RIFF header says)"
    elif fmt == "BMP" and len(buf) < int.from_bytes(buf[2:6], "little"):
        problem = "truncated BMP (shorter than its header says)"
    return _other_size(fmt, buf), None, problem


def image_size(path_or_bytes: ImageInput) -> tuple[int, int] | None:
    """(width, height) read from the header alone, or None when the format's header is not
    parsed here (or the data is not an image). Decodes no pixels; reads little of a file."""
    if isinstance(path_or_bytes, (bytes, bytearray, memoryview)):
        buf = bytes(path_or_bytes)
        fmt = sniff_format(buf[:64])
        return _header(fmt, buf, to_end=False)[0] if fmt else None
    try:
        with open(path_or_bytes, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as buf:
            fmt = sniff_format(buf[:64])
            return _header(fmt, buf, to_end=False)[0] if fmt else None
    except (OSError, ValueError):  # missing, a directory, or empty (mmap refuses 0 bytes)
        return None
