"""Build a latency table: time every part in isolation, then fit the end-to-end correction.

The table file is rewritten atomically after each group (fixed parts, each of the 14 layers,
the calibration), so an interrupted build resumes where it stopped when run again with the
same settings and output file.
"""
from __future__ import annotations

import datetime
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from moga_zoo import interrupts
from moga_zoo.errors import UsageError
from moga_zoo.fileio import write_json_atomic
from moga_zoo.search_space import NUM_LAYERS, space_hash

from .blocks import check_resolution, fixed_parts, input_shapes, layer_parts
from .end_to_end import calibration_architectures, fit_correction, measure_architectures
from .measure import measure_interleaved
from .runtimes import MobileRuntime, Runtime, get_runtime
from .schema import (FORMAT, FORMAT_VERSION, HEADER_KEYS, TableFormatError, check_table,
                     missing_parts, read_json)
from .table import LatencyTable

__all__ = ["build_table"]


def _new_table(runtime: Runtime, resolution: int, batch: int, measurement: dict[str, int]) -> dict:
    return {
        "format": FORMAT, "format_version": FORMAT_VERSION, "space_hash": space_hash(),
        "resolution": resolution, "batch": batch, "dtype": "float32",
        "device": runtime.describe_device(),
        "runtime": {"name": runtime.name, "version": runtime.version},
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "measurement": measurement,
        "fixed": None,
        "layers": [None] * NUM_LAYERS,
    }


def _resume(path: Path, fresh: dict[str, Any]) -> dict[str, Any]:
    """The partial table at ``path`` if it was started with the same settings, else an error."""
    old = read_json(path)
    check_table(old, str(path), partial=True)
    diff = [k for k in HEADER_KEYS if old.get(k) != fresh[k]]
    if diff:
        detail = "; ".join(f"{k}: file {old.get(k)!r} vs now {fresh[k]!r}" for k in diff)
        raise TableFormatError(
            f"{path} holds a table built with other settings ({detail}); it is left untouched: "
            f"pass another -o FILE, or delete it to start over")
    return old


def _measure_missing(table: dict[str, Any], path: Path, rt: Runtime, resolution: int, batch: int,
                     warmup: int, repeats: int, e2e_repeats: int, calibration_samples: int,
                     seed: int, bar: tqdm) -> None:
    """Measure every part ``table`` lacks, writing the file after each group."""
    shapes = input_shapes(resolution, batch)
    bar_step = lambda: bar.update(1)  # noqa: E731
    if table["fixed"] is None:
        parts = fixed_parts(resolution, batch)
        stats = measure_interleaved({p.key: rt.timer(p.module, p.input_shape) for p in parts},
                                    warmup, repeats, seed, bar_step)
        table["fixed"] = {p.key: {"input_shape": list(p.input_shape), **stats[p.key]}
                          for p in parts}
        write_json_atomic(path, table, indent=1)
        interrupts.resumable(f"the measured parts of the table in {path}")
    for i in range(NUM_LAYERS):
        if table["layers"][i] is not None:
            continue
        bar.set_postfix_str(f"layer {i + 1}/{NUM_LAYERS}")
        parts = layer_parts(i, resolution, batch)
        stats = measure_interleaved({p.key: rt.timer(p.module, p.input_shape) for p in parts},
                                    warmup, repeats, seed + i + 1, bar_step)
        table["layers"][i] = {"layer": i + 1, "input_shape": list(shapes[f"layer{i + 1}"]),
                              "choices": stats}
        write_json_atomic(path, table, indent=1)
        interrupts.resumable(f"the measured parts of the table in {path}")
    if "correction" not in table:
        table["correction"] = None
        if calibration_samples:
            bar.set_postfix_str("end-to-end calibration")
            archs = calibration_architectures(calibration_samples, seed)
            raw = LatencyTable({**table, "correction": None}, str(path))
            sums = raw.predict(np.array([a.encode() for a in archs]), corrected=False)
            measured = measure_architectures(archs, rt, resolution, batch, warmup, e2e_repeats,
                                             seed, bar_step)
            a, b = fit_correction(sums, np.array([m["median_ms"] for m in measured]))
            table["correction"] = {
                "type": "linear", "a": round(a, 6), "b": round(b, 6),
                "calibration": [{"arch": str(arch), "table_sum_ms": round(float(s), 5), **m}
                                for arch, s, m in zip(archs, sums, measured)]}
        write_json_atomic(path, table, indent=1)
        interrupts.resumable(f"the measured parts of the table in {path}")


def build_table(
    path: "str | Path",
    device: str = "cpu",
    runtime: str = "torch",
    threads: int = 1,
    batch: int = 1,
    resolution: int = 224,
    warmup: int = 20,
    repeats: int = 100,
    calibration_samples: int = 10,
    e2e_repeats: int = 30,
    seed: int = 0,
    progress: bool = True,
) -> LatencyTable:
    """Measure (or finish measuring) the table at ``path`` and return it loaded.

    ``calibration_samples`` architectures (0: none) are also run end to end, ``e2e_repeats``
    times each, to fit the table's linear correction.
    """
    path = Path(path)
    check_resolution(resolution)
    if isinstance(batch, bool) or not isinstance(batch, int) or batch < 1:
        raise UsageError(f"--batch must be a positive integer, got {batch!r}")
    if calibration_samples == 1 or calibration_samples < 0:
        raise UsageError("--calibration-samples must be 0 (no correction) or at least 2")
    if warmup < 0 or repeats < 1 or e2e_repeats < 1:
        raise UsageError("--warmup must be >= 0 and --repeats, --e2e-repeats >= 1")
    if runtime in MobileRuntime.NAMES and batch != 1:
        raise UsageError(f"--runtime {runtime} times batch 1 only (its files have a fixed shape)")
    rt = get_runtime(runtime, device, threads)
    measurement = {"clock": rt.clock, "allocator": rt.allocator, "warmup": warmup,
                   "repeats": repeats, "calibration_samples": calibration_samples,
                   "e2e_repeats": e2e_repeats, "seed": seed}
    table = _new_table(rt, resolution, batch, measurement)
    if path.exists():
        table = _resume(path, table)
    todo = missing_parts(table)
    interrupts.resumable(f"the measured parts of the table in {path}" if path.exists() else None)
    if not todo:
        return LatencyTable(table, str(path))
    calibrate = "end-to-end correction" in todo and calibration_samples > 0
    rounds = (len(todo) - ("end-to-end correction" in todo)) * repeats + calibrate * e2e_repeats
    with tqdm(total=rounds, desc=f"lut {rt.name}/{device}", unit="round",
              disable=not progress) as bar:
        _measure_missing(table, path, rt, resolution, batch, warmup, repeats, e2e_repeats,
                         calibration_samples, seed, bar)
    return LatencyTable(table, str(path))
