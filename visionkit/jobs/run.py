"""The driver: from a job to a finished output folder, resuming what an earlier run began."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Mapping, Sequence

from ..errors import DependencyError, InputError, UsageError
from .job import JOB_FILE, Job, open_job, read_job
from .manifest import MANIFEST, read_shards, write_manifest
from .runner import worker_threads
from .shard import WORK, is_complete, part_path, read_records, summarize_part

#: one line per finished shard (its counts and failures), appended by the driver alone
JOURNAL = "shards.jsonl"
SUMMARY = "summary.json"
ENGINES = ("local", "ray")


@dataclass
class BatchReport:
    """What a batch run did. Iterating it yields the records (``--json`` objects as dicts)
    in the order of the inputs, read from the output folder's parts."""

    out: Path
    inputs: int
    records: int
    #: ``(source, error)`` of every input that failed, in the order of the inputs
    failed: list[tuple[str, str]]
    #: inputs whose shards an earlier run had finished
    resumed: int = 0
    #: inputs this run ran (the others were done before: a resumed run's finished shards, and
    #: the finished inputs of the shards it was part-way through)
    ran: int = 0
    seconds: float = 0.0
    engine: str = "local"
    workers: int = 1
    #: resident memory of each worker (by pid) after each of its shards, MB
    memory_mb: dict[int, list[float]] = field(default_factory=dict)
    _temp: Any = field(default=None, repr=False)

    @property
    def ok(self) -> bool:
        return not self.failed

    def __iter__(self) -> Iterator[dict[str, Any]]:
        for shard in read_shards(self.out):
            yield from read_records(part_path(self.out, shard))

    def to_dict(self) -> dict[str, Any]:
        return {"inputs": self.inputs, "records": self.records, "failed": [list(f) for f in self.failed],
                "resumed": self.resumed, "ran": self.ran, "seconds": round(self.seconds, 3),
                "engine": self.engine, "workers": self.workers,
                "inputs_per_second": round(self.ran / self.seconds, 3) if self.seconds > 0 else None,
                "memory_mb": {str(pid): mb for pid, mb in self.memory_mb.items()}}


def _journal(out: Path) -> dict[int, dict[str, Any]]:
    done = {}
    try:
        with open(out / JOURNAL, encoding="utf-8") as fh:
            for line in fh:
                try:
                    summary = json.loads(line)
                except ValueError:
                    continue  # a line cut short by a kill: that shard is summed again from its part
                done[summary["shard"]] = summary
    except FileNotFoundError:
        pass
    return done


def _engine(engine: str, workers: int, threads: int | None, address: str | None):
    cores = os.cpu_count() or 1
    if engine == "local":
        from .local import LocalEngine

        return LocalEngine(workers, threads or worker_threads(cores, workers))
    from .ray_engine import RayEngine

    if address:  # a cluster's cores are not this machine's: an actor holds its threads' CPUs
        threads = threads or 1
        return RayEngine(workers, threads, cpus=float(threads), address=address)
    threads = threads or worker_threads(cores, workers)
    return RayEngine(workers, threads, cpus=max(1.0, cores / workers), address=None)


def _validate(job: Job) -> None:
    """Build the job's pipeline once here, so that a bad task, model or option is one line
    before anything is written, not the same failure in every worker."""
    from ..pipeline import Pipeline

    Pipeline(list(job.tasks), **job.pipeline_kwargs(1))
    if job.save:
        from ..writers import SaveWriters

        if os.path.exists(job.save) and not os.path.isdir(job.save):  # one line now, not one per input
            raise InputError(f"{job.save}: exists and is not a folder")

        with tempfile.TemporaryDirectory() as scratch:
            SaveWriters(scratch, list(job.tasks), job.save_formats, overwrite=True, per_input=True).close()


