"""One cache folder: the ONNX export cache and the installed weights both live under it."""
from __future__ import annotations

from pathlib import Path

import torch.nn as nn

from moga_zoo.cache import cache_dir
from moga_zoo.inference import onnx_cache_path
from moga_zoo.weights import weights_dir


def test_cache_folder_precedence(monkeypatch, tmp_path):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("MOGA_ZOO_CACHE", raising=False)
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    assert cache_dir() == tmp_path / "home" / ".cache" / "moga_zoo"
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_dir() == tmp_path / "xdg" / "moga_zoo"
    monkeypatch.setenv("MOGA_ZOO_CACHE", "~/mz")
    assert cache_dir() == tmp_path / "home" / "mz"


def test_exports_and_weights_share_the_cache_folder(monkeypatch, tmp_path):
    monkeypatch.setenv("MOGA_ZOO_CACHE", str(tmp_path / "c"))
    monkeypatch.delenv("MOGA_ZOO_WEIGHTS", raising=False)
    assert weights_dir() == tmp_path / "c" / "weights"
    assert onnx_cache_path(nn.Linear(2, 2), (2,)).parent == tmp_path / "c" / "onnx"
    monkeypatch.setenv("MOGA_ZOO_WEIGHTS", str(tmp_path / "w"))
    assert weights_dir() == Path(tmp_path / "w")
