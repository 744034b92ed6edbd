"""LiteRT and ExecuTorch export: the files run in the runtimes' own interpreters and reproduce
the eager model; the validation rejects slightly wrong weights, and a failed export keeps the old
file and leaves no temporary file."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import moga_zoo
from moga_zoo.cli import main
from moga_zoo.inference import ExportError, export_model, validate_export
from moga_zoo.inference import mobile

from authors_reference import randomize_and_calibrate
from mobile_support import require

SIZE = (3, 64, 64)
SUFFIX = {"litert": ".tflite", "executorch": ".pte"}
MODULE = {"litert": "ai_edge_litert", "executorch": "executorch"}


def _calibrated(name: str = "moga_c") -> torch.nn.Module:
    model = moga_zoo.create(name)
    randomize_and_calibrate(model, size=64)
    return model.eval()


@pytest.fixture(scope="module")
def model() -> torch.nn.Module:
    return _calibrated()


@pytest.fixture(scope="module", params=["litert", "executorch"])
def exported(request, model, tmp_path_factory):
    fmt = request.param
    require(MODULE[fmt])
    path = tmp_path_factory.mktemp(fmt) / f"moga_c{SUFFIX[fmt]}"
    check = export_model(model, path, input_size=SIZE)  # format from the suffix
    assert check.ok and check.format == fmt and check.batch_sizes == (1, 1)
    return fmt, path


def _run_in_runtime(fmt: str, path, x: np.ndarray) -> np.ndarray:
    """The file through the runtime's own Python API, not through moga_zoo's runner."""
    if fmt == "litert":
        from ai_edge_litert.interpreter import Interpreter
        interpreter = Interpreter(model_path=str(path), num_threads=1)
        interpreter.allocate_tensors()
        interpreter.set_tensor(interpreter.get_input_details()[0]["index"], x)
        interpreter.invoke()
        return interpreter.get_tensor(interpreter.get_output_details()[0]["index"])
    from executorch.runtime import Runtime
    method = Runtime.get().load_program(str(path)).load_method("forward")
    return method.execute([torch.from_numpy(x)])[0].numpy()


def test_file_reproduces_the_eager_model_in_its_runtime(model, exported):
    fmt, path = exported
    g = torch.Generator().manual_seed(11)
    xs = [torch.randn(1, *SIZE, generator=g) for _ in range(4)]
    with torch.inference_mode():
        expected = np.concatenate([model(x).numpy() for x in xs])
    got = np.concatenate([_run_in_runtime(fmt, path, x.numpy()) for x in xs])
    assert expected.std(axis=0).mean() > 0.1  # the model really depends on its input
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-4 * np.abs(expected).max())
    assert (got.argmax(1) == expected.argmax(1)).all()


def test_validation_rejects_slightly_different_weights(model, exported):
    fmt, path = exported
    other = _calibrated()
    other.load_state_dict(model.state_dict())
    with torch.no_grad():  # one late depthwise kernel off by 5 %
        other.blocks[5][0].conv_dw.weight.mul_(1.05)
    assert validate_export(path, model, input_size=SIZE).ok
    check = validate_export(path, other, input_size=SIZE)
    assert not check.ok and check.max_abs_diff > check.tolerance


def test_a_file_of_another_input_size_is_refused(model, exported):
    fmt, path = exported
    with pytest.raises(mobile.MobileRuntimeError, match=r"takes input shape \(1, 3, 64, 64\)"):
        validate_export(path, model, input_size=(3, 96, 96))


@pytest.mark.parametrize("fmt", ["litert", "executorch"])
def test_failed_validation_keeps_the_old_file(fmt, model, tmp_path, monkeypatch):
    require(MODULE[fmt])
    block = model.blocks[6][0]  # a small module: the export path is the same for any module
    wrong = _calibrated().blocks[6][0]  # same block, other random weights
    writer = "write_litert" if fmt == "litert" else "write_executorch"
    real = getattr(mobile, writer)
    monkeypatch.setattr(mobile, writer, lambda _m, path, x, *rest: real(wrong, path, x, *rest))
    target = tmp_path / f"block{SUFFIX[fmt]}"
    target.write_bytes(b"old")
    with pytest.raises(ExportError, match="differs from the eager model"):
        export_model(block, target, input_size=(160, 4, 4))
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == [target.name]


@pytest.mark.slow
@pytest.mark.parametrize("fmt", ["litert", "executorch"])
def test_cli_exports_an_architecture_string(fmt, tmp_path, capsys):
    require(MODULE[fmt])
    arch = "e6k5-e6k7-e6k3-e6k3se-e3k3se-e6k3se-e6k3-e6k7-e3k7se-e6k7-e6k3-e6k3-e6k5se-e6k5se"
    out = tmp_path / f"net{SUFFIX[fmt]}"
    assert main(["export", "--model", arch, "--random-weights", "--format", fmt,
                 "--input-size", "64", "-o", str(out)]) == 0
    assert "validated on 2 random images" in capsys.readouterr().out
    assert out.stat().st_size > 1_000_000


def test_missing_extra_names_the_pip_command(tmp_path, monkeypatch, capsys):
    real = mobile.importlib.import_module

    def no_litert(name, *args):
        if name.startswith("litert_torch"):
            raise ImportError(name)
        return real(name, *args)
    monkeypatch.setattr(mobile.importlib, "import_module", no_litert)
    out = tmp_path / "m.tflite"
    assert main(["export", "--model", "moga_c", "--random-weights", "--format", "litert",
                 "-o", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "pip install 'moga_zoo[litert]'" in err
    assert not out.exists()


def test_vulkan_program_needs_no_validate_here_and_is_delegated_to_vulkan(model, tmp_path, capsys):
    require("executorch")
    if mobile.has_executorch_backend("vulkan"):
        pytest.skip("this ExecuTorch runtime has a Vulkan backend")
    out = tmp_path / "block.pte"
    assert main(["export", "--model", "moga_c", "--random-weights", "--format", "executorch",
                 "--backend", "vulkan", "-o", str(out)]) == 2
    assert "--no-validate" in capsys.readouterr().err and not out.exists()
    export_model(model.blocks[6][0], out, backend="vulkan", input_size=(160, 4, 4), validate=False)
    data = out.read_bytes()
    assert b"VulkanBackend" in data and b"XnnpackBackend" not in data


def test_backend_needs_executorch(capsys):
    assert main(["export", "--model", "moga_c", "--random-weights", "--format", "litert",
                 "--backend", "vulkan"]) == 2
    assert "--backend applies to --format executorch only" in capsys.readouterr().err
