"""The saved state of a training run, so that a run stopped part-way can go on.

:func:`visionkit.nn.trainer.fit` writes it (everything the rest of the run depends on) and
reads it back; the recipes use :func:`saved_state` to refuse starting over an unfinished run
or continuing another recipe's, before they spend minutes generating data.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Mapping

import torch

from ..errors import VisionkitError

__all__ = ["STATE_VERSION", "ResumeError", "read_state", "save_atomic", "saved_state"]

STATE_VERSION = 1


class ResumeError(VisionkitError):
    """A saved training state that cannot continue this run (another run's, or unreadable)."""


def read_state(path: str | Path) -> dict[str, Any]:
    """A training state :func:`fit` saved; :class:`ResumeError` if it is not one."""
    try:
        state = torch.load(str(path), map_location="cpu", weights_only=False)
    except Exception as exc:  # truncated, or not a torch file at all
        raise ResumeError(f"{path}: not a readable training state ({type(exc).__name__}: {exc})") from None
    if not isinstance(state, dict) or state.get("kind") != "visionkit.train_state":
        raise ResumeError(f"{path}: not a visionkit training state")
    if state.get("version") != STATE_VERSION:
        raise ResumeError(f"{path}: training state version {state.get('version')}, this visionkit "
                          f"reads version {STATE_VERSION}")
    return state


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
    theirs, ours = state["fingerprint"], dict(fingerprint or {})
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


def save_atomic(obj: Any, path: Path) -> None:
    """Write to a temporary file, then rename: a run killed while saving keeps the last state."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    torch.save(obj, str(tmp))
    os.replace(tmp, path)
