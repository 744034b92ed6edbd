"""Phone formats: LiteRT (.tflite) and ExecuTorch (.pte) files of a model, and their interpreters.

The one module that calls ``litert-torch``, ``ai-edge-litert`` and ``executorch`` (extras
``[litert]`` and ``[executorch]``), including ExecuTorch's private thread-pool setter. Both formats
have a static input shape: the file takes exactly the example it was written from.
"""
from __future__ import annotations

import importlib
import importlib.metadata
import os
import sys
import tempfile
import warnings
from contextlib import contextmanager, redirect_stderr, redirect_stdout
from typing import Callable, Iterator

import numpy as np
import torch
import torch.nn as nn

from ..errors import MogaZooError, UsageError

__all__ = ["MOBILE_FORMATS", "BACKENDS", "MobileRuntimeError", "require_extra", "version_of",
           "write_litert", "write_executorch", "litert_runner", "executorch_runner", "invoker",
           "input_shape_of", "has_executorch_backend", "quiet_native"]

MOBILE_FORMATS = ("litert", "executorch")
#: ExecuTorch delegates a program can be written for (the first is the default).
BACKENDS = ("xnnpack", "vulkan")
_EXTRA = {"litert": ("litert_torch", "ai_edge_litert"), "executorch": ("executorch",)}
_DISTRIBUTION = {"litert": "ai-edge-litert", "executorch": "executorch"}
_BACKEND_NAME = {"xnnpack": "XnnpackBackend", "vulkan": "VulkanBackend"}

#: A runner maps one float32 input of the file's exact shape to its float32 output.
Runner = Callable[[np.ndarray], np.ndarray]


class MobileRuntimeError(MogaZooError, RuntimeError):
    """A phone runtime is not installed, or cannot run the file it was given."""


def require_extra(format: str) -> None:
    """Import the packages of ``format``'s extra, or say which pip command installs them."""
    for module in _EXTRA[format]:
        try:
            with quiet_native():
                importlib.import_module(module)
        except ImportError:
            raise MobileRuntimeError(
                f"{format} needs the {module} package: pip install 'moga_zoo[{format}]'") from None


def version_of(format: str) -> str:
    """Installed version of the runtime that runs ``format`` files (its pip distribution)."""
    return importlib.metadata.version(_DISTRIBUTION[format])


