"""The torch RoIAlign used in training equals onnxruntime's RoiAlign op used at run time."""

import io

import numpy as np
import pytest

torch = pytest.importorskip("torch")
ort = pytest.importorskip("onnxruntime")

from visionkit.nn.roi_align import RoIAlign, roi_align  # noqa: E402

# the export traces Python-side shape checks as constants, on purpose
pytestmark = [pytest.mark.filterwarnings("ignore::torch.jit.TracerWarning"),
              pytest.mark.filterwarnings("ignore::DeprecationWarning")]  # dynamo=False is deliberate


def _onnx(module, feats, rois, batch):
    buf = io.BytesIO()
    torch.onnx.export(
        module,
        (feats, rois, batch),
        buf,
        input_names=["f", "r", "b"],
        output_names=["o"],
        opset_version=17,
        dynamo=False,
        dynamic_axes={"r": {0: "n"}, "b": {0: "n"}, "o": {0: "n"}},
    )
    return buf.getvalue()


@pytest.mark.parametrize("scale,size,ratio", [(0.25, (7, 7), 2), (0.125, (16, 16), 2), (0.5, (3, 5), 1)])
def test_torch_matches_onnxruntime_inside_and_across_borders(scale, size, ratio):
    g = torch.Generator().manual_seed(0)
    feats = torch.randn(2, 5, 16, 20, generator=g)
    # inside, sub-pixel, crossing the left/top border, crossing the right/bottom, tiny, empty
    rois = torch.tensor(
        [
            [0, 0, 80, 64],
            [10.3, 5.2, 30.7, 40.1],
            [-20, -10, 30, 30],
            [70, 50, 100, 80],
            [5, 5, 6, 6],
            [12, 12, 12, 12],
        ],
        dtype=torch.float32,
    ) * (0.25 / scale)
    batch = torch.tensor([0, 1, 0, 1, 0, 1])
    module = RoIAlign(size, scale, ratio)
    with torch.no_grad():
        ref = module(feats, rois, batch).numpy()
    proto = _onnx(module, feats, rois, batch)
    got = ort.InferenceSession(proto, providers=["CPUExecutionProvider"]).run(
        None, {"f": feats.numpy(), "r": rois.numpy(), "b": batch.numpy()}
    )[0]
    assert got.shape == ref.shape == (6, 5, *size)
    np.testing.assert_allclose(got, ref, atol=1e-5)
    assert b"RoiAlign" in proto


def test_gradients_flow_to_the_features():
    feats = torch.randn(1, 3, 8, 8, requires_grad=True)
    out = roi_align(feats, torch.tensor([[4.0, 4.0, 20.0, 28.0]]), torch.tensor([0]), (2, 2), 0.25)
    out.sum().backward()
    assert feats.grad is not None and feats.grad.abs().sum() > 0


def test_constant_map_pools_to_the_constant_and_no_rois_to_nothing():
    feats = torch.full((1, 2, 8, 8), 3.0)
    out = roi_align(feats, torch.tensor([[0.0, 0.0, 32.0, 32.0]]), torch.tensor([0]), (4, 4), 0.25)
    assert torch.allclose(out, torch.full_like(out, 3.0))
    assert roi_align(feats, torch.zeros(0, 4), torch.zeros(0, dtype=torch.long), (4, 4), 0.25).shape == (
        0,
        2,
        4,
        4,
    )
