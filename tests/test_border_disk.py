"""Class 5 of docs/bad-input.md: a full disk is one :class:`moga_zoo.fileio.DiskFullError` line
that names the file and the space it needs; no temp file is left and the previous file is intact.

Every writer goes through :func:`moga_zoo.fileio.replace_atomic` (the last test fails for one that
does not), so the table runs each kind of writer (TorchScript and ONNX export, a search's resume state, predict's export cache, JSON, the
``export`` command) against a small tmpfs that is full. Mounting needs root: elsewhere the tests
skip and say why.
"""
from __future__ import annotations

import ast
import errno
import subprocess
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn as nn

from border_support import check_one_line, run_cli
from moga_zoo.fileio import DiskFullError, write_json_atomic


@pytest.fixture
def disk(tmp_path):
    """An 8 MB tmpfs."""
    root = tmp_path / "disk"
    root.mkdir()
    try:
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(root)], check=True,
                       capture_output=True)
    except (OSError, subprocess.CalledProcessError) as e:
        pytest.skip(f"cannot mount a small tmpfs to fill (needs root): {e}")
    yield root
    subprocess.run(["umount", str(root)], check=True)


def _fill(disk: Path) -> None:
    """Take every free byte of ``disk``."""
    with open(disk / "filler", "wb") as f:
        try:
            while True:
                f.write(b"\0" * (1 << 16))
                f.flush()
        except OSError as e:
            assert e.errno == errno.ENOSPC


