"""Class 1 of docs/bad-input.md: every numeric option and environment variable has one declared
range (finite bounds), checked where it is parsed (:mod:`moga_zoo.cli.options`).

The walk covers every option of every command line of the project, so a new command whose
numeric option skips the mechanism fails here (and already when it registers: :class:`Parser`
refuses a ``type=int`` with no declared range).
"""
from __future__ import annotations

import argparse
import math
import re
from pathlib import Path

import pytest

from border_support import check_one_line, every_option, run_cli, snapshot
from moga_zoo.cli.options import ENVIRONMENT, RANGES, Numbers, Parser, Range

ROOT = Path(__file__).resolve().parents[1]
OPTIONS = every_option()
#: Defaults that are numbers written as text (``0,1,2``, ``0/1``, ``1000x2``).
NUMERIC_TEXT = re.compile(r"^[\d.,/x+\-e]+$|\d+x\d+")


def _declared(kind) -> bool:
    return isinstance(kind, (Range, Numbers)) or getattr(kind, "checked", False)


def _numeric(action: argparse.Action) -> bool:
    d = action.default
    return (action.type in (int, float) or isinstance(action.type, (Range, Numbers))
            or (isinstance(d, (int, float)) and not isinstance(d, bool))
            or (isinstance(d, str) and bool(NUMERIC_TEXT.search(d))))


def test_the_walk_sees_every_command_line():
    paths = {p.split()[0] for p, _ in OPTIONS}
    assert paths == {"moga-zoo", "protocol", "verify", "reproduce", "train"}
    assert len(OPTIONS) > 150
    assert {p for p, _ in OPTIONS if p.startswith("moga-zoo ")} >= {
        "moga-zoo predict", "moga-zoo export", "moga-zoo lut build", "moga-zoo supernet eval",
        "moga-zoo search", "moga-zoo cache", "moga-zoo info"}


@pytest.mark.parametrize("path,action", [(p, a) for p, a in OPTIONS if _numeric(a)],
                         ids=[f"{p} {a.option_strings[-1] if a.option_strings else a.dest}"
                              for p, a in OPTIONS if _numeric(a)])
def test_every_numeric_option_declares_a_range(path, action):
    assert _declared(action.type), (
        f"{path} {action.option_strings}: a numeric option must use a declared range "
        f"(moga_zoo.cli.options.RANGES, Range, Numbers or checked), got type={action.type!r}")
    item = action.type.item if isinstance(action.type, Numbers) else action.type
    if isinstance(item, Range):
        assert math.isfinite(item.low) and math.isfinite(item.high)
        if isinstance(action.default, (int, float)) and not isinstance(action.default, bool):
            # 0 as a default may mean "not set" (--threads 0: torch's own setting)
            assert item.low <= action.default <= item.high or action.default == 0, (
                f"{path} {action.option_strings}: default {action.default} outside {item}")


@pytest.mark.parametrize("flag", sorted(k for k in RANGES if k.startswith("--")))
def test_each_declared_range_refuses_nan_inf_and_the_values_beyond_it(flag):
    r = RANGES[flag]
    for text in ("nan", "inf", "-inf", "1e400", str(r.low - 1), str(r.high * 2 + 1)):
        with pytest.raises(argparse.ArgumentTypeError):
            r(text)
    assert r(str(r.low)) == r.low and r(str(r.high)) == r.high


def test_a_new_numeric_option_without_a_range_cannot_register():
    p = Parser(prog="x")
    for kind in (int, float):
        with pytest.raises(TypeError, match="no declared range"):
            p.add_argument("--new-count", type=kind)
    with pytest.raises(TypeError, match="no declared range"):
        p.add_argument("--new-rate", default=0.5)
    sub = p.add_subparsers().add_parser("cmd")  # subcommands' parsers go through it too
    with pytest.raises(TypeError, match="no declared range"):
        sub.add_argument("--new-count", type=int)
    assert sub.add_argument("--threads", type=int).type is RANGES["--threads"]


def _environment_reads() -> set[str]:
    names = set()
    for path in [*ROOT.glob("moga_zoo/**/*.py"), *ROOT.glob("search_repro/**/*.py")]:
        names |= set(re.findall(r"\bMOGA_ZOO_[A-Z_]+\b", path.read_text()))
    return names


