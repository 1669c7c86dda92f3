"""Outputs that fail say so: files appear whole under their final names, never replace another
run's without --overwrite, videos keep the source's frame rate, and a write that fails is one
line and exit 1."""

import json
import subprocess
import sys

import cv2
import numpy as np
import pytest

from visionkit.cli import main
from visionkit.errors import InputError
from visionkit.imageio import write_image
from visionkit.outputs import publish, save_bytes, temp_path

from .conftest import make_tiny_backbone, make_tiny_head  # noqa: F401


def make_video(path, fps, n=6, size=(64, 48)):
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, size)
    for i in range(n):
        writer.write(np.full((size[1], size[0], 3), 30 * i, np.uint8))
    writer.release()
    return path


def video_fps(path):
    capture = cv2.VideoCapture(str(path))
    try:
        return capture.get(cv2.CAP_PROP_FPS), int(capture.get(cv2.CAP_PROP_FRAME_COUNT))
    finally:
        capture.release()


@pytest.mark.parametrize("fps", [10.0, 50.0])
def test_saved_videos_play_at_the_sources_rate(tmp_path, tiny_models, fps, capsys):
    video = make_video(tmp_path / "clip.mp4", fps)
    out = tmp_path / "out"
    assert main(["predict", str(video), "--model", str(tiny_models["head"]), "--save", str(out)]) == 0
    got, frames = video_fps(out / "clip.mp4")
    assert got == pytest.approx(fps, rel=0.01) and frames == 6
    assert "note:" not in capsys.readouterr().err


def test_a_video_without_a_plausible_rate_gets_the_default_and_a_note(tmp_path, tiny_models):
    from visionkit.results import FrameResult
    from visionkit.writers import AnnotatedWriter

    image = np.zeros((48, 64, 3), np.uint8)
    results = {"x": type("R", (), {"kind": "none", "to_dict": lambda self: {}})()}
    with AnnotatedWriter(tmp_path / "out") as writer:
        for i in range(3):
            writer.write(FrameResult("v.mp4", i, 64, 48, "cpu", {}, results, image=image, fps=1000.0))
    assert video_fps(tmp_path / "out" / "v.mp4")[0] == pytest.approx(25.0)
    assert writer.notes == ["v.mp4: the video gives a frame rate of 1000; saved at 25 frames/s"]


def test_an_unfinished_output_never_has_its_final_name(tmp_path):
    from visionkit.results import FrameResult
    from visionkit.writers import AnnotatedWriter

    writer = AnnotatedWriter(tmp_path)
    image = np.zeros((48, 64, 3), np.uint8)
    results = {"x": type("R", (), {"kind": "none", "to_dict": lambda self: {}})()}
    writer.write(FrameResult("v.mp4", 0, 64, 48, "cpu", {}, results, image=image, fps=10.0))
    assert not (tmp_path / "v.mp4").exists()  # killed now: nothing undecodable at the final name
    writer.close()
    assert (tmp_path / "v.mp4").exists() and not list(tmp_path.glob(".*partial*"))


def test_outputs_never_replace_anothers_without_overwrite(tmp_path, tiny_models, capsys):
    img = tmp_path / "a.png"
    write_image(img, np.zeros((32, 32, 3), np.uint8))
    out = tmp_path / "out"
    head = str(tiny_models["head"])
    assert main(["predict", str(img), "--model", head, "--save", str(out)]) == 0
    assert main(["predict", str(img), "--model", head, "--save", str(out)]) == 1
    assert "already holds 1 file(s); pass --overwrite" in capsys.readouterr().err
    assert main(["predict", str(img), "--model", head, "--save", str(out), "--overwrite"]) == 0
    # a second run racing into the same folder: the name is taken atomically, never mixed
    tmp = temp_path(out / "a.png")
    tmp.write_bytes(b"other run")
    with pytest.raises(InputError, match="already exists; pass --overwrite"):
        publish(tmp, out / "a.png", overwrite=False)
    assert not tmp.exists() and (out / "a.png").read_bytes()[:4] == b"\x89PNG"
    save_bytes(out / "b.txt", "x")
    with pytest.raises(InputError, match="already exists"):
        save_bytes(out / "b.txt", "y")
    assert (out / "b.txt").read_text() == "x"


