"""What every benchmark prints about the machine it ran on."""
from __future__ import annotations

import os
import platform

import torch

from search_repro.latency.runtimes import cpu_name

__all__ = ["cpu_name", "machine_line"]


def machine_line() -> str:
    """One line: CPU model, core count, torch threads and versions."""
    return (f"machine: {cpu_name()} | {os.cpu_count()} CPUs | torch threads "
            f"{torch.get_num_threads()} | python {platform.python_version()} | "
            f"torch {torch.__version__}")
