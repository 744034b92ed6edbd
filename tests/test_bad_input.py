"""Bad input and faults, command by command: each case is one ``moga-zoo`` call with one bad input,
answered with exactly one line on stderr that names the input, the documented exit code (2 for
bad input, 1 where images of a batch failed), no traceback, and no file created or changed.

Most cases run in this process (as the other CLI tests do); the hub faults and a bad manifest run
in one child interpreter, because huggingface_hub reads ``HF_ENDPOINT``/``HF_HOME`` and moga_zoo
reads the manifest when they are imported. A new command or failure mode is one more row.
"""
from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import load_file, save_file
from timm.models import save_for_hf

import moga_zoo
from moga_zoo.cli import main
from moga_zoo.search_space import MOGA_A
from weights_support import finish, start_python


@dataclass(frozen=True)
class Case:
    """``argv`` (``{work}`` is the folder of prepared inputs) -> exit ``code`` and one stderr line
    matching ``needle``; ``env`` is set for the call."""

    id: str
    argv: tuple[str, ...]
    needle: str
    code: int = 2
    env: dict[str, str] = field(default_factory=dict)


def case(id: str, *argv: str, needle: str, code: int = 2, **env: str) -> Case:
    return Case(id, argv, needle, code, env)


W = "{work}"
IMG = f"{W}/photo.jpg"
RANDOM = ("--random-weights",)
TORCH = ("--runtime", "torch")