def test_a_video_that_cannot_be_written_fails_in_one_line(tmp_path, tiny_models, monkeypatch, capsys):
    """OpenCV reports nothing when the disk fills up; the file is checked before it is named."""
    video = make_video(tmp_path / "clip.mp4", 10.0)

    class SilentlyBroken:
        def __init__(self, path, *args):
            self.path = path
            open(path, "wb").close()  # what a full disk leaves: a file without frames

        def isOpened(self):
            return True

        def write(self, frame):
            pass

        def release(self):
            pass

    monkeypatch.setattr("visionkit.writers.cv2.VideoWriter", SilentlyBroken)
    out = tmp_path / "out"
    assert main(["predict", str(video), "--model", str(tiny_models["head"]), "--save", str(out)]) == 1
    err = capsys.readouterr().err
    assert "clip.mp4: the video could not be written (is the disk full?)" in err
    assert len(err.strip().splitlines()) == 1 and "saved to" not in err
    assert not list(out.iterdir())


def test_json_to_a_full_device_is_a_write_error(tmp_path, tiny_models):
    img = tmp_path / "a.png"
    write_image(img, np.zeros((32, 32, 3), np.uint8))
    cmd = [sys.executable, "-m", "visionkit", "predict", str(img), "--model", str(tiny_models["head"]), "--json"]
    with open("/dev/full", "w") as full:
        proc = subprocess.run(cmd, stdout=full, stderr=subprocess.PIPE, text=True)
    assert proc.returncode == 1
    assert proc.stderr.strip().startswith("visionkit: error:") and "No space left on device" in proc.stderr
    assert "Traceback" not in proc.stderr and "internal error" not in proc.stderr


def test_jsonl_and_masks_are_published_whole(tmp_path, tiny_models):
    img = tmp_path / "a.png"
    write_image(img, np.zeros((32, 32, 3), np.uint8))
    out = tmp_path / "out"
    assert main(["predict", str(img), "--model", str(tiny_models["head"]), "--save", str(out),
                 "--save-as", "jsonl,images"]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["a.png", "results.jsonl"]
    assert json.loads((out / "results.jsonl").read_text())["source"] == str(img)


def test_odd_file_names_print_escaped_on_one_line(tmp_path, tiny_models, capfd):
    """A Latin-1 name and a name with a newline: every input still runs, every line is one."""
    ok, png = cv2.imencode(".png", np.zeros((32, 32, 3), np.uint8))
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "good.png").write_bytes(png.tobytes())
    with open(bytes(folder) + b"/caf\xe9.png", "wb") as f:
        f.write(png.tobytes())
    (folder / "bad\nname.png").write_bytes(b"junk")
    cmd = [sys.executable, "-m", "visionkit", "predict", str(folder), "--model", str(tiny_models["head"])]
    proc = subprocess.run(cmd, capture_output=True, env={"PATH": "/usr/bin:/bin", "LC_ALL": "C.UTF-8"})
    out, err = proc.stdout.decode(), proc.stderr.decode()
    assert proc.returncode == 1
    assert "caf\\xe9.png  classify:" in out and "good.png  classify:" in out
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert errors == [f"error: {folder}/bad\\nname.png: not an image (starts with 'junk')"]
    assert "Traceback" not in err and "internal error" not in err


def test_special_files_are_refused_without_waiting(tmp_path, tiny_models):
    """A FIFO named like an image or a video, given directly or found in a folder, is refused
    at once; the good inputs after it still run."""
    import os

    ok, png = cv2.imencode(".png", np.zeros((32, 32, 3), np.uint8))
    folder = tmp_path / "in"
    folder.mkdir()
    os.mkfifo(folder / "a_pipe.jpg")
    (folder / "b_good.png").write_bytes(png.tobytes())
    os.mkfifo(tmp_path / "clip.mp4")
    cmd = [sys.executable, "-m", "visionkit", "predict", str(tmp_path / "clip.mp4"), str(folder / "a_pipe.jpg"),
           str(folder), "--model", str(tiny_models["head"])]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert errors == [f"error: {tmp_path}/clip.mp4: is a FIFO (named pipe), not a regular file",
                      f"error: {folder}/a_pipe.jpg: is a FIFO (named pipe), not a regular file",
                      f"error: {folder}/a_pipe.jpg: is a FIFO (named pipe), not a regular file"]
    assert "b_good.png  classify:" in proc.stdout


