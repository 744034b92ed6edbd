"""Data for supernet training and architecture scoring: Fashion-MNIST or an ImageNet-style folder.

Both sources give the same three splits:

* ``train``: training images minus a fixed held-out part (supernet and stand-alone training,
  BatchNorm recalibration);
* ``search_val``: the held-out part of the training set, fixed by ``seed``; the search scores
  architectures on it;
* ``test``: the official test set (``val/`` of a folder); used only for final reporting.

Fashion-MNIST comes as one of two tasks: ``plain`` (the 28x28 images resized to the resolution)
or ``canvas`` (our proxy task, :class:`CanvasTask`: each garment rescaled and placed at a random
spot of a larger canvas among clutter cut from other garments). Both are deterministic given the
seed.
"""
from __future__ import annotations

import gzip
import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import Dataset, Subset

from moga_zoo.errors import MogaZooError

__all__ = ["DataError", "DataSplits", "FASHION_MNIST_DIR", "load_splits", "load_fashion_mnist",
           "fashion_mnist_source", "task_option",
           "FASHION_MNIST_MEAN", "FASHION_MNIST_STD", "CanvasTask", "TASKS", "parse_task",
           "render_canvas", "place_garments", "exact_cos_sin"]

FASHION_MNIST_DIR = Path("/usr/share/datasets/fashion-mnist")
FASHION_MNIST_MEAN, FASHION_MNIST_STD = 0.2860, 0.3530
_FMNIST_FILES = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}
_INSTALL_HINT = ("install it with `apt-get install dataset-fashion-mnist` (files land in "
                 f"{FASHION_MNIST_DIR}), or pass --data-root with train/ and val/ class folders")


class DataError(MogaZooError, ValueError):
    """Missing or malformed data; the message says where we looked and what to do."""


@dataclass
class DataSplits:
    """Training, held-out search-validation and test splits, with what a model needs to know."""

    train: Dataset
    search_val: Dataset
    test: Dataset
    num_classes: int
    in_chans: int
    resolution: int
    source: str

    def describe(self) -> dict:
        return {"source": self.source, "num_classes": self.num_classes, "in_chans": self.in_chans,
                "resolution": self.resolution, "train": len(self.train),
                "search_val": len(self.search_val), "test": len(self.test)}


@dataclass(frozen=True)
class CanvasTask:
    """Cluttered-canvas Fashion-MNIST: harder to see, so bigger networks earn their capacity.

    Each 28x28 garment is scaled by a factor drawn from ``scale`` and placed at a random spot of
    a ``resolution`` x ``resolution`` black canvas; ``clutter`` patches of ``patch`` x ``patch``
    pixels, cut from the middle of other images of the same split, land at random spots (pixels
    combine by maximum). With ``rotate`` > 0 each garment also turns by an angle drawn from
    [-rotate, rotate] degrees about its centre (and is kept whole on the canvas). The canvases
    are drawn once per split from ``seed``.
    """

    scale: tuple[float, float] = (0.7, 1.3)
    clutter: int = 4
    patch: int = 8
    rotate: float = 0.0

    def __post_init__(self) -> None:
        lo, hi = self.scale
        if (not 0 < lo <= hi <= 10 or not 0 <= self.clutter <= 256 or not 1 <= self.patch <= 28
                or not 0 <= self.rotate <= 180):
            raise DataError(f"invalid canvas task {self}: need 0 < scale min <= max <= 10, "
                            f"0 <= clutter <= 256, 1 <= patch <= 28 and 0 <= rotate <= 180")

    def describe(self) -> dict:
        out = {"name": "canvas", "scale": list(self.scale), "clutter": self.clutter,
               "patch": self.patch}
        return {**out, "rotate": self.rotate} if self.rotate else out

    @property
    def turned_extent(self) -> float:
        """How much wider than the garment its bounding box gets when turned up to ``rotate``."""
        cos, sin = exact_cos_sin(np.array([min(self.rotate, 45.0)]))
        return float(cos[0] + sin[0])


