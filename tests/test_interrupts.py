"""Ctrl-C and SIGTERM: one line saying what was saved and the command that resumes, no traceback."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from supernet_helpers import fake_fashion_mnist

from moga_zoo import interrupts
from moga_zoo.errors import run_reporting

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    return fake_fashion_mnist(tmp_path_factory.mktemp("fmnist"), n_train=120, n_test=20)


def _interrupt_training(root: Path, out: Path, sig: int, save_every: int, logged: int
                        ) -> subprocess.CompletedProcess:
    """Start a supernet training through the CLI, send ``sig`` once ``logged`` steps are in its
    log, and return the finished process."""
    cmd = [sys.executable, "-m", "moga_zoo", "supernet", "train", "--out", str(out),
           "--data-root", str(root), "--steps", "100000", "--batch-size", "8",
           "--search-val-size", "20", "--threads", "1", "--save-every", str(save_every)]
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    log, deadline = out / "log.jsonl", time.monotonic() + 120
    while not (log.is_file() and len(log.read_text().splitlines()) >= logged):
        assert proc.poll() is None, proc.communicate()[1][-2000:]
        assert time.monotonic() < deadline, "training never started"
        time.sleep(0.1)
    proc.send_signal(sig)
    stdout, stderr = proc.communicate(timeout=60)
    return subprocess.CompletedProcess(cmd, proc.returncode, stdout, stderr)


def test_sigterm_before_the_first_save_says_the_next_run_starts_over(root, tmp_path):
    run = _interrupt_training(root, tmp_path / "sn", signal.SIGTERM, save_every=100000, logged=1)
    assert run.returncode == 128 + signal.SIGTERM
    assert "Traceback" not in run.stderr
    lines = [line for line in run.stderr.splitlines() if line.strip()]
    assert lines[-1].startswith("moga-zoo supernet: interrupted (SIGTERM) before anything "
                                "was saved: the next run starts over (moga-zoo supernet train")
    assert not (tmp_path / "sn" / "state.pt").exists()


def test_ctrl_c_after_a_save_names_it_and_the_command_that_resumes(root, tmp_path):
    out = tmp_path / "sn"
    run = _interrupt_training(root, out, signal.SIGINT, save_every=2, logged=5)
    assert run.returncode == 130
    assert "Traceback" not in run.stderr and "KeyboardInterrupt" not in run.stderr
    last = [line for line in run.stderr.splitlines() if line.strip()][-1]
    assert last.startswith("moga-zoo supernet: interrupted (Ctrl-C); saved step ")
    step = int(last.split("saved step ")[1].split()[0])
    assert step >= 4 and step % 2 == 0
    assert f"of 100000 in {out / 'state.pt'}; resume with: moga-zoo supernet train --out" in last
    assert (out / "state.pt").is_file()
    assert not list(out.glob(".*.tmp"))  # an interrupted save leaves no temp file


def test_the_line_of_each_kind_of_command(monkeypatch):
    """A command that declared nothing, one that cannot resume, and one that can."""
    def stop(declare):
        def command():
            declare()
            raise KeyboardInterrupt
        return command

    lines = []
    monkeypatch.setattr("builtins.print", lambda *a, **k: lines.append(" ".join(map(str, a))))
    assert run_reporting("moga-zoo list", stop(lambda: None), ["moga-zoo", "list"]) == 130
    assert run_reporting("moga-zoo export", stop(lambda: interrupts.leaves(
        "nothing was written: m.onnx is unchanged")), ["moga-zoo", "export"]) == 130
    assert run_reporting("moga-zoo search", stop(lambda: interrupts.resumable(
        "generation 3 of 20 in r/state.json")), ["moga-zoo", "search", "--out", "r s"]) == 130
    assert lines == [
        "moga-zoo list: interrupted (Ctrl-C); nothing was saved",
        "moga-zoo export: interrupted (Ctrl-C); nothing was written: m.onnx is unchanged",
        "moga-zoo search: interrupted (Ctrl-C); saved generation 3 of 20 in r/state.json; "
        "resume with: moga-zoo search --out 'r s'"]
