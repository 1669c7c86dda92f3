"""The local engine: worker processes on this machine, one pipeline (and session) each.

Each worker is ``python -m visionkit.jobs.worker`` (see there for its line protocol): a fresh
interpreter, not a fork (onnxruntime's thread pools do not survive a fork) and not
multiprocessing's spawn (which imports the user's script again, and fails without a
``__main__`` guard). Each takes a shard at a time and reports every input it finishes. A worker
that dies (a segfault in a plugin or decoder, ``os._exit``, the kernel's out-of-memory killer)
is replaced, and its shard handed out again: the shard's progress log says which input it died
on (see :mod:`visionkit.jobs.shard`), so only that input is lost.
"""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import threading
from collections import deque
from pathlib import Path
from typing import Iterable, Iterator

from ..errors import VisionkitError
from .manifest import Shard

#: what the engine tells the driver: ("input", source, records, failure) and ("shard", summary)
Event = tuple


class _Worker:
    def __init__(self, args: list[str], events: queue.Queue) -> None:
        # the workers import what this process can: plugins given by module, a test's folder
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
        self.process = subprocess.Popen([sys.executable, "-m", "visionkit.jobs.worker", *args],
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env,
                                        text=True, encoding="utf-8")
        self.shard: Shard | None = None
        self.ready = self.stopping = False
        threading.Thread(target=self._read, args=(events,), daemon=True).start()

    def _read(self, events: queue.Queue) -> None:
        for line in self.process.stdout:
            try:
                events.put((self, tuple(json.loads(line))))
            except ValueError:
                continue  # not an answer (cannot happen: the worker's prints go to stderr)
        events.put((self, None))  # its end of the pipe closed: it exited or died

    def send(self, shard: Shard | None) -> None:
        self.shard = shard
        self.stopping = shard is None
        item = None if shard is None else {"index": shard.index, "paths": list(shard.paths)}
        try:
            self.process.stdin.write(json.dumps(item) + "\n")
            self.process.stdin.flush()
        except OSError:
            pass  # it died; its end of file says so


class LocalEngine:
    """``workers`` processes with ``threads`` onnxruntime threads each."""

    name = "local"

    def __init__(self, workers: int, threads: int) -> None:
        self.workers, self.threads = workers, threads

    def run(self, out: Path, shards: Iterable[Shard], run_id: str, batch: int) -> Iterator[Event]:
        args = [str(out), run_id, str(self.threads), str(batch)]
        events: queue.Queue = queue.Queue()
        todo: deque[Shard] = deque()
        source = iter(shards)
        deaths: dict[int, int] = {}
        pool = [_Worker(args, events) for _ in range(self.workers)]
        try:
            while pool:
                worker, message = events.get()
                if worker not in pool:
                    continue
                if message is None:
                    pool.remove(worker)
                    code = worker.process.wait()
                    if worker.stopping:
                        continue
                    if not worker.ready:
                        raise VisionkitError(f"a worker stopped while starting (exit code {code})")
                    if worker.shard is not None:  # died on it: hand it out again
                        shard = worker.shard
                        deaths[shard.index] = deaths.get(shard.index, 0) + 1
                        if deaths[shard.index] > 2 * len(shard.paths) + 2:
                            raise VisionkitError(f"workers keep dying on {shard.paths[0]} and the "
                                                 f"inputs after it (exit code {code})")
                        todo.appendleft(shard)
                        pool.append(_Worker(args, events))
                    continue
                kind = message[0]
                if kind == "failed":
                    raise VisionkitError(message[1])
                if kind == "input":
                    yield message
                    continue
                if kind == "shard":
                    yield message
                worker.ready = True  # after "ready" or a finished shard: the next one
                worker.send(todo.popleft() if todo else next(source, None))
        finally:
            for worker in pool:
                if worker.process.poll() is None:
                    worker.process.terminate()
                worker.process.wait()
