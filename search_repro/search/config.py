"""The settings of one search (a resumed run must be started with the same ones)."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from typing import Any

from moga_zoo.errors import UsageError

from .defaults import BUDGETS, DEFAULT_OBJECTIVES, DEFAULT_WEIGHTS, check_objectives, check_weights

__all__ = ["SearchConfig"]


@dataclass(frozen=True)
class SearchConfig:
    """Everything that determines a search's result (a resumed run must match it exactly)."""

    pop_size: int = BUDGETS["default"]["pop_size"]
    generations: int = BUDGETS["default"]["generations"]
    random_samples: int = BUDGETS["default"]["random_samples"]
    seed: int = 0
    objectives: tuple[str, ...] = DEFAULT_OBJECTIVES
    weights: tuple[float, ...] = DEFAULT_WEIGHTS
    layer_mutation_prob: float = 1 / 14
    crossover_prob: float = 0.9
    max_latency_ms: float | None = None
    max_macs: int | None = None
    artifacts: dict[str, Any] = field(default_factory=dict)  # which table / supernet

    def __post_init__(self) -> None:
        object.__setattr__(self, "objectives", check_objectives(self.objectives))
        object.__setattr__(self, "weights", tuple(float(w) for w in self.weights))
        check_weights(self.weights, len(self.objectives))
        for name in ("pop_size", "generations"):
            if getattr(self, name) < 1 or (name == "pop_size" and self.pop_size < 4):
                raise UsageError(f"{name} is too small ({getattr(self, name)}); pop_size needs "
                                 f">= 4, generations >= 1")
        if self.random_samples < 0:
            raise UsageError("random_samples must be >= 0")
        if not 0 < self.layer_mutation_prob <= 1 or not 0 <= self.crossover_prob <= 1:
            raise UsageError("layer_mutation_prob must be in (0, 1], crossover_prob in [0, 1]")
        for name in ("max_latency_ms", "max_macs"):
            v = getattr(self, name)
            if v is not None and not v > 0:
                raise UsageError(f"{name} must be positive, got {v}")

    @classmethod
    def for_budget(cls, budget: str, **overrides: Any) -> "SearchConfig":
        if budget not in BUDGETS:
            raise UsageError(f"unknown budget {budget!r}; choose one of {', '.join(BUDGETS)}")
        return cls(**{**BUDGETS[budget], **{k: v for k, v in overrides.items() if v is not None}})

    def with_artifacts(self, **artifacts: Any) -> "SearchConfig":
        return replace(self, artifacts={**self.artifacts, **artifacts})

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["objectives"], d["weights"] = list(self.objectives), list(self.weights)
        return d

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "SearchConfig":
        return cls(**{**data, "objectives": tuple(data["objectives"]),
                      "weights": tuple(data["weights"])})
