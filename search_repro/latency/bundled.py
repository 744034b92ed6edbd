"""Tables shipped inside the package: ``tables/index.json`` lists each file with its sha256.

After adding or rebuilding a table file there, run ``moga-zoo lut index``.
"""
from __future__ import annotations

from pathlib import Path

from moga_zoo.errors import MissingFileError, UsageError
from moga_zoo.fileio import sha256_file, write_json_atomic

from .schema import TableFormatError, read_json

__all__ = ["TABLES_DIR", "DEFAULT_TABLE", "bundled_tables", "bundled_path",
           "reindex"]

TABLES_DIR = Path(__file__).with_name("tables")
INDEX = TABLES_DIR / "index.json"
#: This machine's CPU, PyTorch eager, 224 px, batch 1, 1 thread.
DEFAULT_TABLE = "cpu-torch-224-b1-t1"


def _index() -> dict[str, dict[str, str]]:
    return read_json(INDEX)["tables"] if INDEX.is_file() else {}


def bundled_tables() -> dict[str, Path]:
    """Name -> path of every bundled table."""
    return {name: TABLES_DIR / entry["file"] for name, entry in _index().items()}


def bundled_path(name: str) -> Path:
    """Path of a bundled table after checking its sha256 against the index."""
    index = _index()
    if name not in index:
        raise UsageError(f"no bundled latency table {name!r}; bundled: "
                         f"{', '.join(index) or 'none'} (or give a path to a .json table)")
    path = TABLES_DIR / index[name]["file"]
    if not path.is_file():
        raise MissingFileError(f"bundled table {name!r} is listed but {path} is missing; "
                                f"reinstall moga_zoo")
    digest = sha256_file(path)
    if digest != index[name]["sha256"]:
        raise TableFormatError(f"bundled table {path} has sha256 {digest[:12]}..., the index "
                               f"records {index[name]['sha256'][:12]}...; the file was modified or "
                               f"corrupted: reinstall moga_zoo")
    return path


def reindex() -> dict[str, dict[str, str]]:
    """Rewrite ``tables/index.json`` from the table files present (run after adding a table).

    Each ``*.json`` table is checked; its name is the file stem.
    """
    from .schema import check_table

    tables = {}
    for path in sorted(TABLES_DIR.glob("*.json")):
        if path == INDEX:
            continue
        data = read_json(path)
        check_table(data, str(path))
        tables[path.stem] = {"file": path.name, "sha256": sha256_file(path),
                             "device": f"{data['device']['type']}: {data['device']['name']}, "
                                       f"{data['device']['threads']} thread(s)",
                             "runtime": f"{data['runtime']['name']} {data['runtime']['version']}",
                             "resolution": data["resolution"], "batch": data["batch"]}
    write_json_atomic(INDEX, {"tables": tables}, indent=1)
    return tables