#: The tasks by name; ``canvas`` is the proxy the supernet and the references use.
TASKS = {"plain": None, "canvas": CanvasTask()}


def parse_task(value: "str | CanvasTask | None") -> "CanvasTask | None":
    """A task by name (``plain``, ``canvas``), with knobs
    (``canvas:clutter=6,patch=8,scale=0.5-1.0,rotate=180``), or a :class:`CanvasTask`; ``plain``
    and None mean the resized images."""
    if value is None or isinstance(value, CanvasTask):
        return value
    name, _, knobs = str(value).partition(":")
    if name not in TASKS:
        raise DataError(f"unknown task {value!r}; choose one of {', '.join(TASKS)} (canvas "
                        f"takes knobs: canvas:clutter=6,patch=8,scale=0.5-1.0)")
    if not knobs:
        return TASKS[name]
    if name != "canvas":
        raise DataError(f"task {name!r} takes no knobs, got {value!r}")
    fields = {}
    try:
        for item in knobs.split(","):
            key, _, text = item.partition("=")
            if key == "scale":
                lo, _, hi = text.partition("-")
                fields["scale"] = (float(lo), float(hi or lo))
            elif key in ("clutter", "patch"):
                fields[key] = int(text)
            elif key == "rotate":
                fields[key] = float(text)
            else:
                raise ValueError(f"unknown knob {key!r}")
    except ValueError as e:
        raise DataError(f"cannot read task {value!r} ({e}); knobs are clutter=N, patch=N, "
                        f"scale=MIN-MAX, rotate=DEGREES") from None
    return CanvasTask(**fields)


def task_option(text: str) -> str:
    """A ``--task`` value, returned as given once :func:`parse_task` accepts it."""
    parse_task(text)
    return text


