"""Class 2 of docs/bad-input.md: every record read from disk is checked against its schema when
it is read (:mod:`moga_zoo.records`, :mod:`search_repro.records`), and no JSON writer writes NaN.

The table is kind x corruption: each kind of record is put where a command reads it, then
truncated, given a NaN, given a value of the wrong type, or replaced by binary data; every
combination must be one line that names the file, exit code 2, and nothing written. A new JSON
reader that skips the mechanism fails :func:`test_every_json_read_goes_through_the_records_module`.
"""
from __future__ import annotations

import json
import re
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path

import pytest

from border_support import check_one_line, run_cli, snapshot
from moga_zoo.fileio import write_json_atomic

ROOT = Path(__file__).resolve().parents[1]


def _run_record(arch, seed: int, **changes) -> dict:
    """A stand-alone run record as ``train_standalone`` writes it."""
    from search_repro.proxy import ProxySpec
    from search_repro.standalone import Recipe

    return {"arch": str(arch), "codes": list(arch.encode()), "seed": seed,
            "test_accuracy": 0.5 + 0.01 * seed, "test_nll": 1.2, "search_val_accuracy": 0.5,
            "search_val_nll": 1.2, "final_loss_mean_last_10pct": 1.1, "loss_curve": [2.0, 1.1],
            "steps": 10, "train_seconds": 3.0, "device": "cpu", "threads": 1, "params": 1000,
            "macs": 10_000, "proxy": json.loads(json.dumps(ProxySpec().describe())),
            "recipe": asdict(Recipe()), **changes}


@dataclass(frozen=True)
class Kind:
    """A record at ``file`` (under the work folder) that ``argv`` reads; ``field`` is the key
    path given a NaN or a wrong type."""

    id: str
    file: str
    field: tuple
    argv: tuple
    env: tuple = ()


KINDS = [
    Kind("run-record-pilot-report", "out/pilots/p/ladder1/seed1.json", ("test_accuracy",),
         ("protocol", "pilot-report", "--out", "{w}/out")),
    Kind("run-record-report", "out/references/ref03/seed1.json", ("recipe", "lr"),
         ("protocol", "report", "--out", "{w}/out")),
    Kind("run-record-reuse", "reuse/b/seed0.json", ("proxy", "resolution"),
         ("protocol", "pilot", "--name", "new", "--ladder", "2", "--seeds", "0", "--out", "{w}/out",
          "--reuse", "{w}/reuse")),
    Kind("run-record-verify-references", "reuse/b/seed0.json", ("seed",),
         ("verify", "run", "{w}/none", "--out", "{w}/v", "--references", "{w}/reuse")),
    Kind("front", "search/front.json", ("front", 0, "accuracy"),
         ("verify", "picks", "{w}/search", "--out", "{w}/v2")),
    Kind("picks", "v3/picks.json", ("searches", 0, "resolution"),
         ("verify", "latency", "--out", "{w}/v3")),
    Kind("latency-rounds", "v4/latency.json", ("rounds", 0, "cpu-torch", "ARCH"),
         ("verify", "latency", "--out", "{w}/v4", "--runtimes", "cpu-torch")),
    Kind("supernet-sidecar", "sn/supernet.json", ("model", "num_classes"),
         ("moga-zoo", "supernet", "eval", "moga_a", "--checkpoint", "{w}/sn/supernet.safetensors")),
    Kind("latency-table", "table.json", ("layers", 0, "choices", "e3k3", "median_ms"),
         ("moga-zoo", "lut", "show", "{w}/table.json")),
    Kind("search-state", "s/state.json", ("generation",),
         ("moga-zoo", "search", "--no-progress", "--out", "{w}/s")),
    Kind("weights-manifest", "manifest.json", ("entries", "moga_a.in1k", "size"),
         ("moga-zoo", "predict", "{w}/photo.jpg"), (("MOGA_ZOO_MANIFEST", "{w}/manifest.json"),
                                                    ("MOGA_ZOO_WEIGHTS", "{w}/none"))),
]
CORRUPTIONS = ("truncated", "nan", "wrong-type", "binary")


