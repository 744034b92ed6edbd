"""Batched images of the proxy: the evaluator's (cached as uint8) and training batches.

Rendering the proxy's canvases takes seconds of every search's start-up, while the evaluator
needs only the search-validation split and a few hundred calibration images. For Fashion-MNIST
tasks whose images are stored at the network's resolution (the canvas tasks), those images are
kept as uint8 in ``<cache>/scoring-images/<key>.npz`` (:func:`moga_zoo.cache.cache_dir`), written
atomically, and normalised on load exactly as the dataset normalises them. The key covers the
data folder and its files' sha256, the task, resolution, split and calibration settings, the
source of :mod:`search_repro.data` (a change to the rendering is a new key) and the torch
version; a file that does not read back whole (zip CRC) is deleted and rebuilt, and only the
newest few files are kept.

:func:`train_batches` cuts each training batch from the same uint8 images in one go instead of
image by image through a ``DataLoader`` (the same numbers, fewer small operations per step).
"""
from __future__ import annotations

import hashlib
import inspect
import json
import os
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np
import torch

from torch.utils.data import DataLoader

from moga_zoo.cache import cache_dir
from moga_zoo.errors import UsageError
from moga_zoo.fileio import replace_atomic, sha256_file

__all__ = ["ScoringImages", "scoring_images", "calibration_indices", "train_batches"]


@dataclass
class ScoringImages:
    """Normalised float32 images (N, C, H, W) for calibration and validation, with labels."""

    calib: torch.Tensor
    val: torch.Tensor
    labels: torch.Tensor
    num_classes: int
    in_chans: int
    source: str


def calibration_indices(train_size: int, count: int, seed: int) -> np.ndarray:
    """Which training images calibrate the BatchNorms (fixed by ``seed``)."""
    return np.random.default_rng(seed).choice(train_size, count, replace=False)


def _uint8_store(dataset) -> "tuple[torch.Tensor, torch.Tensor, float, float] | None":
    """(uint8 images, labels, mean, std) of an in-memory Fashion-MNIST split stored at the
    network's resolution, else None (the only place that reads the dataset's fields)."""
    images = getattr(dataset, "images", None)
    if not isinstance(images, torch.Tensor) or images.dtype != torch.uint8 \
            or images.shape[-1] != getattr(dataset, "resolution", None):
        return None
    return images, dataset.labels, float(dataset.mean), float(dataset.std)


def _normalise(images: torch.Tensor, mean: float, std: float) -> torch.Tensor:
    """(N, H, W) uint8 -> (N, 1, H, W) float32, the same arithmetic as the dataset per image."""
    return (images.float().div_(255.0)[:, None] - mean) / std


def _key(meta: dict, data_root: "str | None", calib_seed: int, n_calib: int) -> "str | None":
    from search_repro import data

    train = meta["training"]
    task = data.parse_task(train.get("task", "plain"))
    root = Path(data_root) if data_root is not None else data.FASHION_MNIST_DIR
    files = sorted(root.glob("*-ubyte.gz")) if root.is_dir() else []
    if task is None or len(files) < 4:
        return None  # plain Fashion-MNIST is resized per image; folders are not cached
    try:
        code = inspect.getsource(data)
    except (OSError, TypeError):
        return None  # no source to key on (e.g. a zipped install): render every time
    ident = {"root": str(root.resolve()), "task": task.describe(),
             "files": {f.name: sha256_file(f) for f in files},
             "resolution": train["resolution"], "search_val_size": train["search_val_size"],
             "seed": train["seed"], "calib_seed": calib_seed, "calib_images": n_calib,
             "data_code": hashlib.sha256(code.encode()).hexdigest(), "torch": torch.__version__}
    return hashlib.sha256(json.dumps(ident, sort_keys=True).encode()).hexdigest()[:32]


def _read(path: Path) -> "dict | None":
    try:
        with np.load(path) as npz:
            out = {k: npz[k] for k in ("calib", "val", "labels", "norm", "info")}
        info = json.loads(bytes(out["info"]).decode())
        return {**out, "info": info}
    except (FileNotFoundError, NotADirectoryError, PermissionError):
        return None
    except (OSError, ValueError, KeyError, zipfile.BadZipFile, EOFError):
        try:
            path.unlink(missing_ok=True)  # never keep a corrupt file
        except OSError:
            pass
        return None


#: Cache files kept (the newest): one per data version and calibration setting in use.
KEEP = 4


