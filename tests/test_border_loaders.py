"""Class 4 of docs/bad-input.md: where a file the user named is handed to a library that reads
weights (timm's loaders, ``torch.load``, safetensors, the hub client), its faults become one line
of our error family (:mod:`moga_zoo.weights.border`).

The table runs each bad input through the command or function that loads it; the call-site test
fails for a new loader call that is not inside the border. (A repository missing on the hub is a
case of tests/test_bad_input.py, which runs against the local hub server.)
"""
from __future__ import annotations

import ast
import json
import os
import re
import shutil
from pathlib import Path

import pytest
import torch
from PIL import Image
from safetensors.torch import load_file, save_file
from timm.models import save_for_hf

import moga_zoo
from border_support import check_one_line, run_cli, snapshot
from moga_zoo.errors import MogaZooError

ROOT = Path(__file__).resolve().parents[1]


class _RunsCode:
    """Pickles as a call of ``os.system`` (never unpickled: the loaders refuse it)."""

    def __reduce__(self):
        return (os.system, ("true",))


@pytest.fixture(scope="module")
def work(tmp_path_factory) -> Path:
    w = tmp_path_factory.mktemp("loaders")
    model = moga_zoo.create("moga_c", num_classes=3)
    save_for_hf(model, w / "good", safe_serialization=True)
    sd = load_file(w / "good" / "model.safetensors")
    save_file({**sd, "conv_stem.weight": sd["conv_stem.weight"][:-1].contiguous()}, w / "stem.safetensors")
    (w / "evil").mkdir()
    shutil.copy(w / "good" / "config.json", w / "evil" / "config.json")
    torch.save({"conv_stem.weight": _RunsCode()}, w / "evil" / "pytorch_model.bin")
    (w / "text.pth").write_text("hello world\n" * 10)
    (w / "garbage.json").write_bytes(bytes(range(128, 256)) * 3)
    (w / "garbage.safetensors").write_bytes(b"\x00" * 3)
    sidecar = json.loads((ROOT / "search_repro/supernet/artifacts/supernet_fmnist.json").read_text())
    from moga_zoo.fileio import sha256_file

    sidecar.update(weights="garbage.safetensors", sha256=sha256_file(w / "garbage.safetensors"), bytes=3)
    (w / "garbage.json").with_name("garbage_sn.json").write_text(json.dumps(sidecar))
    shutil.copy(w / "garbage.safetensors", w / "garbage_sn.safetensors")
    Image.new("RGB", (40, 40)).save(w / "photo.jpg")
    return w


CASES = [
    ("predict-misshaped-stem", ["moga-zoo", "predict", "{w}/photo.jpg", "--model", "moga_c", "--weights",
                                "{w}/stem.safetensors"],
     r"stem.safetensors does not fit this model: .*other shapes \['conv_stem.weight'\]"),
    ("predict-local-dir-pickled-code", ["moga-zoo", "predict", "{w}/photo.jpg", "--model", "local-dir:{w}/evil"],
     r"local-dir:.*evil holds pickled Python code \((posix|nt).system\)"),
    ("convert-text-file", ["moga-zoo", "convert", "{w}/text.pth", "--model", "moga_a", "-o", "{w}/out"],
     r"text.pth is not a readable PyTorch checkpoint"),
    ("search-supernet-not-safetensors", ["moga-zoo", "search", "--supernet", "{w}/text.pth", "--out", "{w}/s"],
     r"text.pth is not a supernet checkpoint"),
    ("search-supernet-garbage", ["moga-zoo", "search", "--supernet", "{w}/garbage_sn.safetensors",
                                 "--out", "{w}/s"],
     r"garbage_sn.safetensors is not a readable weights file \(SafetensorError"),
    ("supernet-eval-garbage", ["moga-zoo", "supernet", "eval", "moga_a", "--checkpoint",
                               "{w}/garbage_sn.safetensors"],
     r"garbage_sn.safetensors is not a readable weights file"),
    ("lut-validate-binary", ["moga-zoo", "lut", "validate", "{w}/garbage.json"],
     r"garbage.json is not a latency table: it is not UTF-8 text"),
    ("lut-show-binary", ["moga-zoo", "lut", "show", "{w}/garbage.json"],
     r"garbage.json is not a latency table: it is not UTF-8 text"),
]


@pytest.mark.parametrize("argv,needle", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_a_bad_file_at_a_loader_is_one_line(argv, needle, work, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    before = snapshot(work, tmp_path)
    code, out, err = run_cli([a.format(w=work) for a in argv], capsys)
    check_one_line(code, err, needle)
    assert snapshot(work, tmp_path) == before


@pytest.mark.parametrize("name", ["stem.safetensors", "text.pth", "garbage.safetensors"])
def test_create_with_bad_weights_raises_our_error(name, work):
    with pytest.raises(MogaZooError, match=re.escape(name)):
        moga_zoo.create("moga_c", num_classes=3, weights=work / name)


def test_the_misshaped_stem_is_refused_before_timm_sees_it(work):
    from moga_zoo.weights.errors import WeightsError
    from moga_zoo.weights.loading import check_state_dict

    sd = load_file(work / "stem.safetensors")
    with pytest.raises(WeightsError, match=r"other shapes \['conv_stem.weight'\]"):
        check_state_dict(sd, moga_zoo.create("moga_c", num_classes=3))
    grey = dict(load_file(work / "good" / "model.safetensors"))  # 3 -> 1 input channel: adapted
    check_state_dict(grey, moga_zoo.create("moga_c", num_classes=3, in_chans=1))


#: Calls that read a file or repository the user named; each must sit inside
#: ``with loader_border(...)`` or in a ``try`` whose handlers map its faults.
LOADERS = {"load", "load_file", "safe_open", "hf_hub_download", "create_model", "build_moga"}


def _loader_calls(tree: ast.AST):
    parents = {}
    for node in ast.walk(tree):
        for child in ast.iter_child_nodes(node):
            parents[child] = node
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        f = node.func
        name = f.attr if isinstance(f, ast.Attribute) else getattr(f, "id", "")
        owner = f.value.id if isinstance(f, ast.Attribute) and isinstance(f.value, ast.Name) else ""
        if name not in LOADERS or (name == "load" and owner != "torch"):
            continue
        pretrained = {k.arg: k.value for k in node.keywords}.get("pretrained")
        if name in ("create_model", "build_moga") and (
                pretrained is None or (isinstance(pretrained, ast.Constant) and not pretrained.value)):
            continue  # no weights are read
        guarded, p = False, parents.get(node)
        while p is not None and not guarded:
            guarded = isinstance(p, ast.Try) and p.handlers or (isinstance(p, ast.With) and any(
                "loader_border" in ast.unparse(item.context_expr) for item in p.items))
            p = parents.get(p)
        yield node.lineno, ast.unparse(node)[:80], guarded


def test_every_loader_call_is_inside_the_border():
    calls, bare = 0, []
    for path in [*ROOT.glob("moga_zoo/**/*.py"), *ROOT.glob("search_repro/**/*.py")]:
        for line, text, guarded in _loader_calls(ast.parse(path.read_text())):
            calls += 1
            if not guarded:
                bare.append(f"{path.relative_to(ROOT)}:{line}: {text}")
    assert calls >= 6
    assert not bare, "wrap these in moga_zoo.weights.border.loader_border:\n" + "\n".join(bare)
