"""Runtimes that turn a module into a timed call: PyTorch eager (CPU, CUDA), onnxruntime (CPU), and
the phone runtimes LiteRT and ExecuTorch (XNNPACK) on this CPU.

A runtime's :meth:`Runtime.timer` returns a function that runs the module once on a fixed
random input and returns the elapsed milliseconds, read from :attr:`Runtime.clock`:

* ``thread_cpu`` (CPU, 1 thread): CPU time of the calling thread, which does all the work when
  both runtimes are limited to one thread. Unlike wall time it excludes the time the thread
  waits while other processes of a shared machine run (our choice; on an idle machine the two
  agree).
* ``wall`` (CPU, several threads): ``time.perf_counter``.
* ``cuda_events`` (GPU): CUDA events recorded around the call on the current stream after a
  ``torch.cuda.synchronize()``, then synchronised on the end event.

On glibc, :func:`keep_freed_memory` stops malloc from handing large freed buffers back to the
kernel while timing (our choice). Otherwise PyTorch eager re-faults its activation buffers on many
runs, and whether it does depends on the process's allocation history: on this machine that
made whole networks 0-45 % slower than their blocks, at random per model instance.
"""
from __future__ import annotations

import abc
import ctypes
import ctypes.util
import platform
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

import torch
import torch.nn as nn

from moga_zoo.errors import UsageError
from moga_zoo.inference import mobile
from moga_zoo.inference.export import SUFFIX, export_model, onnx_graph

from .schema import DEVICES, RUNTIMES

__all__ = ["Runtime", "TorchRuntime", "OnnxRuntime", "MobileRuntime", "LiteRtRuntime",
           "ExecuTorchRuntime", "get_runtime", "cpu_name", "keep_freed_memory"]

Timer = Callable[[], float]


