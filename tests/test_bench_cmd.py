"""``visionkit bench``: the numbers are there, consistent, and bad flags are one line."""

from __future__ import annotations

import json

import pytest

from visionkit.benchmark import onnxruntime_clock
from visionkit.cli import main


def test_bench_reports_tasks_alone_together_and_batches(capsys):
    assert main(["bench", "--tasks", "classify,segment", "--frames", "2", "--rounds", "1", "--batch", "2",
                 "--json", "--device", "cpu"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["provider"] == "CPUExecutionProvider" and report["frames"] == 2
    assert set(report["alone"]) == {"classify", "segment"}
    for timing in (*report["alone"].values(), report["together"]):
        assert 0 < timing["bare_ms"] <= timing["ms"] and timing["overhead"] >= 1
    assert 0 < report["together"]["sharing"] < 1.5
    assert {"preprocess", "backbone", "classify", "segment"} <= set(report["stages"])
    assert set(report["batch"]) == {"1", "2"} and all(v > 0 for v in report["batch"].values())


def test_the_text_report_names_every_number(capsys):
    assert main(["bench", "--tasks", "classify", "--frames", "1", "--rounds", "1", "--batch", "1",
                 "--device", "cpu"]) == 0
    out = capsys.readouterr().out
    assert "framework/bare" in out and "classify" in out and "provider CPUExecutionProvider" in out


@pytest.mark.parametrize("args,message", [
    (["--rounds", "0"], "--rounds must be at least 1"),
    (["--tasks", "classify", "--model", "detect=x.onnx"], "not among --tasks"),
    (["--images", "/no/such/folder"], "gave no picture that could be read"),
])
def test_bad_flags_are_one_line(args, message, capsys):
    assert main(["bench", *args]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_the_clock_counts_onnxruntime_time_and_puts_the_method_back():
    import numpy as np

    import visionkit as vk
    from visionkit.runtime import OnnxModel

    before = OnnxModel.run
    pipe = vk.Pipeline(["classify"], device="cpu")
    with onnxruntime_clock() as spent:
        pipe(np.zeros((64, 64, 3), np.uint8))
    assert spent[0] > 0 and OnnxModel.run is before
