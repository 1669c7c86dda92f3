"""The local engine: worker processes on this machine, one pipeline (and session) each.

Workers are started fresh (``spawn``), not forked: onnxruntime's thread pools do not survive a
fork, and a started worker then behaves the same on Linux, macOS and Windows. Each takes a
shard at a time over its own pipe and reports every input it finishes. A worker that dies
(a segfault in a plugin or decoder, ``os._exit``, the kernel's out-of-memory killer) is
replaced, and its shard handed out again: the shard's progress log says which input it died
on (see :mod:`visionkit.jobs.shard`), so only that input is lost.
"""

from __future__ import annotations

import multiprocessing
import signal
from collections import deque
from multiprocessing.connection import wait
from pathlib import Path
from typing import Any, Iterable, Iterator

from ..errors import VisionkitError, describe_failure
from .manifest import Shard

#: what the engine tells the driver: ("input", source, records, failure) and ("shard", summary)
Event = tuple


def _worker_main(conn: Any, out: str, run_id: str, threads: int, batch: int) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the driver's to handle
    from .runner import ShardRunner

    try:
        runner = ShardRunner(out, run_id, threads, batch)
        conn.send(("ready",))
        while True:
            shard = conn.recv()
            if shard is None:
                return
            summary = runner.run(shard, on_input=lambda *event: conn.send(("input",) + event))
            conn.send(("shard", summary))
    except (EOFError, BrokenPipeError):
        return  # the driver went away
    except VisionkitError as exc:
        conn.send(("failed", str(exc)))
    except BaseException as exc:
        conn.send(("failed", describe_failure(exc)))


class _Worker:
    def __init__(self, ctx: Any, args: tuple) -> None:
        self.conn, child = ctx.Pipe()
        self.process = ctx.Process(target=_worker_main, args=(child,) + args, daemon=True)
        self.process.start()
        child.close()
        self.shard: Shard | None = None
        self.ready = False
        self.gone = False  # its end of the pipe is closed: it exited or died


class LocalEngine:
    """``workers`` processes with ``threads`` onnxruntime threads each."""

    name = "local"

    def __init__(self, workers: int, threads: int) -> None:
        self.workers, self.threads = workers, threads

    def run(self, out: Path, shards: Iterable[Shard], run_id: str, batch: int) -> Iterator[Event]:
        ctx = multiprocessing.get_context("spawn")
        args = (str(out), run_id, self.threads, batch)
        todo: deque[Shard] = deque()
        source = iter(shards)
        deaths: dict[int, int] = {}

        def next_shard() -> Shard | None:
            return todo.popleft() if todo else next(source, None)

        pool = [_Worker(ctx, args) for _ in range(self.workers)]
        try:
            while pool:
                ready = wait([w.conn for w in pool] + [w.process.sentinel for w in pool])
                for worker in list(pool):
                    if worker.conn in ready:
                        yield from self._messages(worker, pool, next_shard)
                    if worker in pool and (worker.gone or worker.process.sentinel in ready):
                        yield from self._messages(worker, pool, next_shard)  # what it said before
                        if worker not in pool:
                            continue
                        pool.remove(worker)
                        worker.process.join()
                        if not worker.ready:
                            raise VisionkitError(f"a worker stopped while starting (exit code "
                                                 f"{worker.process.exitcode})")
                        if worker.shard is not None:  # died on it: hand it out again
                            shard = worker.shard
                            deaths[shard.index] = deaths.get(shard.index, 0) + 1
                            if deaths[shard.index] > 2 * len(shard.paths) + 2:
                                raise VisionkitError(f"workers keep dying on {shard.paths[0]} and the "
                                                     f"inputs after it (exit code {worker.process.exitcode})")
                            todo.appendleft(shard)
                            pool.append(_Worker(ctx, args))
        finally:
            for worker in pool:
                if worker.process.is_alive():
                    worker.process.terminate()
                worker.process.join()

    def _messages(self, worker: _Worker, pool: list, next_shard: Any) -> Iterator[Event]:
        while worker.conn.poll():
            try:
                message = worker.conn.recv()
            except (EOFError, OSError):
                worker.gone = True  # it died; its sentinel says so
                return
            kind = message[0]
            if kind == "failed":
                raise VisionkitError(message[1])
            if kind == "input":
                yield message
                continue
            if kind == "shard":
                worker.shard = None
                yield message
            worker.ready = True
            worker.shard = next_shard()  # after "ready" or a finished shard
            try:
                worker.conn.send(worker.shard)
            except (BrokenPipeError, OSError):
                return
            if worker.shard is None:
                pool.remove(worker)
                worker.process.join()
                return
