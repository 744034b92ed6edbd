"""The resume state of a search: one JSON file, replaced atomically after every generation.

It holds the settings, the generation reached, the exact random-generator state, the surviving
population (with its NSGA-II rank and crowding, which the next parent selection reads) and the
full history, so a restarted run continues bit for bit where the last saved generation ended.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from moga_zoo.errors import MogaZooError
from moga_zoo.fileio import write_json_atomic
from moga_zoo.records import read_json
from moga_zoo.search_space import NUM_LAYERS

from .config import SearchConfig
from .history import History

__all__ = ["STATE_FORMAT", "SearchState", "StateError"]

STATE_FORMAT = "moga_zoo.search_state/1"


class StateError(MogaZooError, ValueError):
    """A resume state that cannot be used (corrupt, or from different settings)."""


@dataclass
class SearchState:
    """Where a search stands after ``generation`` completed generations."""

    config: SearchConfig
    generation: int
    rng: dict[str, Any]
    population: np.ndarray  # (pop, 14) codes, in pymoo's order
    rank: list[int | None]  # None for infeasible members (pymoo ranks only feasible ones)
    crowding: list[float | None]
    history: History
    extras: dict[str, Any]  # reference points and random cloud, once measured

    def save(self, path: Path) -> None:
        write_json_atomic(path, indent=1, data={
            "format": STATE_FORMAT,
            "config": self.config.to_json(),
            "generation": self.generation,
            "rng": self.rng,
            "population": self.population.tolist(),
            "rank": self.rank,
            "crowding": [c if c is None or np.isfinite(c) else "inf" for c in self.crowding],
            "history": self.history.to_json(),
            "extras": self.extras,
        })

    def check(self) -> None:
        """Raise ValueError unless the parts agree: the generation count with the history (every
        completed generation added architectures), the population with its ranks and history."""
        if not 0 <= self.generation <= self.config.generations:
            raise ValueError(f"generation {self.generation} is outside 0..{self.config.generations}")
        recorded = sorted(set(self.history.generation.tolist()))
        if recorded != list(range(1, self.generation + 1)):
            raise ValueError(f"'generation' says {self.generation} generations were completed, but the "
                             f"history holds generations {_ranges(recorded)}")
        n = len(self.population)
        if self.population.shape != (n, NUM_LAYERS) or not len(self.rank) == len(self.crowding) == n:
            raise ValueError(f"a population of shape {self.population.shape} with {len(self.rank)} "
                             f"ranks and {len(self.crowding)} crowding values")
        if (self.history.lookup(self.population) < 0).any():
            raise ValueError("the population holds architectures the history never evaluated")

    @classmethod
    def load(cls, path: Path) -> "SearchState":
        """Read a state; anything unreadable is a :class:`StateError` and the file is left alone."""
        hint = ("the file is left untouched: restore it, or move it away to start the search "
                "over (or use another --out folder)")
        try:
            data = read_json(path, "resume state")
            if data.get("format") != STATE_FORMAT:
                raise ValueError(f"format {data.get('format')!r}, expected {STATE_FORMAT!r}")
            state = cls(
                config=SearchConfig.from_json(data["config"]),
                generation=int(data["generation"]),
                rng=data["rng"],
                population=np.asarray(data["population"], dtype=np.int64),
                rank=[None if r is None else int(r) for r in data["rank"]],
                crowding=[float(c) if c is not None else None for c in data["crowding"]],
                history=History.from_json(data["history"]),
                extras=data["extras"],
            )
            state.check()
            return state
        except (ValueError, KeyError, TypeError, AttributeError) as e:
            raise StateError(f"resume state {path} is corrupt ({type(e).__name__}: {e}); "
                             f"{hint}") from None


def _ranges(values: list[int]) -> str:
    """``[0, 1, 2, 5]`` -> ``0-2, 5`` (a short description of which generations are present)."""
    if not values:
        return "none"
    parts, start = [], values[0]
    for prev, cur in zip(values, values[1:] + [None]):
        if cur is None or cur != prev + 1:
            parts.append(f"{start}-{prev}" if prev != start else f"{start}")
            start = cur
    return ", ".join(parts)
