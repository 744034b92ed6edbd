"""Suite-wide hygiene: no test reads or writes the user's caches, or leaks global state."""
import os

import pytest
import torch


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
