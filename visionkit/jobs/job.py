"""A batch job: what runs on every input, written to ``OUT/job.json`` by its first run.

A later run with the same output folder resumes the job only if it asks for the same thing;
asked for something else (other tasks, options or models), it is refused rather than mixing
two jobs' records in one folder. How a run is carried out (engine, workers, threads) is not
part of the job: a job started on two local workers may be finished on a Ray cluster.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Mapping

from ..errors import InputError, UsageError

JOB_FILE = "job.json"
#: the layout of a batch output folder; a folder written by another layout is not resumed
LAYOUT = 1


@dataclass(frozen=True)
class Job:
    """Everything a worker needs to build its pipeline and write what a shard gives."""

    sources: tuple[str, ...]
    tasks: tuple[str, ...]
    models: Mapping[str, str] = field(default_factory=dict)
    backbone: str | None = None
    precision: str = "fp32"
    device: str = "auto"
    options: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    recursive: bool = False
    #: the folder --save writes pictures under (a tree mirroring the inputs'), or None
    save: str | None = None
    save_as: tuple[str, ...] | None = None
    #: plugins given by module name (the Python API's ``plugins=``), imported by every worker
    plugins: tuple[tuple[str, str], ...] = ()
    shard_size: int | None = None
    #: whether each shard is also written as a Parquet part (pyarrow was there when it began)
    parquet: bool = False
    #: the folder relative paths are read from (workers start there)
    cwd: str = ""

    @property
    def save_formats(self) -> list[str] | None:
        """``--save-as`` as SaveWriters takes it (None: the tasks' defaults)."""
        return list(self.save_as) if self.save_as is not None else None

    def pipeline_kwargs(self, threads: int | None) -> dict[str, Any]:
        return dict(models=dict(self.models) or None, backbone=self.backbone, precision=self.precision,
                    device=self.device, options={t: dict(o) for t, o in self.options.items()},
                    threads=threads)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["layout"] = LAYOUT
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "Job":
        data = {k: v for k, v in data.items() if k != "layout"}
        for key in ("sources", "tasks"):
            data[key] = tuple(data[key])
        if data.get("save_as") is not None:
            data["save_as"] = tuple(data["save_as"])
        data["plugins"] = tuple(tuple(p) for p in data.get("plugins", ()))
        return cls(**data)


#: recorded by the first run and kept by later ones: where relative paths are read from, and
#: whether Parquet parts are written (decided by pyarrow's presence when the job began)
_KEPT = ("cwd", "parquet")


def _what_differs(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    return [k for k in new if k not in _KEPT and old.get(k) != new.get(k)]


def open_job(out: Path, job: Job) -> bool:
    """Record ``job`` in ``out`` or check it against the one recorded there; True when the
    folder already holds this job (the run resumes it)."""
    path = out / JOB_FILE
    new = json.loads(json.dumps(job.to_dict()))  # tuples as lists, as read back
    if not path.exists():
        held = [p.name for p in out.iterdir() if not p.name.startswith(".")] if out.is_dir() else []
        if held:
            raise UsageError(f"{out}: holds files but no batch job ({', '.join(sorted(held)[:3])}); "
                             "give an empty or new folder as --out")
        out.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".partial")
        tmp.write_text(json.dumps(new, indent=1) + "\n", encoding="utf-8")
        os.replace(tmp, path)
        return False
    try:
        old = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InputError(f"{path}: cannot read the job it records ({exc})") from None
    if old.get("layout") != LAYOUT:
        raise UsageError(f"{out}: written by another version of visionkit batch; give a new --out")
    differs = _what_differs(old, new)
    if differs:
        raise UsageError(f"{out}: holds another job ({', '.join(differs)} differ); "
                         "run the same command to resume it, or give a new --out")
    return True


def read_job(out: Path) -> Job:
    return Job.from_dict(json.loads((out / JOB_FILE).read_text(encoding="utf-8")))


def save_root(job: Job) -> str | None:
    """The folder whose tree the saved pictures mirror: the one holding every source (a
    folder itself, a file's or a list's folder, a glob's fixed part)."""
    import glob

    tops = []
    for spec in job.sources:
        path = spec[1:] if spec.startswith("@") and not os.path.exists(spec) else spec
        if glob.has_magic(path):
            fixed = []
            for part in Path(path).parts:
                if glob.has_magic(part):
                    break
                fixed.append(part)
            path = str(Path(*fixed)) if fixed else "."
        elif not os.path.isdir(path):
            path = os.path.dirname(path) or "."
        tops.append(os.path.abspath(os.path.join(job.cwd, path)))
    try:
        return os.path.commonpath(tops) if tops else None
    except ValueError:  # different drives
        return None