def test_a_video_that_decodes_fewer_frames_than_it_declares_says_so(tmp_path, tiny_models):
    writer = cv2.VideoWriter(str(tmp_path / "full.avi"), cv2.VideoWriter_fourcc(*"MJPG"), 10, (64, 48))
    for i in range(20):
        writer.write(np.random.default_rng(i).integers(0, 255, (48, 64, 3), dtype=np.uint8))
    writer.release()
    data = (tmp_path / "full.avi").read_bytes()
    cut = tmp_path / "cut.avi"
    cut.write_bytes(data[: len(data) // 2])  # a recording cut off half-way: the header still says 20
    cmd = [sys.executable, "-m", "visionkit", "predict", str(cut), "--model", str(tiny_models["head"]), "--json"]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    decoded = len(proc.stdout.splitlines())
    assert proc.returncode == 0 and 0 < decoded < 20
    assert f"note: {cut}: the file declares 20 frames; {decoded} could be decoded" in proc.stderr


def test_the_python_api_takes_lists_bgr_arrays_and_plots(tmp_path, tiny_models):
    import visionkit as vk

    pipe = vk.Pipeline(["classify"], model=tiny_models["head"])
    red = np.zeros((64, 64, 3), np.uint8)
    red[..., 0] = 255
    good = tmp_path / "red.png"
    write_image(good, red)
    results = pipe([str(good), str(tmp_path / "missing.png"), red])
    assert [r.ok for r in results] == [True, False, True] and "missing.png" in results[1].error
    assert pipe((x for x in [red]))[0]["classify"].top[0] == "red"  # a generator too
    assert pipe(red[..., ::-1].copy(), channel_order="bgr")["classify"].top[0] == "red"
    assert pipe(red[..., ::-1].copy())["classify"].top[0] == "blue"  # taken as RGB unless told
    r = results[0]
    assert r.plot().shape == (64, 64, 3) and json.loads(r.to_json())["source"] == str(good)
    assert r.save(tmp_path / "out.jpg").is_file()
    streamed = list(pipe.stream([str(good), red], progress=True))
    assert [s.ok for s in streamed] == [True, True]


def test_json_output_has_every_input_once(tmp_path, tiny_models, capsys):
    img = tmp_path / "a.png"
    write_image(img, np.zeros((32, 32, 3), np.uint8))
    (tmp_path / "b.png").write_bytes(b"junk")
    assert main(["predict", str(img), str(tmp_path / "b.png"), "--model", str(tiny_models["head"]), "--json"]) == 1
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["source"] for r in records] == [str(img), str(tmp_path / "b.png")]
    assert "error" not in records[0] and "not an image" in records[1]["error"] and records[1]["results"] == {}


def test_an_unknown_flag_shows_the_subcommands_usage(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["predict", "x.png", "--bogus"])
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and err.startswith("usage: visionkit predict") and "--bogus" in err


def test_save_keeps_the_input_format_and_with_recursive_the_folder_tree(tmp_path, tiny_models):
    folder = tmp_path / "in"
    write_image(folder / "a.jpg", np.zeros((32, 32, 3), np.uint8))
    write_image(folder / "sub" / "b.png", np.zeros((32, 32, 3), np.uint8))
    write_image(folder / "sub" / "deeper" / "a.jpg", np.zeros((32, 32, 3), np.uint8))
    out = tmp_path / "out"
    assert main(["predict", str(folder), "--recursive", "--model", str(tiny_models["head"]), "--save", str(out)]) == 0
    made = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    assert made == ["a.jpg", "sub/b.png", "sub/deeper/a.jpg"]
    assert (out / "a.jpg").read_bytes()[:2] == b"\xff\xd8"  # a JPEG, not a PNG named .jpg
    flat = tmp_path / "flat"
    assert main(["predict", str(folder / "a.jpg"), str(folder / "sub" / "deeper" / "a.jpg"),
                 "--model", str(tiny_models["head"]), "--save", str(flat)]) == 0
    assert sorted(p.name for p in flat.iterdir()) == ["a.jpg", "a_2.jpg"]  # clashes still get unique names
