"""The docs site builds with `mkdocs build --strict` (no warnings), every page is in the nav, and
the measured tables name the command that produced them."""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def _nav_pages(nav) -> list[str]:
    pages = []
    for entry in nav:
        for value in entry.values():
            pages.extend(_nav_pages(value) if isinstance(value, list) else [value])
    return pages


def test_mkdocs_build_strict(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site")],
        cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-3000:]
    assert (tmp_path / "site" / "predict-export" / "index.html").is_file()


def test_every_markdown_page_is_in_the_nav():
    config = yaml.safe_load((ROOT / "mkdocs.yml").read_text())
    in_nav = set(_nav_pages(config["nav"]))
    on_disk = {p.relative_to(ROOT / "docs").as_posix() for p in (ROOT / "docs").rglob("*.md")}
    assert on_disk <= in_nav, f"pages missing from mkdocs.yml nav: {sorted(on_disk - in_nav)}"


def test_runtime_table_names_its_command():
    page = (ROOT / "docs" / "predict-export.md").read_text()
    table = page[page.index("| model | batch | runtime |"):]
    assert "benchmarks/bench_runtimes.py" in page[:page.index("| model | batch | runtime |")]
    rows = [r for r in table.splitlines() if r.startswith("| moga_")]
    assert {r.split("|")[1].strip() for r in rows} == {"moga_a", "moga_b", "moga_c"}
    assert {r.split("|")[2].strip() for r in rows} == {"1", "32"}
    assert all(re.search(r"\d+\.\d+x", r) for r in rows)


def test_getting_started_shows_real_output_for_every_command():
    page = (ROOT / "docs" / "getting-started.md").read_text()
    assert "`python scripts/getting_started.py` ran each step" in page
    steps = page[page.index("## 1. List"):]
    commands = re.findall(r"```bash\n(moga-zoo .*?)\n```\n\nOutput \(\d+ s\):\n\n```text\n(.+?)\n```",
                          steps, re.S)
    shown = re.findall(r"```bash\n(moga-zoo .*?)\n```", steps)
    assert len(commands) == len(shown) >= 8, "a command without its output"
    for needed in ("list", "info moga_a", "search --budget smoke", "lut build", "search --table",
                   "predict", "export", "cache"):
        assert any(c.startswith(f"moga-zoo {needed}") for c, _ in commands), needed
    for image in re.findall(r"!\[[^]]*\]\(([^)]+)\)", page):
        assert (ROOT / "docs" / image).is_file(), image
