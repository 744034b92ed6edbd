"""Proxy data: fixed held-out search-validation split, clear errors for missing/malformed data."""
from __future__ import annotations

import gzip

import numpy as np
import pytest
import torch
from supernet_helpers import fake_fashion_mnist

from search_repro.data import DataError, load_splits


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    return fake_fashion_mnist(tmp_path_factory.mktemp("fmnist"), n_train=120, n_test=30)


def _images(ds) -> torch.Tensor:
    return torch.stack([ds[i][0] for i in range(len(ds))])


def test_splits_sizes_shapes_and_normalisation(root):
    d = load_splits(root, resolution=32, search_val_size=20, seed=0)
    assert (len(d.train), len(d.search_val), len(d.test)) == (100, 20, 30)
    assert (d.num_classes, d.in_chans, d.resolution) == (10, 1, 32)
    x, y = d.train[0]
    assert x.shape == (1, 32, 32) and x.dtype == torch.float32 and isinstance(y, int)
    assert -1 < float(_images(d.train).mean()) < 1


def test_held_out_split_is_fixed_by_seed_and_disjoint(root):
    a = load_splits(root, search_val_size=20, seed=0)
    b = load_splits(root, search_val_size=20, seed=0)
    c = load_splits(root, search_val_size=20, seed=1)
    assert torch.equal(_images(a.search_val), _images(b.search_val))
    assert not torch.equal(_images(a.search_val), _images(c.search_val))
    train = {tuple(x.flatten().tolist()) for x in _images(a.train)}
    assert not any(tuple(x.flatten().tolist()) in train for x in _images(a.search_val))


def test_missing_data_names_the_place_and_the_package(tmp_path):
    with pytest.raises(DataError, match="apt-get install dataset-fashion-mnist") as e:
        load_splits(tmp_path)
    assert str(tmp_path) in str(e.value)
    with pytest.raises(DataError, match="not a directory"):
        load_splits(tmp_path / "nowhere")


def test_malformed_files_are_reported(tmp_path):
    root = fake_fashion_mnist(tmp_path, n_train=30, n_test=10)
    path = root / "train-images-idx3-ubyte.gz"
    raw = gzip.decompress(path.read_bytes())
    path.write_bytes(gzip.compress(raw[:-50]))
    with pytest.raises(DataError, match="truncated"):
        load_splits(root, search_val_size=5)
    path.write_bytes(b"not gzip")
    with pytest.raises(DataError, match="reinstall"):
        load_splits(root, search_val_size=5)


def test_bad_settings(root):
    with pytest.raises(DataError, match="search_val_size"):
        load_splits(root, search_val_size=120)
    with pytest.raises(DataError, match="multiple of 16"):
        load_splits(root, resolution=28)
    with pytest.raises(DataError, match="unknown task 'mosaic'"):
        load_splits(root, task="mosaic")


def test_imagenet_style_folder(tmp_path):
    from PIL import Image

    rng = np.random.default_rng(0)
    for split, n in (("train", 6), ("val", 2)):
        for cls in ("cat", "dog"):
            (tmp_path / split / cls).mkdir(parents=True)
            for i in range(n):
                Image.fromarray(rng.integers(0, 255, (40, 40, 3), dtype=np.uint8)).save(
                    tmp_path / split / cls / f"{i}.png")
    d = load_splits(tmp_path, resolution=32, search_val_size=4)
    assert (len(d.train), len(d.search_val), len(d.test)) == (8, 4, 4)
    assert (d.num_classes, d.in_chans) == (2, 3)
    assert d.search_val[0][0].shape == (3, 32, 32)
    (tmp_path / "val" / "dog").rename(tmp_path / "val" / "bird")
    with pytest.raises(DataError, match="different class folders"):
        load_splits(tmp_path, search_val_size=4)
