"""``weights_manifest.json``: one entry per ``model.tag``, its schema and validation.

The manifest is the single source of truth for pretrained weights: the hub repository and
pinned commit, the file's sha256 and size, the eval transform, license, provenance and metrics.
``MOGA_ZOO_MANIFEST=/path/to/manifest.json`` replaces the packaged manifest (mirrors, tests).
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from ..errors import MogaZooError
from ..records import RecordError, read_json

__all__ = [
    "MANIFEST_ENV", "SCHEMA_VERSION", "ManifestError", "Metric", "WeightsEntry", "Manifest",
    "manifest_path", "load_manifest", "parse_manifest",
]

MANIFEST_ENV = "MOGA_ZOO_MANIFEST"
SCHEMA_VERSION = 1
_PACKAGED = Path(__file__).with_name("weights_manifest.json")
_NAME = re.compile(r"^[a-z][a-z0-9_]*\.[a-z0-9_]+$")
_REPO_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*$")
_COMMIT = re.compile(r"^[0-9a-f]{40}$")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_INTERPOLATIONS = ("bilinear", "bicubic", "nearest")


class ManifestError(MogaZooError, ValueError):
    """A malformed weights manifest; the message names the file, the entry and the field."""


@dataclass(frozen=True)
class Metric:
    """An accuracy number, the data it was measured on and who measured it (script or citation)."""

    dataset: str
    top1: float
    top5: float | None
    script: str | None
    reported_by: str | None


@dataclass(frozen=True)
class WeightsEntry:
    """One pretrained-weights entry (``moga_a.in1k``)."""

    name: str
    default: bool
    published: bool
    hf_hub_id: str
    revision: str | None
    filename: str
    sha256: str | None
    size: int | None
    num_classes: int
    input_size: tuple[int, int, int]
    crop_pct: float
    interpolation: str
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    license: str
    source: str
    metrics: tuple[Metric, ...]

    @property
    def model(self) -> str:
        return self.name.split(".", 1)[0]

    @property
    def tag(self) -> str:
        return self.name.split(".", 1)[1]

    def pretrained_cfg(self) -> dict[str, Any]:
        """Fields of timm's pretrained config taken from this entry (``hf_hub_id`` once published)."""
        cfg: dict[str, Any] = {
            "num_classes": self.num_classes, "input_size": self.input_size,
            "crop_pct": self.crop_pct, "interpolation": self.interpolation,
            "mean": self.mean, "std": self.std, "license": self.license,
        }
        if self.published:
            cfg["hf_hub_id"] = self.hf_hub_id
            cfg["hf_hub_filename"] = self.filename
        return cfg


class Manifest:
    """A validated manifest: entries by name, the default tag of each model."""

    def __init__(self, entries: Mapping[str, WeightsEntry], path: str):
        self.entries = dict(entries)
        self.path = path

    def models(self) -> list[str]:
        return sorted({e.model for e in self.entries.values()})

    def default_name(self, model: str) -> str:
        for e in self.entries.values():
            if e.model == model and e.default:
                return e.name
        raise KeyError(f"{self.path}: no weights entry for model {model!r}; "
                       f"entries: {', '.join(self.entries) or '(none)'}")

    def entry(self, name: str) -> WeightsEntry:
        """The entry of ``model.tag``; a bare ``model`` means its default tag."""
        if "." not in name:
            name = self.default_name(name)
        try:
            return self.entries[name]
        except KeyError:
            raise KeyError(f"{self.path}: no weights entry {name!r}; entries: "
                           f"{', '.join(self.entries) or '(none)'}") from None

    def ordered_names(self) -> list[str]:
        """Entry names with each model's default first (timm takes the first tag as default)."""
        return sorted(self.entries, key=lambda n: (self.entries[n].model, not self.entries[n].default, n))


def manifest_path() -> Path:
    """``$MOGA_ZOO_MANIFEST`` if set, else the manifest shipped inside the package."""
    env = os.environ.get(MANIFEST_ENV)
    return Path(env).expanduser() if env else _PACKAGED


def load_manifest(path: str | os.PathLike | None = None) -> Manifest:
    """Read and validate a manifest (default: :func:`manifest_path`)."""
    path = Path(path) if path is not None else manifest_path()
    hint = f"it is set by ${MANIFEST_ENV}" if os.environ.get(MANIFEST_ENV) else ""
    try:
        data = read_json(path, "weights manifest", hint)
    except RecordError as e:
        raise ManifestError(str(e)) from None
    return parse_manifest(data, str(path))


def parse_manifest(data: Any, where: str = "<manifest>") -> Manifest:
    """Validate the decoded JSON of a manifest; every error names the entry and the field."""
    if not isinstance(data, dict):
        raise ManifestError(f"{where}: the top level must be a JSON object")
    if data.get("schema_version") != SCHEMA_VERSION:
        raise ManifestError(f"{where}: field 'schema_version' must be {SCHEMA_VERSION}, "
                            f"got {data.get('schema_version')!r}")
    raw = data.get("entries")
    if not isinstance(raw, dict):
        raise ManifestError(f"{where}: field 'entries' must be an object of 'model.tag' -> entry")
    entries = {name: _parse_entry(name, value, where) for name, value in raw.items()}
    for model in {e.model for e in entries.values()}:
        defaults = [e.name for e in entries.values() if e.model == model and e.default]
        if len(defaults) != 1:
            raise ManifestError(f"{where}: model {model!r} needs exactly one entry with "
                                f"\"default\": true, found {defaults or 'none'}")
    return Manifest(entries, where)