CASES = [
    # --- list, info ---------------------------------------------------------------------------
    case("list-unknown-option", "list", "--bogus", needle=r"unrecognized arguments: --bogus"),
    case("info-unknown-name", "info", "moga_d", needle=r"unknown model 'moga_d'.*Did you mean"),
    case("info-short-arch", "info", "e6k5-e6k7", needle=r"14 '-'-separated layers, got 2"),
    case("info-bad-layer", "info", str(MOGA_A).replace("e6k5se", "e6k4se"), needle=r"layer 13"),
    case("info-huge-arch", "info", "e6k5-" * 20_000, needle=r"more characters\]"),
    case("info-resolution-zero", "info", "moga_a", "--resolution", "0", needle=r"--resolution: expected an integer >= 16, got 0"),
    case("info-resolution-text", "info", "moga_a", "--resolution", "big", needle=r"--resolution"),
    # --- predict: weights (class 1) -------------------------------------------------------------
    case("predict-unpublished", "predict", IMG, needle=r"moga_a.in1k.*--random-weights",
         MOGA_ZOO_WEIGHTS=f"{W}/nothing-installed"),
    case("predict-weights-missing", "predict", IMG, "--weights", f"{W}/nope", needle=r"nope does not exist"),
    case("predict-folder-without-file", "predict", IMG, "--weights", f"{W}/empty",
         needle=r"empty has no model.safetensors"),
    case("predict-truncated", "predict", IMG, "--model", "moga_c", "--weights", f"{W}/truncated.safetensors",
         needle=r"truncated.safetensors is not a readable safetensors file"),
    case("predict-pickle-renamed", "predict", IMG, "--weights", f"{W}/pickle.safetensors",
         needle=r"pickle.safetensors is not a readable safetensors file"),
    case("predict-pth", "predict", IMG, "--weights", f"{W}/model.pth", needle=r"model.pth is not a .safetensors"),
    case("predict-weights-fifo", "predict", IMG, "--weights", f"{W}/pipe.safetensors",
         needle=r"pipe.safetensors is not a regular file"),
    case("predict-missing-tensor", "predict", IMG, "--model", "moga_c", "--weights", f"{W}/missing.safetensors",
         needle=r"missing.safetensors does not fit this model: missing \['conv_head.weight'\]"),
    case("predict-extra-tensor", "predict", IMG, "--model", "moga_c", "--weights", f"{W}/extra.safetensors",
         needle=r"extra.safetensors does not fit.*unexpected \['extra.weight'\]"),
    case("predict-misshaped-tensor", "predict", IMG, "--model", "moga_c", "--weights", f"{W}/shape.safetensors",
         needle=r"shape.safetensors does not fit.*other shapes \['conv_head.weight'\]"),
    case("predict-other-models-folder", "predict", IMG, "--model", "moga_a", "--weights", f"{W}/weights",
         needle=r"weights/model.safetensors does not fit this model"),
    case("predict-nan-weights", "predict", IMG, "--model", "moga_c", "--weights", f"{W}/nan.safetensors",
         needle=r"nan.safetensors holds NaN or infinite values"),
    case("predict-inf-weights", "predict", IMG, "--json", "--model", "moga_c", "--weights",
         f"{W}/inf.safetensors", needle=r"inf.safetensors holds NaN or infinite values"),
    case("predict-tampered-install", "predict", IMG, "--model", "moga_c", needle=r"installed file changed",
         MOGA_ZOO_WEIGHTS=f"{W}/installed"),
    case("predict-digest-record-garbage", "predict", IMG, "--model", "moga_c",
         needle=r"model.safetensors.sha256 is not a digest record", MOGA_ZOO_WEIGHTS=f"{W}/installed_bad"),
    case("predict-config-classes-disagree", "predict", IMG, "--model", "moga_c", "--weights", f"{W}/badclasses",
         needle=r"badclasses/config.json: num_classes 10 disagrees with the weights.*3 classes"),
    case("predict-config-not-json", "predict", IMG, "--model", "moga_c", "--weights", f"{W}/badjson",
         needle=r"badjson/config.json: not a readable timm config.json"),
    case("predict-local-dir-missing", "predict", IMG, "--model", f"local-dir:{W}/nope",
         needle=r"local-dir:.*nope: no folder with a config.json"),
    case("predict-bad-manifest", "predict", IMG, needle=r"bad_manifest.json is not valid JSON",
         MOGA_ZOO_MANIFEST=f"{W}/bad_manifest.json", MOGA_ZOO_WEIGHTS=f"{W}/nothing-installed"),
    # --- predict: options and images (classes 5, 7) ---------------------------------------------
    case("predict-threads-zero", "predict", IMG, *RANDOM, "--threads", "0", needle=r"--threads: expected a positive"),
    case("predict-top-k-zero", "predict", IMG, *RANDOM, "--top-k", "0", needle=r"--top-k: expected a positive"),
    case("predict-batch-zero", "predict", IMG, *RANDOM, "--batch-size", "0", needle=r"--batch-size: expected a pos"),
    case("predict-runtime-unknown", "predict", IMG, *RANDOM, "--runtime", "tvm", needle=r"invalid choice: 'tvm'"),
    case("predict-image-missing", "predict", f"{W}/none.jpg", *RANDOM, *TORCH, code=1,
         needle=r"none.jpg: no such file"),
    case("predict-image-not-image", "predict", f"{W}/text.jpg", *RANDOM, *TORCH, code=1,
         needle=r"text.jpg: not an image file"),
    case("predict-image-fifo", "predict", f"{W}/pipe.jpg", *RANDOM, *TORCH, code=1,
         needle=r"pipe.jpg: not a regular file"),
    case("predict-folder-of-fifos", "predict", f"{W}/fifos", *RANDOM, needle=r"no image files found in .*fifos"),
    case("predict-weights-and-random", "predict", IMG, *RANDOM, "--weights", f"{W}/weights",
         needle=r"not allowed with argument"),
    # --- export (classes 4, 5) ------------------------------------------------------------------
    case("export-output-is-folder", "export", *RANDOM, "-o", f"{W}/empty", needle=r"empty is a folder"),
    case("export-parent-is-file", "export", *RANDOM, "-o", f"{W}/text.jpg/m.onnx",
         needle=r"text.jpg is a file, not a folder"),
    case("export-input-size-three", "export", *RANDOM, "--input-size", "64", "64", "64", "-o", f"{W}/x.onnx",
         needle=r"--input-size takes one side or two"),
    case("export-opset-torchscript", "export", *RANDOM, "--format", "torchscript", "--opset", "13",
         "-o", f"{W}/x.pt", needle=r"--opset applies to --format onnx only"),
    case("export-tiny-input-over-a-good-file", "export", *RANDOM, "--input-size", "4", "-o",
         f"{W}/previous.onnx", needle=r"--input-size: expected an integer >= 32, got 4"),
    case("export-format-unknown", "export", *RANDOM, "--format", "tflite", needle=r"invalid choice: 'tflite'"),
    case("export-nan-weights", "export", "--model", "moga_c", "--weights", f"{W}/nan.safetensors",
         "-o", f"{W}/x.onnx", needle=r"nan.safetensors holds NaN or infinite values"),
    case("export-unpublished", "export", "-o", f"{W}/x.onnx", needle=r"--random-weights",
         MOGA_ZOO_WEIGHTS=f"{W}/nothing-installed"),
    # --- convert (classes 4, 6) -----------------------------------------------------------------
    case("convert-missing", "convert", f"{W}/none.pth", "--model", "moga_a", "-o", f"{W}/out",
         needle=r"none.pth does not exist"),
    case("convert-folder", "convert", f"{W}/empty", "--model", "moga_a", "-o", f"{W}/out",
         needle=r"empty is not a regular file"),
    case("convert-pickled-code", "convert", f"{W}/evil.pth", "--model", "moga_a", "-o", f"{W}/out",
         needle=r"evil.pth holds pickled Python code \((builtins\.)?print\)"),
    case("convert-pickled-class", "convert", f"{W}/evil_class.pth", "--model", "moga_a", "-o", f"{W}/out",
         needle=r"evil_class.pth holds pickled Python code \(test_bad_input._Payload\)"),
    case("convert-pickled-os-call", "convert", f"{W}/evil_os.pth", "--model", "moga_a", "-o", f"{W}/out",
         needle=r"evil_os.pth holds pickled Python code \((posix|nt).getcwd\)"),
    case("convert-truncated", "convert", f"{W}/truncated.pth", "--model", "moga_a", "-o", f"{W}/out",
         needle=r"truncated.pth is not a readable PyTorch checkpoint"),
    case("convert-not-moga", "convert", f"{W}/other.pth", "--model", "moga_a", "-o", f"{W}/out",
         needle=r"'layer.weight' is not a key of the authors' MoGA layout"),
    case("convert-output-is-file", "convert", f"{W}/other.pth", "--model", "moga_a", "-o", f"{W}/text.jpg",
         needle=r"text.jpg exists and is not a folder"),
    case("convert-unknown-model", "convert", f"{W}/other.pth", "--model", "resnet50", "-o", f"{W}/out",
         needle=r"--model must be one of moga_a, moga_b, moga_c, got 'resnet50'"),
    case("convert-bad-manifest", "convert", f"{W}/other.pth", "--model", "moga_a", "-o", f"{W}/out",
         needle=r"bad_manifest.json is not valid JSON", MOGA_ZOO_MANIFEST=f"{W}/bad_manifest.json"),
    # --- publish ----------------------------------------------------------------------------------
    case("publish-no-folder", "publish", f"{W}/none", "--repo-id", "org/x", needle=r"none is not a folder"),
    case("publish-incomplete", "publish", f"{W}/empty", "--repo-id", "org/x", needle=r"empty lacks model.safe"),
    case("publish-other-arch", "publish", f"{W}/resnet", "--repo-id", "org/x", needle=r"is for 'resnet50'"),
    # --- lut ------------------------------------------------------------------------------------
    case("lut-show-missing", "lut", "show", f"{W}/none.json", needle=r"no latency table at .*none.json"),
    case("lut-show-corrupt", "lut", "show", f"{W}/corrupt.json", needle=r"corrupt.json is not valid JSON"),
    case("lut-show-not-a-table", "lut", "show", f"{W}/resnet/config.json", needle=r"not a latency table"),
    case("lut-show-unknown-name", "lut", "show", "cpu-tpu", needle=r"no bundled latency table 'cpu-tpu'"),
    case("lut-build-not-json", "lut", "build", "-o", f"{W}/table.txt", needle=r"-o must name a .json file"),
    case("lut-build-parent-is-file", "lut", "build", "-o", f"{W}/text.jpg/t.json",
         needle=r"text.jpg is a file, not a folder"),
    case("lut-build-threads-zero", "lut", "build", "--threads", "0", "-o", f"{W}/t.json",
         needle=r"--threads: expected a positive integer, got 0"),
    case("lut-build-device-unknown", "lut", "build", "--device", "tpu", "-o", f"{W}/t.json",
         needle=r"unknown device 'tpu'"),
    case("lut-validate-one-sample", "lut", "validate", "cpu-torch-224-b1-t1", "--samples", "1",
         needle=r"--samples: expected an integer >= 2, got 1"),
    case("lut-validate-plot-suffix", "lut", "validate", "cpu-torch-224-b1-t1", "--plot", f"{W}/p.jpg",
         needle=r"--plot must name a .png file"),
    case("lut-validate-report-parent", "lut", "validate", "cpu-torch-224-b1-t1", "--report",
         f"{W}/text.jpg/r.json", needle=r"text.jpg is a file, not a folder"),
    # --- supernet -------------------------------------------------------------------------------
    case("supernet-eval-bad-arch", "supernet", "eval", "e6k5", needle=r"14 '-'-separated layers, got 1"),
    case("supernet-eval-no-checkpoint", "supernet", "eval", "moga_a", "--checkpoint", f"{W}/none.safetensors",
         needle=r"none"),
    case("supernet-eval-val-size-zero", "supernet", "eval", "moga_a", "--val-size", "0",
         needle=r"--val-size: expected a positive integer"),
    case("supernet-eval-threads-zero", "supernet", "eval", "moga_a", "--threads", "0",
         needle=r"--threads: expected a positive integer"),
    case("supernet-train-out-is-file", "supernet", "train", "--out", f"{W}/text.jpg",
         needle=r"--out: .*text.jpg exists and is not a folder"),
    case("supernet-train-steps-text", "supernet", "train", "--out", f"{W}/run", "--steps", "many",
         needle=r"--steps: expected an integer, got 'many'"),
    # --- cache --------------------------------------------------------------------------------
    case("cache-bound-not-a-number", "cache", needle=r"MOGA_ZOO_CACHE_MAX_MB must be a number",
         MOGA_ZOO_CACHE_MAX_MB="lots"),
    case("cache-bound-negative", "cache", needle=r"MOGA_ZOO_CACHE_MAX_MB must be a number in .*>= 0, got -5",
         MOGA_ZOO_CACHE_MAX_MB="-5"),
    case("cache-unknown-action", "cache", "purge", needle=r"invalid choice: 'purge'"),
    # --- search (classes 4, 5) ------------------------------------------------------------------
    case("search-out-is-file", "search", "--out", f"{W}/text.jpg", needle=r"--out .*text.jpg exists and is not"),
    case("search-pop-size", "search", "--pop-size", "2", "--out", f"{W}/s", needle=r"pop_size is too small"),
    case("search-threads-zero", "search", "--threads", "0", needle=r"--threads: expected a positive integer"),
    case("search-table-missing", "search", "--table", f"{W}/none.json", "--out", f"{W}/s",
         needle=r"no latency table at .*none.json"),
    case("search-supernet-missing", "search", "--supernet", f"{W}/none.safetensors", "--out", f"{W}/s",
         needle=r"no supernet checkpoint at .*none.safetensors"),
    case("search-weights-count", "search", "--weights", "1,2", "--out", f"{W}/s",
         needle=r"one crowding weight per objective \(3\), got 2"),
    case("search-weights-text", "search", "--weights", "a,b", needle=r"expected comma-separated numbers"),
    case("search-objectives", "search", "--objectives", "accuracy,speed", "--out", f"{W}/s",
         needle=r"objectives must be 2\+ distinct names"),
    case("search-infeasible", "search", "--max-latency", "0.001", "--out", f"{W}/s",
         needle=r"no architecture meets the latency budget of 0.001 ms"),
    case("search-state-corrupt", "search", "--no-progress", "--out", f"{W}/state_corrupt",
         needle=r"state_corrupt/state.json is corrupt"),
    case("search-state-generations-disagree", "search", "--no-progress", "--out", f"{W}/state_lies",
         needle=r"'generation' says 1000 generations were completed, but the history holds generations 1-2"),
]


