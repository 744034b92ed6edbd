"""Weights on the local disk: a file or converted folder given by the user, and installed weights.

``moga-zoo convert --install`` copies a converted folder to ``<weights dir>/<model.tag>/`` with a
``model.safetensors.sha256`` record; ``pretrained=True`` then finds it without any network.
The weights dir is ``$MOGA_ZOO_WEIGHTS``, else ``weights/`` in :func:`moga_zoo.cache.cache_dir`.
"""
from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

from ..cache import cache_dir
from ..fileio import replace_atomic, write_text_atomic
from .errors import ChecksumError, WeightsError
from .integrity import sha256_file, verify_file

__all__ = ["WEIGHTS_DIR_ENV", "WEIGHTS_FILE", "weights_dir", "local_weights_file", "installed_weights",
           "install_folder"]

WEIGHTS_DIR_ENV = "MOGA_ZOO_WEIGHTS"
WEIGHTS_FILE = "model.safetensors"
_FOLDER_FILES = (WEIGHTS_FILE, "config.json", "README.md")
_DIGEST_SUFFIX = ".sha256"
_DIGEST_LINE = re.compile(r"([0-9a-f]{64}) [ *]?" + re.escape(WEIGHTS_FILE))


def weights_dir() -> Path:
    """Where installed weights live (``$MOGA_ZOO_WEIGHTS``, default ``~/.cache/moga_zoo/weights``)."""
    env = os.environ.get(WEIGHTS_DIR_ENV)
    return Path(env).expanduser() if env else cache_dir() / "weights"


def local_weights_file(path: str | os.PathLike) -> Path:
    """The ``.safetensors`` file that ``weights=path`` means (the file, or ``path/model.safetensors``)."""
    p = Path(path).expanduser()
    if p.is_dir():
        f = p / WEIGHTS_FILE
        if not f.is_file():
            raise WeightsError(f"weights folder {p} has no {WEIGHTS_FILE}; give the folder written by "
                               f"`moga-zoo convert`, or the .safetensors file itself")
        return f
    if not p.exists():
        raise WeightsError(f"weights path {p} does not exist")
    if not p.is_file():
        raise WeightsError(f"weights path {p} is not a regular file or folder; give the .safetensors "
                           f"file or the folder written by `moga-zoo convert`")
    if p.suffix != ".safetensors":
        raise WeightsError(f"{p} is not a .safetensors file; only safetensors are loaded. Convert an authors' "
                           f"checkpoint with `moga-zoo convert {p} --model MODEL -o DIR` and pass weights=DIR")
    return p


def installed_weights(name: str) -> Path | None:
    """The verified installed file of ``model.tag``, or None if nothing is installed for it."""
    f = weights_dir() / name / WEIGHTS_FILE
    if not f.is_file():
        return None
    digest_file = f.with_name(WEIGHTS_FILE + _DIGEST_SUFFIX)
    if digest_file.is_file():
        digest = _read_digest(digest_file)
        try:
            verify_file(f, digest, None, f"installed weights {name}")
        except ChecksumError as e:
            raise ChecksumError(f"{e}; the installed file changed since `moga-zoo convert --install`. "
                                f"Re-run the conversion with --install, or delete {f.parent}") from None
    return f


def _read_digest(path: Path) -> str:
    """The sha256 a digest sidecar records (``<64 hex digits>  model.safetensors``)."""
    try:
        match = _DIGEST_LINE.fullmatch(path.read_bytes().decode("ascii", "replace").strip())
    except OSError as e:
        raise WeightsError(f"cannot read the digest record {path} ({e.strerror or e})") from None
    if match is None:
        raise WeightsError(f"{path} is not a digest record (expected '<sha256>  {WEIGHTS_FILE}'); "
                           f"re-run the conversion with --install, or delete {path.parent}")
    return match[1]


def install_folder(folder: str | os.PathLike, name: str) -> Path:
    """Copy a converted folder to ``<weights dir>/<name>/`` (each file replaced atomically)."""
    src = Path(folder)
    dst = weights_dir() / name
    dst.mkdir(parents=True, exist_ok=True)
    digest = sha256_file(src / WEIGHTS_FILE)
    # the digest record goes first: a reader never pairs a new file with an old digest it trusts
    write_text_atomic(dst / (WEIGHTS_FILE + _DIGEST_SUFFIX), f"{digest}  {WEIGHTS_FILE}\n")
    for fname in _FOLDER_FILES:
        if (src / fname).is_file():
            replace_atomic(dst / fname, lambda tmp, f=fname: shutil.copyfile(src / f, tmp))
    return dst


