"""visionkit-motion's tests, on visionkit's pytest fixtures (``visionkit_plugin``,
``sample_video``, ``sample_images``) and its task contract."""

import csv

import numpy as np
import pytest

import visionkit as vk
from visionkit.sources import Frame
from visionkit.testing import contract_test, moving_frames
from visionkit.writers import SaveWriters

PLUGIN = ("motion", "visionkit_motion.plugin")

# every task keeps visionkit's contract: protocol, JSON, determinism, reset(), rendering
test_contract = contract_test(["motion", "cartoon"], plugin=PLUGIN)


@pytest.fixture
def plugin(visionkit_plugin):
    return visionkit_plugin(*PLUGIN)


def test_the_moving_disc_is_found_where_it_is(plugin, sample_video):
    results = [r["motion"] for r in vk.Pipeline(["motion"]).stream(sample_video)]
    assert results[0].learning and len(results[0]) == 0
    assert [len(r) for r in results[1:3]] == [0, 0]  # the scene is still until frame 3
    assert all(len(r) == 1 for r in results[3:])
    centres = [float(r.boxes[0][[0, 2]].mean()) for r in results[3:]]
    assert centres == sorted(centres) and centres[-1] - centres[0] > 60  # left to right


def test_reset_forgets_the_background(plugin):
    pipe = vk.Pipeline(["motion"])
    frames = moving_frames(6)
    for i, image in enumerate(frames):
        pipe.predict_frame(Frame(image, "clip", i, fps=10.0))
    pipe.reset()
    again = pipe.predict_frame(Frame(frames[-1], "clip", 5, fps=10.0))["motion"]
    assert again.learning and len(again) == 0


def test_the_background_learns_in_seconds_whatever_the_frame_rate(plugin):
    """A disc that appears and stays fades into the background in the same time, in seconds,
    at 10 fps and at 40 fps (four times as many frames)."""
    still, shown = moving_frames(4)[0], moving_frames(4)[3]

    def moving_after(seconds: float, fps: float) -> float:
        pipe = vk.Pipeline(["motion"], options={"motion": {"background_seconds": 2.0}})
        pipe.predict_frame(Frame(still, "clip", 0, fps=fps))
        for i in range(1, round(seconds * fps) + 1):
            result = pipe.predict_frame(Frame(shown, "clip", i, fps=fps))["motion"]
        return result.moving_fraction

    assert moving_after(1.0, 10.0) > 0.02  # one second on, the disc is still seen moving
    assert moving_after(1.0, 10.0) == pytest.approx(moving_after(1.0, 40.0), abs=0.005)
    assert moving_after(4.0, 40.0) == 0.0  # and after a while it is background


def test_cartoon_replaces_the_frame_under_the_overlays(plugin, sample_images):
    pipe = vk.Pipeline(["cartoon"], options={"cartoon": {"levels": 4}})
    result = pipe(sample_images[0])
    styled = result["cartoon"]
    assert styled.to_dict() == {"width": 128, "height": 96, "style": "cartoon", "levels": 4, "edges": True}
    assert len(np.unique(styled.image)) <= 4  # four tones per channel
    assert np.array_equal(vk.render(result), styled.image)


def test_save_writes_a_csv_row_per_frame(plugin, sample_video, tmp_path):
    pipe = vk.Pipeline(["motion"])
    with SaveWriters(tmp_path, tasks=pipe.task_names) as save:
        assert save.names == ["images", "motion_csv"]  # a default writer of the task
        for result in pipe.stream(sample_video):
            save.write(result)
    rows = list(csv.DictReader(open(tmp_path / "motion.csv", encoding="utf-8")))
    assert len(rows) == 12 and rows[0]["regions"] == "0" and rows[-1]["regions"] == "1"
    assert (tmp_path / "sample.mp4").is_file()  # the annotated clip
