"""Output files appear whole, and never replace another's by accident.

Every file visionkit writes (annotated images and videos, masks, results files) is written
under a hidden temporary name beside its final one and published when complete: a run killed
half-way leaves no undecodable file at the final name. Publishing does not replace an existing
file unless asked (``--overwrite``): the final name is created atomically (a hard link), so two
runs saving into one folder cannot silently mix their outputs either.
"""

from __future__ import annotations

import os
from contextlib import suppress
from pathlib import Path

from .errors import InputError


def temp_path(final: Path) -> Path:
    """A hidden name beside ``final`` that keeps its suffix (encoders choose by it)."""
    return final.with_name(f".{final.stem}.partial{os.getpid()}{final.suffix}")


def publish(tmp: Path, final: Path, overwrite: bool) -> None:
    """Give the finished ``tmp`` its final name; refuse to replace a file unless ``overwrite``."""
    try:
        if overwrite:
            os.replace(tmp, final)
            return
        try:
            os.link(tmp, final)  # atomic: fails if the name exists, whoever made it
        except FileExistsError:
            raise InputError(f"{final}: already exists; pass --overwrite to replace it") from None
        except OSError:  # a file system without hard links: check, then rename
            if final.exists():
                raise InputError(f"{final}: already exists; pass --overwrite to replace it") from None
            os.replace(tmp, final)
    except OSError as exc:
        raise InputError(f"{final}: cannot write ({exc.strerror or exc})") from None
    finally:
        with suppress(OSError):
            tmp.unlink()


def discard(tmp: Path) -> None:
    with suppress(OSError):
        tmp.unlink()


def check_folder(out_dir: str | os.PathLike, overwrite: bool) -> Path:
    """The output folder, created; refuses one that already holds files unless ``overwrite``
    (a second run would otherwise fail at its first same-named output, half-way through)."""
    path = Path(out_dir)
    if path.exists() and not path.is_dir():
        raise InputError(f"{path}: exists and is not a folder")
    if not overwrite and path.is_dir():
        try:
            held = [p for p in path.iterdir() if not p.name.startswith(".")]
        except OSError as exc:
            raise InputError(f"{path}: cannot read the output folder ({exc.strerror})") from None
        if held:
            raise InputError(f"{path}: already holds {len(held)} file(s); pass --overwrite to replace "
                             "same-named ones, or choose another --save folder")
    return make_folder(path)


def make_folder(out_dir: str | os.PathLike) -> Path:
    """The output folder, created where it is missing; one line when it cannot be."""
    path = Path(out_dir)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"{path}: cannot create output folder ({exc.strerror})") from None
    return path


def save_bytes(path: Path, data: bytes | str, overwrite: bool = False) -> Path:
    """Write a whole file the safe way: a temporary name, then :func:`publish`."""
    tmp = temp_path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
    except OSError as exc:
        discard(tmp)
        raise InputError(f"{path}: cannot write ({exc.strerror or exc})") from None
    publish(tmp, path, overwrite)
    return path
