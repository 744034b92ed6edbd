"""Export: the written files reproduce the eager model at several batch sizes, and the
validation's tolerance rejects an export of slightly different weights."""
from __future__ import annotations

import os

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch

import moga_zoo
from moga_zoo.inference import ExportError, export_model, validate_export
from moga_zoo.inference import export as export_module

from authors_reference import randomize_and_calibrate


def _calibrated(name: str = "moga_c") -> torch.nn.Module:
    model = moga_zoo.create(name)
    randomize_and_calibrate(model, size=64)
    return model.eval()


@pytest.fixture(scope="module")
def model() -> torch.nn.Module:
    return _calibrated()


@pytest.fixture(scope="module")
def onnx_file(model, tmp_path_factory):
    path = tmp_path_factory.mktemp("onnx") / "moga_c.onnx"
    check = export_model(model, path, input_size=(3, 96, 96))
    assert check.ok and check.batch_sizes == (1, 3)
    return path


def _eager(model, x):
    with torch.inference_mode():
        return model(x).numpy()


def test_onnx_runs_in_onnxruntime_with_any_batch(model, onnx_file):
    session = ort.InferenceSession(str(onnx_file), providers=["CPUExecutionProvider"])
    assert session.get_inputs()[0].shape[0] == "batch"  # dynamic, not baked in
    x = torch.randn(5, 3, 96, 96, generator=torch.Generator().manual_seed(7))
    expected = _eager(model, x)
    got = session.run(None, {"input": x.numpy()})[0]
    assert expected.std(axis=0).mean() > 0.1  # the model really depends on its input
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-4 * np.abs(expected).max())
    assert (got.argmax(1) == expected.argmax(1)).all()


def test_onnx_file_carries_the_data_config(onnx_file):
    props = {p.key: p.value for p in onnx.load(str(onnx_file)).metadata_props}
    assert '"input_size": [3, 96, 96]' in props["moga_zoo.data_config"]
    assert '"interpolation": "bilinear"' in props["moga_zoo.data_config"]


def test_validation_rejects_slightly_different_weights(model, onnx_file):
    other = _calibrated()
    other.load_state_dict(model.state_dict())
    with torch.no_grad():  # one late depthwise kernel off by 5 %
        other.blocks[5][0].conv_dw.weight.mul_(1.05)
    assert validate_export(onnx_file, model, input_size=(3, 96, 96)).ok
    check = validate_export(onnx_file, other, input_size=(3, 96, 96))
    assert not check.ok and check.max_abs_diff > check.tolerance


def test_failed_validation_writes_nothing(model, tmp_path, monkeypatch):
    wrong = _calibrated("moga_c")
    real_export = export_module._export_onnx
    monkeypatch.setattr(export_module, "_export_onnx",
                        lambda _m, path, size, opset: real_export(wrong, path, size, opset))
    target = tmp_path / "out.onnx"
    with pytest.raises(ExportError, match="differs from the eager model"):
        export_model(model, target, input_size=(3, 64, 64), opset=17)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.filterwarnings("ignore:`torch.jit.load` is deprecated:FutureWarning")
def test_torchscript_round_trip(model, tmp_path):
    path = tmp_path / "m.pt"
    check = export_model(model, path, "torchscript", input_size=(3, 64, 64))
    assert check.ok and check.format == "torchscript"
    loaded = torch.jit.load(str(path))
    x = torch.randn(4, 3, 64, 64, generator=torch.Generator().manual_seed(3))
    with torch.inference_mode():
        np.testing.assert_allclose(loaded(x).numpy(), _eager(model, x), rtol=0, atol=1e-5)


def test_older_opset_is_honoured(model, tmp_path):
    path = tmp_path / "m13.onnx"
    assert export_model(model, path, opset=13, input_size=(3, 64, 64)).ok
    assert {o.domain: o.version for o in onnx.load(str(path)).opset_import}[""] == 13


def test_format_errors(model, tmp_path):
    with pytest.raises(ValueError, match="suffix"):
        export_model(model, tmp_path / "m.bin")
    with pytest.raises(ValueError, match="unknown export format"):
        export_model(model, tmp_path / "m.onnx", "tflite")
    with pytest.raises(ValueError, match="ONNX export only"):
        export_model(model, tmp_path / "m.pt", opset=13)


def test_exported_file_gets_the_usual_permissions(onnx_file):
    umask = os.umask(0)
    os.umask(umask)
    assert onnx_file.stat().st_mode & 0o777 == 0o666 & ~umask
