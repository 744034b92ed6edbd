"""Where a model runs: eager PyTorch, or onnxruntime on a cached ONNX export of that exact model."""
from __future__ import annotations

import importlib.util
import os
import tempfile
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import torch
import torch.nn as nn

from ..errors import UsageError
from .cache import onnx_cache_path, prune_cache, touch
from .export import export_model, input_size_of, validate_export

__all__ = ["RUNTIMES", "available_runtimes", "resolve_runtime", "choose_runtime", "make_runner",
           "Runner", "EXPORT_PAYS_FROM_IMAGES"]

#: Known runtimes, fastest first on CPU (see docs/predict-export.md for the measured table).
RUNTIMES = ("onnxruntime", "torch")

#: ``auto`` exports for onnxruntime only from this many images on (or when an export is cached):
#: the export and its check take ~13 s on 2 cores, and onnxruntime saves ~4-8 ms an image at
#: batch 32 (``benchmarks/bench_runtimes.py``, table in docs/predict-export.md).
EXPORT_PAYS_FROM_IMAGES = 2000

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


def choose_runtime(model: nn.Module, runtime: str = "auto", *,
                   input_size: Sequence[int] | None = None, cache: "Path | None | bool" = None,
                   images: int | None = None) -> tuple[str, str]:
    """The runtime to run ``model`` on ``images`` images with, and why, in a few words.

    ``auto`` takes onnxruntime (when installed) if this model's export is already cached, or if
    there are at least :data:`EXPORT_PAYS_FROM_IMAGES` images (``None``: unknown, many);
    otherwise torch, which starts at once. A named runtime is checked to be installed.
    """
    if runtime != "auto":
        return resolve_runtime(runtime), "asked for"
    if resolve_runtime("auto") == "torch":
        return "torch", "onnxruntime is not installed: pip install 'moga_zoo[export]'"
    size = tuple(input_size) if input_size is not None else input_size_of(model)
    if cache is not False and onnx_cache_path(
            model, size, None if cache in (None, True) else Path(cache)).exists():
        return "onnxruntime", "its export of this model is cached"
    if images is None or images >= EXPORT_PAYS_FROM_IMAGES:
        return "onnxruntime", (f"{images} images" if images else "many images") + (
            f": an ONNX export (~13 s) pays off from {EXPORT_PAYS_FROM_IMAGES}")
    return "torch", (f"{images} image{'s' if images != 1 else ''} and no cached export: an ONNX "
                     f"export (~13 s) pays off from {EXPORT_PAYS_FROM_IMAGES} images")


def make_runner(model: nn.Module, runtime: str = "auto", *, input_size: Sequence[int] | None = None,
                cache: "Path | None | bool" = None, threads: int | None = None) -> Runner:
    """A function running ``model`` on the chosen runtime (``auto``: the fastest installed).

    onnxruntime uses the cached export for this model, weights and ``input_size`` (``cache``: the
    cache folder, default :func:`~moga_zoo.inference.cache.cache_dir`), exporting and validating
    it on first use; a cached file that fails to load is exported again, and the least recently
    used exports are removed beyond the cache's bound. ``cache=False`` exports to a temporary
    folder removed once the runtime has loaded it (for weights that will never be seen again,
    such as a random initialisation).
    ``threads`` sets onnxruntime's intra-op threads, or torch's thread count (for the whole
    process).
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


def _onnxruntime_runner(model: nn.Module, size: tuple, cache: "Path | None | bool",
                        threads: int | None) -> Runner:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.intra_op_num_threads = threads or torch.get_num_threads()
    if cache is False:
        with tempfile.TemporaryDirectory(prefix="moga_zoo-onnx-") as folder:
            path = Path(folder) / "model.onnx"
            export_model(model, path, "onnx", input_size=size)
            session = ort.InferenceSession(os.fspath(path), options,
                                           providers=["CPUExecutionProvider"])
    else:
        path = onnx_cache_path(model, size, None if cache in (None, True) else Path(cache))
        if path.exists() and not _cache_entry_valid(path, model, size):
            path.unlink(missing_ok=True)  # damaged or stale: never keep it
        if path.exists():
            touch(path)
        else:
            export_model(model, path, "onnx", input_size=size)
            prune_cache(path.parent.parent, keep=path)
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
