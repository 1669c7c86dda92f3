"""Batches: the backbone runs once on several frames, and every result is the one a frame
alone would get (up to the float rounding of batched kernels)."""

from __future__ import annotations

import numpy as np
import pytest

import visionkit as vk
from visionkit.bundled import samples
from visionkit.data.mot_folders import write_sequences
from visionkit.errors import UsageError

TASKS = ["classify", "detect", "segment"]


@pytest.fixture(scope="module")
def pipe():
    return vk.Pipeline(TASKS, device="cpu")


def same(a, b) -> None:
    assert a.ok and b.ok and a.source == b.source
    assert a["classify"].labels == b["classify"].labels
    assert np.allclose(a["classify"].scores, b["classify"].scores, atol=1e-4)
    assert a["detect"].labels == b["detect"].labels
    assert np.allclose(a["detect"].boxes, b["detect"].boxes, atol=1e-2)
    assert (a["segment"].label_map != b["segment"].label_map).mean() < 1e-3


def test_a_batch_gives_what_one_at_a_time_gives_and_a_bad_input_is_one_result(pipe, tmp_path):
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"<html>not a picture</html>")
    images = [str(p) for p in samples()][:5]
    alone = [pipe(p) for p in images]
    batch = pipe.predict_batch([images[0], str(broken), *images[1:], np.zeros((4, 4, 3), np.uint8)])
    assert len(batch) == len(images) + 2
    assert not batch[1].ok and "broken.png" in batch[1].error
    assert not batch[-1].ok and "smaller than" in batch[-1].error  # too small to run, the rest ran
    for a, b in zip(alone, [batch[0], *batch[2:-1]]):
        same(a, b)
    assert batch[0].timings_ms["backbone"] > 0


def test_the_backbone_runs_once_for_the_batch_and_a_failing_batched_run_falls_back(pipe, monkeypatch):
    images = [str(p) for p in samples()][:4]
    sizes = []
    run = pipe.backbone.run
    monkeypatch.setattr(pipe.backbone, "run", lambda feeds: sizes.append(len(next(iter(feeds.values())))) or run(feeds))
    pipe.predict_batch(images)
    assert sizes == [4]

    from visionkit.errors import ModelError

    def only_one(feeds):  # a graph whose batch axis is named but fixed inside
        n = len(next(iter(feeds.values())))
        sizes.append(n)
        if n > 1:
            raise ModelError("backbone: inference failed: reshape")
        return run(feeds)

    sizes.clear()
    monkeypatch.setattr(pipe.backbone, "run", only_one)
    results = pipe.predict_batch(images)
    assert sizes == [4, 1, 1, 1, 1] and all(r.ok for r in results)


def test_stream_in_batches_equals_stream_one_at_a_time_for_a_stateful_task(tmp_path):
    write_sequences(tmp_path, 1, 12, 4321, size=256, fps=10, progress=False)
    video = str(next(tmp_path.glob("*/*.mp4")))
    one = [r["track"] for r in vk.Pipeline(["track"], device="cpu").stream(video)]
    four = [r["track"] for r in vk.Pipeline(["track"], device="cpu").stream(video, batch=4)]
    assert len(one) == len(four) == 12
    for a, b in zip(one, four):
        assert a.ids.tolist() == b.ids.tolist() and np.allclose(a.boxes, b.boxes, atol=1e-2)


def test_a_batch_size_below_one_is_refused(pipe):
    with pytest.raises(UsageError, match="batch must be at least 1"):
        next(pipe.stream(str(samples()[0]), batch=0))


def test_a_backbone_with_a_fixed_batch_axis_runs_one_frame_at_a_time(monkeypatch):
    import dataclasses

    pipe = vk.Pipeline(["classify"], device="cpu")
    fixed = dataclasses.replace(pipe.backbone.inputs[0], shape=(1, *pipe.backbone.inputs[0].shape[1:]))
    monkeypatch.setattr(pipe.backbone, "inputs", [fixed])
    calls = []
    run = pipe.backbone.run
    monkeypatch.setattr(pipe.backbone, "run", lambda feeds: calls.append(len(next(iter(feeds.values())))) or run(feeds))
    images = [str(p) for p in samples()][:3]
    results = pipe.predict_batch(images)
    assert calls == [1, 1, 1] and [r["classify"].labels for r in results] == [pipe(p)["classify"].labels for p in images]
