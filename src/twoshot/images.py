"""Decoding what users upload, safely, and encoding what we hand back, cleanly.

Decoding: a format allow-list (JPEG, PNG, WebP), a byte limit, a pixel limit read from the
header before any pixel is decoded, truncated or corrupt files refused, EXIF orientation
applied, embedded ICC profiles converted to sRGB, and every pixel mode (CMYK, 16-bit,
palette, alpha, ...) brought to 8-bit RGB. Encoding: baseline JPEG with no EXIF, GPS, ICC,
comment or any other metadata.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import warnings
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageCms, ImageOps, UnidentifiedImageError

from twoshot.errors import InvalidImage, PayloadTooLarge

ALLOWED_FORMATS = ("JPEG", "PNG", "WEBP")
_SRGB = ImageCms.createProfile("sRGB")


@dataclass(frozen=True)
class Limits:
    max_bytes: int = 15 * 1024 * 1024
    max_pixels: int = 40_000_000


@dataclass(frozen=True)
class Decoded:
    image: Image.Image  # 8-bit RGB, upright
    sha256: str  # of the bytes as received: the content address of this input


def _mb(n: int) -> str:
    return f"{n / (1024 * 1024):.0f} MB"


def check_size(n_bytes: int, limits: Limits, field: str | None) -> None:
    if n_bytes > limits.max_bytes:
        raise PayloadTooLarge(
            f"{field or 'the image'} is {n_bytes / (1024 * 1024):.1f} MB; "
            f"send an image of at most {_mb(limits.max_bytes)}",
            field=field,
        )


def decode(data: bytes, limits: Limits, field: str | None = None) -> Decoded:
    what = field or "the image"
    image = _open(data, limits, field)
    _load(image, what, field)
    return Decoded(image=_to_rgb(image, what, field), sha256=hashlib.sha256(data).hexdigest())


def decode_luma(
    data: bytes, limits: Limits, budget: int, field: str | None = None
) -> tuple[np.ndarray, str]:
    """The picture's luminance, at most ``budget`` pixels, and its format: for reading a
    watermark, which lives in the luminance and survives a downscale. A JPEG is reduced
    while it is decoded (libjpeg's DCT scaling to 1/2, 1/4 or 1/8, straight to grey), so a
    40 MP JPEG never exists at full size; other formats are decoded, then box-reduced."""
    what = field or "the image"
    image = _open(data, limits, field)
    fmt = image.format or "JPEG"
    factor = reduction(image.size, budget)
    if fmt == "JPEG" and factor > 1:
        image.draft("L", (-(-image.width // factor), -(-image.height // factor)))
    _load(image, what, field)
    with contextlib.suppress(Exception):  # a broken EXIF block leaves the pixels usable
        image = ImageOps.exif_transpose(image) or image
    if image.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        image = _to_8bit(image)
    if image.mode in ("RGBA", "LA", "PA", "La", "RGBa") or (
        image.mode == "P" and "transparency" in image.info
    ):
        image = _to_rgb(image, what, field)  # on white, as every other decode sees it
    if image.mode != "L":
        image = image.convert("L")
    rest = reduction(image.size, budget)
    if rest > 1:
        image = image.reduce(rest)
    return np.asarray(image), fmt


def reduction(size: tuple[int, int], budget: int) -> int:
    """The smallest power of two that brings ``size`` within ``budget`` pixels."""
    factor = 1
    while (size[0] // factor) * (size[1] // factor) > budget:
        factor *= 2
    return factor


def _open(data: bytes, limits: Limits, field: str | None) -> Image.Image:
    """The opened picture, its header checked (format, bytes, pixels); nothing decoded."""
    what = field or "the image"
    if not data:
        raise InvalidImage(f"{what} is empty (0 bytes); send a JPEG, PNG or WebP file", field=field)
    check_size(len(data), limits, field)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data), formats=ALLOWED_FORMATS)
    except UnidentifiedImageError:
        raise InvalidImage(
            f"{what} is not a JPEG, PNG or WebP image{_sniffed(data)}; "
            "send a photo in one of those formats",
            field=field,
        ) from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise _too_many_pixels(what, None, limits, field) from None
    except Exception as exc:  # Pillow raises many types for a corrupt header
        raise InvalidImage(
            f"{what} could not be read ({exc}); send an intact file", field=field
        ) from None

    width, height = image.size
    if width * height > limits.max_pixels:
        raise _too_many_pixels(what, (width, height), limits, field)
    if width < 1 or height < 1:
        raise InvalidImage(f"{what} has no pixels", field=field)
    return image


def _load(image: Image.Image, what: str, field: str | None) -> None:
    try:
        image.load()
    except Exception as exc:
        reason = "is truncated" if "truncated" in str(exc) else f"is corrupt ({exc})"
        raise InvalidImage(f"{what} {reason}; send the complete file", field=field) from None


def _too_many_pixels(
    what: str, size: tuple[int, int] | None, limits: Limits, field: str | None
) -> PayloadTooLarge:
    dims = f" ({size[0]}×{size[1]})" if size else ""
    return PayloadTooLarge(
        f"{what} has too many pixels{dims}; send an image of at most "
        f"{limits.max_pixels / 1e6:.0f} megapixels",
        field=field,
    )


def _sniffed(data: bytes) -> str:
    signatures = {
        b"GIF8": "GIF",
        b"BM": "BMP",
        b"II*\x00": "TIFF",
        b"MM\x00*": "TIFF",
        b"%PDF": "PDF",
        b"<svg": "SVG",
        b"<?xml": "XML/SVG",
        b"PK\x03\x04": "ZIP",
        b"<!DOCTYPE html": "HTML",
        b"<html": "HTML",
    }
    head = data[:32].lstrip()
    for sig, name in signatures.items():
        if head.startswith(sig):
            return f" (it looks like {name})"
    if head[4:12] in (b"ftypheic", b"ftypheix", b"ftypmif1", b"ftypavif"):
        return " (it looks like HEIC/AVIF)"
    return ""


def _to_rgb(image: Image.Image, what: str, field: str | None) -> Image.Image:
    with contextlib.suppress(Exception):  # a broken EXIF block leaves the pixels usable
        image = ImageOps.exif_transpose(image) or image
    icc = image.info.get("icc_profile")
    mode = image.mode
    if mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        image = _to_8bit(image)
        mode = image.mode
    if mode in ("RGBA", "LA", "PA", "La", "RGBa") or (mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        image = Image.alpha_composite(background, rgba)
    if icc and image.mode in ("RGB", "RGBA", "CMYK", "L"):
        try:
            source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
            converted = ImageCms.profileToProfile(image, source, _SRGB, outputMode="RGB")
            if converted is not None:
                image = converted
        except Exception:
            pass  # an unreadable profile: fall back to the plain conversion below
    if image.mode != "RGB":
        image = image.convert("RGB")
    image.info = {}
    return image


def _to_8bit(image: Image.Image) -> Image.Image:
    arr = np.asarray(image).astype(np.float64)
    top = 65535.0 if arr.max(initial=0) > 255 else 255.0
    if image.mode == "F":
        top = max(1.0, float(arr.max(initial=1.0)))
    scaled = np.clip(arr / top * 255.0 + 0.5, 0, 255).astype(np.uint8)
    return Image.fromarray(scaled, mode="L")


def fit_within(image: Image.Image, max_side: int) -> Image.Image:
    """Downscale (never up) so the longer side is at most ``max_side``."""
    if max(image.size) <= max_side:
        return image
    scale = max_side / max(image.size)
    size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    return image.resize(size, Image.Resampling.LANCZOS)


def encode_jpeg(image: Image.Image | np.ndarray, quality: int = 92) -> bytes:
    """JPEG with nothing but pixels: no EXIF, GPS, ICC profile, comment or XMP."""
    if isinstance(image, np.ndarray):
        image = Image.fromarray(image)
    clean = Image.frombytes("RGB", image.size, image.convert("RGB").tobytes())
    buf = io.BytesIO()
    clean.save(buf, "JPEG", quality=quality, optimize=True)
    return buf.getvalue()