class _Payload:
    """Pickled into a checkpoint to stand for arbitrary code; never unpickled by moga_zoo."""


class _OsCall:
    """Pickles as a call of an ``os`` function (harmless here), which torch words differently."""

    def __reduce__(self):
        return (os.getcwd, ())


def _bytes(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


@pytest.fixture(scope="module")
def work(tmp_path_factory) -> Path:
    """Every bad input the table names, made once."""
    w = tmp_path_factory.mktemp("bad_inputs")
    model = moga_zoo.create("moga_c", num_classes=3)
    save_for_hf(model, w / "weights", model_config={"label_names": ["a", "b", "c"]}, safe_serialization=True)
    good = load_file(w / "weights" / "model.safetensors")
    data = (w / "weights" / "model.safetensors").read_bytes()
    _bytes(w / "truncated.safetensors", data[: len(data) // 2])
    torch.save(good, w / "model.pth")
    os.replace(w / "model.pth", w / "pickle.safetensors")
    torch.save(good, w / "model.pth")
    save_file({k: v for k, v in good.items() if k != "conv_head.weight"}, w / "missing.safetensors")
    save_file({**good, "extra.weight": torch.zeros(2)}, w / "extra.safetensors")
    save_file({**good, "conv_head.weight": good["conv_head.weight"][:-1].contiguous()}, w / "shape.safetensors")
    for name, value in (("nan", float("nan")), ("inf", float("inf"))):
        poisoned = dict(good)
        poisoned["blocks.3.0.conv_pw.weight"] = good["blocks.3.0.conv_pw.weight"].clone()
        poisoned["blocks.3.0.conv_pw.weight"][0, 0] = value
        save_file(poisoned, w / f"{name}.safetensors")
    for folder, config in (("badclasses", None), ("badjson", "{not json")):
        (w / folder).mkdir()
        _bytes(w / folder / "model.safetensors", data)
        cfg = json.loads((w / "weights" / "config.json").read_text())
        cfg["num_classes"] = 10
        (w / folder / "config.json").write_text(config or json.dumps(cfg))
    installed = w / "installed" / "moga_c.in1k"
    _bytes(installed / "model.safetensors", data)
    (installed / "model.safetensors.sha256").write_text("0" * 64 + "  model.safetensors\n")
    garbled = w / "installed_bad" / "moga_c.in1k"
    _bytes(garbled / "model.safetensors", data)
    (garbled / "model.safetensors.sha256").write_bytes(b"\x80\xff" * 40)
    (w / "empty").mkdir()
    (w / "nothing-installed").mkdir()
    (w / "fifos").mkdir()
    for fifo in (w / "pipe.jpg", w / "pipe.safetensors", w / "fifos" / "a.jpg"):
        os.mkfifo(fifo)
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (80, 90, 3), dtype=np.uint8)).save(w / "photo.jpg")
    (w / "text.jpg").write_text("not an image")
    (w / "previous.onnx").write_bytes(b"a good earlier export")
    (w / "loops").mkdir()
    Image.new("RGB", (40, 40)).save(w / "loops" / "a.jpg")
    os.symlink("loop.jpg", w / "loops" / "loop.jpg")
    os.symlink("c", w / "loops" / "b")
    os.symlink("b", w / "loops" / "c")
    torch.save({"model_state": {"a": torch.zeros(1)}, "hook": print}, w / "evil.pth")
    torch.save({"model_state": {"a": torch.zeros(1)}, "hook": _Payload()}, w / "evil_class.pth")
    torch.save({"model_state": {"a": torch.zeros(1)}, "hook": _OsCall()}, w / "evil_os.pth")
    torch.save({"layer.weight": torch.zeros(2)}, w / "other.pth")
    _bytes(w / "truncated.pth", (w / "other.pth").read_bytes()[:100])
    (w / "resnet").mkdir()
    for name in ("model.safetensors", "README.md"):
        (w / "resnet" / name).write_text("x")
    (w / "resnet" / "config.json").write_text(json.dumps({"architecture": "resnet50"}))
    (w / "bad_manifest.json").write_text("{not json")
    (w / "corrupt.json").write_text('{"format": "moga_zoo.latency_table", "layers": [')
    _toy_states(w)
    return w


def _toy_states(w: Path) -> None:
    """A consistent resume state of 2 generations, then one corrupt and one that claims 1000."""
    from search_repro.search.config import SearchConfig
    from search_repro.search.history import METRICS, History
    from search_repro.search.state import SearchState

    codes = (np.arange(12)[:, None] + np.arange(14)[None, :]) % 12
    history = History()
    for generation, rows in ((1, codes[:6]), (2, codes[6:])):
        history.add(rows, generation, {m: np.ones(6) for m in METRICS})
    state = SearchState(SearchConfig(pop_size=6, generations=1000), 2, {}, codes[6:], [0] * 6, [0.0] * 6,
                        history, {})
    state.save(w / "state_ok.json")
    SearchState.load(w / "state_ok.json")  # consistent as made
    data = json.loads((w / "state_ok.json").read_text())
    for folder, content in (("state_lies", {**data, "generation": 1000}),
                            ("state_corrupt", {"format": data["format"]})):
        (w / folder).mkdir()
        (w / folder / "state.json").write_text(json.dumps(content))


def _snapshot(*roots: Path) -> dict[str, tuple]:
    """Every entry under ``roots``: type, size, mtime and (for files) content."""
    seen = {}
    for root in roots:
        for dirpath, dirnames, filenames in os.walk(root):
            for name in dirnames + filenames:
                p = Path(dirpath) / name
                st = p.lstat()
                content = p.read_bytes() if p.is_file() and st.st_size < 1 << 16 else None
                seen[str(p)] = (st.st_mode, st.st_size, st.st_mtime_ns, content)
    return seen


def _check_one_line(code: int, out: str, err: str, expected: Case | dict, work: Path) -> None:
    needle = expected.needle if isinstance(expected, Case) else expected["needle"]
    want = expected.code if isinstance(expected, Case) else expected["code"]
    assert "Traceback" not in err, err
    lines = err.strip("\n").split("\n")
    if want == 1:  # predict names the runtime it chose before classifying: not an error line
        lines = [line for line in lines if not line.startswith("moga-zoo predict: runtime ")]
    assert code == want, err
    assert len(lines) == 1, err
    assert re.search(needle.replace("{work}", re.escape(str(work))), lines[0]), lines[0]
    assert len(lines[0]) < 1000
    assert out == "" or (want == 1 and "NaN" not in out)


@pytest.mark.parametrize("c", CASES, ids=[c.id for c in CASES])
def test_bad_input(c: Case, work: Path, tmp_path: Path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)  # commands that default to writing into the current folder
    for key, value in c.env.items():
        monkeypatch.setenv(key, value.format(work=work))
    argv = [a.format(work=work) for a in c.argv]
    before = _snapshot(work, tmp_path)
    try:
        code = main(argv)
    except SystemExit as e:  # argparse's own errors
        code = e.code
    out, err = capsys.readouterr()
    _check_one_line(code, out, err, c, work)
    assert _snapshot(work, tmp_path) == before, "the command created or changed files"


def test_every_command_has_bad_input_cases():
    from moga_zoo.cli import build_parser

    commands = {a.dest: a for a in build_parser()._actions if a.dest == "command"}["command"].choices
    covered = {c.argv[0] for c in CASES} | {c["argv"][0] for c in CHILD_CASES}
    assert set(commands) <= covered, set(commands) - covered


# --- hub faults and a bad manifest: one child interpreter with its own HF_ENDPOINT/HF_HOME ------

#: Cases run by the child; ``fault`` is injected into the local hub first, ``manifest`` picks
#: the manifest the command reads (``good``: published at the hub's commit).
CHILD_CASES = [
    {"id": "list-with-bad-manifest", "argv": ["list"], "needle": r"bad_manifest.json is not valid JSON"},
    {"id": "list-with-a-branch-pinned", "argv": ["list"], "manifest": "branch",
     "needle": r"branch.json.*revision.*pin a commit, not a branch"},
    {"id": "predict-bad-manifest-at-import", "argv": ["predict", "IMG"], "manifest": "bad", "code": 2,
     "needle": r"bad_manifest.json is not valid JSON"},
    {"id": "hub-404", "argv": ["predict", "IMG"], "fault": {"kind": "404", "method": "HEAD"},
     "needle": r"org/moga@\w+/model.safetensors: http://127.0.0.1:\d+ answered HTTP 404"},
    {"id": "hub-500", "argv": ["predict", "IMG"], "fault": {"kind": "500", "method": "GET", "match": "/blobs/"},
     "needle": r"answered HTTP 500; nothing was cached"},
    {"id": "hub-truncated", "argv": ["predict", "IMG"], "fault": {"kind": "truncate", "match": "/blobs/"},
     "needle": r"ended early, also on retry"},
    {"id": "hub-short-body", "argv": ["predict", "IMG"], "fault": {"kind": "truncate", "match": "/blobs/",
                                                                   "lie": True},
     "needle": r"ended early .*nothing was cached"},
    {"id": "hub-slow", "argv": ["predict", "IMG"], "fault": {"kind": "slow", "match": "/blobs/", "delay": 2.5},
     "needle": r"did not answer within HF_HUB_DOWNLOAD_TIMEOUT=1 s"},
    {"id": "hub-corrupt", "argv": ["predict", "IMG"], "fault": {"kind": "corrupt", "match": "/blobs/", "times": 1},
     "needle": r"sha256 of .* expected .*removed from the cache"},
    {"id": "hub-no-repository", "argv": ["predict", "IMG"], "manifest": "no_repo",
     "needle": r"repository 'org/missing' not found on http"},
    {"id": "hf-hub-name-no-repository", "argv": ["predict", "IMG", "--model", "hf-hub:org/missing"],
     "needle": r"hf-hub:org/missing: repository 'org/missing' not found on http://127.0.0.1:\d+"},
    {"id": "hub-no-commit", "argv": ["export", "-o", "OUT/m.onnx"], "manifest": "no_commit",
     "needle": r"commit 0{40} does not exist in org/moga"},
]

_CHILD = r"""
import contextlib, io, json, os, shutil, sys, traceback
from pathlib import Path
sys.path.insert(0, "tests")
from hub_server import HubServer

cases = json.loads(sys.argv[1])
work = Path(WORK)  # the test's own tmp_path: nothing is left in the system's temp folder
hub = HubServer().__enter__()
os.environ.update(HF_ENDPOINT=hub.endpoint, HF_HOME=str(work / "hf"), HF_HUB_DOWNLOAD_TIMEOUT="1",
                  MOGA_ZOO_WEIGHTS=str(work / "none"), MOGA_ZOO_MANIFEST=str(work / "bad_manifest.json"))
(work / "bad_manifest.json").write_text("{not json")
from moga_zoo.cli import main  # imported with the bad manifest in place
import moga_zoo
from PIL import Image
from timm.models import save_for_hf
from weights_support import published_manifest

save_for_hf(moga_zoo.create("moga_a"), work / "folder", safe_serialization=True)
commit = hub.commit_folder("org/moga", work / "folder")
good = json.loads(published_manifest(work / "good.json", work / "folder", "org/moga", commit).read_text())
for name, field, value in (("no_repo", "hf_hub_id", "org/missing"), ("no_commit", "revision", "0" * 40),
                           ("branch", "revision", "main")):
    data = json.loads(json.dumps(good))
    data["entries"]["moga_a.in1k"][field] = value
    (work / f"{name}.json").write_text(json.dumps(data))
Image.new("RGB", (64, 64)).save(work / "photo.jpg")
(work / "out").mkdir()
results = []
for c in cases:
    hub.faults.clear()
    if c.get("fault"):
        hub.inject(**{"method": "GET", "times": 50, **c["fault"]})
    if c.get("manifest"):
        os.environ["MOGA_ZOO_MANIFEST"] = str(work / ("bad_manifest.json" if c["manifest"] == "bad" else c["manifest"] + ".json"))
    elif c["argv"][0] not in ("list", "info"):
        os.environ["MOGA_ZOO_MANIFEST"] = str(work / "good.json")
    shutil.rmtree(work / "hf", ignore_errors=True)
    argv = [a.replace("IMG", str(work / "photo.jpg")).replace("OUT", str(work / "out")) for a in c["argv"]]
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(argv)
        except SystemExit as e:
            code = e.code
        except BaseException:
            traceback.print_exc(file=err)
            code = "escaped"
    results.append({"code": code, "out": out.getvalue(), "err": err.getvalue(),
                    "out_files": sorted(p.name for p in (work / "out").iterdir())})
print(json.dumps(results))
"""


@pytest.fixture(scope="module")
def child_results(tmp_path_factory) -> list[dict]:
    env = {"HF_HUB_VERBOSITY": "error"}
    code = _CHILD.replace("sys.argv[1]", repr(json.dumps(CHILD_CASES))).replace(
        "Path(WORK)", f"Path({str(tmp_path_factory.mktemp('child'))!r})")
    rc, out, err = finish(start_python(code, env))
    assert rc == 0, err[-3000:]
    results = json.loads(out.strip().splitlines()[-1])
    return results


@pytest.mark.parametrize("index", range(len(CHILD_CASES)), ids=[c["id"] for c in CHILD_CASES])
def test_bad_input_in_a_child(index: int, child_results):
    c, r = CHILD_CASES[index], child_results[index]
    _check_one_line(r["code"], r["out"], r["err"], {"code": 2, **c}, Path("/"))
    assert r["out_files"] == []


def test_a_symlink_loop_in_a_folder_is_reported_not_skipped(work, capsys):
    code = main(["predict", str(work / "loops"), "--random-weights", "--runtime", "torch", "--json"])
    out, err = capsys.readouterr()
    results = json.loads(out)
    assert code == 1 and "Traceback" not in err
    assert [Path(r["source"]).name for r in results] == ["a.jpg", "b", "c", "loop.jpg"]
    assert [r["error"] is None for r in results] == [True, False, False, False]
    for name in ("b", "c", "loop.jpg"):
        assert re.search(rf"loops/{re.escape(name)}: unreadable .*symbolic links", err), err


def test_a_second_search_on_one_folder_is_refused(tmp_path, capsys):
    from moga_zoo.fileio import folder_lock

    out = tmp_path / "search"
    with folder_lock(out, "--out", "another search"):
        code = main(["search", "--no-progress", "--out", str(out)])
        _, err = capsys.readouterr()
        _check_one_line(code, "", err, {"code": 2, "needle": r"--out .*search is in use by another "
                                                                r"search right now"}, tmp_path)
    assert not out.exists(), "a folder created for the lock and left empty is removed"


def test_export_refuses_a_model_that_outputs_nan(tmp_path):
    """max(worst, nan) is not nan: validation must look for NaN itself."""
    from moga_zoo.inference import ExportError, export_model

    model = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 1), torch.nn.Flatten(), torch.nn.LazyLinear(2))
    model(torch.zeros(1, 3, 8, 8))
    with torch.no_grad():
        model[2].bias.fill_(float("nan"))
    with pytest.raises(ExportError, match="outputs NaN or Inf"):
        export_model(model, tmp_path / "m.pt", input_size=(3, 8, 8))
    assert not any(tmp_path.iterdir())


def test_predict_reports_nan_outputs_per_image(work):
    from moga_zoo.inference import Classifier

    model = moga_zoo.create("moga_c")
    with torch.no_grad():
        model.classifier.bias.fill_(float("nan"))
    [result] = Classifier(model, runtime="torch").predict([work / "photo.jpg"])
    assert not result.ok and "NaN" in result.error
