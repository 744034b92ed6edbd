"""Data for supernet training and architecture scoring: Fashion-MNIST or an ImageNet-style folder.

Both sources give the same three splits:

* ``train``: training images minus a fixed held-out part (supernet and stand-alone training,
  BatchNorm recalibration);
* ``search_val``: the held-out part of the training set, fixed by ``seed``; the search scores
  architectures on it;
* ``test``: the official test set (``val/`` of a folder); used only for final reporting.
"""
from __future__ import annotations

import gzip
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import Dataset, Subset

from moga_zoo.errors import MogaZooError

__all__ = ["DataError", "DataSplits", "FASHION_MNIST_DIR", "load_splits", "load_fashion_mnist",
           "FASHION_MNIST_MEAN", "FASHION_MNIST_STD"]

FASHION_MNIST_DIR = Path("/usr/share/datasets/fashion-mnist")
FASHION_MNIST_MEAN, FASHION_MNIST_STD = 0.2860, 0.3530
_FMNIST_FILES = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}
_INSTALL_HINT = ("install it with `apt-get install dataset-fashion-mnist` (files land in "
                 f"{FASHION_MNIST_DIR}), or pass --data-root with train/ and val/ class folders")


class DataError(MogaZooError, ValueError):
    """Missing or malformed data; the message says where we looked and what to do."""


@dataclass
class DataSplits:
    """Training, held-out search-validation and test splits, with what a model needs to know."""

    train: Dataset
    search_val: Dataset
    test: Dataset
    num_classes: int
    in_chans: int
    resolution: int
    source: str

    def describe(self) -> dict:
        return {"source": self.source, "num_classes": self.num_classes, "in_chans": self.in_chans,
                "resolution": self.resolution, "train": len(self.train),
                "search_val": len(self.search_val), "test": len(self.test)}


class _ImageTensor(Dataset):
    """uint8 images held in memory, resized and normalised on access."""

    def __init__(self, images: torch.Tensor, labels: torch.Tensor, resolution: int) -> None:
        self.images, self.labels, self.resolution = images, labels, resolution

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        x = self.images[index].float().div_(255.0)[None, None]
        if x.shape[-1] != self.resolution:
            x = F.interpolate(x, size=(self.resolution, self.resolution), mode="bilinear",
                              align_corners=False)
        x = (x[0] - FASHION_MNIST_MEAN) / FASHION_MNIST_STD
        return x, int(self.labels[index])


def _read_idx(path: Path, magic: int, ndim: int) -> np.ndarray:
    if not path.is_file():
        raise DataError(f"Fashion-MNIST file not found: {path}; {_INSTALL_HINT}")
    try:
        with gzip.open(path, "rb") as f:
            raw = f.read()
    except (OSError, EOFError) as e:
        raise DataError(f"cannot read {path} ({e}); reinstall it: {_INSTALL_HINT}") from None
    header = np.frombuffer(raw[:4 * (1 + ndim)], dtype=">i4") if len(raw) >= 4 * (1 + ndim) else []
    if len(header) != 1 + ndim or header[0] != magic:
        raise DataError(f"{path} is not an IDX file with magic {magic}; reinstall it: "
                        f"{_INSTALL_HINT}")
    shape = tuple(int(n) for n in header[1:])
    data = np.frombuffer(raw, dtype=np.uint8, offset=4 * (1 + ndim))
    if data.size != int(np.prod(shape)):
        raise DataError(f"{path} is truncated ({data.size} of {int(np.prod(shape))} bytes); "
                        f"reinstall it: {_INSTALL_HINT}")
    return data.reshape(shape)


def load_fashion_mnist(root: "str | os.PathLike | None" = None
                       ) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """``{"train": (images, labels), "test": (...)}`` as uint8 arrays from the IDX files."""
    folder = Path(root) if root is not None else FASHION_MNIST_DIR
    out = {}
    for split, (images_name, labels_name) in _FMNIST_FILES.items():
        images = _read_idx(folder / images_name, 2051, 3)
        labels = _read_idx(folder / labels_name, 2049, 1)
        if len(images) != len(labels) or labels.max(initial=0) > 9:
            raise DataError(f"{folder}: {split} images and labels do not match; reinstall: "
                            f"{_INSTALL_HINT}")
        out[split] = (images, labels)
    return out


