"""Image loading: every stored mode and orientation ends up as the upright 8-bit RGB picture,
checked against conversions written here with numpy (not pillow's)."""
from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from moga_zoo.inference import ImageLoadError, find_images, load_image


def _rgb(path) -> np.ndarray:
    image = load_image(path)
    assert image.mode == "RGB"
    return np.asarray(image).astype(int)


@pytest.fixture
def pattern() -> np.ndarray:
    """An asymmetric 20x40 RGB picture, so every rotation and flip is distinguishable."""
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, size=(20, 40, 3), dtype=np.uint8)


@pytest.mark.parametrize("orientation, upright", [
    (3, lambda a: np.rot90(a, 2)),
    (6, lambda a: np.rot90(a, -1)),      # stored rotated: display turns it 90 deg clockwise
    (8, lambda a: np.rot90(a, 1)),
    (2, lambda a: a[:, ::-1]),
])
def test_exif_orientation_is_applied(tmp_path, pattern, orientation, upright):
    exif = Image.Exif()
    exif[0x0112] = orientation
    path = tmp_path / f"o{orientation}.png"
    Image.fromarray(pattern).save(path, exif=exif)
    np.testing.assert_array_equal(_rgb(path), upright(pattern).astype(int))


def test_greyscale_becomes_three_equal_channels(tmp_path, pattern):
    grey = pattern[..., 0]
    Image.fromarray(grey, "L").save(tmp_path / "g.png")
    np.testing.assert_array_equal(_rgb(tmp_path / "g.png"), np.repeat(grey[..., None], 3, 2))


def test_sixteen_bit_greyscale_is_scaled_not_clipped(tmp_path):
    values = np.array([[0, 257, 1000, 30000, 65535, 12850]], dtype=np.uint16)
    path = tmp_path / "g16.png"
    Image.fromarray(values).save(path)
    assert Image.open(path).mode.startswith("I")
    expected = np.rint(values / 257.0).astype(int)
    np.testing.assert_array_equal(_rgb(path), np.repeat(expected[..., None], 3, 2))


def test_cmyk_tiff(tmp_path):
    rng = np.random.default_rng(1)
    cmyk = rng.integers(0, 256, size=(8, 9, 4), dtype=np.uint8)
    path = tmp_path / "c.tif"
    Image.fromarray(cmyk, "CMYK").save(path)
    c, m, y, k = (cmyk[..., i] / 255.0 for i in range(4))
    expected = np.stack([255 * (1 - c) * (1 - k), 255 * (1 - m) * (1 - k), 255 * (1 - y) * (1 - k)], -1)
    np.testing.assert_allclose(_rgb(path), expected, atol=1)


def test_palette_image_is_looked_up(tmp_path):
    rng = np.random.default_rng(2)
    palette = rng.integers(0, 256, size=(16, 3), dtype=np.uint8)
    indices = rng.integers(0, 16, size=(6, 7), dtype=np.uint8)
    image = Image.fromarray(indices, "P")
    image.putpalette(palette.flatten().tolist())
    image.save(tmp_path / "p.png")
    np.testing.assert_array_equal(_rgb(tmp_path / "p.png"), palette[indices].astype(int))


def test_palette_transparency_is_composited_on_white(tmp_path):
    palette = np.array([[10, 20, 30], [200, 100, 50]], dtype=np.uint8)
    indices = np.array([[0, 1], [1, 0]], dtype=np.uint8)
    image = Image.fromarray(indices, "P")
    image.putpalette(palette.flatten().tolist())
    image.save(tmp_path / "pt.png", transparency=0)
    expected = np.where(indices[..., None] == 0, 255, palette[indices])
    np.testing.assert_array_equal(_rgb(tmp_path / "pt.png"), expected)


@pytest.mark.parametrize("mode", ["RGBA", "LA"])
def test_alpha_is_composited_on_white(tmp_path, mode):
    rng = np.random.default_rng(3)
    channels = 4 if mode == "RGBA" else 2
    pixels = rng.integers(0, 256, size=(5, 6, channels), dtype=np.uint8)
    pixels[0, 0, -1], pixels[0, 1, -1] = 0, 255
    Image.fromarray(pixels, mode).save(tmp_path / "a.png")
    colour = pixels[..., :-1] if mode == "RGBA" else np.repeat(pixels[..., :1], 3, 2)
    alpha = pixels[..., -1:] / 255.0
    expected = colour * alpha + 255 * (1 - alpha)
    got = _rgb(tmp_path / "a.png")
    np.testing.assert_allclose(got, expected, atol=1)
    assert (got[0, 0] == 255).all()


def test_unreadable_files_are_named(tmp_path, pattern):
    jpeg = tmp_path / "whole.jpg"
    Image.fromarray(pattern).resize((200, 100)).save(jpeg, quality=95)
    truncated = tmp_path / "truncated.jpg"
    truncated.write_bytes(jpeg.read_bytes()[:600])
    text = tmp_path / "notes.png"
    text.write_text("not an image")
    for path, reason in [(truncated, "truncated"), (text, "not an image"),
                         (tmp_path / "missing.png", "no such file")]:
        with pytest.raises(ImageLoadError, match=reason) as info:
            load_image(path)
        assert str(path) in str(info.value)
    assert load_image(jpeg).size == (200, 100)


def test_find_images_walks_directories(tmp_path, pattern):
    for rel in ["b.png", "a.JPG", "sub/c.webp", ".hidden/d.png", "sub/.e.png", "readme.txt"]:
        path = tmp_path / "dir" / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"x")
    explicit = tmp_path / "named.txt"
    explicit.write_text("x")
    found = find_images([tmp_path / "dir", explicit])
    root = tmp_path / "dir"
    assert found == [root / "a.JPG", root / "b.png", root / "sub" / "c.webp", explicit]
