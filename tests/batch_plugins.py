"""Task plugins that misbehave the way real ones can, for the batch-job tests: imported by
name in every worker (``vk.batch(plugins=[("crash", "tests.batch_plugins")])``)."""

from __future__ import annotations

import os
import signal
import time
from dataclasses import dataclass

from visionkit.hookspecs import hookimpl
from visionkit.registry import TaskSpec
from visionkit.tasks import Task


@dataclass(frozen=True)
class Seen:
    source: str
    kind = "seen"
    schema_version = 1

    def to_dict(self):
        return {"source": os.path.basename(self.source)}


class CrashTask(Task):
    """Kills its worker on inputs whose name says so: ``exit`` in the name leaves by
    ``os._exit``, ``segv`` by a segmentation fault. Every run is logged to $CRASH_LOG."""

    name = "crash"
    requires_model = False

    def decode(self, outputs, inputs):
        source = os.path.basename(inputs.frame.source)
        log = os.environ.get("CRASH_LOG")
        if log:
            with open(log, "a") as fh:
                fh.write(source + "\n")
        delay = float(os.environ.get("CRASH_DELAY", "0"))
        if delay:
            time.sleep(delay)
        if "exit" in source:
            os._exit(3)
        if "segv" in source:
            os.kill(os.getpid(), signal.SIGSEGV)
        return Seen(inputs.frame.source)


@hookimpl
def visionkit_register_tasks(registry):
    registry.add(TaskSpec(name="crash", summary="kills its worker on some inputs (tests)",
                          factory="tests.batch_plugins:CrashTask"))
