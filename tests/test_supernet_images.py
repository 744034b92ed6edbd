"""The evaluator's cached uint8 images and the batched training data: the numbers of the
per-image dataset path, a cache that is used, keyed and never keeps a corrupt file."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from supernet_helpers import fake_fashion_mnist, tiny_supernet
from torch.utils.data import DataLoader

from moga_zoo.cache import cache_dir
from moga_zoo.search_space import MOGA_A, MOGA_B
from search_repro.data import load_splits
from search_repro.supernet import SupernetEvaluator, save_supernet
from search_repro.supernet.images import calibration_indices, scoring_images, train_batches
from search_repro.supernet.train import StepBatchSampler

TASK = "canvas:scale=0.5-0.9"
TRAINING = {"resolution": 32, "search_val_size": 40, "seed": 0, "task": TASK}


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    return fake_fashion_mnist(tmp_path_factory.mktemp("fmnist"), n_train=300, n_test=20)


@pytest.fixture(scope="module")
def splits(root):
    return load_splits(root, 32, 40, 0, TASK)


def test_training_batches_equal_the_per_image_loader(splits):
    sampler = StepBatchSampler(len(splits.train), 32, 12, seed=3)
    fast = list(train_batches(splits.train, sampler))
    slow = list(DataLoader(splits.train, batch_sampler=sampler))
    assert len(fast) == len(slow) == 12
    for (x, y), (x0, y0) in zip(fast, slow):
        assert x.dtype == x0.dtype and torch.equal(x, x0) and torch.equal(y, y0)
    assert fast[0][0].std() > 0.1
    # with loader workers asked for, the DataLoader path is taken (same numbers)
    x, y = next(iter(train_batches(splits.train, sampler, workers=1)))
    assert torch.equal(x, slow[0][0])


def test_scoring_images_cached_equal_the_dataset_and_survive_corruption(root, splits):
    meta = {"training": TRAINING}
    folder = cache_dir() / "scoring-images"
    before = set(folder.glob("*.npz")) if folder.is_dir() else set()
    first = scoring_images(meta, str(root), 1, 32)          # renders, fills the cache
    written = set(folder.glob("*.npz")) - before
    assert len(written) == 1
    idx = calibration_indices(len(splits.train), 32, 1)
    assert torch.equal(first.calib, torch.stack([splits.train[int(i)][0] for i in idx]))
    assert torch.equal(first.val, torch.stack([splits.search_val[i][0] for i in range(40)]))
    assert first.labels.tolist() == [splits.search_val[i][1] for i in range(40)]
    again = scoring_images(meta, str(root), 1, 32, val_size=25)   # from the cache
    assert torch.equal(again.calib, first.calib) and torch.equal(again.val, first.val[:25])
    other = scoring_images(meta, str(root), 2, 32)           # other calibration seed: new key
    assert not torch.equal(other.calib, first.calib)
    path = written.pop()
    blob = bytearray(path.read_bytes())
    blob[len(blob) // 2] ^= 0xFF                              # a flipped byte in the images
    path.write_bytes(bytes(blob))
    healed = scoring_images(meta, str(root), 1, 32)
    assert torch.equal(healed.val, first.val) and torch.equal(healed.calib, first.calib)
    assert np.load(path)["val"].shape == (40, 32, 32)         # rebuilt whole


def test_evaluator_scores_the_same_from_the_cache_and_from_loaded_data(tmp_path, root, splits):
    weights = save_supernet(tmp_path / "sn", tiny_supernet(4), TRAINING, {})
    settings = dict(calib_batches=2, calib_batch_size=16, eval_batch_size=16)
    cached = SupernetEvaluator.from_checkpoint(weights, str(root), **settings)
    loaded = SupernetEvaluator.from_checkpoint(weights, str(root), data=splits, **settings)
    codes = np.array([MOGA_A.encode(), MOGA_B.encode()])
    np.testing.assert_array_equal(cached.accuracy(codes), loaded.accuracy(codes))
    assert cached.describe()["data"] == loaded.describe()["data"] == splits.source


def test_an_unwritable_cache_is_skipped_and_old_entries_are_pruned(root, tmp_path, monkeypatch):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    monkeypatch.setenv("MOGA_ZOO_CACHE", str(blocker / "cache"))
    meta = {"training": TRAINING}
    images = scoring_images(meta, str(root), 0, 16)     # renders, cannot store: still works
    assert images.calib.shape == (16, 1, 32, 32)
    monkeypatch.setenv("MOGA_ZOO_CACHE", str(tmp_path / "cache"))
    folder = tmp_path / "cache" / "scoring-images"
    folder.mkdir(parents=True)
    for i in range(5):
        (folder / f"old{i}.npz").write_bytes(b"x")
    scoring_images(meta, str(root), 0, 16)
    kept = sorted(f.name for f in folder.glob("*.npz"))
    assert len(kept) == 4 and not {"old0.npz", "old1.npz"} & set(kept)
