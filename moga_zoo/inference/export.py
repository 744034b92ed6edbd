"""Export to ONNX, TorchScript, LiteRT or ExecuTorch, and check that the exported file computes what
the model does (run by its own runtime beside the eager model)."""
from __future__ import annotations

import importlib
import io
import json
import os
import warnings
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterator, Sequence

import numpy as np
import torch
import torch.nn as nn
from timm.data import resolve_data_config

from ..errors import MogaZooError, UsageError
from ..fileio import check_output_file, replace_atomic
from . import mobile

if TYPE_CHECKING:
    import onnx

__all__ = ["FORMATS", "STATIC_FORMATS", "SUFFIX", "SUFFIXES", "ExportCheck", "ExportError",
           "export_model", "validate_export", "format_of", "onnx_graph"]

FORMATS = ("onnx", "torchscript", *mobile.MOBILE_FORMATS)
#: Formats whose files take one fixed input shape (batch included): the phone formats.
STATIC_FORMATS = mobile.MOBILE_FORMATS
#: The suffix ``moga-zoo export`` gives each format's file by default.
SUFFIX = {"onnx": ".onnx", "torchscript": ".pt", "litert": ".tflite", "executorch": ".pte"}
#: The format of each file suffix :func:`format_of` knows.
SUFFIXES = {".onnx": "onnx", ".pt": "torchscript", ".ts": "torchscript",
            ".torchscript": "torchscript", ".tflite": "litert", ".pte": "executorch"}

#: Allowed max |exported - eager| as a fraction of the largest eager logit (float32 reordering
#: gives ~1e-5 here; a wrong graph or wrong weights is off by far more).
RELATIVE_TOLERANCE = 1e-4

#: Lowest opset torch's dynamo exporter writes natively.
DYNAMO_MIN_OPSET = 18


class ExportError(MogaZooError, RuntimeError):
    """The exported file does not reproduce the model (or could not be written)."""


@dataclass(frozen=True)
class ExportCheck:
    """Result of running an exported file next to the eager model on the same random inputs."""
    path: str
    format: str
    batch_sizes: tuple[int, ...]
    max_abs_diff: float
    tolerance: float

    @property
    def ok(self) -> bool:
        return self.max_abs_diff <= self.tolerance


def format_of(path: str | os.PathLike, format: str | None = None) -> str:
    """The export format: given explicitly, or from the file suffix (.onnx, .pt/.ts, .tflite, .pte)."""
    if format is not None:
        if format not in FORMATS:
            raise UsageError(f"unknown export format {format!r}; choose one of {', '.join(FORMATS)}")
        return format
    suffix = Path(path).suffix.lower()
    if suffix not in SUFFIXES:
        raise UsageError(f"cannot tell the format of {os.fspath(path)!r} from its suffix; "
                         f"use .onnx, .pt, .ts, .tflite or .pte, or give the format")
    return SUFFIXES[suffix]


def input_size_of(model: nn.Module) -> tuple[int, int, int]:
    """(channels, height, width) the model expects, from its timm data config."""
    return tuple(resolve_data_config({}, model=model)["input_size"])  # type: ignore[return-value]


def export_model(
    model: nn.Module,
    path: str | os.PathLike,
    format: str | None = None,
    *,
    input_size: Sequence[int] | None = None,
    opset: int | None = None,
    backend: str | None = None,
    validate: bool = True,
) -> ExportCheck | None:
    """Write ``model`` to ``path`` as ONNX, TorchScript, LiteRT or ExecuTorch.

    ONNX and TorchScript files have a dynamic batch dimension; LiteRT (.tflite) and ExecuTorch
    (.pte) files take one image of ``input_size`` (C, H, W; default the model's data config).
    ``backend`` picks the ExecuTorch delegate (``xnnpack``, the default, or ``vulkan``). With
    ``validate`` the file is run by its own runtime next to the eager model before it is moved
    into place; a mismatch raises :class:`ExportError` and leaves ``path`` as it was. Returns the
    check (None without one).
    """
    format = format_of(path, format)
    if opset is not None and format != "onnx":
        raise UsageError("opset applies to ONNX export only")
    if backend is not None and format != "executorch":
        raise UsageError("backend applies to ExecuTorch export only")
    backend = (backend or mobile.BACKENDS[0]) if format == "executorch" else None
    if backend is not None and backend not in mobile.BACKENDS:
        raise UsageError(f"unknown ExecuTorch backend {backend!r}; choose one of "
                         f"{', '.join(mobile.BACKENDS)}")
    path = check_output_file(path, f"{format} output")
    if format in STATIC_FORMATS:
        mobile.require_extra(format)
    if validate and backend not in (None, "xnnpack") and not mobile.has_executorch_backend(backend):
        raise UsageError(f"this machine's ExecuTorch runtime has no {backend} backend, so a "
                         f"{backend} program cannot be validated here: pass --no-validate "
                         f"(validate=False) to write it unchecked, and check it on the device")
    model = model.eval()
    size = tuple(input_size) if input_size is not None else input_size_of(model)
    check: ExportCheck | None = None

    def write(tmp: str) -> None:
        nonlocal check
        if format == "onnx":
            _export_onnx(model, Path(tmp), size, opset)
        elif format == "torchscript":
            _export_torchscript(model, Path(tmp), size)
        elif format == "litert":
            mobile.write_litert(model, tmp, torch.zeros(1, *size))
        else:
            mobile.write_executorch(model, tmp, torch.zeros(1, *size), backend)
        check = validate_export(tmp, model, format, input_size=size) if validate else None
        if check is not None and not check.ok:
            raise ExportError(
                f"the exported {format} model differs from the eager model by {check.max_abs_diff:.3g} "
                f"(allowed {check.tolerance:.3g}); nothing was written to {path}")

    replace_atomic(path, write)
    return None if check is None else replace(check, path=os.fspath(path))