def _write(path: Path, payload: dict) -> None:
    """Store ``payload`` atomically and drop all but the :data:`KEEP` newest files; a cache
    that cannot be written (read-only home, full disk) is skipped, not an error."""
    def write(tmp: str) -> None:
        with open(tmp, "wb") as f:
            np.savez(f, **payload)
            f.flush()
            os.fsync(f.fileno())

    try:
        replace_atomic(path, write)
        files = sorted(path.parent.glob("*.npz"), key=lambda f: f.stat().st_mtime, reverse=True)
        for old in files[KEEP:]:
            old.unlink(missing_ok=True)
    except OSError:
        pass


def _from_arrays(entry: dict) -> ScoringImages:
    mean, std = (float(v) for v in entry["norm"])
    info = entry["info"]
    return ScoringImages(_normalise(torch.from_numpy(entry["calib"]), mean, std),
                         _normalise(torch.from_numpy(entry["val"]), mean, std),
                         torch.from_numpy(entry["labels"]).long(), info["num_classes"],
                         info["in_chans"], info["source"])


def scoring_images(meta: dict, data_root: "str | None", calib_seed: int, n_calib: int,
                   data=None, val_size: "int | None" = None) -> ScoringImages:
    """Calibration images (``n_calib``, drawn with ``calib_seed``) and the first ``val_size``
    (None: all) images of the search-validation split of the data the supernet described by
    ``meta`` was trained on.

    ``data`` (the loaded splits) skips loading; without it the uint8 cache is used where it
    applies, and filled on a miss.
    """
    images = _scoring_images(meta, data_root, calib_seed, n_calib, data, val_size)
    if val_size is not None:
        images.val, images.labels = images.val[:val_size], images.labels[:val_size]
    return images


def _check_sizes(val_size: "int | None", n_calib: int, search_val: int, train: int) -> None:
    if val_size is not None and val_size > search_val:
        raise UsageError(f"val_size {val_size} exceeds the search-validation split "
                         f"({search_val} images)")
    if n_calib > train:
        raise UsageError(f"{n_calib} calibration images were asked for; the training split has "
                         f"{train}")


def _scoring_images(meta: dict, data_root: "str | None", calib_seed: int, n_calib: int,
                    data, val_size: "int | None") -> ScoringImages:
    from .evaluator import load_checkpoint_data

    key = None if data is not None else _key(meta, data_root, calib_seed, n_calib)
    path = cache_dir() / "scoring-images" / f"{key}.npz" if key else None
    if path is not None:
        entry = _read(path)
        if entry is not None:
            _check_sizes(val_size, n_calib, len(entry["val"]), n_calib)
            return _from_arrays(entry)
    if data is None:
        data = load_checkpoint_data(meta, data_root)
    _check_sizes(val_size, n_calib, len(data.search_val), len(data.train))
    idx = calibration_indices(len(data.train), n_calib, calib_seed)
    train, val = _uint8_store(data.train), _uint8_store(data.search_val)
    if train is None or val is None or train[2:] != val[2:]:  # per image, through the dataset
        items = [data.search_val[i] for i in range(len(data.search_val))]
        return ScoringImages(torch.stack([data.train[int(i)][0] for i in idx]),
                             torch.stack([x for x, _ in items]),
                             torch.tensor([y for _, y in items]).long(), data.num_classes,
                             data.in_chans, data.source)
    info = {"num_classes": data.num_classes, "in_chans": data.in_chans, "source": data.source}
    entry = {"calib": train[0][torch.from_numpy(idx)].numpy(), "val": val[0].numpy(),
             "labels": val[1].numpy().astype(np.int64),
             "norm": np.array([val[2], val[3]], dtype=np.float64),
             "info": np.frombuffer(json.dumps(info).encode(), dtype=np.uint8)}
    if path is not None:
        _write(path, entry)
    return _from_arrays({**entry, "info": info})


def train_batches(dataset, batch_sampler: Iterable[list[int]], workers: int = 0
                  ) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """(images, labels) for each index list of ``batch_sampler``: cut from the dataset's uint8
    store in one go where it has one and no loader ``workers`` are asked for (the numbers are
    those of the per-image path), else through a ``DataLoader``."""
    store = _uint8_store(dataset)
    if store is None or workers:
        yield from DataLoader(dataset, batch_sampler=batch_sampler, num_workers=workers)
        return
    images, labels, mean, std = store
    for batch in batch_sampler:
        index = torch.as_tensor(batch, dtype=torch.long)
        yield _normalise(images[index], mean, std), labels[index].long()