def _held_out(n: int, size: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    if not 0 < size < n:
        raise DataError(f"search_val_size must be between 1 and {n - 1} for {n} training "
                        f"images, got {size}")
    order = np.random.default_rng(seed).permutation(n)
    return np.sort(order[size:]), np.sort(order[:size])


def _fashion_mnist_splits(root: "Path | None", resolution: int, search_val_size: int,
                          seed: int) -> DataSplits:
    arrays = load_fashion_mnist(root)
    images, labels = (torch.from_numpy(a.copy()) for a in arrays["train"])
    train_idx, val_idx = _held_out(len(labels), search_val_size, seed)
    test_images, test_labels = (torch.from_numpy(a.copy()) for a in arrays["test"])
    return DataSplits(
        train=_ImageTensor(images[train_idx], labels[train_idx], resolution),
        search_val=_ImageTensor(images[val_idx], labels[val_idx], resolution),
        test=_ImageTensor(test_images, test_labels, resolution),
        num_classes=10, in_chans=1, resolution=resolution,
        source=f"fashion-mnist:{root or FASHION_MNIST_DIR}")


def _folder_splits(root: Path, resolution: int, search_val_size: int, seed: int) -> DataSplits:
    from timm.data import create_transform
    from torchvision.datasets import ImageFolder

    train_tf = create_transform(resolution, is_training=True)
    eval_tf = create_transform(resolution, is_training=False)
    try:
        train_aug = ImageFolder(str(root / "train"), transform=train_tf)
        train_plain = ImageFolder(str(root / "train"), transform=eval_tf)
        test = ImageFolder(str(root / "val"), transform=eval_tf)
    except (FileNotFoundError, RuntimeError) as e:
        raise DataError(f"{root}: expected train/<class>/<image> and val/<class>/<image> "
                        f"folders ({e})") from None
    if train_aug.classes != test.classes:
        raise DataError(f"{root}: train/ and val/ have different class folders")
    train_idx, val_idx = _held_out(len(train_aug), search_val_size, seed)
    return DataSplits(
        train=Subset(train_aug, train_idx.tolist()),
        search_val=Subset(train_plain, val_idx.tolist()),
        test=test, num_classes=len(train_aug.classes), in_chans=3, resolution=resolution,
        source=f"folder:{root}")


def load_splits(data_root: "str | os.PathLike | None" = None, resolution: int = 32,
                search_val_size: int = 5000, seed: int = 0) -> DataSplits:
    """The three splits from ``data_root`` (None: the Debian Fashion-MNIST files).

    ``data_root`` may hold ``train/`` and ``val/`` class folders (ImageNet layout) or the four
    Fashion-MNIST ``*-ubyte.gz`` files. ``search_val_size`` training images, drawn with ``seed``,
    are held out as the search-validation split.
    """
    if resolution < 32 or resolution % 32:
        raise DataError(f"resolution must be a multiple of 32 (the network downsamples by 32), "
                        f"got {resolution}")
    if data_root is None:
        return _fashion_mnist_splits(None, resolution, search_val_size, seed)
    root = Path(data_root)
    if not root.is_dir():
        raise DataError(f"data root {root} is not a directory; give a folder with train/ and "
                        f"val/ class folders or the Fashion-MNIST files, or {_INSTALL_HINT}")
    if (root / "train").is_dir():
        return _folder_splits(root, resolution, search_val_size, seed)
    if (root / _FMNIST_FILES["train"][0]).exists():
        return _fashion_mnist_splits(root, resolution, search_val_size, seed)
    raise DataError(f"{root} holds neither train/ and val/ class folders nor the Fashion-MNIST "
                    f"files ({', '.join(n for pair in _FMNIST_FILES.values() for n in pair)}); "
                    f"{_INSTALL_HINT}")