def render_canvas(images: torch.Tensor, task: CanvasTask, size: int, seed: "int | list[int]"
                  ) -> torch.Tensor:
    """``images`` (N, 28, 28) uint8 as (N, size, size) uint8 canvases of ``task``."""
    n, side = len(images), images.shape[-1]
    widest = side * task.scale[1] * task.turned_extent
    if widest > size:
        raise DataError(f"a garment scaled by {task.scale[1]}{' and turned' if task.rotate else ''}"
                        f" ({widest:.0f} px) does not fit a {size} px canvas; use a larger "
                        f"resolution or a smaller scale")
    rng = np.random.default_rng(seed)
    scale = rng.uniform(*task.scale, size=n)
    extent = side * scale
    room = extent * (task.turned_extent - 1) / 2  # for the corners of a turned garment
    x0 = rng.uniform(room, size - extent - room)  # left/top edge in canvas pixels
    y0 = rng.uniform(room, size - extent - room)
    sources = rng.integers(0, n, size=(n, task.clutter))
    margin = (side - task.patch) // 2
    crop = rng.integers(-margin // 2, margin // 2 + 1, size=(n, task.clutter, 2)) + margin
    place = rng.integers(0, size - task.patch + 1, size=(n, task.clutter, 2))
    angle = rng.uniform(-task.rotate, task.rotate, size=n) if task.rotate else np.zeros(n)
    out = torch.empty((n, size, size), dtype=torch.uint8)
    offs = torch.arange(task.patch)
    for start in range(0, n, 4096):
        stop = min(n, start + 4096)
        canvas = place_garments(images[start:stop], scale[start:stop], x0[start:stop],
                                y0[start:stop], size, angle[start:stop])
        for k in range(task.clutter):
            rows = torch.from_numpy(crop[start:stop, k, 0])[:, None] + offs      # (b, patch)
            cols = torch.from_numpy(crop[start:stop, k, 1])[:, None] + offs
            patches = images[torch.from_numpy(sources[start:stop, k])[:, None, None],
                             rows[:, :, None], cols[:, None, :]].float()
            prow = torch.from_numpy(place[start:stop, k, 0])[:, None] + offs
            pcol = torch.from_numpy(place[start:stop, k, 1])[:, None] + offs
            batch = torch.arange(stop - start)[:, None, None]
            canvas[batch, prow[:, :, None], pcol[:, None, :]] = torch.maximum(
                canvas[batch, prow[:, :, None], pcol[:, None, :]], patches)
        out[start:stop] = canvas.round().clamp_(0, 255).to(torch.uint8)
    return out


def exact_cos_sin(degrees: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """cos and sin of angles in degrees (|angle| <= 180) from additions and multiplications only.

    libm and numpy's SIMD kernels (SVML on AVX-512, others elsewhere) may differ in the last
    bit from one CPU to another, which moves canvas pixels across a rounding boundary: a Taylor
    series in a fixed order gives the same bits on every IEEE-754 CPU (error < 1e-15)."""
    x = np.asarray(degrees, dtype=np.float64) * (np.pi / 180.0) / 2.0  # half angle, |x| <= pi/2
    x2 = x * x
    cos_half, sin_half = np.ones_like(x), np.ones_like(x)
    for k in range(24, 0, -1):  # Horner: cos = 1 - x2/(1*2) (1 - x2/(3*4) (...)), sin alike
        cos_half = 1.0 - x2 / ((2 * k - 1) * (2 * k)) * cos_half
        sin_half = 1.0 - x2 / ((2 * k) * (2 * k + 1)) * sin_half
    sin_half = x * sin_half
    return cos_half * cos_half - sin_half * sin_half, 2.0 * sin_half * cos_half


def place_garments(images: torch.Tensor, scale: np.ndarray, x0: np.ndarray, y0: np.ndarray,
                   size: int, angle: "np.ndarray | None" = None) -> torch.Tensor:
    """(N, size, size) float32 canvases: image i scaled by ``scale[i]``, its top-left corner at
    canvas pixel (``y0[i]``, ``x0[i]``) (fractional: bilinear), turned by ``angle[i]`` degrees
    (counter-clockwise on screen) about its centre, black elsewhere.

    Only elementwise IEEE-754 arithmetic, indexing and ``floor`` are used (no matrix products,
    no fused sampling kernel, no libm), so the bytes are the same on every CPU whatever SIMD
    code numpy, torch or BLAS pick for it."""
    n, side = len(images), images.shape[-1]
    cos, sin = exact_cos_sin(np.zeros(n) if angle is None else angle)
    column = lambda v: torch.from_numpy(np.asarray(v, dtype=np.float32))[:, None, None]
    cos, sin, scale, x0, y0 = (column(v) for v in (cos, sin, scale, x0, y0))
    centre = (side - 1) / 2.0  # the garment turns about its middle pixel
    pixels = torch.arange(size, dtype=torch.float32)
    dx = (pixels[None, None, :] - x0) / scale - centre  # garment pixels from its centre, unturned
    dy = (pixels[None, :, None] - y0) / scale - centre
    # turning the garment turns the look-up the other way; a row term plus a column term
    ix = (cos * dx + centre) - sin * dy
    iy = (sin * dx + centre) + cos * dy
    left, top = torch.floor(ix), torch.floor(iy)
    fx, fy = ix.sub_(left), iy.sub_(top)
    # two black pixels of padding around each garment: a look-up whose corners both miss the
    # garment is moved onto the padding, so every corner is read from the padded image
    wide = side + 4
    padded = F.pad(images.to(torch.float32), (2, 2, 2, 2)).reshape(-1)
    col = left.to(torch.int32).clamp_(-2, side).add_(2)
    row = top.to(torch.int32).clamp_(-2, side).add_(2)
    at = row.mul_(wide).add_(col).to(torch.long).add_(torch.arange(n)[:, None, None] * wide ** 2)
    upper_left, upper_right = padded.take(at), padded.take(at + 1)
    lower_left, lower_right = padded.take(at + wide), padded.take(at + wide + 1)
    upper = upper_right.sub_(upper_left).mul_(fx).add_(upper_left)
    lower = lower_right.sub_(lower_left).mul_(fx).add_(lower_left)
    return lower.sub_(upper).mul_(fy).add_(upper)


class _ImageTensor(Dataset):
    """uint8 images held in memory, resized and normalised on access."""

    def __init__(self, images: torch.Tensor, labels: torch.Tensor, resolution: int,
                 mean: float = FASHION_MNIST_MEAN, std: float = FASHION_MNIST_STD) -> None:
        self.images, self.labels, self.resolution = images, labels, resolution
        self.mean, self.std = mean, std

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        x = self.images[index].float().div_(255.0)[None, None]
        if x.shape[-1] != self.resolution:
            x = F.interpolate(x, size=(self.resolution, self.resolution), mode="bilinear",
                              align_corners=False)
        x = (x[0] - self.mean) / self.std
        return x, int(self.labels[index])


def _read_idx(path: Path, magic: int, ndim: int) -> np.ndarray:
    if not path.is_file():
        raise DataError(f"Fashion-MNIST file not found: {path}; {_INSTALL_HINT}")
    try:
        with gzip.open(path, "rb") as f:
            raw = f.read()
    except (OSError, EOFError) as e:
        raise DataError(f"cannot read {path} ({e}); reinstall it: {_INSTALL_HINT}") from None
    header = np.frombuffer(raw[:4 * (1 + ndim)], dtype=">i4") if len(raw) >= 4 * (1 + ndim) else []
    if len(header) != 1 + ndim or header[0] != magic:
        raise DataError(f"{path} is not an IDX file with magic {magic}; reinstall it: "
                        f"{_INSTALL_HINT}")
    shape = tuple(int(n) for n in header[1:])
    data = np.frombuffer(raw, dtype=np.uint8, offset=4 * (1 + ndim))
    if data.size != int(np.prod(shape)):
        raise DataError(f"{path} is truncated ({data.size} of {int(np.prod(shape))} bytes); "
                        f"reinstall it: {_INSTALL_HINT}")
    return data.reshape(shape)


def load_fashion_mnist(root: "str | os.PathLike | None" = None
                       ) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """``{"train": (images, labels), "test": (...)}`` as uint8 arrays from the IDX files."""
    folder = Path(root) if root is not None else FASHION_MNIST_DIR
    out = {}
    for split, (images_name, labels_name) in _FMNIST_FILES.items():
        images = _read_idx(folder / images_name, 2051, 3)
        labels = _read_idx(folder / labels_name, 2049, 1)
        if len(images) != len(labels) or labels.max(initial=0) > 9:
            raise DataError(f"{folder}: {split} images and labels do not match; reinstall: "
                            f"{_INSTALL_HINT}")
        out[split] = (images, labels)
    return out


def _held_out(n: int, size: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    if not 0 < size < n:
        raise DataError(f"search_val_size must be between 1 and {n - 1} for {n} training "
                        f"images, got {size}")
    order = np.random.default_rng(seed).permutation(n)
    return np.sort(order[size:]), np.sort(order[:size])


def fashion_mnist_source(root: "str | Path", task: "CanvasTask | None") -> str:
    """How the splits record their origin: ``fashion-mnist:ROOT``, then ``:KNOBS`` of a task."""
    source = f"fashion-mnist:{root}"
    if task is None:
        return source
    return source + ":" + ",".join(f"{k}={v}" for k, v in task.describe().items())


def _pixel_mean_std(images: torch.Tensor) -> dict:
    """Mean and (unbiased) standard deviation of uint8 pixels in [0, 1], from exact integer
    sums: a float reduction's order, and so its last bits, depend on the CPU."""
    pixels = images.to(torch.int64)
    n, total, squares = pixels.numel(), int(pixels.sum()), int((pixels * pixels).sum())
    variance = (squares - total * total / n) / (n - 1)
    return {"mean": total / n / 255, "std": math.sqrt(variance) / 255}


def _fashion_mnist_splits(root: "Path | None", resolution: int, search_val_size: int,
                          seed: int, task: "CanvasTask | None") -> DataSplits:
    arrays = load_fashion_mnist(root)
    images, labels = (torch.from_numpy(a.copy()) for a in arrays["train"])
    train_idx, val_idx = _held_out(len(labels), search_val_size, seed)
    test_images, test_labels = (torch.from_numpy(a.copy()) for a in arrays["test"])
    norm = {}
    if task is not None:  # clutter comes from the same split: test never sees training images
        images = render_canvas(images, task, resolution, [seed, 1])
        test_images = render_canvas(test_images, task, resolution, [seed, 2])
        norm = _pixel_mean_std(images[train_idx[:10000]])
    source = fashion_mnist_source(root or FASHION_MNIST_DIR, task)
    return DataSplits(
        train=_ImageTensor(images[train_idx], labels[train_idx], resolution, **norm),
        search_val=_ImageTensor(images[val_idx], labels[val_idx], resolution, **norm),
        test=_ImageTensor(test_images, test_labels, resolution, **norm),
        num_classes=10, in_chans=1, resolution=resolution, source=source)


def _folder_splits(root: Path, resolution: int, search_val_size: int, seed: int) -> DataSplits:
    from timm.data import create_transform
    from torchvision.datasets import ImageFolder

    train_tf = create_transform(resolution, is_training=True)
    eval_tf = create_transform(resolution, is_training=False)
    try:
        train_aug = ImageFolder(str(root / "train"), transform=train_tf)
        train_plain = ImageFolder(str(root / "train"), transform=eval_tf)
        test = ImageFolder(str(root / "val"), transform=eval_tf)
    except (FileNotFoundError, RuntimeError) as e:
        raise DataError(f"{root}: expected train/<class>/<image> and val/<class>/<image> "
                        f"folders ({e})") from None
    if train_aug.classes != test.classes:
        raise DataError(f"{root}: train/ and val/ have different class folders")
    train_idx, val_idx = _held_out(len(train_aug), search_val_size, seed)
    return DataSplits(
        train=Subset(train_aug, train_idx.tolist()),
        search_val=Subset(train_plain, val_idx.tolist()),
        test=test, num_classes=len(train_aug.classes), in_chans=3, resolution=resolution,
        source=f"folder:{root}")


def load_splits(data_root: "str | os.PathLike | None" = None, resolution: int = 32,
                search_val_size: int = 5000, seed: int = 0,
                task: "str | CanvasTask | None" = "plain") -> DataSplits:
    """The three splits from ``data_root`` (None: the Debian Fashion-MNIST files).

    ``data_root`` may hold ``train/`` and ``val/`` class folders (ImageNet layout) or the four
    Fashion-MNIST ``*-ubyte.gz`` files. ``search_val_size`` training images, drawn with ``seed``,
    are held out as the search-validation split. ``task`` (Fashion-MNIST only) is ``plain`` or
    ``canvas`` (see :func:`parse_task`); canvases are ``resolution`` pixels wide.
    """
    if resolution < 16 or resolution % 16:
        raise DataError(f"resolution must be a multiple of 16, got {resolution}")
    task = parse_task(task)
    if data_root is None:
        return _fashion_mnist_splits(None, resolution, search_val_size, seed, task)
    root = Path(data_root)
    if not root.is_dir():
        raise DataError(f"data root {root} is not a directory; give a folder with train/ and "
                        f"val/ class folders or the Fashion-MNIST files, or {_INSTALL_HINT}")
    if (root / "train").is_dir():
        if task is not None:
            raise DataError(f"task {task.describe()['name']!r} is made from Fashion-MNIST; an "
                            f"image folder ({root}) takes task 'plain'")
        return _folder_splits(root, resolution, search_val_size, seed)
    if (root / _FMNIST_FILES["train"][0]).exists():
        return _fashion_mnist_splits(root, resolution, search_val_size, seed, task)
    raise DataError(f"{root} holds neither train/ and val/ class folders nor the Fashion-MNIST "
                    f"files ({', '.join(n for pair in _FMNIST_FILES.values() for n in pair)}); "
                    f"{_INSTALL_HINT}")