def validate_export(
    path: str | os.PathLike,
    model: nn.Module,
    format: str | None = None,
    *,
    input_size: Sequence[int] | None = None,
    batch_sizes: Sequence[int] | None = None,
    seed: int = 0,
) -> ExportCheck:
    """Run the exported file and the eager model on the same random inputs and compare outputs.

    ``batch_sizes`` default: 1 and 3 for ONNX and TorchScript (which also checks that the batch
    is dynamic); two different single images for the fixed-shape LiteRT and ExecuTorch files.
    """
    format = format_of(path, format)
    if batch_sizes is None:
        batch_sizes = (1, 1) if format in STATIC_FORMATS else (1, 3)
    size = tuple(input_size) if input_size is not None else input_size_of(model)
    generator = torch.Generator().manual_seed(seed)
    run = _runner(path, format)
    worst, scale = 0.0, 0.0
    for batch in batch_sizes:
        x = torch.randn(batch, *size, generator=generator)
        with torch.inference_mode():
            expected = model.eval()(x).float().numpy()
        got = run(x)
        if got.shape != expected.shape:
            raise ExportError(f"{path}: output shape {got.shape} at batch {batch}, expected {expected.shape}")
        for who, out in (("the eager model", expected), ("the exported file", got)):
            if not np.isfinite(out).all():
                raise ExportError(f"{path}: {who} outputs NaN or Inf at batch {batch}, so the outputs "
                                  f"cannot be compared; check the model's weights")
        worst = max(worst, float(np.abs(got - expected).max()))
        scale = max(scale, float(np.abs(expected).max()))
    return ExportCheck(os.fspath(path), format, tuple(batch_sizes), worst,
                       RELATIVE_TOLERANCE * max(scale, 1.0))


def onnx_graph(model: nn.Module, input_size: Sequence[int],
               opset: int | None = None) -> "onnx.ModelProto":
    """``model`` (eval mode) as an ONNX graph taking ``(batch, *input_size)``, batch dynamic.

    The one ONNX export of the project: :func:`export_model` writes it, ``predict``'s onnxruntime
    runtime runs it, and the onnxruntime latency tables time it. torch's dynamo exporter; opsets
    below its minimum (18) go through the TorchScript-based one.
    """
    onnx = require("onnx", "ONNX export")
    require("onnxscript", "ONNX export")
    example = torch.randn(2, *input_size)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # exporter chatter about its own internals
        if opset is not None and opset < DYNAMO_MIN_OPSET:
            buffer = io.BytesIO()
            torch.onnx.export(
                model.eval(), (example,), buffer, input_names=["input"], output_names=["logits"],
                dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}}, opset_version=opset,
                dynamo=False)
            proto = onnx.load_from_string(buffer.getvalue())
        else:
            program = torch.onnx.export(
                model.eval(), (example,), None, input_names=["input"], output_names=["logits"],
                dynamic_shapes=({0: torch.export.Dim("batch", min=1, max=4096)},),
                opset_version=opset, dynamo=True, verbose=False)
            proto = program.model_proto
    written = next(o.version for o in proto.opset_import if o.domain in ("", "ai.onnx"))
    if opset is not None and written != opset:
        raise ExportError(f"torch exported opset {written}, not the requested {opset}; "
                          f"try another opset (13-{written} usually work)")
    return proto


def _export_onnx(model: nn.Module, path: Path, size: tuple, opset: int | None) -> None:
    """:func:`onnx_graph` with the model's data config in the file's metadata."""
    onnx = require("onnx", "ONNX export")
    proto = onnx_graph(model, size, opset)
    onnx.helper.set_model_props(proto, {"moga_zoo.data_config": json.dumps(
        resolve_data_config({}, model=model) | {"input_size": list(size)})})
    onnx.save(proto, os.fspath(path))


def require(module: str, purpose: str):
    """Import an optional dependency, or say which extra installs it."""
    try:
        return importlib.import_module(module)
    except ImportError:
        raise ExportError(f"{purpose} needs {module}: pip install 'moga_zoo[export]'") from None


def _export_torchscript(model: nn.Module, path: Path, size: tuple) -> None:
    with _quiet_torchscript(), torch.no_grad():
        traced = torch.jit.trace(model, torch.randn(2, *size))
        buffer = io.BytesIO()  # torch's own file writer aborts the process on a full disk
        torch.jit.save(traced, buffer)
    path.write_bytes(buffer.getvalue())


def _runner(path: str | os.PathLike, format: str) -> Callable[[torch.Tensor], np.ndarray]:
    if format in STATIC_FORMATS:
        run_file = (mobile.litert_runner if format == "litert" else mobile.executorch_runner)(
            os.fspath(path))
        return lambda x: run_file(x.numpy())
    if format == "onnx":
        ort = require("onnxruntime", "checking an ONNX file")
        session = ort.InferenceSession(os.fspath(path), providers=["CPUExecutionProvider"])
        name = session.get_inputs()[0].name
        return lambda x: session.run(None, {name: x.numpy()})[0]
    with _quiet_torchscript():
        module = torch.jit.load(os.fspath(path), map_location="cpu")

    def run(x: torch.Tensor) -> np.ndarray:
        with torch.inference_mode():
            return module(x).float().numpy()
    return run


@contextmanager
def _quiet_torchscript() -> Iterator[None]:
    """TorchScript is deprecated upstream but still the format many deployments load."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=FutureWarning, message=r".*torch\.jit")
        yield
