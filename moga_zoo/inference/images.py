"""Image files -> upright 8-bit RGB pillow images, whatever mode or orientation they were stored in."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from ..errors import MogaZooError

__all__ = ["ImageLoadError", "load_image", "to_rgb", "find_images", "IMAGE_EXTENSIONS"]

#: File name endings pillow can open; used to pick images out of a directory.
IMAGE_EXTENSIONS = frozenset(ext.lower() for ext in Image.registered_extensions())

#: Colour that transparent pixels are composited onto.
BACKGROUND = (255, 255, 255)

_SIXTEEN_BIT_MODES = ("I;16", "I;16L", "I;16B", "I;16N", "I")


class ImageLoadError(MogaZooError, ValueError):
    """A file that is missing, not an image, or truncated; the message names the file."""


def to_rgb(image: Image.Image, background: tuple[int, int, int] = BACKGROUND) -> Image.Image:
    """Convert any pillow mode to 8-bit RGB.

    16-bit greyscale is scaled (65535 -> 255; pillow's own conversion clips instead), alpha and
    palette transparency are composited onto ``background``, CMYK uses pillow's conversion.
    """
    if image.mode == "RGB":
        return image
    if image.mode in _SIXTEEN_BIT_MODES:
        values = np.asarray(image, dtype=np.float64)
        grey = np.clip(np.rint(values / 257.0), 0, 255).astype(np.uint8)
        return Image.fromarray(grey, "L").convert("RGB")
    if (image.mode == "P" and "transparency" in image.info) or image.mode == "PA":
        image = image.convert("RGBA")
    if image.mode in ("RGBA", "LA", "RGBa", "La"):
        rgba = image.convert("RGBA")
        canvas = Image.new("RGBA", rgba.size, background + (255,))
        return Image.alpha_composite(canvas, rgba).convert("RGB")
    return image.convert("RGB")


def load_image(path: str | os.PathLike, background: tuple[int, int, int] = BACKGROUND) -> Image.Image:
    """Read an image file fully, apply its EXIF orientation and convert it to 8-bit RGB.

    Raises :class:`ImageLoadError` (naming the file) for missing, unreadable or truncated files.
    """
    if os.path.exists(path) and not os.path.isfile(path):
        raise ImageLoadError(f"{path}: not a regular file (a folder, pipe or device); give image files "
                             f"or folders of them")
    try:
        with Image.open(path) as image:
            image.load()  # decode now: a truncated file fails here, not later in a transform
            upright = ImageOps.exif_transpose(image)
            return to_rgb(upright, background)
    except FileNotFoundError:
        raise ImageLoadError(f"{path}: no such file") from None
    except UnidentifiedImageError:
        raise ImageLoadError(f"{path}: not an image file pillow can read") from None
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as e:
        raise ImageLoadError(f"{path}: unreadable or truncated image ({e})") from None


def find_images(inputs: Iterable[str | os.PathLike]) -> list[Path]:
    """Expand files and directories into a list of files to classify.

    A file named directly is always kept (so a non-image is reported, not skipped); a directory
    contributes its image files (by extension, recursively, sorted, hidden entries skipped) and
    any symbolic link that leads nowhere (a loop, a broken link), so that it is reported as
    unreadable instead of skipped.
    """
    found: list[Path] = []
    for item in inputs:
        path = Path(item)
        if path.is_dir():
            found.extend(_images_under(path))
        else:
            found.append(path)
    return found


def _images_under(root: Path) -> Sequence[Path]:
    files = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for f in (f for f in filenames if not f.startswith(".")):
            path = Path(dirpath) / f
            if path.is_symlink() and not path.exists():  # a loop or a broken link: reported
                files.append(path)
            elif Path(f).suffix.lower() in IMAGE_EXTENSIONS and path.is_file():  # never a pipe
                files.append(path)
    return sorted(files)
