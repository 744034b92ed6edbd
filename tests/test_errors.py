"""One error family: every project error derives from MogaZooError; the CLI prints exactly those
as one line (exit 2); the dataclass-to-options helper handles booleans and optional fields."""
from __future__ import annotations

import argparse
import importlib
import inspect
import pkgutil
from dataclasses import dataclass

import pytest

import moga_zoo
import search_repro
from moga_zoo.cli import main
from moga_zoo.cli.options import Range, add_dataclass_options, dataclass_from_args
from moga_zoo.errors import MogaZooError, one_line


def _project_exceptions() -> list[type]:
    found = []
    for package in (moga_zoo, search_repro):
        for info in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
            if info.name.endswith("__main__"):
                continue
            module = importlib.import_module(info.name)
            found += [c for _, c in inspect.getmembers(module, inspect.isclass)
                      if issubclass(c, BaseException) and c.__module__ == info.name]
    return found


def test_every_project_exception_is_a_moga_zoo_error():
    classes = _project_exceptions()
    names = {c.__name__ for c in classes}
    assert {"ArchitectureError", "WeightsError", "ManifestError", "ConversionError", "ExportError",
            "ImageLoadError", "StateError", "DataError", "CheckpointError", "TableFormatError"} <= names
    assert [c.__name__ for c in classes if not issubclass(c, MogaZooError)] == []


def test_cli_lets_a_bug_surface(monkeypatch, capsys):
    """A ValueError from deep inside (numpy, torch, a bug of ours) is not a user mistake."""
    import moga_zoo.summary as summary

    def broken(name, resolution):
        raise ValueError("a bug")
    monkeypatch.setattr(summary, "describe", broken)
    with pytest.raises(ValueError, match="a bug"):
        main(["info", "moga_a"])


def test_one_line_shortens_long_quoted_values():
    line = one_line(ValueError("bad 'x" + "y" * 100_000 + "'\nnext line"))
    assert "\n" not in line and len(line) < 300 and "more characters" in line and line.endswith("next line")


@dataclass(frozen=True)
class _Settings:
    out: str
    steps: int = 3
    lr: float = 0.1
    limit: float | None = None
    fast: bool = True


def test_dataclass_options_cover_types_booleans_and_optionals():
    with pytest.raises(TypeError, match="--limit has no declared range"):
        add_dataclass_options(argparse.ArgumentParser(), _Settings)
    p = argparse.ArgumentParser()
    add_dataclass_options(p, _Settings, help_text={"out": "folder"},
                          parsers={"limit": Range(float, 0.0, 10.0)})  # --steps, --lr: RANGES
    assert dataclass_from_args(_Settings, p.parse_args(["--out", "o"])) == _Settings("o")
    args = p.parse_args(["--out", "o", "--steps", "5", "--lr", "1e-3", "--limit", "2.5", "--no-fast"])
    assert dataclass_from_args(_Settings, args) == _Settings("o", 5, 1e-3, 2.5, False)
    with pytest.raises(SystemExit):
        p.parse_args([])  # --out has no default: required
    with pytest.raises(SystemExit):
        p.parse_args(["--out", "o", "--steps", "x"])
    only = argparse.ArgumentParser()
    add_dataclass_options(only, _Settings, only=["steps"])
    assert vars(only.parse_args([])) == {"steps": 3}
