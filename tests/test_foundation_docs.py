"""The generated docs tables are up to date, and the Python examples in the model docs run and
print what their comments say."""
from __future__ import annotations

import ast
import importlib.util
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = ["docs/models.md", "docs/search-space.md"]


def _load_script():
    spec = importlib.util.spec_from_file_location("gen_arch_table", ROOT / "scripts/gen_arch_table.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


gen = _load_script()


def test_committed_tables_are_up_to_date():
    for path, (committed, fresh) in gen.updated_docs().items():
        assert committed == fresh, f"{path} is stale: run python scripts/gen_arch_table.py"


def test_committed_arch_table_carries_the_known_numbers():
    text = (ROOT / "docs/models.md").read_text()
    table = text[text.index("<!-- BEGIN GENERATED: arch-table"):text.index("<!-- END GENERATED: arch-table")]
    for number in ("5,159,802", "5,506,236", "5,488,200", "304.0 M", "248.6 M", "221.1 M"):
        assert number in table
    assert "| 4 | 40 | 1 | relu | e6 k3 SE | e3 k3 | e3 k3 |" in table  # MoGA-A/B/C layer 4
    assert len([line for line in table.splitlines() if re.match(r"\| \d+ \|", line)]) == 14


def test_replace_section_touches_only_the_section():
    text = ("intro\n<!-- BEGIN GENERATED: t (cmd) -->\nold\nrows\n<!-- END GENERATED: t -->\n"
            "outro\n")
    assert gen.replace_section(text, "t", "new", "x.md") == (
        "intro\n<!-- BEGIN GENERATED: t (cmd) -->\nnew\n<!-- END GENERATED: t -->\noutro\n")
    with pytest.raises(ValueError, match="markers"):
        gen.replace_section("no markers here", "t", "new", "x.md")


def _python_blocks(page: str) -> list[str]:
    return re.findall(r"```python\n(.*?)```", (ROOT / page).read_text(), re.S)


def _claims(block: str) -> list[tuple[str, object]]:
    """``expression  # literal`` lines: the literal is what the expression evaluates to."""
    claims = []
    for line in block.splitlines():
        if "  # " not in line:
            continue
        expr, comment = (s.strip() for s in line.split("  # ", 1))
        try:
            compile(expr, "<doc>", "eval")
            claims.append((expr, ast.literal_eval(comment)))
        except (SyntaxError, ValueError):
            continue  # an assignment, or a comment in words
    return claims


@pytest.mark.parametrize("page", PAGES)
def test_python_examples_run_and_match_their_comments(page):
    namespace: dict = {}
    blocks = _python_blocks(page)
    assert blocks
    checked = 0
    for block in blocks:
        exec(compile(block, page, "exec"), namespace)
        for expr, expected in _claims(block):
            value = eval(expr, namespace)
            assert (tuple(value) if isinstance(expected, tuple) else value) == expected, expr
            checked += 1
    assert checked >= 2