def cpu_name() -> str:
    """The CPU model as the kernel reports it (``/proc/cpuinfo``), else ``platform.processor()``."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown CPU"


_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # glibc <malloc.h>


def keep_freed_memory() -> str:
    """Make glibc malloc keep freed memory (no trimming, mmap only above 32 MiB).

    Returns the allocator setting to record in a table: ``glibc_keep_freed`` or ``default``
    where the C library has no ``mallopt`` (macOS, musl).
    """
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name) if name else None
        mallopt = libc.mallopt if libc is not None else None
    except (OSError, AttributeError):
        mallopt = None
    if mallopt is None:
        return "default"
    ok = mallopt(_M_MMAP_THRESHOLD, 32 << 20) and mallopt(_M_TRIM_THRESHOLD, 1 << 30)
    return "glibc_keep_freed" if ok else "default"


class Runtime(abc.ABC):
    """Common description of a runtime on a device with a thread count."""

    name: str = ""

    def __init__(self, device: str, threads: int) -> None:
        self.device = device
        self.threads = threads
        self.allocator = keep_freed_memory()

    @property
    def clock(self) -> str:
        """``thread_cpu``, ``wall`` or ``cuda_events`` (see the module docstring)."""
        if self.device == "cuda":
            return "cuda_events"
        return "thread_cpu" if self.threads == 1 else "wall"

    def _now_ns(self) -> int:
        return time.thread_time_ns() if self.clock == "thread_cpu" else time.perf_counter_ns()

    @property
    @abc.abstractmethod
    def version(self) -> str:
        """Version of the runtime library."""

    def describe_device(self) -> dict[str, Any]:
        """The ``device`` field of a table: type, CPU model or GPU name, thread count."""
        name = torch.cuda.get_device_name() if self.device == "cuda" else cpu_name()
        return {"type": self.device, "name": name, "threads": self.threads}

    @abc.abstractmethod
    def timer(self, module: nn.Module, input_shape: tuple[int, ...]) -> Timer:
        """A function that runs ``module`` once on a fixed input and returns milliseconds."""


class TorchRuntime(Runtime):
    """PyTorch eager mode, ``inference_mode``, float32."""

    name = "torch"

    def __init__(self, device: str, threads: int) -> None:
        super().__init__(device, threads)
        torch.set_num_threads(threads)

    @property
    def version(self) -> str:
        return torch.__version__

    def timer(self, module: nn.Module, input_shape: tuple[int, ...]) -> Timer:
        module = module.eval().to(self.device)
        x = torch.randn(input_shape, device=self.device)
        if self.device == "cuda":
            start = torch.cuda.Event(enable_timing=True)
            end = torch.cuda.Event(enable_timing=True)

            @torch.inference_mode()
            def run_cuda() -> float:
                torch.cuda.synchronize()  # nothing queued before the start event
                start.record()
                module(x)
                end.record()
                end.synchronize()
                return start.elapsed_time(end)
            return run_cuda

        now = self._now_ns

        @torch.inference_mode()
        def run_cpu() -> float:
            t0 = now()
            module(x)
            return (now() - t0) / 1e6
        return run_cpu


class OnnxRuntime(Runtime):
    """onnxruntime's CPU execution provider on the module exported as ``predict`` and ``moga-zoo
    export`` export it (:func:`moga_zoo.inference.export.onnx_graph`)."""

    name = "onnxruntime"

    def __init__(self, device: str, threads: int) -> None:
        if device != "cpu":
            raise UsageError("the onnxruntime runtime times on --device cpu only (this install has "
                             "no CUDA execution provider); use --runtime torch for --device cuda")
        super().__init__(device, threads)
        import onnxruntime  # imported here: optional dependency (extra "export")
        self._ort = onnxruntime

    @property
    def version(self) -> str:
        return self._ort.__version__

    def session(self, module: nn.Module, input_shape: tuple[int, ...]) -> Any:
        """An ``InferenceSession`` (all graph optimisations, ``threads`` intra-op threads)."""
        graph = onnx_graph(module, input_shape[1:])
        opts = self._ort.SessionOptions()
        opts.intra_op_num_threads = self.threads
        opts.inter_op_num_threads = 1
        opts.execution_mode = self._ort.ExecutionMode.ORT_SEQUENTIAL
        opts.graph_optimization_level = self._ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        return self._ort.InferenceSession(graph.SerializeToString(), opts,
                                          providers=["CPUExecutionProvider"])

    def timer(self, module: nn.Module, input_shape: tuple[int, ...]) -> Timer:
        sess = self.session(module, input_shape)
        feed = {sess.get_inputs()[0].name: torch.randn(input_shape).numpy()}
        now = self._now_ns

        def run() -> float:
            t0 = now()
            sess.run(None, feed)
            return (now() - t0) / 1e6
        return run


class MobileRuntime(Runtime):
    """A phone runtime on this CPU. Every timed module goes through ``moga-zoo export``'s path
    (:func:`moga_zoo.inference.export.export_model`, validated against eager) into a file in a
    temporary folder, which the runtime's own interpreter runs with XNNPACK on ``threads``
    threads; a timed call is one inference on a fixed input, as the runtimes' benchmark tools
    time it. The files take batch 1 only."""

    #: The phone runtimes' names (also their export formats).
    NAMES = mobile.MOBILE_FORMATS

    def __init__(self, device: str, threads: int) -> None:
        if device != "cpu":
            raise UsageError(f"the {self.name} runtime times on --device cpu only here; a phone's "
                             f"GPU is timed on the phone (`moga-zoo lut kit`, docs/mobile.md)")
        mobile.require_extra(self.name)
        super().__init__(device, threads)
        self._folder = tempfile.TemporaryDirectory(prefix=f"moga_zoo-{self.name}-")
        self._files = 0

    @property
    def version(self) -> str:
        return mobile.version_of(self.name)

    def timer(self, module: nn.Module, input_shape: tuple[int, ...]) -> Timer:
        if input_shape[0] != 1:
            raise UsageError(f"the {self.name} runtime times batch 1 only (its files have a fixed "
                             f"shape), got batch {input_shape[0]}")
        self._files += 1
        path = Path(self._folder.name) / f"part{self._files}{SUFFIX[self.name]}"
        export_model(module, path, self.name, input_size=input_shape[1:])
        call = mobile.invoker(self.name, str(path), self.threads)
        now = self._now_ns

        def run() -> float:
            t0 = now()
            call()
            return (now() - t0) / 1e6
        return run


class LiteRtRuntime(MobileRuntime):
    """LiteRT (ai-edge-litert's interpreter with its XNNPACK delegate) on .tflite exports."""

    name = "litert"


class ExecuTorchRuntime(MobileRuntime):
    """ExecuTorch's runtime on .pte exports delegated to XNNPACK."""

    name = "executorch"


_CLASSES = {"torch": TorchRuntime, "onnxruntime": OnnxRuntime, "litert": LiteRtRuntime,
            "executorch": ExecuTorchRuntime}


def get_runtime(runtime: str, device: str, threads: int) -> Runtime:
    """A runtime by name; unknown names, an absent GPU or a bad thread count are clear errors."""
    if device not in DEVICES:
        raise UsageError(f"unknown device {device!r}; choose one of: {', '.join(DEVICES)}")
    if runtime not in RUNTIMES:
        raise UsageError(f"unknown runtime {runtime!r}; choose one of: {', '.join(RUNTIMES)}")
    if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
        raise UsageError(f"--threads must be a positive integer, got {threads!r}")
    if device == "gpu":
        raise UsageError("--device gpu is a phone's GPU, timed on the phone: build its table with "
                         "`moga-zoo lut kit`, then `lut import` (docs/mobile.md)")
    if device == "cuda" and not torch.cuda.is_available():
        raise UsageError("--device cuda: no CUDA GPU is visible to PyTorch on this machine; "
                         "run the build on a GPU machine or use --device cpu")
    return _CLASSES[runtime](device, threads)
