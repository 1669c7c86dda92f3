"""The CLI contract: JSON lines, exit codes 0/1/2, one line per failure, no tracebacks."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from visionkit.cli import main
from visionkit.imageio import write_image

from .conftest import make_standalone_classifier


@pytest.fixture
def images(tmp_path, solid_image):
    folder = tmp_path / "imgs"
    write_image(folder / "a_red.png", solid_image((255, 0, 0)))
    write_image(folder / "b_blue.png", solid_image((0, 0, 255), w=80, h=40))
    return folder


def run_cli(args, capsys):
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def test_predict_json_lines(images, tiny_models, capsys):
    code, out, err = run_cli(["predict", images, "--model", tiny_models["head"], "--json", "--topk", "2"], capsys)
    assert code == 0, err
    lines = [json.loads(line) for line in out.splitlines()]
    assert [l["results"]["classify"]["labels"][0] for l in lines] == ["red", "blue"]
    first = lines[0]
    assert set(first) >= {"source", "frame", "width", "height", "provider", "timings_ms", "results"}
    assert set(first["results"]["classify"]) == {"class_ids", "labels", "scores"}
    assert len(first["results"]["classify"]["scores"]) == 2
    assert first["results"]["classify"]["scores"] == sorted(first["results"]["classify"]["scores"], reverse=True)
    assert lines[1]["width"] == 80 and lines[1]["height"] == 40


def test_predict_human_output_and_save(images, tiny_models, tmp_path, capsys):
    out_dir = tmp_path / "out"
    code, out, err = run_cli(["predict", images / "a_red.png", "--model", tiny_models["head"], "--save", out_dir], capsys)
    assert code == 0
    assert "a_red.png  classify: red" in out
    assert "1 input(s), 0 failed; CPU" in err
    assert (out_dir / "a_red.png").is_file()


def test_some_inputs_fail_exit_1_others_still_printed(images, tiny_models, tmp_path, capsys):
    bad = tmp_path / "notes.jpg"
    bad.write_text("this is text, not a JPEG")
    code, out, err = run_cli(["predict", bad, images / "a_red.png", tmp_path / "missing.png",
                              "--model", tiny_models["head"], "--json"], capsys)
    assert code == 1
    records = [json.loads(line) for line in out.splitlines()]  # every input once, failures too
    assert [("error" in r) for r in records] == [True, False, True]
    assert records[1]["results"]["classify"]["labels"][0] == "red"
    errors = [l for l in err.splitlines() if l.startswith("error:")]
    assert len(errors) == 2
    assert "notes.jpg" in errors[0] and "missing.png" in errors[1]
    assert "Traceback" not in err


def test_usage_errors_exit_2(tiny_models, capsys):
    code, _, err = run_cli(["predict", "x.png", "--task", "nosuchtask"], capsys)
    assert code == 2 and "no plugin provides task 'nosuchtask'" in err
    with pytest.raises(SystemExit) as info:
        main(["predict"])
    assert info.value.code == 2


def test_bad_model_exit_1_one_line(tmp_path, capsys):
    html = tmp_path / "model.onnx"
    html.write_text("<html><body>404</body></html>")
    code, _, err = run_cli(["predict", "x.png", "--model", html], capsys)
    assert code == 1
    assert err.strip().count("\n") == 0 and "HTML" in err


def test_models_card_then_predict_third_party(tmp_path, solid_image, capsys):
    model = make_standalone_classifier(tmp_path / "third.onnx", card=False, layout="NHWC", size=24)
    labels = tmp_path / "labels.txt"
    labels.write_text("0,red\n1,green\n2,blue\n")
    code, out, _ = run_cli(["models", "card", model, "--task", "classify", "--labels", labels,
                            "--output", "probs", "--scale", "1"], capsys)
    assert code == 0 and "third.card.json" in out and "NHWC 24x24" in out
    card = json.loads((tmp_path / "third.card.json").read_text())
    assert card["labels"] == ["red", "green", "blue"] and card["input"]["layout"] == "NHWC"
    img = tmp_path / "g.png"
    write_image(img, solid_image((0, 255, 0)))
    code, out, _ = run_cli(["predict", img, "--model", model, "--json"], capsys)  # task from the card
    assert code == 0 and json.loads(out)["results"]["classify"]["labels"][0] == "green"
    code, out, _ = run_cli(["models", "info", model], capsys)
    assert code == 0 and "NHWC 24x24 float32 RGB" in out and "labels     3: red, green, blue" in out


def test_models_card_refuses_what_it_cannot_know(tmp_path, capsys):
    model = make_standalone_classifier(tmp_path / "m.onnx", card=False)
    code, _, err = run_cli(["models", "card", model, "--task", "classify", "--mean", "1,2"], capsys)
    assert code == 2 and "three" in err


def test_plugins_and_tasks_listing(capsys):
    code, out, _ = run_cli(["plugins"], capsys)
    assert code == 0 and "classify" in out and "loaded" in out and "tasks: classify" in out
    code, out, _ = run_cli(["tasks"], capsys)
    names = [line.split()[0] for line in out.splitlines() if line.strip()]
    assert code == 0 and names == sorted(names) and {"caption", "classify", "detect"} <= set(names)


def test_console_script_no_traceback_unless_debug(tmp_path):
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"\x08\x07garbage")
    cmd = [sys.executable, "-m", "visionkit", "models", "info", str(bad)]
    plain = subprocess.run(cmd, capture_output=True, text=True)
    assert plain.returncode == 1
    assert plain.stderr.startswith("visionkit: error: bad.onnx:") and "Traceback" not in plain.stderr
    debug = subprocess.run(cmd[:3] + ["--debug"] + cmd[3:], capture_output=True, text=True)
    assert debug.returncode != 0 and "Traceback" in debug.stderr


def test_predict_path_imports_neither_torch_nor_qt(tiny_models, tmp_path, solid_image):
    img = tmp_path / "r.png"
    write_image(img, solid_image())
    code = (
        "import sys, visionkit as vk\n"
        f"r = vk.Pipeline(['classify'], model={str(tiny_models['head'])!r})({str(img)!r})\n"
        "from visionkit.cli import main\n"
        f"assert main(['predict', {str(img)!r}, '--model', {str(tiny_models['head'])!r}, '--json']) == 0\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'PySide6', 'onnx'))\n"
        "assert not bad, bad\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


def test_a_closed_pipe_ends_quietly(tmp_path, tiny_models, solid_image):
    for i in range(30):
        write_image(tmp_path / f"img{i:02d}.png", solid_image())
    cmd = (f"{sys.executable} -m visionkit predict {tmp_path} --model {tiny_models['head']} --json "
           "| head -1")
    proc = subprocess.run(["bash", "-o", "pipefail", "-c", cmd], capture_output=True, text=True)
    assert len(proc.stdout.splitlines()) == 1
    assert "Error" not in proc.stderr and "Traceback" not in proc.stderr
    assert proc.returncode in (0, 141)  # 141: stopped by the closed pipe, as `yes | head` is


def test_task_from_the_card_does_not_load_the_model_twice(tmp_path, solid_image, capsys):
    from visionkit import runtime

    model = make_standalone_classifier(tmp_path / "m.onnx")
    img = tmp_path / "r.png"
    write_image(img, solid_image())
    assert main(["predict", str(img), "--model", str(model), "--threads", "1", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["results"]["classify"]["labels"][0] == "red"
    assert len(runtime._sessions) == 1  # reading the card's task made the session the pipeline uses


def test_a_bundled_model_named_asset_colon_works_without_a_task(capsys):
    star = Path(__file__).resolve().parents[1] / "assets" / "samples" / "shapes_star.png"
    code, out, err = run_cli(["predict", star, "--model", "asset:shapeworld_classify.onnx"], capsys)
    assert code == 0 and "classify: star" in out
