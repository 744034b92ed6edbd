"""Classify image files: pillow loading, the model's own timm eval transform, batched top-k."""
from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Iterable, Iterator, Sequence

import numpy as np
import torch
import torch.nn as nn
from PIL import Image
from timm.data import create_transform, resolve_data_config

from ..errors import UsageError
from .images import ImageLoadError, find_images, load_image, to_rgb
from .labels import class_names
from .loading import load_model
from .runtimes import choose_runtime, make_runner, resolve_runtime

__all__ = ["Label", "Prediction", "Classifier", "predict"]

ImageSource = "str | os.PathLike | Image.Image"


@dataclass(frozen=True)
class Label:
    """One of the top-k classes of an image."""
    index: int
    name: str
    probability: float


@dataclass(frozen=True)
class Prediction:
    """Top-k classes of one image, or the reason it could not be classified."""
    source: str
    labels: tuple[Label, ...] = ()
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    def to_dict(self) -> dict[str, Any]:
        return {"source": self.source, "labels": [asdict(label) for label in self.labels],
                "error": self.error}


class Classifier:
    """A model ready to classify images: weights loaded, transform and class names resolved,
    runtime chosen (``auto``: see :func:`~moga_zoo.inference.runtimes.choose_runtime`, with
    ``images`` the number of images it will classify, if known; ``runtime_reason`` says why).
    ``cache``: the ONNX export cache folder (default: the user's cache), or False not to keep the
    export."""

    def __init__(
        self,
        model: str | nn.Module = "moga_a",
        *,
        weights: str | os.PathLike | None = None,
        pretrained: bool = False,
        runtime: str = "auto",
        batch_size: int = 32,
        cache: "str | os.PathLike | None | bool" = None,
        threads: int | None = None,
        images: int | None = None,
    ) -> None:
        if batch_size < 1:
            raise UsageError(f"batch size must be at least 1, got {batch_size}")
        resolve_runtime(runtime)  # an unknown or missing runtime fails before the model loads
        self.model = load_model(model, weights=weights, pretrained=pretrained)
        self.data_config = resolve_data_config({}, model=self.model)
        self.runtime, self.runtime_reason = choose_runtime(
            self.model, runtime, input_size=self.data_config["input_size"],
            cache=cache if cache in (None, False) else Path(cache), images=images)
        self.transform = create_transform(**self.data_config, is_training=False)
        self.class_names = class_names(self.model)
        self.batch_size = batch_size
        self._run = make_runner(self.model, self.runtime, input_size=self.data_config["input_size"],
                                cache=cache if cache in (None, False) else Path(cache),
                                threads=threads)

    def probabilities(self, images: Sequence[Image.Image]) -> np.ndarray:
        """Softmax class probabilities, one row per RGB image."""
        rows = []
        for start in range(0, len(images), self.batch_size):
            batch = torch.stack([self.transform(im) for im in images[start:start + self.batch_size]])
            rows.append(_softmax(self._run(batch)))
        return np.concatenate(rows) if rows else np.zeros((0, len(self.class_names)))

    def predict(self, sources: Iterable[ImageSource], top_k: int = 5) -> list[Prediction]:
        """Top-k labels per image file or pillow image; unreadable files give an error entry and
        the others are still classified."""
        if top_k < 1:
            raise UsageError(f"top-k must be at least 1, got {top_k}")
        top_k = min(top_k, len(self.class_names))
        results: list[Prediction] = []
        for chunk in _chunks(list(sources), self.batch_size):
            outcome: list[Prediction | Image.Image] = []
            for source in chunk:
                try:
                    outcome.append(_load(source))
                except ImageLoadError as e:
                    outcome.append(Prediction(_name(source), error=str(e)))
            images = [im for im in outcome if isinstance(im, Image.Image)]
            rows = iter(self.probabilities(images))
            for source, item in zip(chunk, outcome):
                if isinstance(item, Prediction):
                    results.append(item)
                    continue
                row = next(rows)
                if not np.isfinite(row).all():
                    results.append(Prediction(_name(source), error=f"{_name(source)}: the model "
                                              f"output NaN or Inf; check its weights"))
                    continue
                best = np.argsort(-row, kind="stable")[:top_k]
                results.append(Prediction(_name(source), tuple(
                    Label(int(i), self.class_names[i], float(row[i])) for i in best)))
        return results


def predict(
    inputs: Iterable[ImageSource],
    model: str | nn.Module = "moga_a",
    *,
    top_k: int = 5,
    **options: Any,
) -> list[Prediction]:
    """Classify image files, directories of images (recursively) or pillow images.

    ``options`` go to :class:`Classifier` (``weights``, ``pretrained``, ``runtime``, ``batch_size``...).
    """
    sources: list[Any] = []
    for item in inputs:
        sources.extend([item] if isinstance(item, Image.Image) else find_images([item]))
    return Classifier(model, images=len(sources), **options).predict(sources, top_k=top_k)


def _load(source: ImageSource) -> Image.Image:
    return to_rgb(source) if isinstance(source, Image.Image) else load_image(source)


def _name(source: ImageSource) -> str:
    return f"<{type(source).__name__} image>" if isinstance(source, Image.Image) else os.fspath(source)


def _chunks(items: list, size: int) -> Iterator[list]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


def _softmax(logits: np.ndarray) -> np.ndarray:
    z = logits.astype(np.float64)
    z -= z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)
