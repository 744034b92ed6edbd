"""sha256 of weights files, and removing a bad file from the Hugging Face cache."""
from __future__ import annotations

import os
from pathlib import Path

from ..fileio import sha256_file
from .errors import ChecksumError

__all__ = ["sha256_file", "verify_file", "purge_cached_file"]

def verify_file(path: str | os.PathLike, sha256: str, size: int | None, what: str) -> None:
    """Raise :class:`ChecksumError` unless ``path`` has ``size`` bytes and digest ``sha256``."""
    actual_size = os.path.getsize(path)
    if size is not None and actual_size != size:
        raise ChecksumError(f"{what}: {path} has {actual_size} bytes, expected {size}")
    actual = sha256_file(path)
    if actual != sha256:
        raise ChecksumError(f"{what}: sha256 of {path} is {actual}, expected {sha256}")


def purge_cached_file(pointer: str | os.PathLike) -> None:
    """Delete a file from the huggingface_hub cache: the snapshot entry and the blob it links to."""
    pointer = Path(pointer)
    blob = pointer.resolve()
    for p in (pointer, blob):
        try:
            os.unlink(p)
        except FileNotFoundError:
            pass
