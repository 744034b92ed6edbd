"""Fetch a manifest entry's file with ``huggingface_hub`` at its pinned commit, then verify it.

``hf_hub_download`` does the transfer, caching and locking (``HF_HOME``, ``HF_HUB_CACHE``,
``HF_ENDPOINT``, ``HF_HUB_OFFLINE``, ``HF_TOKEN`` all apply); this module checks size and sha256
before anything uses the file and removes a file that fails from the cache.
"""
from __future__ import annotations

import os
from pathlib import Path

import huggingface_hub
from huggingface_hub import constants as hf_constants
from huggingface_hub import errors as hf_errors

from .errors import ChecksumError, WeightsDownloadError, WeightsNotPublishedError
from .integrity import purge_cached_file, verify_file
from .manifest import WeightsEntry

__all__ = ["fetch_entry", "download_error"]


def fetch_entry(
    entry: WeightsEntry,
    *,
    cache_dir: str | os.PathLike | None = None,
    endpoint: str | None = None,
    token: str | bool | None = None,
    local_files_only: bool = False,
) -> Path:
    """Local path of ``entry``'s verified file, downloaded into the hub cache if needed.

    A file whose size or sha256 differs from the manifest is deleted from the cache and
    :class:`ChecksumError` is raised; the next call downloads it again.
    """
    if not entry.published:
        raise WeightsNotPublishedError(f"{entry.name} is not published (see its manifest 'source')")
    assert entry.revision and entry.sha256  # guaranteed by the manifest schema for published entries
    from .. import __version__  # not at import time: moga_zoo/__init__ is still running then

    where = f"{entry.hf_hub_id}@{entry.revision[:12]}/{entry.filename}"
    try:
        path = huggingface_hub.hf_hub_download(
            entry.hf_hub_id, entry.filename, revision=entry.revision, cache_dir=cache_dir,
            endpoint=endpoint, token=token, local_files_only=local_files_only,
            library_name="moga_zoo", library_version=__version__,
        )
    except Exception as e:  # client errors become one clear message; anything else is re-raised
        error = download_error(e, where, entry.hf_hub_id, entry.revision, entry.filename, endpoint,
                               cache_dir)
        if error is e:
            raise
        raise error from None
    try:
        verify_file(path, entry.sha256, entry.size, f"pretrained weights {entry.name} ({where})")
    except ChecksumError as e:
        purge_cached_file(path)
        raise ChecksumError(f"{e}. The file was corrupted in transfer or the repository changed; it has "
                            f"been removed from the cache, so retrying downloads it again. If it keeps "
                            f"failing, the mirror (HF_ENDPOINT) or the manifest is wrong.") from None
    return Path(path)


def download_error(e: Exception, where: str, repo_id: str, revision: str | None, filename: str,
                   endpoint: str | None = None, cache_dir: str | os.PathLike | None = None
                   ) -> Exception:
    """The :class:`WeightsDownloadError` that says what the hub client's error ``e`` means for
    ``repo_id@revision/filename`` (``where``), or ``e`` itself if it is not a hub fault."""
    host = endpoint or hf_constants.ENDPOINT
    if isinstance(e, hf_errors.GatedRepoError):
        return WeightsDownloadError(f"{where}: the repository is gated on {host}; accept its terms on the "
                                    f"hub and log in (`hf auth login` or HF_TOKEN)")
    if isinstance(e, hf_errors.RepositoryNotFoundError):
        return WeightsDownloadError(f"{where}: repository {repo_id!r} not found on {host}, or it is "
                                    f"private and no valid token was sent (set HF_TOKEN); check the "
                                    f"manifest's hf_hub_id and HF_ENDPOINT")
    if isinstance(e, hf_errors.RevisionNotFoundError):
        return WeightsDownloadError(f"{where}: commit {revision} does not exist in "
                                    f"{repo_id} on {host}; the manifest pins a wrong revision")
    if isinstance(e, hf_errors.RemoteEntryNotFoundError):
        return WeightsDownloadError(f"{where}: {filename!r} is not in {repo_id} at the "
                                    f"pinned commit on {host}")
    if isinstance(e, hf_errors.LocalEntryNotFoundError):
        if hf_constants.HF_HUB_OFFLINE or isinstance(e.__cause__, hf_errors.OfflineModeIsEnabled):
            return WeightsDownloadError(
                f"{where}: offline mode (HF_HUB_OFFLINE=1) and the file is not in the cache "
                f"{cache_dir or hf_constants.HF_HUB_CACHE}; run once online to fill the cache, or pass weights=PATH")
        answered = _http_status(e)
        if answered is not None:
            return WeightsDownloadError(f"{where}: {host} answered HTTP {answered} and the file is not in "
                                        f"the cache; try again later or set HF_ENDPOINT to a mirror")
        return WeightsDownloadError(f"{where}: could not reach {host} and the file is not in the cache "
                                    f"({_cause(e)}); check the connection, or set HF_ENDPOINT to a mirror")
    if isinstance(e, hf_errors.HfHubHTTPError):
        status = e.response.status_code if e.response is not None else "?"
        return WeightsDownloadError(f"{where}: {host} answered HTTP {status}; nothing was cached, try "
                                    f"again later or set HF_ENDPOINT to a mirror")
    if isinstance(e, OSError) and "Consistency check failed" in str(e):
        return WeightsDownloadError(f"{where}: the download from {host} ended early ({_cause(e)}); "
                                    f"nothing was cached, try again")
    transport = _transport_failure(e)
    if transport == "timeout":
        return WeightsDownloadError(f"{where}: {host} did not answer within HF_HUB_DOWNLOAD_TIMEOUT="
                                    f"{hf_constants.HF_HUB_DOWNLOAD_TIMEOUT} s, also on retry; nothing "
                                    f"usable was cached. Try again later, raise HF_HUB_DOWNLOAD_TIMEOUT or "
                                    f"set HF_ENDPOINT to a mirror")
    if transport == "connect":
        return WeightsDownloadError(f"{where}: could not reach {host} ({_cause(e)}); check the "
                                    f"connection, or set HF_ENDPOINT to a mirror")
    if transport == "broken":
        return WeightsDownloadError(f"{where}: the download from {host} ended early, also on retry "
                                    f"({_cause(e)}); nothing usable was cached, try again (it resumes)")
    return e


#: Classes of huggingface_hub's HTTP client (httpx) by what went wrong; matched by name so that
#: no private module of the client is imported.
_TRANSPORT_FAILURES = {"TimeoutException": "timeout", "ConnectError": "connect",
                       "ProtocolError": "broken", "ReadError": "broken", "NetworkError": "broken"}


def _transport_failure(e: BaseException) -> str | None:
    """``timeout``, ``connect`` or ``broken`` for a failure of the hub client's transport."""
    client_error = getattr(hf_errors, "HTTPError", None)  # the client's base error, re-exported
    if client_error is None or not isinstance(e, client_error):
        return None
    for cls in type(e).__mro__:
        if cls.__name__ in _TRANSPORT_FAILURES:
            return _TRANSPORT_FAILURES[cls.__name__]
    return None


def _http_status(e: BaseException) -> int | None:
    """Status of the hub's HTTP answer behind ``e``, if the hub answered at all."""
    while e is not None:
        if isinstance(e, hf_errors.HfHubHTTPError) and e.response is not None:
            return e.response.status_code
        e = e.__cause__  # type: ignore[assignment]
    return None


def _cause(e: BaseException) -> str:
    root = e
    while root.__cause__ is not None:
        root = root.__cause__
    return str(root).splitlines()[0] if str(root) else type(root).__name__
