"""Supernet files: the trained weights (safetensors + JSON sidecar) and resumable training state.

A trained supernet is ``<name>.safetensors`` with ``<name>.json`` beside it: the model settings,
the space hash, the sha256 of the weights file (checked on load), the training config and a
summary of the training log. Training state for resuming is a ``torch.save`` file of tensors and
plain values, read back with ``weights_only=True``.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from moga_zoo.errors import MogaZooError
from moga_zoo.fileio import replace_atomic, sha256_file, write_json_atomic
from moga_zoo.records import RecordError, read_record
from moga_zoo.search_space import ArchitectureError, check_strides, space_hash
from moga_zoo.weights.border import loader_border

from ..records import SupernetSidecar
from .model import Supernet

__all__ = ["CheckpointError", "FORMAT", "save_supernet", "load_supernet", "read_sidecar",
           "save_state", "load_state"]

FORMAT = "moga-supernet/1"


class CheckpointError(MogaZooError, ValueError):
    """A supernet file that is missing, corrupted or made for another search space."""


def _paths(path: "str | os.PathLike") -> tuple[Path, Path]:
    p = Path(path)
    if p.is_dir():
        p = p / "supernet.safetensors"
    if p.is_file() and p.suffix not in (".safetensors", ".json"):
        raise CheckpointError(f"{p} is not a supernet checkpoint: give the .safetensors file written "
                              f"by `moga-zoo supernet train` (its .json sidecar beside it)")
    stem = p.with_suffix("") if p.suffix in (".safetensors", ".json") else p
    return stem.with_suffix(".safetensors"), stem.with_suffix(".json")


def save_supernet(path: "str | os.PathLike", supernet: Supernet, training: dict[str, Any],
                  log_summary: dict[str, Any]) -> Path:
    """Write ``<path>.safetensors`` and its ``.json`` sidecar; returns the weights path."""
    weights, sidecar = _paths(path)
    state = {k: v.detach().cpu().contiguous() for k, v in supernet.state_dict().items()}
    replace_atomic(weights, lambda tmp: save_file(state, tmp, metadata={"format": FORMAT}))
    meta = {"format": FORMAT, "space_hash": space_hash(), "model": supernet.config,
            "weights": weights.name, "sha256": sha256_file(weights), "bytes": weights.stat().st_size,
            "training": training, "log_summary": log_summary}
    write_json_atomic(sidecar, meta)
    return weights


def read_sidecar(path: "str | os.PathLike") -> dict[str, Any]:
    """The JSON sidecar of a supernet file (weights path, sidecar path or folder)."""
    _, sidecar = _paths(path)
    if not sidecar.is_file():
        raise CheckpointError(f"no supernet sidecar {sidecar}; a supernet is a .safetensors file "
                              f"with its .json beside it, as written by `moga-zoo supernet train`")
    try:
        meta = read_record(sidecar, SupernetSidecar, "supernet sidecar",
                           "re-train the supernet or restore the file")
    except RecordError as e:
        raise CheckpointError(str(e)) from None
    if meta.get("format") != FORMAT:
        raise CheckpointError(f"{sidecar}: format {meta.get('format')!r}, expected {FORMAT!r}")
    return meta


def load_supernet(path: "str | os.PathLike") -> tuple[Supernet, dict[str, Any]]:
    """Load and verify a trained supernet; returns it (in eval mode) and its sidecar."""
    weights, sidecar = _paths(path)
    meta = read_sidecar(sidecar)
    if not weights.is_file():
        raise CheckpointError(f"supernet weights {weights} not found (named by {sidecar})")
    digest = sha256_file(weights)
    if digest != meta["sha256"]:
        raise CheckpointError(f"{weights}: sha256 {digest} does not match {meta['sha256']} "
                              f"recorded in {sidecar.name}; the file is corrupted or replaced")
    if meta["space_hash"] != space_hash():
        raise CheckpointError(f"{weights} was trained for search space {meta['space_hash']}, "
                              f"this code defines {space_hash()}; retrain the supernet")
    try:
        supernet = Supernet(**meta["model"])
        trained = meta.get("training", {}).get("strides")
        trained = supernet.config["strides"] if trained is None else list(check_strides(trained))
    except (TypeError, ArchitectureError) as e:
        raise CheckpointError(f"{sidecar.name}: invalid model settings {meta['model']} ({e})"
                              ) from None
    if trained != supernet.config["strides"]:
        raise CheckpointError(f"{sidecar.name}: the model's stride schedule "
                              f"{supernet.config['strides']} differs from the one it was "
                              f"trained with ({trained})")
    with loader_border(str(weights)):
        supernet.load_state_dict(load_file(str(weights)), strict=True)
    return supernet.eval(), meta


def save_state(path: "str | os.PathLike", state: dict[str, Any]) -> None:
    """Resumable training state (tensors and plain values only)."""
    replace_atomic(path, lambda tmp: torch.save(state, tmp))


def load_state(path: "str | os.PathLike") -> dict[str, Any]:
    with loader_border(str(path)):
        return torch.load(path, map_location="cpu", weights_only=True)