def _model() -> nn.Module:
    """A small network whose export (~2.5 MB) does not fit a full disk."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.Flatten(), nn.Linear(4 * 16 * 16, 600))
    model.pretrained_cfg = {"input_size": (3, 16, 16), "mean": (0.5,) * 3, "std": (0.5,) * 3,
                            "crop_pct": 1.0, "interpolation": "bilinear"}
    return model.eval()


def _state(path: Path) -> None:
    from search_repro.search.config import SearchConfig
    from search_repro.search.history import METRICS, History
    from search_repro.search.state import SearchState

    rows = np.unique(np.random.default_rng(0).integers(0, 12, (2000, 14)), axis=0)
    history = History()
    history.add(rows, 1, {m: np.ones(len(rows)) for m in METRICS})
    SearchState(SearchConfig(pop_size=6, generations=3), 1, {}, rows[:6], [0] * 6, [0.0] * 6,
                history, {}).save(path)


def _export(fmt: str):
    def write(path: Path) -> None:
        from moga_zoo.inference import export_model

        export_model(_model(), path, fmt, input_size=(3, 16, 16))
    return write


def _cache(path: Path) -> None:
    from moga_zoo.inference.runtimes import make_runner

    make_runner(_model(), "onnxruntime", input_size=(3, 16, 16), cache=path.parent)


#: writer id -> (file name on the disk, the writer)
WRITERS = {
    "torchscript-export": ("m.pt", _export("torchscript")),
    "onnx-export": ("m.onnx", _export("onnx")),
    "search-state": ("state.json", _state),
    "json": ("r.json", lambda p: write_json_atomic(p, {"rows": list(range(200_000))})),
}


@pytest.mark.parametrize("name", sorted(WRITERS))
def test_a_full_disk_is_one_error_and_the_old_file_stays(name, disk):
    filename, write = WRITERS[name]
    target = disk / filename
    write(target)  # a previous good file, while there is room
    old = target.read_bytes()
    _fill(disk)
    with pytest.raises(DiskFullError, match=rf"no space left on the device for {target}: it needs "
                                            rf"(more than )?[\d.]+ [kM]B and [\d.]+ kB are free"):
        write(target)
    assert target.read_bytes() == old
    assert sorted(p.name for p in disk.iterdir()) == sorted([filename, "filler"]), "a temp file was left"


def test_predicts_export_cache_on_a_full_disk(disk):
    _fill(disk)
    with pytest.raises(DiskFullError, match=r"no space left on the device for .*/onnx/.*\.onnx"):
        _cache(disk / "cache" / "x")
    assert not list((disk / "cache").rglob("*.onnx")) and not list(disk.rglob("*.tmp"))


def test_the_export_command_on_a_full_disk_is_one_line(disk, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    _fill(disk)
    code, out, err = run_cli(["moga-zoo", "export", "--random-weights", "--format", "torchscript",
                              "-o", str(disk / "m.pt")], capsys)
    check_one_line(code, err, rf"no space left on the device for {disk}/m.pt: it needs more than")
    assert sorted(p.name for p in disk.iterdir()) == ["filler"]


def test_convert_on_a_full_disk_is_one_line_and_leaves_nothing(disk, tmp_path, capsys):
    from weights_support import authors_model, save_authors_checkpoint

    checkpoint = save_authors_checkpoint(authors_model("moga_b", seed=0), tmp_path / "b.pth")
    _fill(disk)
    code, out, err = run_cli(["moga-zoo", "convert", str(checkpoint), "--model", "moga_b",
                              "-o", str(disk / "moga_b")], capsys)
    check_one_line(code, err, rf"no space left on the device for {disk}/moga_b/model.safetensors: "
                              r"it needs [\d.]+ MB")
    assert sorted(p.name for p in disk.rglob("*")) == ["filler", "moga_b"]


def test_a_safetensors_write_on_a_full_disk_is_disk_full(disk):
    from search_repro.supernet import save_supernet
    from supernet_helpers import tiny_supernet

    _fill(disk)
    with pytest.raises(DiskFullError, match=rf"no space left on the device for {disk}/s"):
        save_supernet(disk / "s", tiny_supernet(), {}, {})
    assert sorted(p.name for p in disk.iterdir()) == ["filler"]


#: Functions that are handed the temp path of a :func:`moga_zoo.fileio.replace_atomic` callback
#: (or write where no reader ever trusts a partial file), by file.
TEMP_PATH_WRITERS = {
    "moga_zoo/inference/export.py": {"_export_onnx", "_export_torchscript"},
    "moga_zoo/inference/mobile.py": {"write_litert", "write_executorch"},
    "moga_zoo/weights/convert.py": {"convert_checkpoint"},  # a temporary folder, moved file by file
    "search_repro/supernet/train.py": {"_train"},  # the append-only log; a torn last line is dropped
}


def _file_writes(tree: ast.AST):
    """(line, call, enclosing functions, inside a replace_atomic lambda or a ``tmp`` function)."""
    parents = {c: n for n in ast.walk(tree) for c in ast.iter_child_nodes(n)}
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        f = node.func
        name = f.attr if isinstance(f, ast.Attribute) else getattr(f, "id", "")
        owner = ast.unparse(f.value) if isinstance(f, ast.Attribute) else ""
        if name == "open":
            mode = node.args[1] if len(node.args) > 1 else None
            if not (isinstance(mode, ast.Constant) and set(str(mode.value)) & set("wax")) or \
                    "fileno()" in ast.unparse(node.args[0]):  # a file descriptor, not a file
                continue
        elif not (name in ("write_text", "write_bytes", "savefig", "save_file", "savez")
                  or (name == "save" and owner in ("torch", "onnx", "torch.jit"))
                  or (name == "export" and not owner.startswith("torch"))):
            continue
        functions, guarded, p = [], False, parents.get(node)
        while p is not None:
            if isinstance(p, ast.Lambda) and isinstance(parents.get(p), ast.Call) and \
                    "replace_atomic" in ast.unparse(parents[p].func):
                guarded = True
            if isinstance(p, ast.FunctionDef):
                functions.append(p.name)
                guarded = guarded or any(a.arg == "tmp" for a in p.args.args)
            p = parents.get(p)
        yield node.lineno, ast.unparse(node)[:70], functions, guarded


def test_every_file_is_written_through_replace_atomic():
    root = Path(__file__).resolve().parents[1]
    found, bare = 0, []
    for path in [*root.glob("moga_zoo/**/*.py"), *root.glob("search_repro/**/*.py")]:
        rel = path.relative_to(root).as_posix()
        if rel == "moga_zoo/fileio.py":
            continue
        for line, text, functions, guarded in _file_writes(ast.parse(path.read_text())):
            found += 1
            if not guarded and not set(functions) & TEMP_PATH_WRITERS.get(rel, set()):
                bare.append(f"{rel}:{line}: {text}")
    assert found >= 8
    assert not bare, "write these through moga_zoo.fileio.replace_atomic:\n" + "\n".join(bare)