@pytest.fixture(scope="module")
def good(tmp_path_factory) -> Path:
    """Every kind of record, good, where its command reads it."""
    import numpy as np
    from PIL import Image

    from moga_zoo.search_space import NAMED_ARCHITECTURES
    from search_repro.latency import load_table
    from search_repro.proxy import capacity_ladder, reference_architectures
    from search_repro.search.config import SearchConfig
    from search_repro.search.history import METRICS, History
    from search_repro.search.state import SearchState
    from search_repro.supernet.checkpoint import save_supernet
    from search_repro.supernet.model import Supernet

    w = tmp_path_factory.mktemp("records")
    for name, arch in capacity_ladder(2).items():
        for seed in (0, 1):
            write_json_atomic(w / f"out/pilots/p/{name}/seed{seed}.json", _run_record(arch, seed))
    for name, arch in reference_architectures().items():
        for seed in (0, 1):
            write_json_atomic(w / f"out/references/{name}/seed{seed}.json", _run_record(arch, seed))
    ladder = capacity_ladder(2)
    write_json_atomic(w / "reuse/a/seed0.json", _run_record(ladder["ladder0"], 0))  # copyable
    write_json_atomic(w / "reuse/b/seed0.json", _run_record(ladder["ladder1"], 0))
    table = load_table("cpu-torch-224-b1-t1")
    arch = NAMED_ARCHITECTURES["moga_a"]
    codes = list(arch.encode())
    front = {"config": {"artifacts": {"table": "cpu-torch-224-b1-t1"}},
             "front": [{"arch": str(arch), "codes": codes, "accuracy": 0.5,
                        "latency_ms": float(table.predict(np.array([codes]))[0])}],
             "references": []}
    write_json_atomic(w / "search/front.json", front)
    picks = json.loads((ROOT / "evidence/verify/picks.json").read_text())
    for folder in ("v3", "v4"):
        write_json_atomic(w / folder / "picks.json", picks)
    latency = json.loads((ROOT / "evidence/verify/latency.json").read_text())
    write_json_atomic(w / "v4/latency.json", latency)
    shutil.copy(table.source, w / "table.json")
    save_supernet(w / "sn/supernet", Supernet(num_classes=10, in_chans=1, channel_multiplier=0.25),
                  {"resolution": 32, "search_val_size": 20, "seed": 0}, {})
    history = History()
    rows = (np.arange(6)[:, None] + np.arange(14)[None, :]) % 12
    history.add(rows, 1, {m: np.ones(6) for m in METRICS})
    SearchState(SearchConfig(pop_size=6, generations=3), 1, {}, rows, [0] * 6, [0.0] * 6, history,
                {}).save(w / "s/state.json")
    shutil.copy(ROOT / "moga_zoo/weights/weights_manifest.json", w / "manifest.json")
    Image.new("RGB", (32, 32)).save(w / "photo.jpg")
    return w


def _set(data, path: tuple, value):
    for key in path[:-1]:
        data = data[key]
    last = path[-1]
    if last == "ARCH":
        last = next(iter(data))
    data[last] = value


