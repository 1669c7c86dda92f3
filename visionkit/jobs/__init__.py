"""Batch inference over many files: sharded, resumable, on local processes or Ray Data.

    >>> report = vk.batch(["photos/", "clips/*.mp4"], "classify,detect", out="runs/1", workers=2)

Layout: ``manifest.py`` lists the inputs once and cuts them into shards (a video is a shard of
its own); ``job.py`` is what the run computes, recorded in the output folder so a later run
resumes only the same job; ``shard.py`` runs one shard and publishes its records atomically;
``runner.py`` is what a worker holds (one pipeline); ``worker.py`` is a local worker's
process; ``local.py`` and ``ray_engine.py`` are the engines; ``run.py`` drives a run and sums up what it did.
"""

from __future__ import annotations

from .run import BatchReport, batch

__all__ = ["BatchReport", "batch"]
