"""Decoding hostile and unusual files, and encoding clean results."""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from tests.conftest import photo
from twoshot.errors import InvalidImage, PayloadTooLarge
from twoshot.images import Limits, decode, encode_jpeg

LIMITS = Limits()


def png_header_only(width: int, height: int) -> bytes:
    """A PNG that declares huge dimensions in a few bytes: a decompression bomb."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\0" * 1024)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def encoded(image: Image.Image, fmt: str, **kw: object) -> bytes:
    buf = io.BytesIO()
    image.save(buf, fmt, **kw)
    return buf.getvalue()


JPEG = photo("obama.jpg")

HOSTILE = {
    "empty": (b"", InvalidImage, "empty"),
    "truncated_jpeg": (JPEG[: len(JPEG) // 2], InvalidImage, "truncated"),
    "jpeg_header_only": (JPEG[:200], InvalidImage, None),
    "text_renamed_jpg": (
        b"hello, I am a text file pretending to be a photo\n" * 10,
        InvalidImage,
        "not a JPEG",
    ),
    "html": (b"<!DOCTYPE html><html><script>alert(1)</script></html>", InvalidImage, "HTML"),
    "svg": (
        b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>',
        InvalidImage,
        "SVG",
    ),
    "gif": (encoded(Image.new("RGB", (64, 64)), "GIF"), InvalidImage, "GIF"),
    "bmp": (encoded(Image.new("RGB", (64, 64)), "BMP"), InvalidImage, "BMP"),
    "tiff": (encoded(Image.new("RGB", (64, 64)), "TIFF"), InvalidImage, "TIFF"),
    "zip": (b"PK\x03\x04" + b"\0" * 100, InvalidImage, "ZIP"),
    "decompression_bomb_png": (png_header_only(50_000, 50_000), PayloadTooLarge, "megapixels"),
    "bomb_just_over_limit": (png_header_only(8000, 5001), PayloadTooLarge, "megapixels"),
    "png_bad_crc": (png_header_only(64, 64)[:-5] + b"\0\0\0\0\0", InvalidImage, None),
    "random_bytes": (np.random.default_rng(0).bytes(5000), InvalidImage, None),
    "oversized_bytes": (b"\xff\xd8\xff" + b"\0" * (16 * 1024 * 1024), PayloadTooLarge, "MB"),
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_files_get_clear_errors(name: str) -> None:
    data, error, words = HOSTILE[name]
    with pytest.raises(error) as info:
        decode(data, LIMITS, field="maleImage")
    assert info.value.field == "maleImage"
    assert "maleImage" in info.value.message
    if words:
        assert words in info.value.message


def test_real_photo_decodes_to_rgb() -> None:
    d = decode(JPEG, LIMITS)
    assert d.image.mode == "RGB" and d.image.size == (615, 768)
    assert len(d.sha256) == 64


def test_exif_orientation_is_applied() -> None:
    tall = Image.new("RGB", (40, 80), (255, 0, 0))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise to display
    d = decode(encoded(tall, "JPEG", exif=exif.tobytes()), LIMITS)
    assert d.image.size == (80, 40)


@pytest.mark.parametrize(
    "make",
    [
        lambda: encoded(Image.new("CMYK", (32, 32), (0, 255, 255, 0)), "JPEG"),
        lambda: encoded(Image.fromarray(np.full((32, 32), 65535, np.uint16)), "PNG"),
        lambda: encoded(Image.new("RGBA", (32, 32), (255, 0, 0, 0)), "PNG"),
        lambda: encoded(Image.new("RGBA", (32, 32), (255, 0, 0, 255)), "WEBP", lossless=True),
        lambda: encoded(Image.new("P", (32, 32), 3), "PNG", transparency=3),
        lambda: encoded(Image.new("LA", (32, 32), (10, 128)), "PNG"),
        lambda: encoded(Image.new("1", (32, 32), 1), "PNG"),
        lambda: encoded(Image.new("L", (32, 32), 200), "JPEG"),
    ],
    ids=[
        "cmyk_jpeg",
        "png16",
        "rgba_transparent",
        "webp_alpha",
        "palette_transparency",
        "la",
        "bilevel",
        "gray",
    ],
)
def test_pixel_modes_become_rgb(make) -> None:
    image = decode(make(), LIMITS).image
    assert image.mode == "RGB"
    pixel = image.getpixel((5, 5))
    assert isinstance(pixel, tuple) and len(pixel) == 3


def test_modes_convert_to_the_right_colours() -> None:
    red_cmyk = decode(
        encoded(Image.new("CMYK", (8, 8), (0, 255, 255, 0)), "JPEG", quality=100), LIMITS
    ).image
    r, g, b = red_cmyk.getpixel((4, 4))  # type: ignore[misc]
    assert r > 200 and g < 60 and b < 60
    white16 = decode(
        encoded(Image.fromarray(np.full((8, 8), 65535, np.uint16)), "PNG"), LIMITS
    ).image
    assert white16.getpixel((4, 4)) == (255, 255, 255)
    clear = decode(encoded(Image.new("RGBA", (8, 8), (255, 0, 0, 0)), "PNG"), LIMITS).image
    assert clear.getpixel((4, 4)) == (255, 255, 255)  # transparent → white, not black


def test_encoded_results_carry_no_metadata() -> None:
    source = Image.open(io.BytesIO(JPEG))
    exif = Image.Exif()
    exif[0x8825] = {1: "N", 2: (48.0, 51.0, 29.0)}  # GPS
    exif[0x010E] = "prompt: a secret"
    tagged = Image.open(
        io.BytesIO(
            encoded(source, "JPEG", exif=exif.tobytes(), icc_profile=b"x" * 200, comment=b"hi")
        )
    )
    tagged.load()
    assert tagged.info.get("exif")
    out = encode_jpeg(tagged)
    clean = Image.open(io.BytesIO(out))
    assert (
        not clean.info.get("exif")
        and not clean.info.get("icc_profile")
        and not clean.info.get("comment")
    )
    assert not clean.getexif()
    assert b"Exif" not in out[:4096] and b"secret" not in out
