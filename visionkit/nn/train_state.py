"""The saved state of a training run, so that a run stopped part-way can go on.

:func:`visionkit.nn.trainer.fit` writes it (everything the rest of the run depends on) and
reads it back; the recipes use :func:`saved_state` to refuse starting over an unfinished run
or continuing another recipe's, before they spend minutes generating data.

A state is plain data (:mod:`.checkpoints`), so that reading one never runs code: the random
generators' states, numpy's included, are kept as tensors and numbers
(:func:`random_states`, :func:`restore_random_states`).
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import torch

from ..errors import ModelError, VisionkitError
from .checkpoints import load_checkpoint, plain

__all__ = ["STATE_VERSION", "ResumeError", "random_states", "read_state", "restore_random_states",
           "saved_state"]

#: 2: plain data only (version 1 pickled numpy's random state, which is no longer read)
STATE_VERSION = 2
WHAT = "training state"


class ResumeError(VisionkitError):
    """A saved training state that cannot continue this run: another run's, or one unfinished
    that a fresh start would overwrite. (A file that is no state at all is a ModelError.)"""


def read_state(path: str | Path) -> dict[str, Any]:
    """A training state :func:`fit` saved; :class:`ModelError` if the file is not one (or
    :class:`~visionkit.errors.InputError` if it is no file)."""
    state = load_checkpoint(path, WHAT)
    if state.get("kind") != "visionkit.train_state":
        raise ModelError(f"{path}: not a visionkit {WHAT}")
    if state.get("version") != STATE_VERSION:
        raise ModelError(f"{path}: {WHAT} version {state.get('version')}, written by another visionkit; "
                         f"this one reads version {STATE_VERSION}")
    return state


def random_states() -> dict[str, Any]:
    """Python's, numpy's and torch's global random states, as plain data."""
    name, key, pos, has_gauss, gauss = np.random.get_state(legacy=True)
    return {
        "python": random.getstate(),  # (version, tuple of ints, None)
        # the Mersenne Twister's 624 uint32 words, held exactly as int64 (torch's uint32 is thin)
        "numpy": {"name": str(name), "key": torch.from_numpy(key.astype(np.int64)), "pos": int(pos),
                  "has_gauss": int(has_gauss), "gauss": float(gauss)},
        "torch": torch.get_rng_state(),
    }


def restore_random_states(states: Mapping[str, Any]) -> None:
    """Set the global random states :func:`random_states` returned, exactly."""
    py = states["python"]
    random.setstate((py[0], tuple(py[1]), py[2]))
    n = states["numpy"]
    np.random.set_state((n["name"], n["key"].numpy().astype(np.uint32), n["pos"], n["has_gauss"], n["gauss"]))
    torch.set_rng_state(states["torch"])


def saved_state(path: str | Path | None, resume: bool,
                fingerprint: Mapping[str, Any] | None = None) -> dict[str, Any] | None:
    """The state saved at ``path`` that this run continues (``resume``), or None to start
    afresh (no state there). Refuses, in one line, to start afresh over a run that has not
    finished, and to continue the run of another ``fingerprint`` (naming what differs)."""
    if path is None or not Path(path).is_file():
        return None
    state = read_state(path)
    where = f"epoch {state['epoch'] + 1}/{state['config']['epochs']}"
    if state["finished"]:
        where = "its end, before its checkpoint was saved"
    elif state["partial"]:
        where = f"batch {state['partial']['batch']}/{state['per_epoch']} of {where}"
    if not resume:
        raise ResumeError(f"{path} holds a run stopped at {where}: continue it with --resume, or "
                          "delete the file to start again")
    # compared as saved: a path given as Path is the string the state holds
    theirs, ours = state["fingerprint"], plain(dict(fingerprint or {}))
    if fingerprint is not None and theirs != ours:
        diff = []
        for k in sorted(set(theirs) | set(ours)):
            a, b = theirs.get(k), ours.get(k)
            if isinstance(a, Mapping) and isinstance(b, Mapping):
                diff += [s for s in sorted(set(a) | set(b)) if a.get(s) != b.get(s)]
            elif a != b:
                diff.append(k)
        raise ResumeError(f"{path} was saved by another run (its recipe differs in {', '.join(diff)}); "
                          "give the same options as that run, or delete the file")
    return state
