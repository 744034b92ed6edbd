"""``LatencyTable``: predicted latency of any architecture from a measured lookup table.

Prediction = fixed parts (stem, first block, head) + the measured median of every chosen block,
optionally passed through the table's linear end-to-end correction ``a * sum + b``.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from moga_zoo.errors import MissingFileError
from moga_zoo.search_space import (CHOICES, NUM_LAYERS, Architecture, check_codes,
                                   space_hash)

from .bundled import bundled_path
from .schema import FIXED_PARTS, TableFormatError, check_table, read_json

__all__ = ["LatencyTable", "load_table"]


class LatencyTable:
    """A complete, checked latency table; see :mod:`search_repro.latency.schema` for the file."""

    def __init__(self, data: dict[str, Any], source: str = "latency table") -> None:
        check_table(data, source)
        if data["space_hash"] != space_hash():
            raise TableFormatError(
                f"{source} was built for search space {data['space_hash']}, but this moga_zoo "
                f"defines space {space_hash()}; rebuild it with `moga-zoo lut build`")
        self.data = data
        self.source = source
        #: Median milliseconds of every (layer, choice) block, shape (14, 12), in CHOICES order.
        self.layer_ms = np.array([[layer["choices"][str(c)]["median_ms"] for c in CHOICES]
                                  for layer in data["layers"]], dtype=np.float64)
        #: Median milliseconds of the stem + first block + head.
        self.fixed_ms = float(sum(data["fixed"][p]["median_ms"] for p in FIXED_PARTS))
        corr = data["correction"]
        #: ``(a, b)`` of ``measured ~ a * block sum + b``, or None.
        self.correction: tuple[float, float] | None = (
            None if corr is None else (corr["a"], corr["b"]))

    # --- description ------------------------------------------------------------------------
    @property
    def label(self) -> str:
        """The bundled table's name, or the path it was loaded from (for reports: no machine
        paths for the tables shipped with the package)."""
        from .bundled import TABLES_DIR

        path = Path(self.source)
        return path.stem if path.parent.resolve() == TABLES_DIR.resolve() else self.source

    @property
    def space_hash(self) -> str:
        return self.data["space_hash"]

    @property
    def resolution(self) -> int:
        return self.data["resolution"]

    @property
    def batch(self) -> int:
        return self.data["batch"]

    @property
    def device(self) -> str:
        """E.g. ``cpu: AMD EPYC, 1 thread``."""
        d = self.data["device"]
        return f"{d['type']}: {d['name']}, {d['threads']} thread{'s' if d['threads'] != 1 else ''}"

    @property
    def runtime(self) -> str:
        """E.g. ``torch 2.14.1``."""
        return f"{self.data['runtime']['name']} {self.data['runtime']['version']}"

    def __repr__(self) -> str:
        return (f"LatencyTable({self.device}; {self.runtime}; {self.resolution}px batch "
                f"{self.batch}; space {self.space_hash})")

    # --- prediction ---------------------------------------------------------------------------
    def predict(self, codes: "np.ndarray | list", corrected: bool = True) -> np.ndarray:
        """Milliseconds for integer-coded architectures of shape (N, 14) (or one of shape (14,))."""
        arr = check_codes(codes)
        total = self.layer_ms[np.arange(NUM_LAYERS), arr].sum(axis=1) + self.fixed_ms
        if corrected and self.correction is not None:
            a, b = self.correction
            total = a * total + b
        return total

    def predict_arch(self, arch: "Architecture | str", corrected: bool = True) -> float:
        """Milliseconds for one architecture (an :class:`Architecture`, its string or a name)."""
        return float(self.predict(np.array(Architecture.parse(arch).encode()), corrected)[0])


def load_table(source: "str | Path", resolution: int | None = None,
               batch: int | None = None) -> LatencyTable:
    """Load a bundled table by name (checked against its sha256) or a table file by path.

    With ``resolution`` / ``batch`` given, a table measured at another setting is refused.
    """
    path = bundled_path(str(source)) if not Path(source).suffix else Path(source)
    if not path.is_file():
        raise MissingFileError(f"no latency table at {path}; build one with `moga-zoo lut build` "
                                f"or name a bundled table (`moga-zoo lut show` lists them)")
    table = LatencyTable(read_json(path), str(path))
    for name, want in (("resolution", resolution), ("batch", batch)):
        if want is not None and getattr(table, name) != want:
            raise TableFormatError(
                f"{path} was measured at {name} {getattr(table, name)}, not {want}; build a table "
                f"for {name} {want} with `moga-zoo lut build --{name} {want}`")
    return table
