"""docs/cli.md is what scripts/gen_cli_docs.py makes from the CLI today."""
from __future__ import annotations

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _generator():
    spec = importlib.util.spec_from_file_location("gen_cli_docs", ROOT / "scripts" / "gen_cli_docs.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_committed_cli_reference_is_current():
    expected = _generator().render()
    assert (ROOT / "docs" / "cli.md").read_text() == expected, \
        "docs/cli.md is out of date: run python scripts/gen_cli_docs.py"


def test_every_subcommand_is_documented():
    from moga_zoo.cli import build_parser, command_modules

    text = _generator().render()
    names = [name for name, _, _ in _generator()._subcommands(build_parser())]
    declared = [name for module in command_modules() for name in module.COMMANDS]
    assert names == declared and {"predict", "export", "lut", "supernet", "search"} <= set(names)
    for name in names:
        assert f"## moga-zoo {name}\n" in text and f"usage: moga-zoo {name}" in text
