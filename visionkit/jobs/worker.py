"""A local-engine worker process: ``python -m visionkit.jobs.worker OUT RUN THREADS BATCH``.

It reads shards from stdin (one JSON object a line, ``null`` to stop) and answers on what was
its stdout, one JSON list a line: ``["ready"]``, ``["input", source, records, failure]``,
``["shard", summary]`` or ``["failed", message]``. Whatever a plugin prints goes to stderr, so
it cannot garble the answers. Started as a module of its own, not by multiprocessing: the
user's script is never imported again in the worker, so ``vk.batch`` works from a script
without a ``__main__`` guard, from stdin and from a notebook.
"""

from __future__ import annotations

import json
import os
import signal
import sys

from ..errors import VisionkitError, describe_failure
from .manifest import Shard


def main(argv: list[str]) -> int:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the driver's to handle
    answers = os.fdopen(os.dup(sys.stdout.fileno()), "w", encoding="utf-8")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())  # prints go to stderr from here on

    def say(*message) -> None:
        answers.write(json.dumps(message) + "\n")
        answers.flush()

    out, run_id, threads, batch = argv[0], argv[1], int(argv[2]), int(argv[3])
    try:
        from .runner import ShardRunner

        runner = ShardRunner(out, run_id, threads, batch)
        say("ready")
        for line in sys.stdin:
            item = json.loads(line)
            if item is None:
                break
            shard = Shard(int(item["index"]), tuple(item["paths"]))
            say("shard", runner.run(shard, on_input=lambda *event: say("input", *event)))
    except BrokenPipeError:
        return 0  # the driver went away
    except VisionkitError as exc:
        say("failed", " ".join(str(exc).split()))
    except BaseException as exc:  # noqa: BLE001 - a plugin's bug is one line to the driver
        say("failed", describe_failure(exc))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
