"""What a supernet score is, in words: which data, which split, how many images, how precise."""
from __future__ import annotations

from pathlib import PurePath
from typing import Any

import numpy as np

__all__ = ["data_name", "standard_error", "describe_score"]


def data_name(source: str) -> str:
    """A data source as recorded by the evaluator (``kind:path[:task knobs]``), named by its
    data and task, without the machine's path."""
    kind, _, root = str(source).partition(":")
    if kind == "fashion-mnist":
        _, task, knobs = root.partition(":name=")
        if not task:
            return "Fashion-MNIST"
        turned = "turned " if "rotate=" in knobs else ""
        return f"Fashion-MNIST {turned}cluttered {knobs.split(',')[0]}"
    return f"image folder '{PurePath(root).name}'" if kind == "folder" else str(source)


def standard_error(accuracy: "float | np.ndarray", images: int) -> "float | np.ndarray":
    """Binomial standard error of an accuracy measured on ``images`` images: sqrt(p(1-p)/n)."""
    p = np.asarray(accuracy, dtype=float)
    se = np.sqrt(p * (1.0 - p) / images)
    return float(se) if se.ndim == 0 else se


def describe_score(described: dict[str, Any], accuracies: "np.ndarray | None" = None) -> str:
    """One line saying what ``SupernetEvaluator.describe()``'s accuracies are (and, given the
    scores, their standard error at the mean accuracy)."""
    images = int(described["settings"]["val_size"])
    line = (f"supernet top-1 accuracy on the first {images:,} images of the "
            f"{data_name(described.get('data', '?'))} search-validation split "
            f"(held out from supernet training)")
    if accuracies is not None and len(accuracies):
        mean = float(np.mean(accuracies))
        line += f"; standard error {standard_error(mean, images):.3f} at {mean:.3f}"
    return line
