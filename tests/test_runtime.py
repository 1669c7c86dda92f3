import numpy as np
import pytest

from visionkit import runtime
from visionkit.errors import CardError, ModelError, UsageError

from .conftest import make_standalone_classifier, realworld


def test_cpu_is_always_there_and_auto_does_not_ask_for_missing_cuda(capfd):
    assert runtime.providers_for("cpu") == ["CPUExecutionProvider"]
    ok, why = runtime.cuda_status()
    auto = runtime.providers_for("auto")
    assert (auto[0] == "CUDAExecutionProvider") == ok
    if not ok:
        assert why and "\n" not in why
        with pytest.raises(UsageError, match="--device cuda"):
            runtime.providers_for("cuda")
    captured = capfd.readouterr()
    assert "Failed to load" not in captured.out + captured.err  # no error spam from probing


def test_sessions_are_cached_per_file(tmp_path):
    path = make_standalone_classifier(tmp_path / "m.onnx")
    a = runtime.load_model(path, device="cpu")
    assert runtime.load_model(path, device="cpu") is a
    assert a.provider == "CPUExecutionProvider"
    assert runtime.load_model(path, device="cpu", threads=1) is not a


@pytest.mark.parametrize("content,fragment", [
    (b"", "empty file"),
    (b"<!DOCTYPE html><html><body>Not Found</body></html>", "HTML"),
    (b"\x00\x01garbage\xff" * 10, "not an ONNX model"),
])
def test_bad_model_files_fail_with_one_line(tmp_path, content, fragment):
    path = tmp_path / "model.onnx"
    path.write_bytes(content)
    with pytest.raises(ModelError, match=fragment) as info:
        runtime.load_model(path)
    assert "\n" not in str(info.value)


def test_missing_model():
    with pytest.raises(ModelError, match="no such model file"):
        runtime.load_model("nowhere/model.onnx")


def test_real_html_page_named_onnx():
    with pytest.raises(ModelError, match="HTML"):
        runtime.load_model(realworld("negative", "html_page_named_mobilenetv2-7.onnx"))


def test_model_needing_custom_ops():
    with pytest.raises(ModelError, match="custom operator com.microsoft.extensions:DecodeImage"):
        runtime.load_model(realworld("negative", "needs_ortextensions_superres_op18.onnx"))


def test_model_without_card_says_how_to_write_one(tmp_path):
    path = make_standalone_classifier(tmp_path / "m.onnx", card=False)
    with pytest.raises(CardError, match="visionkit models card"):
        runtime.load_model(path)


def test_card_that_does_not_match_the_model_is_refused(tmp_path):
    from visionkit.cards import InputSpec, ModelCard, write_sidecar

    path = make_standalone_classifier(tmp_path / "m.onnx", card=False, size=32)
    write_sidecar(ModelCard(task="classify", name="m", input=InputSpec(size=(257, 257), layout="NHWC")), path)
    with pytest.raises(CardError, match="model input is"):
        runtime.load_model(path)


def test_inference_failure_is_a_model_error(tmp_path):
    model = runtime.load_model(make_standalone_classifier(tmp_path / "m.onnx"))
    with pytest.raises(ModelError, match="inference failed"):
        model.run({"image": np.zeros((1, 3, 5), np.float32)})


SPIN = "session.intra_op.allow_spinning"


def test_sessions_spin_only_when_asked_and_spinning_is_part_of_the_cache_key(tmp_path):
    path = make_standalone_classifier(tmp_path / "m.onnx")
    off = runtime.load_model(path, device="cpu")
    assert off.spinning is False and runtime.DEFAULT_SPINNING is False
    assert off.session.get_session_options().get_session_config_entry(SPIN) == "0"
    on = runtime.load_model(path, device="cpu", spinning=True)
    assert on is not off and on.session is not off.session and on.spinning is True
    assert on.session.get_session_options().get_session_config_entry(SPIN) == "1"
    assert runtime.load_model(path, device="cpu", spinning=False) is off
    assert runtime.load_model(path, device="cpu", spinning=True) is on
    with runtime.default_spinning(True):  # what a pipeline sets while its tasks load their parts
        assert runtime.load_model(path, device="cpu") is on
        assert runtime.load_model(path, device="cpu", spinning=False) is off  # an explicit value wins
    assert runtime.load_model(path, device="cpu") is off
    with pytest.raises(RuntimeError):  # None leaves onnxruntime's own default alone
        runtime.session_options().get_session_config_entry(SPIN)


def test_a_pipeline_gives_every_session_it_opens_one_spinning_and_its_threads():
    import visionkit as vk

    def sessions(pipe):
        models = list(pipe.models().values()) + [p for t in pipe.tasks.values() for p in t.parts.values()]
        return {id(m.session): m for m in models}.values()

    # the bundled detector: backbone, RPN head and its box-head part, three sessions
    policy = vk.Pipeline(["detect"], device="cpu", threads=1)
    assert policy.spinning is False and len(sessions(policy)) == 3
    forced = vk.Pipeline(["detect"], device="cpu", threads=1, spinning=True)
    assert forced.spinning is True and len(sessions(forced)) == 3
    for pipe, flag in ((policy, "0"), (forced, "1")):
        for model in sessions(pipe):
            options = model.session.get_session_options()
            assert (model.spinning, model.threads) == (pipe.spinning, 1)
            assert options.get_session_config_entry(SPIN) == flag and options.intra_op_num_threads == 1
    assert not {id(m.session) for m in sessions(policy)} & {id(m.session) for m in sessions(forced)}
