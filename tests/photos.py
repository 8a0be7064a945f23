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


def skeleton_pose(size: int = 1024) -> Image.Image:
    """Two people as an OpenPose-style skeleton (as ControlNet tools draw one), read from a
    two-person photo, standing in the right half of a black frame."""
    from twoshot.vision import find_people, render_skeleton

    two = find_people(side_by_side("obama3", "astronaut"))
    out = Image.new("RGB", (size, size))
    side = size * 560 // 1024
    out.paste(render_skeleton(two, (side, side), (768, 768)), (size - side - size // 16, size // 3))
    return out


def back_view() -> Image.Image:
    """Two people whose faces are turned away: each face covered by the back of a head (a
    dark hair-coloured oval), so no face detector or pose model sees a face."""
    import cv2
    import numpy as np

    from twoshot.vision import detect_faces

    im = np.asarray(side_by_side("obama3", "astronaut")).copy()
    for f in detect_faces(im):
        x0, y0, x1, y1 = f.box
        centre = ((x0 + x1) // 2, (y0 + y1) // 2 - (y1 - y0) // 8)
        axes = (int((x1 - x0) * 0.62), int((y1 - y0) * 0.72))
        cv2.ellipse(im, centre, axes, 0, 0, 360, (52, 40, 32), -1, cv2.LINE_AA)
    return Image.fromarray(im)


def portrait_crop(name: str, width: int = 512, height: int = 640) -> Image.Image:
    """A head-and-shoulders portrait cut from a photo: the face about a third of the width."""
    import numpy as np

    from twoshot.vision import detect_faces

    im = load(name)
    x0, y0, x1, _ = detect_faces(np.asarray(im))[0].box
    cw = 3.2 * (x1 - x0)
    ch = cw * height / width
    cx, top = (x0 + x1) / 2, y0 - 0.9 * (x1 - x0)
    return im.crop((int(cx - cw / 2), int(top), int(cx + cw / 2), int(top + ch))).resize(
        (width, height)
    )


def portraits(left: str, right: str) -> Image.Image:
    """Two close-up portraits side by side in a wide frame (as a new user makes a pose
    photo): their faces too far apart for a square crop to keep both."""
    out = Image.new("RGB", (1024, 640))
    out.paste(portrait_crop(left), (0, 0))
    out.paste(portrait_crop(right), (512, 0))
    return out
