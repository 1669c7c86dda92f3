"""Checkpoints and training states on disk: plain data in, plain data out, never code.

A ``.pt`` file is a pickle, and unpickling runs whatever the file tells it to: a checkpoint
someone sent could delete files or open a shell before anything looks at its contents. So
visionkit reads these files only with torch's ``weights_only`` unpickler, which builds tensors,
numbers, strings, lists, tuples and dicts and refuses everything else, and writes them holding
only those (:func:`plain` turns what the recipes record, such as numpy numbers, paths and
torch's version string, into them). Whatever else a file is (a tampered file, a truncated one,
a text file, a folder, a file of an older visionkit that pickled numpy arrays) is refused in
one line that names it.
"""

from __future__ import annotations

import dataclasses
import os
import pickle
import re
import warnings
from collections import OrderedDict
from pathlib import Path, PurePath
from typing import Any

import numpy as np
import torch

from ..errors import InputError, ModelError

__all__ = ["load_checkpoint", "plain", "save_checkpoint"]


def load_checkpoint(path: str | Path, what: str = "checkpoint") -> dict[str, Any]:
    """The dict a visionkit ``.pt`` file holds, read without running any code it may carry.

    ``what`` names the file in messages ("checkpoint", "training state"). Raises
    :class:`InputError` for a path that is no readable file, :class:`ModelError` for a file
    that is not a visionkit checkpoint (any code or object in it is refused, not run).
    """
    path = Path(path)
    if path.is_dir():
        raise InputError(f"{path}: a folder, not a visionkit {what}")
    if not path.is_file():
        raise InputError(f"{path}: no such {what}")
    try:
        with warnings.catch_warnings():
            # torch warns about pickle protocols it did not write; the refusal below says enough
            warnings.simplefilter("ignore")
            obj = torch.load(str(path), map_location="cpu", weights_only=True)
    except PermissionError as exc:
        raise InputError(f"{path}: cannot read it ({exc.strerror})") from None
    except pickle.UnpicklingError as exc:
        # torch's own message suggests weights_only=False, which is exactly what must not happen
        found = re.search(r"GLOBAL ([\w.]+)", str(exc))
        held = f"a Python object ({found.group(1)})" if found else "Python objects"
        raise ModelError(f"{path}: not a visionkit {what}, or one written by an older visionkit: it holds "
                         f"{held} besides tensors and plain data, which visionkit never loads") from None
    except Exception:  # a truncated file, a text file, anything torch cannot parse
        raise ModelError(f"{path}: not a visionkit {what} (not a torch file, or a truncated one)") from None
    if not isinstance(obj, dict):
        raise ModelError(f"{path}: not a visionkit {what} (it holds a {type(obj).__name__}, not a dict)")
    return obj


def save_checkpoint(obj: dict[str, Any], path: str | Path) -> Path:
    """Write ``obj`` as plain data (:func:`plain`) so that :func:`load_checkpoint` reads it
    back; written aside and then renamed, so a run killed while saving keeps the last file."""
    path = Path(path)
    data = plain(obj)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    torch.save(data, str(tmp))
    os.replace(tmp, path)
    return path


def plain(obj: Any, where: str = "") -> Any:
    """``obj`` as what the ``weights_only`` unpickler builds: tensors, None, bool, int, float,
    str, and lists, tuples and dicts of them. numpy numbers become Python numbers, numpy
    arrays tensors, paths and ``str``/``int``/``float`` subclasses (torch's version) their base
    type, dataclasses dicts. Anything else is a ``TypeError`` naming where it sits, at saving
    time rather than as a file nobody can load."""
    if isinstance(obj, (torch.Tensor, torch.dtype, torch.device, torch.Size)) or obj is None:
        return obj
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, bool):
        return bool(obj)
    for kind in (int, float, str):
        if isinstance(obj, kind):
            return kind(obj)
    if isinstance(obj, PurePath):
        return str(obj)
    if isinstance(obj, np.ndarray):
        if obj.dtype == object:
            raise TypeError(f"a checkpoint cannot hold a numpy array of objects (at {where or 'top'})")
        return torch.as_tensor(np.ascontiguousarray(obj)).clone()
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        obj = {f.name: getattr(obj, f.name) for f in dataclasses.fields(obj)}
    if isinstance(obj, dict):
        out: dict = OrderedDict() if isinstance(obj, OrderedDict) else {}
        for k, v in obj.items():
            out[plain(k, where)] = plain(v, f"{where}.{k}" if where else str(k))
        if hasattr(obj, "_metadata"):  # a state_dict's module versions, which load_state_dict reads
            out._metadata = plain(obj._metadata, f"{where}._metadata")  # type: ignore[attr-defined]
        return out
    if isinstance(obj, (list, tuple)):  # a namedtuple becomes a plain tuple
        items = [plain(v, f"{where}[{i}]") for i, v in enumerate(obj)]
        return items if isinstance(obj, list) else tuple(items)
    raise TypeError(f"a checkpoint cannot hold a {type(obj).__module__}.{type(obj).__qualname__} "
                    f"(at {where or 'top'}): store it as tensors, numbers, strings, lists or dicts")