def run_job(job: Job, out: Path, *, engine: str = "local", workers: int | None = None,
            threads: int | None = None, batch: int = 1, address: str | None = None,
            progress: bool = False) -> BatchReport:
    """Run (or resume) ``job`` into ``out``."""
    from ..progress import Progress

    if engine not in ENGINES:
        raise UsageError(f"engine must be one of {', '.join(ENGINES)}, not {engine!r}")
    workers = workers or max(1, (os.cpu_count() or 1))
    if workers < 1 or batch < 1 or (threads is not None and threads < 1):
        raise UsageError("workers, threads and batch must be at least 1")
    runner = _engine(engine, workers, threads, address)
    _validate(job)
    out = Path(out).resolve()
    resuming = open_job(out, job)
    if resuming and read_job(out).parquet and not _has_pyarrow():
        raise DependencyError("this job writes Parquet parts beside its records, and pyarrow is "
                              "missing: pip install 'visionkit[parquet]'")
    if not (out / MANIFEST).exists():
        try:
            write_manifest(out, job.sources, job.recursive, workers, job.shard_size)
        except BaseException:
            if not resuming:  # nothing ran: leave the folder as it was, for a corrected command
                (out / JOB_FILE).unlink(missing_ok=True)
            raise
    summaries = _journal(out)
    total = resumed = shards = 0
    for shard in read_shards(out):
        total, shards = total + len(shard.paths), shards + 1
        if is_complete(out, shard):
            resumed += len(shard.paths)
            if shard.index not in summaries:  # finished, but killed before it was journalled
                summaries[shard.index] = summarize_part(part_path(out, shard), shard)
    # read again as the workers need them: the manifest of a million inputs stays on disk
    pending = (shard for shard in read_shards(out) if not is_complete(out, shard))
    memory: dict[int, list[float]] = {}
    ran = 0
    started = time.monotonic()
    with open(out / JOURNAL, "a", encoding="utf-8") as journal, \
            Progress(total, f"batch ({runner.name}, {workers} workers)", enabled=progress,
                     initial=resumed) as bar:
        def pace(n: int) -> str:
            seconds = time.monotonic() - started
            return f"{n / seconds:.1f}/s" if seconds > 0 else "-"

        live = 0  # inputs reported one by one (the local engine's)
        for event in runner.run(out, pending, uuid.uuid4().hex, batch):
            if event[0] == "input":
                live += 1
                bar.update(1, inputs=pace(live))
                continue
            summary = event[1]
            memory.setdefault(summary.pop("pid"), []).append(summary.pop("memory_mb"))
            this_run = summary.pop("ran")
            ran += this_run
            # the inputs not reported one by one: a shard's earlier-finished ones, or all of
            # them where the engine reports whole shards
            unseen = summary["inputs"] - (this_run if engine == "local" else 0)
            bar.update(unseen, inputs=pace(max(live, ran)))
            summaries[summary["shard"]] = summary
            journal.write(json.dumps(summary) + "\n")
            journal.flush()
    if len(summaries) == shards:
        shutil.rmtree(out / WORK, ignore_errors=True)  # every shard is published
    report = BatchReport(out, total, sum(s["records"] for s in summaries.values()),
                         [tuple(f) for i in sorted(summaries) for f in summaries[i]["failed"]],
                         resumed=resumed, ran=ran, seconds=time.monotonic() - started, engine=runner.name,
                         workers=workers, memory_mb=memory)
    tmp = out / (SUMMARY + ".partial")
    tmp.write_text(json.dumps(report.to_dict(), indent=1) + "\n", encoding="utf-8")
    os.replace(tmp, out / SUMMARY)
    return report


def batch(sources: str | Sequence[str], tasks: str | Sequence[str] = "classify", *,
          out: str | os.PathLike | None = None, engine: str = "local", workers: int | None = None,
          threads: int | None = None, batch: int = 1, recursive: bool = False,
          models: Mapping[str, str] | None = None, backbone: str | None = None, precision: str = "fp32",
          device: str = "auto", options: Mapping[str, Mapping[str, Any]] | None = None,
          save: str | os.PathLike | None = None, save_as: Sequence[str] | None = None,
          shard_size: int | None = None, address: str | None = None, progress: bool = False,
          plugins: Sequence[tuple[str, str]] = ()) -> BatchReport:
    """Run tasks over many files in worker processes (or on Ray), writing a record per frame.

        >>> report = vk.batch(["photos/"], "classify,detect", out="runs/photos", workers=2)
        >>> report.inputs, len(report.failed)
        >>> for record in report:            # the --json objects, in the order of the inputs
        ...     print(record["source"], record["results"]["classify"]["labels"][0])

    :param sources: files, folders (their images and videos), globs, or ``@list.txt`` files of
        paths (relative ones relative to the list's folder).
    :param out: the output folder: ``jsonl/part-*.jsonl`` (and ``parquet/part-*.parquet``
        where pyarrow is installed), ``summary.json``. Run again with the same arguments, a
        stopped run resumes where it was. None: a temporary folder, removed with the report.
    :param engine: ``"local"`` (worker processes here) or ``"ray"`` (Ray Data, ``address``
        to join a running cluster).
    :param workers: processes or Ray actors (default: one per core); each runs ``threads``
        onnxruntime threads (default: the cores shared out).
    :param batch: stills given to the backbone at once within a worker.
    :param save: a folder for the annotated pictures (and the tasks' other ``--save`` outputs),
        mirroring the inputs' tree; ``save_as`` names the writers.
    :param plugins: ``(name, "module")`` plugins to load in every worker beside the installed
        ones (the module must be importable by the workers).
    """
    from ..pipeline import _parse_tasks

    temp = None
    if out is None:
        temp = tempfile.TemporaryDirectory(prefix="visionkit-batch-")
        out = temp.name
    if isinstance(sources, (str, os.PathLike)):
        sources = [sources]
    parquet = _has_pyarrow()
    job = Job(sources=tuple(os.fspath(s) for s in sources), tasks=tuple(_parse_tasks(tasks)),
              models={k: os.fspath(v) for k, v in (models or {}).items()},
              backbone=os.fspath(backbone) if backbone else None, precision=precision, device=device,
              options={t: dict(o) for t, o in (options or {}).items()}, recursive=recursive,
              save=os.path.abspath(save) if save else None,
              save_as=tuple(save_as) if save_as is not None else None,
              plugins=tuple((n, m) for n, m in plugins), shard_size=shard_size, parquet=parquet,
              cwd=os.getcwd())
    from contextlib import nullcontext
    from importlib import import_module

    from ..plugin_manager import plugins_added

    extra = plugins_added(*[(n, import_module(m)) for n, m in plugins]) if plugins else nullcontext()
    with extra:
        report = run_job(job, Path(out), engine=engine, workers=workers, threads=threads, batch=batch,
                         address=address, progress=progress)
    report._temp = temp
    return report


def _has_pyarrow() -> bool:
    from importlib.util import find_spec

    return find_spec("pyarrow") is not None

