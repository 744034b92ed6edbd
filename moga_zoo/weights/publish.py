"""Publish a converted folder to the Hugging Face hub with ``HfApi`` and report the commit to pin."""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from huggingface_hub import HfApi

from ..records import RecordError, read_json
from .errors import WeightsError
from .integrity import sha256_file
from .local import WEIGHTS_FILE

__all__ = ["PUBLISHED_FILES", "PublishResult", "check_folder", "publish_folder"]

#: The files a converted folder holds and a publish uploads, nothing else.
PUBLISHED_FILES = (WEIGHTS_FILE, "config.json", "README.md")


@dataclass(frozen=True)
class PublishResult:
    """Where the files went: the repo, the commit to pin in the manifest, the file's sha256 and size."""

    repo_id: str
    commit: str
    commit_url: str
    sha256: str
    size: int


def check_folder(folder: str | os.PathLike) -> Path:
    """Raise :class:`WeightsError` unless ``folder`` is a complete folder from ``moga-zoo convert``."""
    folder = Path(folder)
    if not folder.is_dir():
        raise WeightsError(f"{folder} is not a folder; give the output folder of `moga-zoo convert`")
    missing = [f for f in PUBLISHED_FILES if not (folder / f).is_file()]
    if missing:
        raise WeightsError(f"{folder} lacks {', '.join(missing)}; re-run `moga-zoo convert ... -o {folder}`")
    try:
        arch = read_json(folder / "config.json", "timm config")["architecture"]
    except (RecordError, KeyError, TypeError):
        raise WeightsError(f"{folder}/config.json is not a timm config (no 'architecture')") from None
    if not str(arch).startswith("moga_"):
        raise WeightsError(f"{folder}/config.json is for {arch!r}, not a moga_zoo model")
    return folder


def publish_folder(
    folder: str | os.PathLike,
    repo_id: str,
    *,
    token: str | None = None,
    private: bool = False,
    revision: str | None = None,
    endpoint: str | None = None,
    commit_message: str = "Add MoGA weights converted by moga_zoo",
) -> PublishResult:
    """Create ``repo_id`` if needed and upload the folder's three files in one commit."""
    folder = check_folder(folder)
    api = HfApi(endpoint=endpoint, token=token, library_name="moga_zoo")
    repo = api.create_repo(repo_id, private=private, exist_ok=True)
    info = api.upload_folder(
        repo_id=repo.repo_id, folder_path=str(folder), revision=revision,
        allow_patterns=list(PUBLISHED_FILES), commit_message=commit_message,
    )
    weights = folder / WEIGHTS_FILE
    return PublishResult(repo.repo_id, info.oid, info.commit_url, sha256_file(weights),
                         os.path.getsize(weights))
