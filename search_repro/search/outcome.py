"""What a finished search hands to the results writer and the plot."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .config import SearchConfig
from .history import History

__all__ = ["SearchOutcome"]


@dataclass
class SearchOutcome:
    """A finished search: its final population, front (indices into ``population``) and history."""

    config: SearchConfig
    history: History
    population: np.ndarray
    metrics: dict[str, np.ndarray]
    front: np.ndarray
    extras: dict[str, Any]
    out_dir: Path
    timing: dict[str, Any] = field(default_factory=dict)
