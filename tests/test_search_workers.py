"""``moga-zoo search --processes N``: worker processes score candidates; the results do not change."""
from __future__ import annotations

import argparse
import json
import sys

import pytest

from moga_zoo.cli import main
from search_repro.search import workers

SMALL = ["--budget", "smoke", "--generations", "1", "--random-samples", "2", "--threads", "1",
         "--no-progress"]
RESULTS = ("front.json", "history.csv", "references.csv")


def test_two_processes_write_the_same_results_as_one(tmp_path, capsys):
    assert main(["search", "--out", str(tmp_path / "one"), "--processes", "1", *SMALL]) == 0
    assert main(["search", "--out", str(tmp_path / "two"), "--processes", "2", *SMALL]) == 0
    for name in RESULTS:
        assert (tmp_path / "two" / name).read_bytes() == (tmp_path / "one" / name).read_bytes()
    runs = [json.loads((tmp_path / name / "run.json").read_text())["invocations"]
            for name in ("one", "two")]
    assert [r[0]["processes"] for r in runs] == [1, 2]


def test_a_worker_that_fails_is_named_in_one_line(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(workers, "worker_command", lambda *_: [
        sys.executable, "-c", "import sys; print('the worker ran out of memory'); sys.exit(3)"])
    assert main(["search", "--out", str(tmp_path / "run"), "--processes", "2", *SMALL]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert "evaluation worker 1 stopped (exit code 3): the worker ran out of memory" in err
    assert "--processes 1" in err and not (tmp_path / "run" / "front.json").exists()


def test_processes_option_takes_auto_or_a_count_of_this_machines_cores(monkeypatch):
    monkeypatch.setattr(workers, "usable_cores", lambda: 4)
    assert workers.processes_option("auto") == "auto" and workers.processes_option("3") == 3
    for bad in ("0", "5", "two"):
        with pytest.raises(argparse.ArgumentTypeError):
            workers.processes_option(bad)


def test_idle_cores_leave_the_load_of_the_last_minute(monkeypatch):
    monkeypatch.setattr(workers.os, "sched_getaffinity", lambda _: {0, 1, 2, 3}, raising=False)
    for load, idle in ((0.1, 4), (1.4, 3), (2.6, 1), (9.0, 1)):
        monkeypatch.setattr(workers.os, "getloadavg", lambda load=load: (load, 0.0, 0.0))
        assert workers.idle_cores() == idle