def _corrupt(path: Path, how: str, field: tuple) -> None:
    text = path.read_text()
    if how == "truncated":
        path.write_text(text[: len(text) // 2])
    elif how == "binary":
        path.write_bytes(b"\x80\xff\x00\xfe" * 64)
    else:
        data = json.loads(text)
        _set(data, field, float("nan") if how == "nan" else "0.5")
        path.write_text(json.dumps(data))  # json writes NaN unless told not to


@pytest.mark.parametrize("how", CORRUPTIONS)
@pytest.mark.parametrize("kind", KINDS, ids=[k.id for k in KINDS])
def test_a_bad_record_is_named_in_one_line_and_nothing_is_written(kind, how, good, tmp_path,
                                                                   monkeypatch, capsys):
    work = tmp_path / "w"
    shutil.copytree(good, work)
    _corrupt(work / kind.file, how, kind.field)
    for name, value in kind.env:
        monkeypatch.setenv(name, value.format(w=work))
    monkeypatch.chdir(tmp_path)
    before = snapshot(tmp_path)
    code, out, err = run_cli([a.format(w=work) for a in kind.argv], capsys)
    check_one_line(code, err, re.escape(Path(kind.file).name))
    assert str(work / kind.file) in err, err
    assert snapshot(tmp_path) == before, "the command wrote something"


def test_the_good_records_pass(good, tmp_path, capsys):
    """The table's records are valid as made, so the failures above come from the corruption."""
    from moga_zoo.records import read_record
    from search_repro.records import Front, LatencyRounds, Picks, StandaloneRun, SupernetSidecar

    for kind in KINDS:
        path = good / kind.file
        schema = {"front": Front, "picks": Picks, "latency-rounds": LatencyRounds,
                  "supernet-sidecar": SupernetSidecar}.get(
            kind.id, StandaloneRun if kind.id.startswith("run-record") else None)
        if schema is not None:
            read_record(path, schema, kind.id)
    code, out, err = run_cli(["protocol", "pilot-report", "--out", str(good / "out")], capsys)
    assert code == 0, err


def test_runs_of_another_recipe_are_named_not_mixed(good, tmp_path, capsys):
    from search_repro.proxy import reference_architectures

    work = tmp_path / "w"
    shutil.copytree(good, work)
    odd = work / "out/references/ref05/seed1.json"
    write_json_atomic(odd, _run_record(reference_architectures()["ref05"], 1, recipe={
        **json.loads(odd.read_text())["recipe"], "epochs": 3.0}))
    code, out, err = run_cli(["protocol", "report", "--out", str(work / "out")], capsys)
    check_one_line(code, err, r"ref05/seed1.json was trained with another recipe than .*ref00/seed0.json")


def test_reuse_checks_every_record_before_copying_any(good, tmp_path, capsys):
    """``reuse/a`` would be copied; ``reuse/b`` is bad: nothing is copied."""
    work = tmp_path / "w"
    shutil.copytree(good, work)
    (work / "reuse/b/seed0.json").write_text('{"arch": "e3k3"')
    code, out, err = run_cli(["protocol", "pilot", "--name", "new", "--ladder", "2", "--seeds", "0",
                              "--out", str(work / "out"), "--reuse", str(work / "reuse")], capsys)
    check_one_line(code, err, r"reuse/b/seed0.json is not valid JSON")
    assert not (work / "out/pilots/new").exists()


@pytest.mark.parametrize("value", [float("nan"), float("inf"), -float("inf")])
def test_the_json_writer_refuses_nan_and_keeps_the_old_file(value, tmp_path):
    from moga_zoo.errors import MogaZooError

    target = tmp_path / "report.json"
    write_json_atomic(target, {"ok": 1})
    with pytest.raises(MogaZooError, match=r"refusing to write rows\[1\]\.tau = (nan|inf|-inf) into"):
        write_json_atomic(target, {"rows": [{"tau": 0.5}, {"tau": value}]})
    assert json.loads(target.read_text()) == {"ok": 1}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.json"]


#: JSON read line by line as a log this process appended to (``log.jsonl``), not a record.
JSON_LINES = {"search_repro/supernet/train.py"}


def test_every_json_read_goes_through_the_records_module():
    """A JSON file read from disk anywhere but in moga_zoo/records.py fails this."""
    readers = []
    for path in [*ROOT.glob("moga_zoo/**/*.py"), *ROOT.glob("search_repro/**/*.py")]:
        rel = path.relative_to(ROOT).as_posix()
        if rel in ("moga_zoo/records.py", *JSON_LINES):
            continue
        for n, line in enumerate(path.read_text().splitlines(), 1):
            if re.search(r"\bjson\.load\(|\bjson\.loads\(.*(read_text|read_bytes|\.read\()", line):
                readers.append(f"{rel}:{n}: {line.strip()}")
    assert not readers, "read JSON with moga_zoo.records.read_json/read_record:\n" + "\n".join(readers)
