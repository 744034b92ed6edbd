"""Every architecture a search evaluated, with its raw objective values, in evaluation order."""
from __future__ import annotations

import csv
import io
from typing import Any

import numpy as np

from moga_zoo.search_space import NUM_LAYERS, Architecture, check_codes

__all__ = ["METRICS", "CSV_DECIMALS", "csv_value", "History"]

#: Raw measurements of one architecture (accuracy in [0, 1], latency in ms, counts as integers).
METRICS = ("accuracy", "latency_ms", "params", "macs")

#: Decimals the CSV files keep (the JSON files keep full precision). Accuracy is a fraction of at
#: most 10,000 validation images: 4 decimals keep it exact (its standard error is ~0.01 at 1,000
#: images). Latency is a table prediction a few percent off a direct measurement: 0.01 ms is
#: already finer than that and still keeps candidates apart.
CSV_DECIMALS = {"accuracy": 4, "latency_ms": 2}


def csv_value(metric: str, value: Any) -> Any:
    """``value`` as written to a CSV file: rounded to :data:`CSV_DECIMALS`, counts unchanged."""
    value = np.asarray(value).item()
    return round(value, CSV_DECIMALS[metric]) if metric in CSV_DECIMALS else value


class History:
    """Append-only table: codes, the generation that created each one, and its :data:`METRICS`."""

    def __init__(self) -> None:
        self.codes = np.zeros((0, NUM_LAYERS), dtype=np.int64)
        self.generation = np.zeros(0, dtype=np.int64)
        self.metrics = {m: np.zeros(0, dtype=np.int64 if m in ("params", "macs") else np.float64)
                        for m in METRICS}
        self._index: dict[tuple[int, ...], int] = {}

    def __len__(self) -> int:
        return len(self.codes)

    def __contains__(self, key: object) -> bool:
        return key in self._index

    def add(self, codes: np.ndarray, generation: int, metrics: dict[str, np.ndarray]) -> None:
        """Append new architectures (each must be new to this history)."""
        new = [tuple(int(v) for v in row) for row in codes]
        if len(set(new)) != len(new) or any(k in self._index for k in new):
            raise ValueError("an architecture was evaluated twice")
        for k in new:
            self._index[k] = len(self._index)
        self.codes = np.concatenate([self.codes, np.asarray(codes, dtype=np.int64)])
        self.generation = np.concatenate([self.generation, np.full(len(new), generation)])
        for m in METRICS:
            self.metrics[m] = np.concatenate([self.metrics[m], metrics[m].astype(self.metrics[m].dtype)])

    def lookup(self, codes: np.ndarray) -> np.ndarray:
        """Row indices of already evaluated ``codes`` (-1 where not evaluated yet)."""
        return np.array([self._index.get(tuple(int(v) for v in row), -1) for row in codes],
                        dtype=np.int64)

    def rows(self, index: np.ndarray) -> dict[str, np.ndarray]:
        return {m: self.metrics[m][index] for m in METRICS}

    # --- serialisation ---------------------------------------------------------------------
    def to_json(self) -> dict[str, Any]:
        return {"codes": self.codes.tolist(), "generation": self.generation.tolist(),
                **{m: self.metrics[m].tolist() for m in METRICS}}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "History":
        h = cls()
        codes = check_codes(data["codes"])
        if not len(codes):
            return h
        gens = np.asarray(data["generation"], dtype=np.int64)
        metrics = {m: np.asarray(data[m]) for m in METRICS}
        if len(gens) != len(codes) or any(len(v) != len(codes) for v in metrics.values()):
            raise ValueError("history columns have different lengths")
        for g in np.unique(gens):
            sel = gens == g
            h.add(codes[sel], int(g), {m: v[sel] for m, v in metrics.items()})
        if not np.array_equal(h.generation, gens):
            raise ValueError("history is not in generation order")
        return h

    def to_csv(self) -> str:
        out = io.StringIO()
        w = csv.writer(out, lineterminator="\n")
        w.writerow(["index", "generation", "arch", *METRICS, "codes"])
        for i, row in enumerate(self.codes):
            w.writerow([i, int(self.generation[i]), str(Architecture.decode(row)),
                        *(csv_value(m, self.metrics[m][i]) for m in METRICS),
                        " ".join(str(int(v)) for v in row)])
        return out.getvalue()