class _Fields:
    """Typed reads of one entry's fields with errors that name the entry and the field."""

    def __init__(self, name: str, raw: dict, where: str):
        self.name, self.raw, self.where = name, raw, where

    def fail(self, field: str, msg: str) -> ManifestError:
        return ManifestError(f"{self.where}: entry {self.name!r}: field {field!r}: {msg}")

    def get(self, field: str, types: type | tuple[type, ...], *, nullable: bool = False) -> Any:
        if field not in self.raw:
            raise self.fail(field, "missing")
        value = self.raw[field]
        if value is None and nullable:
            return None
        if isinstance(value, bool) and bool not in (types if isinstance(types, tuple) else (types,)):
            raise self.fail(field, f"expected {_type_names(types)}, got {value!r}")
        if not isinstance(value, types):
            raise self.fail(field, f"expected {_type_names(types)}"
                                   f"{' or null' if nullable else ''}, got {value!r}")
        return value

    def pattern(self, field: str, regex: re.Pattern, what: str, *, nullable: bool = False) -> str | None:
        value = self.get(field, str, nullable=nullable)
        if value is not None and not regex.match(value):
            raise self.fail(field, f"expected {what}, got {value!r}")
        return value

    def floats(self, field: str, n: int) -> tuple[float, ...]:
        value = self.get(field, list)
        if len(value) != n or not all(isinstance(v, (int, float)) and not isinstance(v, bool)
                                      for v in value):
            raise self.fail(field, f"expected a list of {n} numbers, got {value!r}")
        return tuple(float(v) for v in value)


def _type_names(types: type | tuple[type, ...]) -> str:
    types = types if isinstance(types, tuple) else (types,)
    return " or ".join({"str": "a string", "int": "an integer", "bool": "true/false",
                        "list": "a list", "float": "a number", "dict": "an object"}.get(t.__name__, t.__name__)
                       for t in types)


def _parse_entry(name: str, raw: Any, where: str) -> WeightsEntry:
    if not _NAME.match(name):
        raise ManifestError(f"{where}: entry name {name!r} must look like 'model.tag' (e.g. 'moga_a.in1k')")
    if not isinstance(raw, dict):
        raise ManifestError(f"{where}: entry {name!r} must be an object")
    f = _Fields(name, raw, where)
    published = f.get("published", bool)
    filename = f.get("filename", str)
    if not filename.endswith(".safetensors"):
        raise f.fail("filename", f"only .safetensors files are loaded, got {filename!r}")
    size = f.get("size", int, nullable=not published)
    if size is not None and size <= 0:
        raise f.fail("size", f"expected a positive number of bytes, got {size}")
    input_size = f.get("input_size", list)
    if len(input_size) != 3 or not all(isinstance(v, int) and not isinstance(v, bool) and v > 0
                                       for v in input_size):
        raise f.fail("input_size", f"expected [channels, height, width], got {input_size!r}")
    num_classes = f.get("num_classes", int)
    if num_classes <= 0:
        raise f.fail("num_classes", f"expected a positive integer, got {num_classes}")
    crop_pct = f.get("crop_pct", (int, float))
    if not 0 < crop_pct <= 1:
        raise f.fail("crop_pct", f"expected a number in (0, 1], got {crop_pct}")
    interpolation = f.get("interpolation", str)
    if interpolation not in _INTERPOLATIONS:
        raise f.fail("interpolation", f"expected one of {', '.join(_INTERPOLATIONS)}, got {interpolation!r}")
    metrics = f.get("metrics", list)
    return WeightsEntry(
        name=name,
        default=f.get("default", bool),
        published=published,
        hf_hub_id=f.pattern("hf_hub_id", _REPO_ID, "'org/name'"),
        revision=f.pattern("revision", _COMMIT, "a 40-hex-digit commit hash (pin a commit, not a branch)",
                           nullable=not published),
        filename=filename,
        sha256=f.pattern("sha256", _SHA256, "64 lowercase hex digits", nullable=not published),
        size=size,
        num_classes=num_classes,
        input_size=tuple(input_size),
        crop_pct=float(crop_pct),
        interpolation=interpolation,
        mean=f.floats("mean", 3),
        std=f.floats("std", 3),
        license=f.get("license", str),
        source=f.get("source", str),
        metrics=tuple(_parse_metric(f, i, m) for i, m in enumerate(metrics)),
    )


def _parse_metric(f: _Fields, i: int, raw: Any) -> Metric:
    field = f"metrics[{i}]"
    if not isinstance(raw, dict):
        raise f.fail(field, "expected an object with dataset, top1, top5, script, reported_by")
    sub = _Fields(f.name, raw, f.where)
    sub.fail = lambda k, msg: f.fail(f"{field}.{k}", msg)  # type: ignore[method-assign]
    script = sub.get("script", str, nullable=True)
    reported_by = sub.get("reported_by", str, nullable=True)
    if not script and not reported_by:
        raise f.fail(field, "name the script that measured it ('script') or who reported it ('reported_by')")
    return Metric(dataset=sub.get("dataset", str), top1=float(sub.get("top1", (int, float))),
                  top5=sub.get("top5", (int, float), nullable=True), script=script, reported_by=reported_by)
