"""What runs inside a worker, whatever the engine: one pipeline, built once, over many shards."""

from __future__ import annotations

import os
from importlib import import_module
from pathlib import Path
from typing import Any

from .job import read_job, save_root
from .manifest import Shard
from .shard import OnInput, ShardRun


def worker_threads(cores: int, workers: int) -> int:
    """onnxruntime intra-op threads per worker: the cores shared out, at least one each."""
    return max(1, cores // max(1, workers))


def memory_mb() -> float:
    """This process's resident memory now (MB), where the system tells it."""
    try:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (OSError, ValueError, IndexError):
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # peak, in KB on Linux


class ShardRunner:
    """Builds the job's pipeline in this process and runs shards through it."""

    def __init__(self, out: str, run_id: str, threads: int | None, batch: int = 1) -> None:
        import cv2

        from ..pipeline import Pipeline
        from ..plugin_manager import load_plugins, set_plugins

        self.out, self.run_id, self.batch = Path(out).resolve(), run_id, batch
        self.job = read_job(self.out)
        if self.job.cwd and os.path.isdir(self.job.cwd):
            os.chdir(self.job.cwd)  # the manifest's relative paths are relative to it
        if threads:
            cv2.setNumThreads(threads)  # OpenCV's own pool would fight the other workers' too
        if self.job.plugins:
            extra = [(name, import_module(module)) for name, module in self.job.plugins]
            set_plugins(load_plugins(extra=extra))
        self.pipeline = Pipeline(list(self.job.tasks), **self.job.pipeline_kwargs(threads))
        self._root = save_root(self.job)

    def _saver(self) -> Any:
        from ..writers import SaveWriters

        return SaveWriters(self.job.save, self.pipeline.task_names, self.job.save_formats, overwrite=True,
                           root=self._root, per_input=True)

    def run(self, shard: Shard, on_input: OnInput | None = None) -> dict[str, Any]:
        run = ShardRun(self.out, shard, self.pipeline, self.run_id, batch=self.batch,
                       saver=self._saver if self.job.save else None, parquet=self.job.parquet)
        summary = run.run(on_input)
        summary["memory_mb"] = round(memory_mb(), 1)
        summary["pid"] = os.getpid()
        return summary
