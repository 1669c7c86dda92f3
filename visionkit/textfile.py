"""Small text files users hand visionkit (model cards, label lists), read with one-line errors.

A card or a label list is a few kilobytes of UTF-8. Anything else named like one (a FIFO that
would block the read, a device, a directory, a binary file, one of gigabytes) is refused before
it is read, with a line naming the file and what it is.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from .errors import CardError


def not_regular(mode: int) -> str | None:
    """What a file of this ``st_mode`` is when it is not a regular file (FIFO, device, ...)."""
    if stat.S_ISREG(mode):
        return None
    for test, what in ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO (named pipe)"),
                       (stat.S_ISSOCK, "a socket"), (stat.S_ISCHR, "a character device"),
                       (stat.S_ISBLK, "a block device")):
        if test(mode):
            return what
    return "not a regular file"


def read_small_text(path: str | os.PathLike, what: str, max_bytes: int, *, missing_hint: str = "",
                    encoding: str = "utf-8") -> str:
    """The text of a ``what`` file ("card", "label") of at most ``max_bytes``; CardError otherwise."""
    p = Path(path)
    try:
        st = p.stat()
        kind = not_regular(st.st_mode)
        if kind is not None:
            raise CardError(f"{p}: is {kind}, not a {what} file")
        if st.st_size > max_bytes:
            limit = f"{max_bytes // 2**20} MB" if max_bytes >= 2**20 else f"{max_bytes} bytes"
            raise CardError(f"{p}: {st.st_size} bytes is too large for a {what} file (at most {limit})")
        return p.read_text(encoding=encoding)
    except FileNotFoundError:
        raise CardError(f"{p}: no such {what} file{missing_hint}") from None
    except UnicodeDecodeError:
        raise CardError(f"{p}: not a {what} file (not UTF-8 text)") from None
    except OSError as exc:
        raise CardError(f"{p}: cannot read {what} file ({exc.strerror or exc})") from None
