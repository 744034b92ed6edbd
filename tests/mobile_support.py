"""Helpers for the phone-runtime tests: the extras are optional locally, required in CI."""
from __future__ import annotations

import importlib
import os

import pytest


def require(module: str):
    """Import ``module`` (an optional extra); skip without it, except in CI (``CI=true``), which
    installs both phone extras (`.ci/run`) so a missing one is a failure there."""
    if os.environ.get("CI", "").lower() == "true":
        return importlib.import_module(module)
    return pytest.importorskip(module)
