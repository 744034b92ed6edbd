"""Safe file I/O: atomic writes and sha256 digests.

Every file this project writes (tables, states, checkpoints, weights, docs) goes through
:func:`replace_atomic` (a temporary file beside the target, then ``os.replace``), so a crash never
leaves a half-written file and a failed write leaves the old one untouched; every recorded
digest of an artifact comes from :func:`sha256_file`. A full disk (or quota) is one
:class:`DiskFullError` that names the file and the space it needs; the temp file is removed and
the old file stays as it was.
"""
from __future__ import annotations

import errno
import hashlib
import json
import math
import os
import re
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator

from .errors import MogaZooError, UsageError

__all__ = ["DiskFullError", "disk_full_reported", "replace_atomic", "sha256_file",
           "write_bytes_atomic", "write_text_atomic", "write_json_atomic", "check_output_file",
           "check_output_folder", "folder_lock"]

#: errno values that mean the file system (or the user's quota) has no room left.
_FULL = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG}
#: How a writer library that does not raise OSError (safetensors) names those errno values.
_FULL_IN_MESSAGE = re.compile(r"\(os error (%s)\)" % "|".join(str(n) for n in sorted(_FULL)))


class DiskFullError(MogaZooError, OSError):
    """No space left for a file: it names the file and the space needed; nothing was written."""


def replace_atomic(path: "str | os.PathLike", write: Callable[[str], None],
                   size: int | None = None) -> None:
    """``write(tmp)`` a temp file beside ``path``, then ``os.replace`` it: never half-written.

    The file gets the usual permissions (0666 minus the umask), not ``mkstemp``'s 0600. On a full
    disk the temp file is removed, an old ``path`` is left as it was and :class:`DiskFullError`
    says how much space the file needs (``size`` when known, else more than was written).
    """
    path = Path(path)
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        os.close(fd)
        write(tmp)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException as e:
        written = _remove(tmp)
        if _is_disk_full(e):
            raise DiskFullError(_full_message(path, size, written)) from None
        raise


@contextmanager
def disk_full_reported(path: "str | os.PathLike", size: int | None = None) -> Iterator[None]:
    """Around writes into a staging place that the caller removes on failure (a temporary
    folder whose files are then moved to ``path``): a full disk is one :class:`DiskFullError`
    naming ``path`` and the ``size`` it needs."""
    try:
        yield
    except BaseException as e:
        if _is_disk_full(e):
            raise DiskFullError(_full_message(Path(path), size, 0)) from None
        raise


def _is_disk_full(e: BaseException) -> bool:
    """Whether ``e`` is a write that found no room: an OSError, or a safetensors error carrying
    the OS error in its message."""
    if isinstance(e, DiskFullError):
        return False
    if isinstance(e, OSError):
        return e.errno in _FULL
    return type(e).__name__ == "SafetensorError" and bool(_FULL_IN_MESSAGE.search(str(e)))


def _remove(tmp: "str | None") -> int:
    """Remove a temp file; how many bytes it had."""
    if tmp is None:
        return 0
    try:
        written = os.path.getsize(tmp)
    except OSError:
        written = 0
    Path(tmp).unlink(missing_ok=True)
    return written


def _mb(size: int) -> str:
    return f"{size / 2**20:.1f} MB" if size >= 2**20 else f"{size / 2**10:.1f} kB"


def _full_message(path: Path, size: int | None, written: int) -> str:
    folder = next((p for p in (path.parent, *path.parents) if p.exists()), Path("."))
    free = shutil.disk_usage(folder).free
    need = _mb(size) if size else f"more than {_mb(written)}"
    kept = "; the previous file is unchanged" if path.exists() else ""
    return (f"no space left on the device for {path}: it needs {need} and {_mb(free)} are free "
            f"there; nothing was written{kept}. Free some space or write elsewhere")


def write_bytes_atomic(path: "str | os.PathLike", data: bytes) -> None:
    """Write ``data`` to ``path`` atomically, synced to disk before the rename."""
    def write(tmp: str) -> None:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())

    replace_atomic(path, write, len(data))


def write_text_atomic(path: "str | os.PathLike", text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically, synced to disk before the rename."""
    def write(tmp: str) -> None:
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())

    replace_atomic(path, write, len(text.encode("utf-8")))


def write_json_atomic(path: "str | os.PathLike", data: Any, indent: int = 2) -> None:
    """Write ``data`` as JSON (with a final newline) to ``path`` atomically.

    NaN and infinities are not JSON: a value holding one is refused (a :class:`UsageError` that
    names the file and the field) and nothing is written.
    """
    try:
        text = json.dumps(data, indent=indent, allow_nan=False)
    except ValueError:
        raise UsageError(f"refusing to write {_non_finite(data)} into {path}, which would not be "
                         f"JSON; nothing was written") from None
    write_text_atomic(path, text + "\n")


def _non_finite(data: Any, where: str = "") -> str:
    """Where in ``data`` the first NaN or infinity is (``'front[3].accuracy' = nan``)."""
    if isinstance(data, float) and not math.isfinite(data):
        return f"{where or 'the value'} = {data}"
    items = (data.items() if isinstance(data, dict) else
             enumerate(data) if isinstance(data, (list, tuple)) else ())
    for key, value in items:
        found = _non_finite(value, f"{where}[{key}]" if isinstance(key, int) else
                            f"{where}.{key}" if where else str(key))
        if found:
            return found
    return ""


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


@contextmanager
def folder_lock(path: "str | os.PathLike", what: str = "--out",
                holder: str = "another run") -> Iterator[Path]:
    """Hold an exclusive lock on the output folder ``path`` (checked, created if missing) while
    a command writes into it; a second command on the same folder is refused with one line. A
    folder created here and left empty (the command failed before writing) is removed."""
    import fcntl

    path = check_output_folder(path, what)
    created = not path.exists()
    path.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDONLY)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise UsageError(f"{what} {path} is in use by {holder} right now; wait for it to "
                             f"finish, or give another {what}") from None
        try:
            yield path
        finally:
            if created and not any(path.iterdir()):
                path.rmdir()
    finally:
        os.close(fd)


def _check_parent(path: Path, what: str) -> None:
    parent = path.absolute().parent
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir():
        raise UsageError(f"{what} {path}: {parent} is a file, not a folder")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise UsageError(f"{what} {path}: the folder {parent} is not writable by this user")
