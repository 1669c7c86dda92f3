"""One shard run by one worker: its records written so that no kill loses or repeats much.

A shard's records (the ``--json`` lines) are appended to ``work/part-N.jsonl.partial`` and its
progress to ``work/part-N.progress``: ``begin I RUN BATCH`` before input I is run, ``done I
OFFSET`` once its records are written; ``work/part-N.lock`` is held while a worker runs it.
The finished shard is published whole: the Parquet part (where written) and then the JSON-lines
part take their names by atomic renames, and the JSON-lines part is the mark that the shard is
complete.

A run that finds a shard started picks it up after its last done input (the records of an
input cut short are dropped). If the input that was begun was begun by this same run, the
worker running it died on it (a crash in a plugin, a decoder, the runtime): that input is
recorded as failed and the shard goes on. A batch of several inputs that was begun is first
run again one input at a time, so that only the input that kills a worker is lost.
"""

from __future__ import annotations

import json
import os
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator

from ..errors import VisionkitError, printable
from ..results import FrameResult
from .manifest import Shard, is_video

JSONL, PARQUET = "jsonl", "parquet"
#: where shards in progress keep their records, progress logs and locks (removed when all are done)
WORK = "work"

#: called after each input: (source, records, failure or None)
OnInput = Callable[[str, int, "str | None"], None]


def part_path(out: Path, shard: Shard, kind: str = JSONL) -> Path:
    return out / kind / f"{shard.name}.{kind}"


def is_complete(out: Path, shard: Shard) -> bool:
    return part_path(out, shard).exists()