def test_every_environment_variable_is_declared_and_numbers_are_read_through_the_table():
    names = _environment_reads()
    assert "MOGA_ZOO_CACHE_MAX_MB" in names
    undeclared = names - set(ENVIRONMENT)
    assert not undeclared, f"declare these in moga_zoo.cli.options.ENVIRONMENT: {undeclared}"
    for name, kind in ENVIRONMENT.items():
        if kind == "number":
            assert name in RANGES
            for path in [*ROOT.glob("moga_zoo/**/*.py"), *ROOT.glob("search_repro/**/*.py")]:
                if path.name != "options.py":
                    assert not re.search(rf"environ[^\n]*{name}", path.read_text()), (
                        f"{path} reads {name} itself; use env_number")


CASES = [
    # (argv, needle, env)
    (["protocol", "pilot", "--name", "x", "--epochs", "0"], r"--epochs: expected a number >= 0.01, got 0"),
    (["protocol", "pilot", "--name", "x", "--epochs", "-1"], r"--epochs: expected a number >= 0.01"),
    (["protocol", "pilot", "--name", "x", "--epochs", "nan"], r"--epochs: expected a finite number"),
    (["protocol", "pilot", "--name", "x", "--batch-size", "0"], r"--batch-size: expected a positive integer"),
    (["protocol", "pilot", "--name", "x", "--ladder", "1"], r"--ladder: expected an integer >= 2, got 1"),
    (["protocol", "pilot", "--name", "x", "--seeds", "-1"], r"--seeds: expected an integer >= 0"),
    (["protocol", "pilot", "--name", "x", "--task", "canvas:clutter=100000000"],
     r"--task: invalid canvas task.*clutter <= 256"),
    (["protocol", "pilot", "--name", "x", "--shard", "2/2"], r"--shard: I/N needs 0 <= I < N"),
    (["protocol", "references", "--lr", "inf"], r"--lr: expected a finite number"),
    (["protocol", "supernet", "--threads", "100000"], r"--threads: expected at most 1024"),
    (["protocol", "evaluator-check", "--candidates", "1000x0"], r"--candidates: '1000x0'"),
    (["protocol", "report", "--calib-batches", "1000"], r"--calib-batches: expected at most 64"),
    (["verify", "train", "--epochs", "nan"], r"--epochs: expected a finite number"),
    (["verify", "latency", "--rounds", "0"], r"--rounds: expected a positive integer"),
    (["moga-zoo", "supernet", "eval", "moga_a", "--calib-batches", "1000"],
     r"--calib-batches: expected at most 64, got 1000"),
    (["moga-zoo", "search", "--threads", "100000"], r"--threads: expected at most 1024"),
    (["moga-zoo", "search", "--max-latency", "inf"], r"--max-latency: expected a finite number"),
    (["moga-zoo", "search", "--weights", "1,nan,1"], r"--weights: expected a finite number"),
    (["moga-zoo", "supernet", "train", "--out", "x", "--task", "canvas:clutter=100000000"],
     r"--task: invalid canvas task"),
    (["moga-zoo", "export", "--random-weights", "--input-size", "4", "-o", "m.onnx"],
     r"--input-size: expected an integer >= 32, got 4"),
    (["moga-zoo", "predict", "x.jpg", "--top-k", "1e9"], r"--top-k: expected an integer, got '1e9'"),
    (["reproduce", "--generations", "0"], r"--generations: expected a positive integer"),
    (["train", "--out", "x", "--lr", "nan"], r"--lr: expected a finite number"),
]
ENV_CASES = [("nan", "expected a finite number"), ("inf", "expected a finite number"),
             ("-5", "expected a number >= 0"), ("1e300", "expected at most 1048576"),
             ("lots", "expected a number, got 'lots'")]


@pytest.mark.parametrize("argv,needle", CASES, ids=[" ".join(c[0])[:60] for c in CASES])
def test_out_of_range_values_are_one_line_before_any_work(argv, needle, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    code, out, err = run_cli(argv, capsys)
    check_one_line(code, err, needle)
    assert out == "" and snapshot(tmp_path) == {}


@pytest.mark.parametrize("value,needle", ENV_CASES)
def test_environment_numbers_are_checked(value, needle, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("MOGA_ZOO_CACHE", str(tmp_path))
    monkeypatch.setenv("MOGA_ZOO_CACHE_MAX_MB", value)
    code, out, err = run_cli(["moga-zoo", "cache"], capsys)
    check_one_line(code, err, rf"MOGA_ZOO_CACHE_MAX_MB must be a number in 0\.\.1048576: {needle}")
