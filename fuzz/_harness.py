"""What every fuzz target here shares: where its corpus lives and how libFuzzer is started.

With no corpus folder on the command line, a target grows its corpus in the temporary folder
(``visionkit-fuzz-NAME``) and reads the seeds kept in ``fuzz/seeds/NAME`` as well, so
``python fuzz/fuzz_cards.py -max_total_time=120`` works as it is and never writes into the
checkout. An input that takes over 10 s counts as a hang. Inputs that crash are written to the current folder as ``crash-*`` (libFuzzer's way).
"""

import sys
import tempfile
from pathlib import Path
from typing import Callable

import atheris

SEEDS = Path(__file__).resolve().parent / "seeds"


def fuzz(test_one_input: Callable[[bytes], None], name: str) -> None:
    args = list(sys.argv)
    if not any(not a.startswith("-") for a in args[1:]):  # no corpus folder or input file given
        work = Path(tempfile.gettempdir()) / f"visionkit-fuzz-{name}"
        work.mkdir(exist_ok=True)
        args += [str(work), str(SEEDS / name)]  # the first folder is the one libFuzzer adds to
    if not any(a.startswith("-timeout=") for a in args):
        args.append("-timeout=10")  # a second per input is already slow: longer is a hang
    atheris.Setup(args, test_one_input)
    atheris.Fuzz()