def _recover(log: Path, run_id: str) -> tuple[int, int, int | None, bool, int]:
    """(next input, byte offset of its records, input that killed this run's worker or None,
    whether to go one input at a time, inputs finished by earlier runs) from a shard's progress
    log. The last is what a resumed run did not run: inputs that a worker of this run finished
    before it died were run by this run."""
    next_input, offset, begun, earlier, by = 0, 0, None, 0, None
    try:
        lines = log.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return 0, 0, None, False, 0
    for line in lines:
        parts = line.split()
        if len(parts) == 3 and parts[0] == "done":
            next_input, offset, begun = int(parts[1]) + 1, int(parts[2]), None
            if by != run_id:
                earlier = next_input
        elif len(parts) == 4 and parts[0] == "begin" and int(parts[1]) == next_input:
            begun = (parts[2], int(parts[3]))
            by = parts[2]
    if begun is None or begun[0] != run_id:
        return next_input, offset, None, False, earlier  # nothing begun, or a run stopped from outside
    if begun[1] > 1:
        return next_input, offset, None, True, earlier
    return next_input, offset, next_input, True, earlier


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    """Hold ``path``'s exclusive lock: an engine that retries a shard on another worker while
    the first still runs it (Ray may, after an actor dies) must not write the same files. The
    system releases the lock of a worker that dies."""
    try:
        import fcntl
    except ImportError:  # Windows: the local engine never runs a shard twice at once
        yield
        return
    with open(path, "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def crash_record(source: str, provider: str) -> FrameResult:
    return FrameResult(source, 0, 0, 0, provider, {}, {},
                       error=f"{source}: the worker stopped while running on this input "
                             "(a crash in a plugin, a decoder or the runtime); the other inputs went on")


class ShardRun:
    """Runs the inputs of one shard through ``pipeline``, appending records and progress."""

    def __init__(self, out: Path, shard: Shard, pipeline: Any, run_id: str, *, batch: int = 1,
                 saver: Callable[[], Any] | None = None, parquet: bool = False) -> None:
        self.out, self.shard, self.pipeline, self.run_id = out, shard, pipeline, run_id
        self.batch, self.saver, self.parquet = batch, saver, parquet
        self.final = part_path(out, shard)
        work = out / WORK
        self.partial = work / f"{shard.name}.jsonl.partial"
        self.log_path = work / f"{shard.name}.progress"
        self.lock_path = work / f"{shard.name}.lock"
        self._unsaved: dict[str, str] = {}  # inputs whose --save outputs failed
    def run(self, on_input: OnInput | None = None) -> dict[str, Any]:
        """Run what is left of the shard and publish it; returns its summary."""
        self.final.parent.mkdir(parents=True, exist_ok=True)
        self.partial.parent.mkdir(parents=True, exist_ok=True)
        with _locked(self.lock_path):
            if self.final.exists():  # a second runner of the same shard (an engine's retry) waited
                return dict(summarize_part(self.final, self.shard), ran=0)
            return self._run_locked(on_input or (lambda *a: None))

    def _run_locked(self, on_input: OnInput) -> dict[str, Any]:
        start, offset, crashed, careful, ran_before = _recover(self.log_path, self.run_id)
        with open(self.partial, "a+b") as records, open(self.log_path, "a", encoding="utf-8") as log:
            records.truncate(offset)
            records.seek(offset)
            self._records, self._log = records, log
            if crashed is not None:
                source = self.shard.paths[crashed]
                record = crash_record(source, self.pipeline.provider)
                self._write(record)
                self._done(crashed)
                on_input(source, 1, record.error)
                start = crashed + 1
            self._run_from(start, 1 if careful else self.batch, on_input)
        summary = self._publish()
        summary["ran"] = len(self.shard.paths) - ran_before  # what this call ran: the rest was done before
        return summary

    # -- the inputs --------------------------------------------------------------------------

    def _run_from(self, start: int, batch: int, on_input: OnInput) -> None:
        paths = self.shard.paths
        step = batch if batch > 1 and not is_video(paths[0]) else 1
        for first in range(start, len(paths), step):
            group = paths[first:first + step]
            self._log.write(f"begin {first} {self.run_id} {len(group)}\n")
            self._log.flush()
            outcomes = self._run_group(group)
            self._done(first + len(group) - 1)
            for source, count, failure in outcomes:
                on_input(source, count, failure)

    def _run_group(self, group: tuple[str, ...]) -> list[tuple[str, int, str | None]]:
        """Records for consecutive inputs (one at a time unless batched); per input, how many
        records and its first failure."""
        outcomes: dict[str, list] = {p: [0, None] for p in group}
        saver = None
        current = None
        try:
            stream = self.pipeline.stream(group[0] if len(group) == 1 else list(group), batch=len(group))
            for result in stream:
                if result.source != current:
                    saver = self._close_saver(saver, current, outcomes)
                    current = result.source
                    saver = self._open_saver(current, outcomes)
                outcome = outcomes.setdefault(result.source, [0, None])
                self._write(result)
                outcome[0] += 1
                if result.error and outcome[1] is None:
                    outcome[1] = result.error
                if saver is not None and result.results:
                    try:
                        saver.write(result)
                    except VisionkitError as exc:
                        self._not_saved(outcome, result.source, exc)
        finally:
            self._close_saver(saver, current, outcomes)
        return [(s, n, failure) for s, (n, failure) in outcomes.items()]

    def _open_saver(self, source: str, outcomes: dict) -> Any:
        if self.saver is None:
            return None
        try:
            return self.saver()
        except VisionkitError as exc:
            self._not_saved(outcomes.setdefault(source, [0, None]), source, exc)
            return None

    def _close_saver(self, saver: Any, source: str | None, outcomes: dict) -> None:
        if saver is None:
            return
        try:
            saver.close()
        except VisionkitError as exc:
            self._not_saved(outcomes.setdefault(source, [0, None]), source, exc)
        return

    def _not_saved(self, outcome: list, source: str, exc: Exception) -> None:
        """A record whose pictures could not be written: the input failed, its record stands."""
        message = f"{source}: cannot save: {printable(str(exc))}"
        outcome[1] = outcome[1] or message
        self._unsaved.setdefault(source, message)

    def _write(self, result: FrameResult) -> None:
        self._records.write((result.to_json() + "\n").encode("utf-8"))

    def _done(self, index: int) -> None:
        self._records.flush()
        self._log.write(f"done {index} {self._records.tell()}\n")
        self._log.flush()

    # -- publishing --------------------------------------------------------------------------

    def _publish(self) -> dict[str, Any]:
        summary = summarize_part(self.partial, self.shard)
        failed = {source for source, _ in summary["failed"]}
        summary["failed"] += [[s, m] for s, m in self._unsaved.items() if s not in failed]
        if self.parquet:
            write_parquet(self.partial, part_path(self.out, self.shard, PARQUET))
        os.replace(self.partial, self.final)
        self.log_path.unlink(missing_ok=True)
        return summary


def read_records(path: Path) -> Iterator[dict[str, Any]]:
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            yield json.loads(line)


def summarize_part(path: Path, shard: Shard) -> dict[str, Any]:
    """A shard's counts and failures, from its records: what the job's summary adds up."""
    records, failed = 0, {}
    for record in read_records(path):
        records += 1
        if record.get("error") and record["source"] not in failed:
            failed[record["source"]] = printable(record["error"])
    return {"shard": shard.index, "inputs": len(shard.paths), "records": records,
            "failed": [[s, e] for s, e in failed.items()]}


#: the Parquet parts' columns: the record's scalars, and its results (and timings) as the
#: ``--json`` objects' text, which every Parquet reader queries as JSON
def _schema():
    import pyarrow as pa

    return pa.schema([
        ("source", pa.string()), ("frame", pa.int64()), ("width", pa.int32()), ("height", pa.int32()),
        ("provider", pa.string()), ("error", pa.string()), ("results", pa.string()),
        ("timings_ms", pa.string()), ("schema_version", pa.int32()),
    ])


def write_parquet(jsonl: Path, final: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = [{"source": r["source"], "frame": r["frame"], "width": r["width"], "height": r["height"],
             "provider": r["provider"], "error": r.get("error"),
             "results": json.dumps(r["results"], separators=(",", ":")),
             "timings_ms": json.dumps(r["timings_ms"], separators=(",", ":")),
             "schema_version": r["schema_version"]} for r in read_records(jsonl)]
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = final.with_name(final.name + ".partial")
    pq.write_table(pa.Table.from_pylist(rows, schema=_schema()), tmp)
    os.replace(tmp, final)
