"""Where a model runs: eager PyTorch, or onnxruntime on a cached ONNX export of that exact model."""
from __future__ import annotations

import hashlib
import importlib.util
import os
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import torch
import torch.nn as nn

from .. import __version__
from ..cache import cache_dir
from ..errors import UsageError
from .export import export_model, input_size_of, validate_export

__all__ = ["RUNTIMES", "available_runtimes", "resolve_runtime", "make_runner", "cache_dir",
           "onnx_cache_path", "Runner"]

#: Known runtimes, fastest first on CPU (see docs/predict-export.md for the measured table).
RUNTIMES = ("onnxruntime", "torch")

#: A runner maps a float32 NCHW batch to float32 logits.
Runner = Callable[[torch.Tensor], np.ndarray]


def available_runtimes() -> list[str]:
    """Runtimes whose packages are installed, fastest first."""
    onnx_ok = all(importlib.util.find_spec(m) for m in ("onnxruntime", "onnx", "onnxscript"))
    return [r for r in RUNTIMES if r == "torch" or onnx_ok]


def resolve_runtime(runtime: str = "auto") -> str:
    """``auto`` -> the fastest installed runtime; a named one is checked to be installed."""
    if runtime == "auto":
        return available_runtimes()[0]
    if runtime not in RUNTIMES:
        raise UsageError(f"unknown runtime {runtime!r}; choose auto, {', '.join(RUNTIMES)}")
    if runtime not in available_runtimes():
        raise UsageError(f"runtime {runtime!r} is not installed: pip install 'moga_zoo[export]'")
    return runtime


def onnx_cache_path(model: nn.Module, input_size: Sequence[int], root: Path | None = None) -> Path:
    """Cache file of ``model``'s ONNX export: keyed by its name, structure, weights and input shape."""
    digest = hashlib.sha256()
    digest.update(f"{__version__}|{torch.__version__}|{tuple(input_size)}|{model!r}".encode())
    for name, tensor in model.state_dict().items():
        t = tensor.detach().cpu().contiguous()
        digest.update(f"{name}|{t.dtype}|{tuple(t.shape)}".encode())
        digest.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
    cfg = getattr(model, "pretrained_cfg", None) or {}
    name = str(cfg.get("architecture") or type(model).__name__).replace("/", "_")
    shape = "x".join(str(s) for s in input_size)
    return (root or cache_dir()) / "onnx" / f"{name}-{shape}-{digest.hexdigest()[:24]}.onnx"


def make_runner(model: nn.Module, runtime: str = "auto", *, input_size: Sequence[int] | None = None,
                cache: Path | None = None, threads: int | None = None) -> Runner:
    """A function running ``model`` on the chosen runtime (``auto``: the fastest installed).

    onnxruntime uses the cached export for this model, weights and ``input_size``, exporting and
    validating it on first use; a cached file that fails to load is exported again. ``threads``
    sets onnxruntime's intra-op threads, or torch's thread count (for the whole process).
    """
    runtime = resolve_runtime(runtime)
    if threads is not None and (isinstance(threads, bool) or not isinstance(threads, int) or threads < 1):
        raise UsageError(f"threads must be a positive integer, got {threads!r}")
    model = model.eval()
    if runtime == "torch":
        if threads is not None:
            torch.set_num_threads(threads)
        return _torch_runner(model)
    size = tuple(input_size) if input_size is not None else input_size_of(model)
    return _onnxruntime_runner(model, size, cache, threads)


def _torch_runner(model: nn.Module) -> Runner:
    model = model.to(memory_format=torch.channels_last)  # faster depthwise convs on CPU

    def run(batch: torch.Tensor) -> np.ndarray:
        with torch.inference_mode():
            return model(batch.contiguous(memory_format=torch.channels_last)).float().numpy()
    return run


def _onnxruntime_runner(model: nn.Module, size: tuple, cache: Path | None, threads: int | None) -> Runner:
    import onnxruntime as ort

    path = onnx_cache_path(model, size, cache)
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.intra_op_num_threads = threads or torch.get_num_threads()
    if path.exists() and not _cache_entry_valid(path, model, size):
        path.unlink(missing_ok=True)  # damaged or stale: never keep it
    if not path.exists():
        export_model(model, path, "onnx", input_size=size)
    session = ort.InferenceSession(os.fspath(path), options, providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name

    def run(batch: torch.Tensor) -> np.ndarray:
        return session.run(None, {name: batch.detach().cpu().float().numpy()})[0]
    return run


def _cache_entry_valid(path: Path, model: nn.Module, size: tuple) -> bool:
    """A cached export loads and still matches the model (one batch-1 comparison)."""
    try:
        return validate_export(path, model, "onnx", input_size=size, batch_sizes=(1,)).ok
    except Exception:  # noqa: BLE001  (any failure to load or run means: export again)
        return False
