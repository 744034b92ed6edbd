"""What every benchmark prints about the machine it ran on."""
from __future__ import annotations

import os
import platform
from pathlib import Path

import torch


def cpu_name() -> str:
    """The CPU model from /proc/cpuinfo, else what :mod:`platform` knows."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine_line() -> str:
    """One line: CPU model, core count, torch threads and versions."""
    return (f"machine: {cpu_name()} | {os.cpu_count()} CPUs | torch threads "
            f"{torch.get_num_threads()} | python {platform.python_version()} | "
            f"torch {torch.__version__}")
