"""The loader border: where a file or repository the user named is handed to a library that reads
weights (timm's loaders, ``torch.load``, safetensors, the hub client), that library's faults
become one :class:`~moga_zoo.weights.errors.WeightsError` line naming the source.

Every such call in the project runs inside :func:`loader_border` (tests/test_border_loaders.py
checks the call sites), so a new loader cannot leak a traceback for a bad file.
"""
from __future__ import annotations

import pickle
import re
from contextlib import contextmanager
from typing import Iterator

from ..errors import MogaZooError
from .errors import WeightsError

__all__ = ["loader_border", "loader_error"]


@contextmanager
def loader_border(source: str) -> Iterator[None]:
    """Run a loader on ``source`` (a path, ``local-dir:``/``hf-hub:`` name or model name); its
    faults with the input become a :class:`WeightsError` naming ``source``."""
    try:
        yield
    except MogaZooError:
        raise
    except Exception as e:  # noqa: BLE001  (mapped where it is a fault of the input, else re-raised)
        error = loader_error(e, str(source))
        if error is e:
            raise
        raise error from None


def loader_error(e: Exception, source: str) -> Exception:
    """The one-line error that says what a loader's exception ``e`` means for ``source``, or
    ``e`` itself when it is not a fault of the input (a bug keeps its traceback)."""
    text = str(e)
    if isinstance(e, pickle.UnpicklingError) or "weights_only" in text:
        found = re.findall(r"GLOBAL ([\w.]+)", text) or re.findall(
            r"Unsupported globals?:? ([\w., ]+?)\.?(?:\s|$)", text)
        names = ", ".join(dict.fromkeys(n.strip() for f in found for n in f.split(","))) or "unknown"
        return WeightsError(f"{source} holds pickled Python code ({names}), which is never "
                            f"unpickled here; use a .safetensors file (`moga-zoo convert` makes one)")
    if isinstance(e, RuntimeError) and "Error(s) in loading state_dict" in text:
        first = next((line.strip() for line in text.splitlines()[1:] if line.strip()), text)
        return WeightsError(f"{source} does not fit this model: {first}; is it another model's file?")
    if type(e).__name__ == "SafetensorError" or isinstance(e, (EOFError, pickle.PickleError)):
        return WeightsError(f"{source} is not a readable weights file ({type(e).__name__}: "
                            f"{text.splitlines()[0] if text else 'empty'}); re-download or "
                            f"re-convert it")
    hub = _hub_error(e, source)
    if hub is not e:
        return hub
    if isinstance(e, OSError):
        return WeightsError(f"cannot read {source} ({e.strerror or text})")
    return e


def _hub_error(e: Exception, source: str) -> Exception:
    """A hub client error for ``hf-hub:ORG/NAME[@REVISION]`` (else ``e``)."""
    if not source.startswith("hf-hub:"):
        return e
    from .hub import download_error

    repo, _, revision = source[len("hf-hub:"):].partition("@")
    return download_error(e, source, repo, revision or None, "the model files")
