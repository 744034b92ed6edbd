"""The latency-table file format: its JSON schema, a strict checker and an atomic writer.

A table is one JSON object (``format_version`` 1)::

    format, format_version      "moga_zoo.latency_table", 1
    space_hash                  moga_zoo.search_space.space_hash() of the space it was built for
    resolution, batch, dtype    input side (multiple of 32), batch size, "float32"
    device                      {"type": "cpu"|"cuda"|"gpu", "name": CPU model or GPU name, "threads": N}
                                ("gpu": a phone's GPU, from a kit's logs)
    runtime                     {"name": "torch"|"onnxruntime"|"litert"|"executorch", "version": "..."}
    created                     UTC date and time (ISO 8601) the build started
    measurement                 {"clock": "thread_cpu"|"wall"|"cuda_events", "allocator":
                                "glibc_keep_freed"|"default", "warmup", "repeats",
                                "calibration_samples", "e2e_repeats", "seed"}
    fixed                       {"stem"|"first_block"|"head": stats} or null while building
    layers                      14 entries, each {"layer": 1..14, "input_shape": [...],
                                "choices": {"e3k3": stats, ...}} (all 12 choices) or null
    correction                  {"type": "linear", "a", "b", "calibration": [...]} fitted on
                                end-to-end runs; absent while building, null when not requested

``stats`` is ``{"median_ms", "p25_ms", "p75_ms", "min_ms", "runs"}`` (fixed parts add their
``input_shape``).
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from moga_zoo.errors import MogaZooError
from moga_zoo.records import RecordError
from moga_zoo.records import read_json as _read_json
from moga_zoo.search_space import CHOICES, NUM_LAYERS

__all__ = ["FORMAT", "FORMAT_VERSION", "FIXED_PARTS", "DEVICES", "RUNTIMES", "CLOCKS",
           "HEADER_KEYS",
           "TableFormatError", "check_table", "missing_parts", "read_json"]

FORMAT = "moga_zoo.latency_table"
FORMAT_VERSION = 1
FIXED_PARTS = ("stem", "first_block", "head")
DEVICES = ("cpu", "cuda", "gpu")
RUNTIMES = ("torch", "onnxruntime", "litert", "executorch")
CLOCKS = ("thread_cpu", "wall", "cuda_events")
#: Fields that identify what was measured; a resumed build must agree on all of them.
HEADER_KEYS = ("format", "format_version", "space_hash", "resolution", "batch", "dtype",
               "device", "runtime", "measurement")
_MEASUREMENT_KEYS = ("warmup", "repeats", "calibration_samples", "e2e_repeats", "seed")
_STATS_KEYS = ("median_ms", "p25_ms", "p75_ms", "min_ms")


class TableFormatError(MogaZooError, ValueError):
    """A latency-table file that is malformed, incomplete or for another space/setting."""


def read_json(path: Path) -> dict[str, Any]:
    """Parse a JSON object from ``path``; a corrupt or truncated file is a TableFormatError."""
    try:
        data = _read_json(path, "latency table", "rebuild it with `moga-zoo lut build`")
    except RecordError as e:
        raise TableFormatError(str(e)) from None
    if not isinstance(data, dict):
        raise TableFormatError(f"{path}: expected a JSON object, got {type(data).__name__}")
    return data


def _fail(where: str, what: str) -> TableFormatError:
    return TableFormatError(f"{where}: {what}")


def _check_stats(where: str, stats: Any) -> None:
    if not isinstance(stats, dict):
        raise _fail(where, "expected a statistics object")
    for key in _STATS_KEYS:
        v = stats.get(key)
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v <= 0:
            raise _fail(where, f"'{key}' must be a positive number of milliseconds, got {v!r}")
    if not stats["min_ms"] <= stats["p25_ms"] <= stats["median_ms"] <= stats["p75_ms"]:
        raise _fail(where, "statistics out of order (need min <= p25 <= median <= p75)")
    runs = stats.get("runs")
    if isinstance(runs, bool) or not isinstance(runs, int) or runs < 1:
        raise _fail(where, f"'runs' must be a positive integer, got {runs!r}")


def _check_header(where: str, t: dict[str, Any]) -> None:
    if t.get("format") != FORMAT:
        raise _fail(where, f"not a latency table (format {t.get('format')!r}, expected {FORMAT!r})")
    if t.get("format_version") != FORMAT_VERSION:
        raise _fail(where, f"format_version {t.get('format_version')!r} is not supported "
                           f"(this version reads {FORMAT_VERSION}); rebuild the table")
    for key in ("space_hash", "dtype", "created"):
        if not isinstance(t.get(key), str):
            raise _fail(where, f"missing or invalid '{key}'")
    for key in ("resolution", "batch"):
        v = t.get(key)
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise _fail(where, f"'{key}' must be a positive integer, got {v!r}")
    device, runtime = t.get("device"), t.get("runtime")
    if not isinstance(device, dict) or device.get("type") not in DEVICES:
        raise _fail(where, f"'device.type' must be one of {DEVICES}")
    if not isinstance(device.get("name"), str) or not isinstance(device.get("threads"), int):
        raise _fail(where, "'device' needs a 'name' string and a 'threads' integer")
    if not isinstance(runtime, dict) or runtime.get("name") not in RUNTIMES:
        raise _fail(where, f"'runtime.name' must be one of {RUNTIMES}")
    m = t.get("measurement")
    if not isinstance(m, dict) or not all(isinstance(m.get(k), int) for k in
                                          _MEASUREMENT_KEYS):
        raise _fail(where, f"'measurement' needs integers {', '.join(_MEASUREMENT_KEYS)}")
    if m.get("clock") not in CLOCKS:
        raise _fail(where, f"'measurement.clock' must be one of {CLOCKS}")
    if not isinstance(m.get("allocator"), str):
        raise _fail(where, "'measurement.allocator' must be a string")


def _check_correction(where: str, c: Any) -> None:
    if c is None:
        return
    if not isinstance(c, dict) or c.get("type") != "linear":
        raise _fail(where, "'correction' must be null or {\"type\": \"linear\", ...}")
    for key in ("a", "b"):
        v = c.get(key)
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
            raise _fail(where, f"'correction.{key}' must be a finite number")
    if c["a"] <= 0:
        raise _fail(where, "'correction.a' must be positive (a larger block sum is slower)")


def check_table(data: dict[str, Any], where: str = "latency table", partial: bool = False) -> None:
    """Raise :class:`TableFormatError` unless ``data`` follows the schema.

    With ``partial=True`` parts still to be measured (``null`` entries) are accepted, as in a
    build that was interrupted; otherwise every part must be present.
    """
    _check_header(where, data)
    fixed, layers = data.get("fixed"), data.get("layers")
    if fixed is not None:
        if not isinstance(fixed, dict) or set(fixed) != set(FIXED_PARTS):
            raise _fail(where, f"'fixed' must hold exactly {FIXED_PARTS}")
        for name in FIXED_PARTS:
            _check_stats(f"{where}, fixed part {name}", fixed[name])
    if not isinstance(layers, list) or len(layers) != NUM_LAYERS:
        raise _fail(where, f"'layers' must be a list of {NUM_LAYERS} entries")
    names = {str(c) for c in CHOICES}
    for i, layer in enumerate(layers):
        if layer is None:
            continue
        lw = f"{where}, layer {i + 1}"
        if not isinstance(layer, dict) or layer.get("layer") != i + 1:
            raise _fail(lw, f"expected an object with \"layer\": {i + 1}")
        choices = layer.get("choices")
        if not isinstance(choices, dict) or set(choices) != names:
            got = set(choices) if isinstance(choices, dict) else set()
            raise _fail(lw, f"needs all {len(names)} choices; missing "
                            f"{sorted(names - got) or 'none'}, "
                            f"unknown {sorted(got - names) or 'none'}")
        for name, stats in choices.items():
            _check_stats(f"{lw}, choice {name}", stats)
    if "correction" in data:
        _check_correction(where, data["correction"])
    if not partial:
        missing = missing_parts(data)
        if missing:
            raise _fail(where, f"incomplete table, missing {', '.join(missing)}; resume the build "
                               f"with the same `moga-zoo lut build ... -o FILE` command")


def missing_parts(data: dict[str, Any]) -> list[str]:
    """Names of the parts a (partial) table still lacks, in build order."""
    missing = [] if data.get("fixed") is not None else ["fixed parts"]
    missing += [f"layer {i + 1}" for i, layer in enumerate(data["layers"]) if layer is None]
    if "correction" not in data:
        missing.append("end-to-end correction")
    return missing
