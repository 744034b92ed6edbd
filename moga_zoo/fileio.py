"""Safe file I/O: atomic writes and sha256 digests.

Every file this project writes (tables, states, checkpoints, weights, docs) goes through
:func:`replace_atomic` (a temporary file beside the target, then ``os.replace``), so a crash never
leaves a half-written file and a failed write leaves the old one untouched; every recorded
digest of an artifact comes from :func:`sha256_file`.
"""
from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any, Callable

from .errors import UsageError

__all__ = ["replace_atomic", "sha256_file", "write_text_atomic", "write_json_atomic", "check_output_file",
           "check_output_folder"]


def replace_atomic(path: "str | os.PathLike", write: Callable[[str], None]) -> None:
    """``write(tmp)`` a temp file beside ``path``, then ``os.replace`` it: never half-written.

    The file gets the usual permissions (0666 minus the umask), not ``mkstemp``'s 0600.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        write(tmp)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_text_atomic(path: "str | os.PathLike", text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically, synced to disk before the rename."""
    def write(tmp: str) -> None:
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())

    replace_atomic(path, write)


def write_json_atomic(path: "str | os.PathLike", data: Any, indent: int = 2) -> None:
    """Write ``data`` as JSON (with a final newline) to ``path`` atomically."""
    write_text_atomic(path, json.dumps(data, indent=indent) + "\n")


def sha256_file(path: "str | os.PathLike") -> str:
    """Hex sha256 of a file's bytes (read in 1 MiB chunks)."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def check_output_file(path: "str | os.PathLike", what: str = "output") -> Path:
    """``path`` as a :class:`Path` if a file can be written there, else :class:`UsageError`.

    Checked before any work starts: not an existing folder, and the nearest existing parent is
    a folder this process may write into.
    """
    path = Path(path)
    if path.is_dir():
        raise UsageError(f"{what} {path} is a folder; give a file name")
    if path.exists() and not path.is_file():
        raise UsageError(f"{what} {path} exists and is not a regular file")
    _check_parent(path, what)
    return path


def check_output_folder(path: "str | os.PathLike", what: str = "output folder") -> Path:
    """``path`` as a :class:`Path` if it is or can become a writable folder, else :class:`UsageError`."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise UsageError(f"{what} {path} exists and is not a folder; give a folder")
    if path.is_dir():
        if not os.access(path, os.W_OK | os.X_OK):
            raise UsageError(f"{what} {path} is not writable by this user")
        return path
    _check_parent(path, what)
    return path


def _check_parent(path: Path, what: str) -> None:
    parent = path.absolute().parent
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir():
        raise UsageError(f"{what} {path}: {parent} is a file, not a folder")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise UsageError(f"{what} {path}: the folder {parent} is not writable by this user")
