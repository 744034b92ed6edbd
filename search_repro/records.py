"""The schema of every record the reproduction reads back from disk (one pydantic model per kind),
read with :func:`moga_zoo.records.read_record`: stand-alone runs, supernet sidecars, search
fronts, the verification's picks and latency rounds.

Each model checks values as well as types (finite, accuracies in [0, 1], positive counts, valid
architecture strings), so NaN, a truncated file or a record of another shape is named in one
line and never reaches a result.
"""
from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Optional

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from moga_zoo.records import RECORD_CONFIG, check_record, read_record
from moga_zoo.search_space import NUM_CHOICES, NUM_LAYERS, Architecture

__all__ = ["StandaloneRun", "SupernetSidecar", "Front", "Picks", "LatencyRounds", "read_run_record",
           "check_run_record", "RUN_HINT"]


def _architecture(text: str) -> str:
    Architecture.from_string(text)
    return text


Arch = Annotated[str, AfterValidator(_architecture)]
Codes = Annotated[list[Annotated[int, Field(ge=0, lt=NUM_CHOICES)]],
                  Field(min_length=NUM_LAYERS, max_length=NUM_LAYERS)]
Fraction = Annotated[float, Field(ge=0.0, le=1.0)]
NonNegative = Annotated[float, Field(ge=0.0)]
Positive = Annotated[float, Field(gt=0.0)]
Count = Annotated[int, Field(ge=1)]


class _Record(BaseModel):
    model_config = ConfigDict(**RECORD_CONFIG)


class Proxy(_Record):
    task: str
    resolution: Count
    strides: Optional[Annotated[list[Annotated[int, Field(ge=1, le=2)]],
                                Field(min_length=NUM_LAYERS, max_length=NUM_LAYERS)]] = None
    channel_multiplier: Optional[Positive] = None
    search_val_size: Optional[Count] = None
    data_seed: Optional[Annotated[int, Field(ge=0)]] = None


class Recipe(_Record):
    epochs: Positive
    batch_size: Optional[Count] = None
    lr: Optional[Positive] = None
    momentum: Optional[NonNegative] = None
    weight_decay: Optional[NonNegative] = None
    warmup_epochs: Optional[NonNegative] = None
    label_smoothing: Optional[Fraction] = None
    clip_grad_norm: Optional[NonNegative] = None
    ema_decay: Optional[Fraction] = None


class StandaloneRun(_Record):
    """One stand-alone training run (``.../<architecture>/seed<k>.json``): what every reader
    needs is required, the rest is checked where present."""

    arch: Arch
    seed: Annotated[int, Field(ge=0)]
    test_accuracy: Fraction
    params: Count
    macs: Count
    proxy: Proxy
    recipe: Recipe
    codes: Optional[Codes] = None
    test_nll: Optional[NonNegative] = None
    search_val_accuracy: Optional[Fraction] = None
    search_val_nll: Optional[NonNegative] = None
    final_loss_mean_last_10pct: Optional[NonNegative] = None
    loss_curve: list[float] = []
    steps: Optional[Count] = None
    train_seconds: Optional[NonNegative] = None
    reused_from: Optional[str] = None
    trained_weights_test_accuracy: Optional[Fraction] = None


RUN_HINT = "remove it, or rerun the step that wrote it"


def read_run_record(path: "str | Path") -> dict:
    """A stand-alone run's record, checked."""
    return read_record(path, StandaloneRun, "stand-alone run record", RUN_HINT)


def check_run_record(data: Any, where: str) -> dict:
    return check_record(data, StandaloneRun, where, "stand-alone run record", RUN_HINT)


class _SupernetModel(_Record):
    num_classes: Count
    in_chans: Count
    channel_multiplier: Positive


class _SupernetTraining(_Record):
    resolution: Optional[Count] = None
    search_val_size: Optional[Count] = None
    seed: Optional[Annotated[int, Field(ge=0)]] = None
    task: Optional[str] = None


class SupernetSidecar(_Record):
    """The ``.json`` beside a trained supernet's ``.safetensors``."""

    format: str
    space_hash: str
    model: _SupernetModel
    weights: str
    sha256: Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]
    bytes: Count
    training: _SupernetTraining
    log_summary: dict[str, Any]


class _FrontMember(_Record):
    arch: Arch
    codes: Codes
    accuracy: Fraction
    latency_ms: Positive


class _Reference(_Record):
    set: str
    accuracy: Fraction


class Front(_Record):
    """A search's ``front.json`` (what :mod:`search_repro.verify` reads of it)."""

    config: dict[str, Any]
    front: list[_FrontMember]
    references: list[_Reference] = []


class _Pick(_Record):
    arch: Arch
    codes: Codes
    supernet_accuracy: Fraction
    latency_ms: Positive


class _PickEntry(_Record):
    model: str
    model_latency_ms: Positive
    qualifying: Annotated[int, Field(ge=0)]
    pick: Optional[_Pick]
    reason: Optional[str]
    model_supernet_accuracy: Optional[Fraction] = None


class _Device(_Record):
    type: str
    name: str
    threads: Count


class _Search(_Record):
    label: str
    results: str
    table: str
    table_device: _Device
    table_runtime: dict[str, Any]
    resolution: Count
    batch: Count
    supernet_sha256: Optional[str]
    front_size: Annotated[int, Field(ge=0)]
    picks: dict[str, _PickEntry]


class Picks(_Record):
    """``picks.json`` of a verification folder."""

    command: str
    rule: str
    searches: Annotated[list[_Search], Field(min_length=1)]


class _Target(_Record):
    key: str
    device: str
    runtime: str
    threads: Count


class _LatencySettings(_Record):
    resolution: Count
    batch: Count
    warmup: Annotated[int, Field(ge=0)]
    repeats: Count
    seed: Annotated[int, Field(ge=0)]


class LatencyRounds(_Record):
    """``latency.json`` of a verification folder: round medians by runtime and architecture."""

    settings: _LatencySettings
    targets: list[_Target]
    architectures: list[Arch]
    machine: dict[str, Any]
    rounds: list[dict[str, dict[str, Positive]]]
