"""The suite leaves nothing in the system's temp folder (tests/conftest.py)."""
from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def test_temp_files_of_child_processes_land_in_the_session_folder():
    """What torchrun, a child script or ``tempfile.mkdtemp`` create goes under the run's folder."""
    session = Path(tempfile.gettempdir())
    assert session.name.startswith("moga_zoo-tests-")
    child = subprocess.run([sys.executable, "-c", "import tempfile; print(tempfile.mkdtemp())"],
                           capture_output=True, text=True, check=True)
    assert Path(child.stdout.strip()).parent == session


def test_a_passing_run_leaves_the_system_temp_folder_as_it_was(tmp_path):
    system_tmp = tmp_path / "tmp"
    system_tmp.mkdir()
    env = {**os.environ, "TMPDIR": str(system_tmp)}
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                          "tests/test_suite_hygiene.py::"
                          "test_temp_files_of_child_processes_land_in_the_session_folder"],
                         cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout[-2000:]
    assert list(system_tmp.iterdir()) == []
