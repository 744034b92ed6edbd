"""Generate the docs tables that come from ``moga_zoo.search_space`` and ``moga_zoo.profile``.

Writes between ``<!-- BEGIN GENERATED: NAME ... -->`` / ``<!-- END GENERATED: NAME -->`` markers:
the MoGA-A/B/C architecture table (with parameters and MACs) in docs/models.md and the choice
codes in docs/search-space.md. ``--check`` exits 1 when a committed table is out of date.

    python scripts/gen_arch_table.py          # rewrite the tables
    python scripts/gen_arch_table.py --check  # CI / tests: are they up to date?
"""
from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path
from typing import Callable

from moga_zoo import create
from moga_zoo.fileio import write_text_atomic
from moga_zoo.profile import count_macs, count_params
from moga_zoo.search_space import CHOICES, LAYERS, NAMED_ARCHITECTURES

ROOT = Path(__file__).resolve().parents[1]


def _choice_cell(choice) -> str:
    return f"e{choice.expansion} k{choice.kernel}" + (" SE" if choice.se else "")


def render_arch_table() -> str:
    """Layer-by-layer table of MoGA-A/B/C plus their parameters and MACs at 224x224."""
    names = list(NAMED_ARCHITECTURES)
    titles = ["MoGA-" + n.removeprefix("moga_").upper() for n in names]
    lines = ["| layer | out | stride | act | " + " | ".join(titles) + " |",
             "|---|---|---|---|" + "---|" * len(names)]
    for i, spec in enumerate(LAYERS):
        cells = [_choice_cell(NAMED_ARCHITECTURES[n].choices[i]) for n in names]
        lines.append(f"| {i + 1} | {spec.out_chs} | {spec.stride} | {spec.act} | "
                     + " | ".join(cells) + " |")
    models = [create(n) for n in names]
    lines.append("| params | | | | " + " | ".join(f"{count_params(m):,}" for m in models) + " |")
    lines.append("| MACs @224 | | | | "
                 + " | ".join(f"{count_macs(m) / 1e6:.1f} M" for m in models) + " |")
    lines.append("| string | | | | " + " | ".join(f"`{NAMED_ARCHITECTURES[n]}`" for n in names)
                 + " |")
    return "\n".join(lines)


def render_choice_table() -> str:
    """The 12 choices of a searchable layer with their integer codes and string tokens."""
    lines = ["| code | token | kernel | expansion | SE |", "|---|---|---|---|---|"]
    for code, c in enumerate(CHOICES):
        lines.append(f"| {code} | `{c}` | {c.kernel} | {c.expansion} | {'yes' if c.se else 'no'} |")
    return "\n".join(lines)


SECTIONS: dict[str, dict[str, Callable[[], str]]] = {
    "docs/models.md": {"arch-table": render_arch_table},
    "docs/search-space.md": {"choice-codes": render_choice_table},
}


def _pattern(name: str) -> re.Pattern[str]:
    return re.compile(rf"(<!-- BEGIN GENERATED: {re.escape(name)}[^\n]*-->\n)(.*?)"
                      rf"(<!-- END GENERATED: {re.escape(name)} -->)", re.S)


def replace_section(text: str, name: str, body: str, path: str) -> str:
    """``text`` with the generated section ``name`` replaced by ``body``."""
    pattern = _pattern(name)
    if not pattern.search(text):
        raise ValueError(f"{path} has no '<!-- BEGIN GENERATED: {name} -->' ... "
                         f"'<!-- END GENERATED: {name} -->' markers; add them where the table goes")
    return pattern.sub(lambda m: m[1] + body + "\n" + m[3], text, count=1)


def updated_docs(root: Path = ROOT) -> dict[Path, tuple[str, str]]:
    """Per docs file: (current text, text with freshly generated sections)."""
    out = {}
    for rel, sections in SECTIONS.items():
        path = root / rel
        text = path.read_text()
        new = text
        for name, render in sections.items():
            new = replace_section(new, name, render(), rel)
        out[path] = (text, new)
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--check", action="store_true", help="exit 1 if a table is out of date")
    args = p.parse_args(argv)
    stale = []
    for path, (old, new) in updated_docs().items():
        if old == new:
            continue
        stale.append(path.relative_to(ROOT))
        if not args.check:
            write_text_atomic(path, new)
    if args.check and stale:
        print(f"out of date: {', '.join(map(str, stale))}; run python scripts/gen_arch_table.py",
              file=sys.stderr)
        return 1
    print("updated: " + ", ".join(map(str, stale)) if stale else "tables are up to date")
    return 0


if __name__ == "__main__":
    sys.exit(main())
