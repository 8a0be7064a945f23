"""Test images built from the real photos in tests/data."""

from __future__ import annotations

from PIL import Image

from tests.conftest import DATA


def load(name: str) -> Image.Image:
    return Image.open(DATA / f"{name}.jpg").convert("RGB")


def side_by_side(left: str, right: str, height: int = 768) -> Image.Image:
    """Two photos' centre strips next to each other: a two-person picture, square."""
    half = height // 2
    out = Image.new("RGB", (height, height))
    for i, name in enumerate((left, right)):
        im = load(name)
        scale = height / im.height
        im = im.resize((round(im.width * scale), height))
        x = max(0, (im.width - half) // 2)
        out.paste(im.crop((x, 0, x + half, height)), (i * half, 0))
    return out


def tiled_faces(name: str = "obama", n: int = 2) -> Image.Image:
    """n × n copies of a photo: a group of equal faces."""
    im = load(name).resize((300, 375))
    out = Image.new("RGB", (300 * n, 375 * n))
    for i in range(n * n):
        out.paste(im, ((i % n) * 300, (i // n) * 375))
    return out


def tiny_face(name: str = "obama") -> Image.Image:
    """A photo shrunk so its face is ~40 px, on a large plain canvas."""
    im = load(name).resize((123, 154))
    out = Image.new("RGB", (900, 900), (200, 200, 200))
    out.paste(im, (400, 300))
    return out


def blank(size: int = 600) -> Image.Image:
    return Image.new("RGB", (size, size), (90, 140, 200))
