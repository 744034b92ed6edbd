"""A search killed at any point and restarted with the same command ends with the same front."""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import search_helpers

REPO = Path(__file__).resolve().parents[1]
HELPER = Path(search_helpers.__file__)
ARGS = ["--generations", "8", "--pop-size", "10", "--max-latency", "17.5"]


def _env():
    return {**os.environ, "PYTHONPATH": f"{REPO}{os.pathsep}{REPO / 'tests'}", "OMP_NUM_THREADS": "1"}


def _generation(state: Path) -> int:
    try:
        return json.loads(state.read_text())["generation"]
    except (FileNotFoundError, json.JSONDecodeError):
        return 0


def _start_and_kill(out: Path, after_generation: int) -> int:
    """Start the toy search, SIGKILL it once ``after_generation`` is saved; the saved generation."""
    proc = subprocess.Popen([sys.executable, str(HELPER), str(out), *ARGS, "--sleep", "0.4"],
                            env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        while _generation(out / "state.json") < after_generation:
            assert proc.poll() is None, proc.stderr.read().decode()
            time.sleep(0.02)
        time.sleep(0.2)  # land somewhere inside the next generation
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert proc.returncode == -signal.SIGKILL
    return _generation(out / "state.json")


@pytest.mark.slow
def test_killed_run_resumes_to_the_same_front(tmp_path):
    search_helpers.main([str(tmp_path / "uninterrupted"), *ARGS])
    out = tmp_path / "killed"
    saved = _start_and_kill(out, after_generation=2)
    assert 2 <= saved < 8 and not (out / "front.json").exists()
    saved_again = _start_and_kill(out, after_generation=saved + 2)  # resumed, then killed again
    assert saved_again < 8 and not (out / "front.json").exists()
    subprocess.run([sys.executable, str(HELPER), str(out), *ARGS], env=_env(), check=True)
    invocations = json.loads((out / "run.json").read_text())["invocations"]
    assert [(i["resumed_from_generation"], i["finished"]) for i in invocations] == [
        (None, False), (saved, False), (saved_again, True)]  # the killed ones are listed too
    for name in ("front.json", "front.csv", "history.csv", "references.csv"):
        assert (out / name).read_bytes() == (tmp_path / "uninterrupted" / name).read_bytes(), name
