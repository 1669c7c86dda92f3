"""Fuzz label files: any text is a list of one-line names or one line of refusal.

See fuzz/README.md for how to run it.
"""

import atheris
from _harness import fuzz

with atheris.instrument_imports():
    from visionkit.errors import VisionkitError
    from visionkit.labels import parse_labels

ORIGIN = "fuzz_labels.txt"


def test_one_input(data: bytes) -> None:
    text = data.decode("utf-8", "replace")
    try:
        labels = parse_labels(text, origin=ORIGIN)
    except VisionkitError as exc:
        message = str(exc)
        if "\n" in message or not message.startswith(ORIGIN):
            raise AssertionError(f"refusal is not one line naming the file: {message!r}") from exc
        return
    if not isinstance(labels, list) or not all(isinstance(v, str) and "\n" not in v for v in labels):
        raise AssertionError(f"labels are not one-line names: {labels[:5]!r}")


if __name__ == "__main__":
    fuzz(test_one_input, "labels")
