"""glibc's malloc thresholds: with reuse_freed_memory, a freed 64 MB activation stays in the
process for the next one; without, it goes back to the system (and comes back as new pages)."""
from __future__ import annotations

import platform
import subprocess
import sys

import pytest

CODE = """
import os, sys, torch
from search_repro.allocator import reuse_freed_memory
applied = reuse_freed_memory() if sys.argv[1] == "reuse" else False
def resident():
    return int(open("/proc/self/statm").read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
before = resident()
x = torch.ones(16 << 20)  # 64 MB, above glibc's own largest mmap threshold
del x
print(applied, (resident() - before) >> 20)
"""


@pytest.mark.skipif(platform.system() != "Linux" or platform.libc_ver()[0] != "glibc",
                    reason="the thresholds are glibc's")
def test_freed_activations_are_kept_only_when_asked():
    kept = {}
    for mode in ("default", "reuse"):
        out = subprocess.run([sys.executable, "-c", CODE, mode], capture_output=True, text=True,
                             check=True).stdout.split()
        kept[mode] = (out[0] == "True", int(out[1]))
    assert kept["default"] == (False, pytest.approx(0, abs=8))
    assert kept["reuse"][0] and kept["reuse"][1] >= 60


def test_it_is_applied_once():
    from search_repro.allocator import reuse_freed_memory

    first = reuse_freed_memory()
    assert reuse_freed_memory() is first
