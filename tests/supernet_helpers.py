"""Shared pieces of the supernet tests: tiny fake Fashion-MNIST files, input-sensitive BN."""
from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn

from search_repro.supernet import Supernet

TINY = dict(num_classes=10, in_chans=1, channel_multiplier=0.25)


def write_idx(path: Path, array: np.ndarray, magic: int) -> None:
    header = np.array([magic, *array.shape], dtype=">i4").tobytes()
    with gzip.open(path, "wb") as f:
        f.write(header + array.astype(np.uint8).tobytes())


def fake_fashion_mnist(root: Path, n_train: int = 400, n_test: int = 64, seed: int = 0) -> Path:
    """Fashion-MNIST-format files whose class is visible in the image (a bright row band)."""
    rng = np.random.default_rng(seed)
    root.mkdir(parents=True, exist_ok=True)
    for split, n in (("train", n_train), ("t10k", n_test)):
        labels = rng.integers(0, 10, n)
        images = rng.integers(0, 60, (n, 28, 28))
        for i, y in enumerate(labels):
            images[i, 2 * y + 4:2 * y + 7] = 250
        write_idx(root / f"{split}-images-idx3-ubyte.gz", images, 2051)
        write_idx(root / f"{split}-labels-idx1-ubyte.gz", labels, 2049)
    return root


def randomise_bn(module: nn.Module, seed: int = 0) -> None:
    """Random BN affine parameters so that outputs depend on the input (docs/moga-facts.md: a testing pitfall)."""
    g = torch.Generator().manual_seed(seed)
    for m in module.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.weight.data = torch.rand(m.weight.shape, generator=g) + 0.5
            m.bias.data = torch.rand(m.bias.shape, generator=g) - 0.5


def tiny_supernet(seed: int = 0) -> Supernet:
    torch.manual_seed(seed)
    net = Supernet(**TINY)
    randomise_bn(net, seed)
    return net
