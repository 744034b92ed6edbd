"""Errors of the pretrained-weights path; each message says what happened and what to do."""
from __future__ import annotations

from ..errors import MogaZooError

__all__ = ["WeightsError", "WeightsNotPublishedError", "ChecksumError", "WeightsDownloadError"]


class WeightsError(MogaZooError, RuntimeError):
    """Pretrained weights could not be found, fetched, verified or loaded."""


class WeightsNotPublishedError(WeightsError):
    """The manifest entry exists but no weights are published for it yet."""


class ChecksumError(WeightsError):
    """A weights file does not have the size or sha256 it should have."""


class WeightsDownloadError(WeightsError):
    """The hub (or mirror) could not deliver the file, and it is not in the local cache."""
