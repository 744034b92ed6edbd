"""The zoo does not depend on the reproduction; the reproduction plugs its subcommands into ``moga-zoo``."""
from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import moga_zoo
from moga_zoo.cli import ENTRY_POINT_GROUP, build_parser, command_modules

PACKAGE = Path(moga_zoo.__file__).parent


def _imported_modules(path: Path) -> set[str]:
    """Absolute names of every module an import statement in ``path`` names (relative ones resolved)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                package = path.relative_to(PACKAGE.parent).parts[:-1]  # the file's package
                package = package[:len(package) - node.level + 1]
                names.add(".".join([*package, node.module or ""]).rstrip("."))
            else:
                names.add(node.module or "")
    return names


def _python(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)


def test_no_zoo_module_imports_the_reproduction():
    files = sorted(PACKAGE.rglob("*.py"))
    assert len(files) > 20 and PACKAGE / "cli" / "__init__.py" in files
    offenders = {str(f.relative_to(PACKAGE.parent)): sorted(n for n in _imported_modules(f)
                                                             if n.split(".")[0] == "search_repro")
                 for f in files}
    assert {f: n for f, n in offenders.items() if n} == {}


def test_the_import_scan_sees_relative_and_absolute_imports():
    assert "moga_zoo.fileio" in _imported_modules(PACKAGE / "weights" / "integrity.py")
    assert "moga_zoo.inference.export" in _imported_modules(PACKAGE / "inference" / "runtimes.py")
    assert "moga_zoo" in _imported_modules(PACKAGE / "inference" / "cache.py")  # from .. import
    assert "moga_zoo.builder" in _imported_modules(PACKAGE / "__init__.py")  # from .builder import


def test_help_and_list_do_not_import_the_reproduction():
    proc = _python(
        "import sys\n"
        "from moga_zoo.cli import main\n"
        "try:\n    main(['--help'])\n"
        "except SystemExit as e:\n    assert e.code == 0, e.code\n"
        "assert main(['list']) == 0\n"
        "loaded = sorted(m for m in sys.modules if m.split('.')[0] in ('search_repro', 'pymoo'))\n"
        "print('loaded:', loaded)\n")
    assert proc.returncode == 0, proc.stderr
    assert "loaded: ['search_repro', 'search_repro.cli', 'search_repro.cli.lut', " \
           "'search_repro.cli.search', 'search_repro.cli.supernet']" in proc.stdout
    for name in ("list", "info", "convert", "publish", "predict", "export", "lut", "supernet",
                 "search"):
        assert f"\n    {name} " in proc.stdout


def test_the_reproduction_contributes_its_subcommands_through_entry_points():
    plugged = [m.__name__ for m in command_modules() if not m.__name__.startswith("moga_zoo.")]
    assert sorted(plugged) == ["search_repro.cli.lut", "search_repro.cli.search",
                               "search_repro.cli.supernet"], ENTRY_POINT_GROUP
    parser = build_parser()
    for argv in (["lut", "show"], ["supernet", "eval", "moga_a"], ["search", "--table", "t.json"]):
        assert callable(parser.parse_args(argv).func)


def test_only_the_chosen_subcommand_is_built():
    parser = build_parser("list")
    assert parser.parse_args(["list", "--json"]).json is True
    sub = next(a for a in parser._actions if a.dest == "command")
    assert sub.choices["lut"]._actions[1:] == []  # listed by name and help only
