"""What a batch job reads: its inputs listed once, cut into shards, and written down.

The manifest (``OUT/manifest.tsv``, one ``shard<TAB>path`` line per input) is made by the first
run of a job and read by every later one, so a resumed run works through exactly the inputs
the first one listed, in the same shards. A shard is a run of still images (at most
``shard_size``) or one video: a video is never split, so a tracker's state stays whole.
"""

from __future__ import annotations

import glob
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator

from ..errors import InputError, UsageError
from ..imageio import IMAGE_EXTENSIONS, VIDEO_EXTENSIONS
from ..sources import camera_index, natural_key

MANIFEST = "manifest.tsv"
#: the largest shard of stills: the unit a worker takes at a time and that is committed at once
MAX_SHARD = 256
#: shards per worker a job is cut into at least, so that the workers finish together
SHARDS_PER_WORKER = 8


@dataclass(frozen=True)
class Shard:
    """Inputs a worker runs in one go; their records become one part file."""

    index: int
    paths: tuple[str, ...]

    @property
    def name(self) -> str:
        return f"part-{self.index:06d}"


def is_video(path: str) -> bool:
    return os.path.splitext(path)[1].lower() in VIDEO_EXTENSIONS


def _media(name: str) -> bool:
    ext = os.path.splitext(name)[1].lower()
    return not name.startswith(".") and (ext in IMAGE_EXTENSIONS or ext in VIDEO_EXTENSIONS)


def _walk(root: str, recursive: bool) -> Iterator[str]:
    """A folder's images and videos in natural order, one folder in memory at a time."""
    try:
        entries = sorted(os.scandir(root), key=lambda e: natural_key(e.name))
    except OSError as exc:
        raise InputError(f"{root}: cannot read the folder ({exc.strerror})") from None
    folders = []
    for entry in entries:
        if entry.is_dir():
            if recursive and not entry.name.startswith("."):
                folders.append(entry.path)
        elif _media(entry.name):
            yield os.path.join(root, entry.name)
    for folder in folders:
        yield from _walk(folder, recursive)


def _listed(list_file: str) -> Iterator[str]:
    """``@paths.txt``: one path per line; relative ones are relative to the list's folder;
    blank lines and ``#`` comments are skipped. Every path listed is an input (one that cannot
    be read becomes a failed record), whatever its suffix."""
    base = os.path.dirname(list_file)
    try:
        with open(list_file, encoding="utf-8") as fh:
            for line in fh:
                path = line.rstrip("\r\n")
                if path.strip() and not path.lstrip().startswith("#"):
                    yield path if os.path.isabs(path) else os.path.join(base, path)
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or "not a UTF-8 text file"
        raise InputError(f"{list_file}: cannot read the list of inputs ({reason})") from None


def expand(spec: str, recursive: bool) -> Iterator[str]:
    """The input paths one source names: a file, a folder (its images and videos), a glob, or
    ``@FILE`` (a text file of paths). Cameras and network streams have no end: refused."""
    spec = os.fspath(spec)
    if camera_index(spec) is not None or "://" in spec:
        raise UsageError(f"{spec}: batch runs over files; a camera or stream has no end "
                         "(use `visionkit predict` for it)")
    if spec.startswith("@") and not os.path.exists(spec):
        yield from _listed(spec[1:])
    elif os.path.isdir(spec):
        yield from _walk(spec, recursive)
    elif os.path.exists(spec) or not any(c in spec for c in "*?["):
        yield spec  # a missing file is an input that fails, listed with the others
    else:
        matches = sorted((p for p in glob.glob(spec, recursive=True) if os.path.isfile(p) and _media(
            os.path.basename(p))), key=natural_key)
        if not matches:
            raise InputError(f"{spec}: no images or videos match")
        yield from matches


def cut(paths: Iterable[str], shard_size: int) -> Iterator[Shard]:
    """Consecutive stills in shards of ``shard_size``; each video a shard of its own."""
    index, stills = 0, []
    for path in paths:
        if is_video(path):
            if stills:
                yield Shard(index, tuple(stills))
                index, stills = index + 1, []
            yield Shard(index, (path,))
            index += 1
            continue
        stills.append(path)
        if len(stills) == shard_size:
            yield Shard(index, tuple(stills))
            index, stills = index + 1, []
    if stills:
        yield Shard(index, tuple(stills))


def shard_size_for(count: int, workers: int) -> int:
    """Small enough that every worker gets several shards, never above :data:`MAX_SHARD`."""
    return max(1, min(MAX_SHARD, -(-count // (workers * SHARDS_PER_WORKER))))


def write_manifest(out: Path, sources: Iterable[str], recursive: bool, workers: int,
                   shard_size: int | None) -> tuple[int, int]:
    """List every source's inputs and write the manifest; returns (inputs, shards). The list
    goes through a file, not memory: a bucket of millions of files is listed in flat memory."""
    listing, tmp = out / (MANIFEST + ".list"), out / (MANIFEST + ".partial")
    count = 0
    try:
        with open(listing, "w", encoding="utf-8") as fh:
            for spec in sources:
                for path in expand(spec, recursive):
                    if "\t" in path or "\n" in path:
                        raise InputError(f"{path!r}: a path with a tab or newline cannot be listed")
                    fh.write(path + "\n")
                    count += 1
        if not count:
            raise InputError("no inputs: the sources hold no images or videos")
    except BaseException:
        listing.unlink(missing_ok=True)
        raise
    size = shard_size or shard_size_for(count, workers)
    shards = 0
    with open(listing, encoding="utf-8") as src, open(tmp, "w", encoding="utf-8") as fh:
        for shard in cut((line.rstrip("\n") for line in src), size):
            fh.writelines(f"{shard.index}\t{p}\n" for p in shard.paths)
            shards = shard.index + 1
    os.replace(tmp, out / MANIFEST)
    listing.unlink()
    return count, shards


def read_shards(out: Path) -> Iterator[Shard]:
    """The manifest's shards in order, one in memory at a time."""
    current, paths = None, []
    with open(out / MANIFEST, encoding="utf-8") as fh:
        for line in fh:
            shard, path = line.rstrip("\n").split("\t", 1)
            if current is not None and int(shard) != current:
                yield Shard(current, tuple(paths))
                paths = []
            current = int(shard)
            paths.append(path)
    if current is not None:
        yield Shard(current, tuple(paths))