@contextmanager
def quiet_native() -> Iterator[None]:
    """Send what converters print (Python and C++ alike) to a temporary file; on an error it is
    copied to stderr (unless it is a :class:`MogaZooError`) so a traceback keeps its context."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    with tempfile.TemporaryFile(mode="w+b") as sink, \
            open(sink.fileno(), "w", closefd=False) as text:
        os.dup2(sink.fileno(), 1)
        os.dup2(sink.fileno(), 2)
        try:
            with warnings.catch_warnings(), redirect_stdout(text), redirect_stderr(text):
                warnings.simplefilter("ignore")
                yield
        except BaseException as e:
            text.flush()
            _restore(saved)
            if not isinstance(e, MogaZooError):  # a bug: keep the converter's own account
                sink.seek(0)
                sys.stderr.write(sink.read().decode(errors="replace")[-4000:])
            raise
        else:
            _restore(saved)


def _restore(saved: tuple[int, int]) -> None:
    sys.stdout.flush()
    sys.stderr.flush()
    for fd, copy in zip((1, 2), saved):
        os.dup2(copy, fd)
        os.close(copy)


def write_litert(model: nn.Module, path: str, example: torch.Tensor) -> None:
    """``model`` (eval mode) as a LiteRT flatbuffer at ``path``, input shape of ``example``."""
    require_extra("litert")
    import litert_torch

    with quiet_native(), torch.no_grad():
        litert_torch.convert(model.eval(), (example,)).export(os.fspath(path))


def write_executorch(model: nn.Module, path: str, example: torch.Tensor,
                     backend: str = "xnnpack") -> None:
    """``model`` (eval mode) as an ExecuTorch program at ``path`` delegated to ``backend``."""
    if backend not in BACKENDS:
        raise UsageError(f"unknown ExecuTorch backend {backend!r}; choose one of "
                         f"{', '.join(BACKENDS)}")
    require_extra("executorch")
    with quiet_native(), torch.no_grad():
        from executorch.exir import to_edge_transform_and_lower
        if backend == "vulkan":
            from executorch.backends.vulkan.partitioner.vulkan_partitioner import VulkanPartitioner
            partitioner = VulkanPartitioner()
        else:
            from executorch.backends.xnnpack.partition.xnnpack_partitioner import XnnpackPartitioner
            partitioner = XnnpackPartitioner()
        program = torch.export.export(model.eval(), (example,))
        lowered = to_edge_transform_and_lower(program, partitioner=[partitioner]).to_executorch()
    with open(path, "wb") as f:
        f.write(lowered.buffer)


def has_executorch_backend(backend: str) -> bool:
    """Whether the installed ExecuTorch runtime can run programs delegated to ``backend``."""
    require_extra("executorch")
    return _executorch_runtime().backend_registry.is_available(_BACKEND_NAME[backend])


def _executorch_runtime():
    with quiet_native():
        from executorch.runtime import Runtime
        return Runtime.get()


def _litert_interpreter(path: str, threads: int):
    require_extra("litert")
    from ai_edge_litert.interpreter import Interpreter

    try:
        with quiet_native():
            interpreter = Interpreter(model_path=os.fspath(path), num_threads=threads)
            interpreter.allocate_tensors()
    except (ValueError, RuntimeError) as e:
        raise MobileRuntimeError(f"LiteRT cannot load {path}: {e}") from None
    return interpreter


def _executorch_method(path: str, threads: int):
    runtime = _executorch_runtime()
    try:
        with quiet_native():
            from executorch.extension.pybindings import portable_lib
            portable_lib._unsafe_reset_threadpool(threads)  # private: the wheel's only setting
            return runtime.load_program(os.fspath(path)).load_method("forward")
    except (ValueError, RuntimeError) as e:
        raise MobileRuntimeError(f"ExecuTorch cannot load {path}: {e}") from None


def input_shape_of(format: str, path: str) -> tuple[int, ...]:
    """The one input shape a .tflite or .pte file takes."""
    if format == "litert":
        detail = _litert_interpreter(path, 1).get_input_details()[0]
        return tuple(int(n) for n in detail["shape"])
    return tuple(_executorch_method(path, 1).metadata.input_tensor_meta(0).sizes())


def litert_runner(path: str, threads: int = 1) -> Runner:
    """Run a .tflite file with ai-edge-litert's interpreter (XNNPACK on CPU, ``threads``)."""
    interpreter = _litert_interpreter(path, threads)
    (source,), (target,) = interpreter.get_input_details(), interpreter.get_output_details()
    shape = tuple(int(n) for n in source["shape"])

    def run(x: np.ndarray) -> np.ndarray:
        if tuple(x.shape) != shape:
            raise MobileRuntimeError(f"{path} takes input shape {shape}, got {tuple(x.shape)}")
        interpreter.set_tensor(source["index"], np.ascontiguousarray(x, np.float32))
        interpreter.invoke()
        return interpreter.get_tensor(target["index"])
    return run


def executorch_runner(path: str, threads: int = 1) -> Runner:
    """Run a .pte file's ``forward`` with ExecuTorch's runtime (XNNPACK on ``threads`` threads).

    The thread pool is process-wide: the last runner created sets it.
    """
    method = _executorch_method(path, threads)
    shape = tuple(method.metadata.input_tensor_meta(0).sizes())

    def run(x: np.ndarray) -> np.ndarray:
        if tuple(x.shape) != shape:
            raise MobileRuntimeError(f"{path} takes input shape {shape}, got {tuple(x.shape)}")
        out = method.execute([torch.from_numpy(np.ascontiguousarray(x, np.float32))])
        return out[0].numpy()
    return run


def invoker(format: str, path: str, threads: int = 1, seed: int = 0) -> Callable[[], None]:
    """One inference of the file on a fixed random input, as the runtimes' benchmark tools time
    it: the input is set once, each call runs the graph (ExecuTorch passes the input each time)."""
    shape = input_shape_of(format, path)
    x = np.random.default_rng(seed).standard_normal(shape, dtype=np.float32)
    if format == "litert":
        interpreter = _litert_interpreter(path, threads)
        interpreter.set_tensor(interpreter.get_input_details()[0]["index"], x)
        return interpreter.invoke
    method = _executorch_method(path, threads)
    tensor = torch.from_numpy(x)
    return lambda: method.execute([tensor])
