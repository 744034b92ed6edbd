"""Suite-wide hygiene: no test reads or writes the user's caches, leaks global state, or leaves
files in the system's temp folder."""
import os
import shutil
import tempfile

import pytest
import torch

_SESSION_TMP: list[str] = []


def pytest_configure(config):
    """Every temp file of the run, the tests' ``tmp_path`` folders and what child processes
    (torchrun's ``torchelastic_*``, ``tempfile.mkdtemp``) create included, goes under one folder,
    removed at the end of a passing run (a failing run keeps it, and says where)."""
    if config.option.basetemp or hasattr(config, "workerinput"):
        return
    root = tempfile.mkdtemp(prefix="moga_zoo-tests-")
    _SESSION_TMP.append(root)
    config.option.basetemp = os.path.join(root, "pytest")
    os.environ["TMPDIR"] = root
    tempfile.tempdir = root


def pytest_unconfigure(config):
    for root in _SESSION_TMP:
        if getattr(config, "_moga_zoo_failed", True):
            print(f"\ntemp files of this run kept in {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)


def pytest_sessionfinish(session, exitstatus):
    session.config._moga_zoo_failed = exitstatus not in (0, 5)


@pytest.fixture(autouse=True, scope="session")
def _private_caches(tmp_path_factory):
    """Point moga_zoo's export cache and installed-weights folder at the test session's own
    folders, so the suite neither depends on nor pollutes ``~/.cache/moga_zoo``."""
    root = tmp_path_factory.mktemp("moga_zoo_home")
    saved = {k: os.environ.get(k) for k in ("MOGA_ZOO_CACHE", "MOGA_ZOO_WEIGHTS")}
    os.environ["MOGA_ZOO_CACHE"] = str(root / "cache")
    os.environ["MOGA_ZOO_WEIGHTS"] = str(root / "weights")
    yield
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


@pytest.fixture(autouse=True)
def _restore_torch_threads():
    """Commands run in-process (``--threads 1``) set torch's global thread count; put it back so
    later tests compute with the same reduction order as the subprocesses they compare against."""
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)
