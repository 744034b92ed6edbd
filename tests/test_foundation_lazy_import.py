"""``import moga_zoo`` and ``moga-zoo --help`` load no torch, yet moga_a/b/c join timm's registry
whichever of timm and moga_zoo is imported first."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

import moga_zoo
from moga_zoo import factory

_HELP_WITHOUT_TORCH = """
import json, sys
import moga_zoo
after_import = sorted(m for m in ('torch', 'timm', 'moga_zoo.models') if m in sys.modules)
from moga_zoo.cli import main
try:
    main(['--help'])
except SystemExit as e:
    code = e.code
print(json.dumps({'code': code, 'after_import': after_import,
                  'after_help': sorted(m for m in ('torch', 'timm') if m in sys.modules),
                  'arch': str(moga_zoo.MOGA_A)}))
"""

_REGISTERED = """
import json
import moga_zoo, timm
model = timm.create_model('moga_a', num_classes=10)
print(json.dumps({
    'names': timm.list_models('moga_*'),
    'timm_model': [type(model).__name__, model.num_classes, model.pretrained_cfg['paper_ids']],
    'create': type(moga_zoo.create('moga_b')).__name__,
}))
"""

#: Import orders: moga_zoo first (the README's ``import moga_zoo, timm``, here with only the search
#: space), timm first, and a moga_zoo module that imports timm itself, so that the models register
#: midway through that module's import (a circular import if models.py needed it at import time).
_FIRST_IMPORTS = {
    "moga_zoo, then timm": "import moga_zoo.search_space\nimport timm",
    "timm, then moga_zoo": "import timm",
    "the builder imports timm": "from moga_zoo.builder import build_moga",
}


def _children(codes: dict[str, str]) -> dict[str, dict]:
    """Run each snippet in a fresh interpreter (side by side) and return what each printed as JSON."""
    procs = {key: subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE, text=True)
             for key, code in codes.items()}
    results = {}
    for key, proc in procs.items():
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, (key, err[-3000:])
        results[key] = json.loads(out.strip().splitlines()[-1])
    return results


def test_help_runs_without_importing_torch():
    result = _children({"help": _HELP_WITHOUT_TORCH})["help"]
    assert result == {"code": 0, "after_import": [], "after_help": [],
                      "arch": str(moga_zoo.MOGA_A)}


def test_the_models_join_timm_in_any_import_order():
    results = _children({key: f"{first}\n{_REGISTERED}" for key, first in _FIRST_IMPORTS.items()})
    for key, result in results.items():
        assert result == {"names": ["moga_a", "moga_b", "moga_c"],
                          "timm_model": ["MobileNetV3", 10, "arXiv:1908.01314"],
                          "create": "MobileNetV3"}, key


def test_the_torch_names_load_on_first_use():
    assert moga_zoo.create is factory.create
    assert moga_zoo.resolve_architecture("moga_b") == moga_zoo.MOGA_B
    from moga_zoo import build_moga, list_models
    assert list_models() == ["moga_a", "moga_b", "moga_c"]
    assert build_moga.__module__ == "moga_zoo.builder"
    assert set(moga_zoo.__all__) <= set(dir(moga_zoo))
    with pytest.raises(AttributeError, match="has no attribute 'creat'"):
        moga_zoo.creat  # noqa: B018
