"""Installing the project's extras keeps the torch a user installed (the CPU build stays CPU)."""
from __future__ import annotations

import configparser
import json
import re
import subprocess
import sys
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from packaging.requirements import Requirement

REPO = Path(__file__).resolve().parent.parent


def _installed_extras() -> list[str]:
    """The extras of setup.cfg whose requirements are all installed here (CI installs them all)."""
    cfg = configparser.ConfigParser()
    cfg.read(REPO / "setup.cfg")
    extras = []
    for name, text in cfg["options.extras_require"].items():
        try:
            for line in filter(None, (l.strip() for l in text.splitlines())):
                version(Requirement(line).name)
        except PackageNotFoundError:
            continue
        extras.append(name)
    return extras


def test_no_extra_replaces_the_installed_torch(tmp_path):
    """Resolve every installed extra with no package index: a requirement that the installed
    torch or torchvision does not meet (a pin, a newer release, a CUDA-only package) makes pip
    fail or want to install something besides the project itself."""
    extras = _installed_extras()
    assert {"search", "export", "test"} <= set(extras)
    report = tmp_path / "report.json"
    run = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--dry-run", "--no-index", "--no-build-isolation",
         "--quiet", "--report", str(report), "-e", f".[{','.join(extras)}]"],
        cwd=REPO, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    wanted = [item["metadata"]["name"] for item in json.loads(report.read_text())["install"]]
    assert wanted == ["moga_zoo"], wanted


def test_readme_installs_the_cpu_torch_and_torchvision_together():
    """torchvision pins torch exactly: installed alone after a CPU torch, PyPI's torchvision can
    pull the CUDA build of another torch release, so both come from the CPU index at once."""
    readme = (REPO / "README.md").read_text()
    line = re.search(r"pip install [^`\n]*--index-url https://download\.pytorch\.org/whl/cpu",
                     readme)
    assert line and "torch " in line[0] and "torchvision " in line[0], line
