"""The Ray engine: the job's pending shards as a Ray dataset, run by a pool of actors.

Each actor builds the job's pipeline once (:class:`~visionkit.jobs.runner.ShardRunner`) and
runs a shard per call of ``map_batches``; ``concurrency`` is the number of actors and
``num_cpus`` what each one holds. Ray starts its workers with ``OMP_NUM_THREADS=1``; the
pipeline's onnxruntime threads are set explicitly instead. An actor that dies is restarted and
its shard retried by Ray Data (its default for actor pools); the shard's progress log then
says which input the actor died on, so only that input is lost.

Ray needs the ``[ray]`` extra. Without ``address`` a local Ray instance is started for the run
with this machine's cores; with one (``auto``, ``ray://host:10001``) the run joins that
cluster, whose nodes must have visionkit installed and see the inputs and ``--out`` at the same
paths (a shared file system).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any, Iterable, Iterator

from ..errors import DependencyError, VisionkitError
from .manifest import Shard


class _ShardActor:
    """One pipeline per actor; a call runs the shards of its batch (one, at batch_size=1)."""

    def __init__(self, out: str, run_id: str, threads: int, batch: int) -> None:
        from .runner import ShardRunner

        self.runner = ShardRunner(out, run_id, threads, batch)

    def __call__(self, rows: dict[str, Any]) -> dict[str, Any]:
        summaries = [json.dumps(self.runner.run(Shard(int(i), tuple(p))))
                     for i, p in zip(rows["index"], rows["paths"], strict=True)]
        return {"summary": summaries}


def _import_ray():
    try:
        import ray
    except ImportError:
        raise DependencyError("--engine ray needs Ray Data: pip install 'visionkit[ray]'") from None
    return ray


class RayEngine:
    """``workers`` actors holding ``cpus`` CPUs each, ``threads`` onnxruntime threads each."""

    name = "ray"

    def __init__(self, workers: int, threads: int, cpus: float, address: str | None = None) -> None:
        self.workers, self.threads, self.cpus, self.address = workers, threads, cpus, address
        self._ray = _import_ray()

    def _connect(self, plugins: bool) -> bool:
        """Start or join Ray; True when this run started it (and so stops it)."""
        ray = self._ray
        if ray.is_initialized():
            return False
        import logging

        # Ray's info lines would interleave with the driver's progress bar; errors still show
        for name in ("ray", "ray.data"):
            logging.getLogger(name).setLevel(logging.WARNING)
        quiet = dict(include_dashboard=False, log_to_driver=False, logging_level=logging.ERROR)
        if self.address:
            ray.init(address=self.address, **quiet)
            return True
        # plugins given by module: the workers of a local instance import what this process can
        env = {"env_vars": {"PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}} if plugins else None
        ray.init(num_cpus=max(1, int(self.workers * self.cpus)), runtime_env=env, **quiet)
        return True

    def run(self, out: Path, shards: Iterable[Shard], run_id: str, batch: int) -> Iterator[tuple]:
        ray = self._ray
        items = [{"index": s.index, "paths": list(s.paths)} for s in shards]
        if not items:
            return
        from .job import read_job

        started = self._connect(bool(read_job(out).plugins))
        try:
            context = ray.data.DataContext.get_current()
            context.enable_progress_bars = False  # the driver draws its own
            context.execution_options.preserve_order = False
            data = ray.data.from_items(items, override_num_blocks=len(items))
            done = data.map_batches(
                _ShardActor, fn_constructor_args=(str(out), run_id, self.threads, batch),
                batch_size=1, compute=ray.data.ActorPoolStrategy(size=self.workers), num_cpus=self.cpus)
            for row in done.iter_rows():
                yield ("shard", json.loads(row["summary"]))
        except ray.exceptions.RayError as exc:
            raise VisionkitError(f"the Ray run failed: {_innermost_cause(exc)}") from exc
        finally:
            if started:
                ray.shutdown()


def _innermost_cause(exc: BaseException) -> str:
    """What went wrong at the bottom of Ray's wrapped exceptions, in one line."""
    from ..errors import VisionkitError, describe_failure

    seen = set()
    while id(exc) not in seen:
        seen.add(id(exc))
        inner = getattr(exc, "cause", None) or exc.__cause__
        if not isinstance(inner, BaseException):
            break
        exc = inner
    if isinstance(exc, VisionkitError):
        return " ".join(str(exc).split())
    return describe_failure(exc)
