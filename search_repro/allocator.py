"""Keep freed memory for reuse instead of handing it back to the system (glibc's malloc only).

glibc serves an allocation above its mmap threshold (at most 32 MB, adjusted as the process
runs) with fresh pages from the kernel, and returns freed memory at the top of its heap beyond
its trim threshold. A forward pass over a chunk of 250 images at 64 px makes activations of
tens of MB, so every layer paid for page faults and for the kernel zeroing new pages: a 16 x 16
block of the proxy's networks ran 2x slower than with the memory kept (``python
benchmarks/allocator.py``). :func:`reuse_freed_memory` raises both thresholds with
``mallopt``, so those buffers come back from the heap. It changes where memory comes from,
never a result; with another C library (macOS, musl) it does nothing.
"""
from __future__ import annotations

import ctypes
import platform

__all__ = ["reuse_freed_memory"]

_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
#: Allocations up to this size come from the heap (activations of a chunk or batch); larger
#: ones (an evaluator's outputs on the whole split) still map pages of their own. glibc
#: versions that cap the threshold at 32 MB get the cap.
MMAP_THRESHOLD = 256 << 20
#: Free memory at the heap's top kept before it is returned to the system.
TRIM_THRESHOLD = 1 << 30

_applied: "bool | None" = None


def reuse_freed_memory() -> bool:
    """Raise glibc's trim and mmap thresholds for this process (once); whether they apply."""
    global _applied
    if _applied is None:
        _applied = False
        if platform.system() == "Linux" and platform.libc_ver()[0] == "glibc":
            mallopt = ctypes.CDLL(None).mallopt
            mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
            _applied = bool(mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD)) and bool(
                mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD) or
                mallopt(_M_MMAP_THRESHOLD, 32 << 20))
    return _applied
