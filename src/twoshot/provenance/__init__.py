"""Every result marked as made by a machine, in two layers, and a way for anyone to check.

- **Content Credentials** (C2PA, ``credentials``): a signed manifest in the JPEG that says
  how the picture was made (the IPTC digital source type), by what (twoshot, its version,
  the engine) and when. Precise, and verifiable, but gone when a messaging app re-saves the
  picture without its metadata.
- **An invisible watermark** (``watermark``) in the pixels: a short payload (AI-generated,
  composite, this server's id) that survives JPEG re-encoding, downscaling and cropping.

This is what the EU AI Act's Article 50(2) and its Code of Practice ask of providers of
systems that make synthetic images: machine-readable marking, in more than one layer, and a
way to detect it. ``TWOSHOT_PROVENANCE`` chooses the layers (both by default).
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from twoshot import __version__
from twoshot.images import Limits, decode_luma, encode_jpeg
from twoshot.provenance.credentials import (
    Credentials,
    CredentialsError,
    ManifestReport,
    SignerConfig,
    read_manifest,
)
from twoshot.provenance.signer import OwnSigner
from twoshot.provenance.watermark import Detection, Payload, Watermark

__all__ = [
    "GENERATIVE",
    "LAYERS",
    "Credentials",
    "CredentialsError",
    "Marked",
    "Provenance",
    "Verdict",
    "is_generative",
    "verify",
]

log = logging.getLogger(__name__)

LAYERS = ("c2pa", "watermark")
PUBLIC_KEY = "public"  # TWOSHOT_WATERMARK_KEY=public: twoshot's published key, by choice
# the most pixels a verify reads the watermark from: results are at most 2048², so theirs are
# read whole; a larger picture is reduced by a power of two, while it is decoded when JPEG
READ_PIXELS = 2048 * 2048
GENERATIVE = "trainedAlgorithmicMedia"


def is_generative(source_type: str) -> bool:
    """Whether the IPTC type says generative AI made the pixels (the watermark's AI bit):
    not for ``studio``'s composites of real photos, which carry the composite bit instead."""
    return source_type in (GENERATIVE, "compositeWithTrainedAlgorithmicMedia", "algorithmicMedia")


@dataclass(frozen=True)
class Marked:
    jpeg: bytes
    applied: dict[str, Any]  # what task-status shows as quality.provenance


class Provenance:
    """Encodes results: watermark in the pixels, JPEG with no other metadata, C2PA manifest.
    One per process, shared by its workers (it holds no per-call state)."""

    def __init__(
        self,
        layers: set[str],
        *,
        credentials: Credentials | None = None,
        watermark_key: str = PUBLIC_KEY,
        server_id: int = 0,
    ):
        unknown = layers - set(LAYERS)
        if unknown:
            raise ValueError(
                f"TWOSHOT_PROVENANCE: unknown layer(s) {', '.join(sorted(unknown))}; "
                f"use a comma-separated list of {', '.join(LAYERS)}, or 'none'"
            )
        if "c2pa" in layers and credentials is None:
            raise ValueError("the c2pa layer needs credentials")
        self.layers = layers
        self._credentials = credentials if "c2pa" in layers else None
        self.watermark_key = watermark_key
        self._watermark = _watermark(watermark_key) if "watermark" in layers else None
        self.server_id = server_id

    @property
    def own_signer(self) -> OwnSigner | None:
        return self._credentials.own if self._credentials is not None else None

    def verify(
        self,
        data: bytes,
        *,
        limits: Limits | None = None,
        field: str | None = None,
        trust_anchors: bytes | None = None,
    ) -> Verdict:
        """``verify`` with this installation's watermark key and its own signer."""
        return verify(
            data,
            limits=limits,
            field=field,
            trust_anchors=trust_anchors,
            watermark_key=self.watermark_key,
            own=self.own_signer,
        )

    @classmethod
    def from_settings(cls, settings: Any, *, remote: bool = False) -> Provenance:
        """``remote``: for a worker on another machine, which must mark with the server's
        watermark key (TWOSHOT_WATERMARK_KEY), or the server's verify will not see it."""
        layers = parse_layers(settings.provenance)
        if remote and "watermark" in layers and not settings.watermark_key:
            log.warning(
                "TWOSHOT_WATERMARK_KEY is not set on this remote worker: its results are "
                "watermarked with this machine's own key, which the server's verify does not "
                "know. Set it to the server's (TWOSHOT_DATA_DIR/provenance/watermark-key)."
            )
        credentials = None
        if "c2pa" in layers:
            credentials = Credentials.configure(
                SignerConfig(
                    cert=settings.c2pa_cert,
                    key=settings.c2pa_key,
                    command=settings.c2pa_signer_command,
                    alg=settings.c2pa_alg,
                    tsa_url=settings.c2pa_tsa_url,
                ),
                settings.data_dir,
            )
        if not layers:
            log.warning(
                "TWOSHOT_PROVENANCE is off: results carry no Content Credentials and no "
                "watermark. The EU AI Act (Art. 50(2)) asks providers to mark AI-made images."
            )
        return cls(
            layers,
            credentials=credentials,
            watermark_key=watermark_key(settings.data_dir, settings.watermark_key),
            server_id=server_id(settings.data_dir, settings.watermark_id),
        )

    def encode(self, image: Image.Image, *, engine: str, source_type: str) -> Marked:
        applied: dict[str, Any] = {"digital_source_type": source_type}
        if self._watermark is not None:
            payload = Payload(
                ai_generated=is_generative(source_type),
                composite=source_type.startswith("composite"),
                server_id=self.server_id,
            )
            rgb = self._watermark.embed(np.asarray(image.convert("RGB")), payload)
            image = Image.fromarray(rgb)
        jpeg = encode_jpeg(image)
        applied["watermark"] = self._watermark is not None
        if self._credentials is not None:
            jpeg = self._credentials.sign(
                jpeg, source_type=source_type, engine=engine, version=__version__
            )
            applied["c2pa"] = True
            applied["c2pa_signer"] = "development" if self._credentials.development else "operator"
        else:
            applied["c2pa"] = False
        return Marked(jpeg, applied)


def parse_layers(value: str) -> set[str]:
    words = {w.strip().lower() for w in value.split(",") if w.strip()}
    return set() if words <= {"none", "off"} else words


def _watermark(key: str | None) -> Watermark:
    return Watermark(key.encode()) if key and key != PUBLIC_KEY else Watermark()


def watermark_key(data_dir: Path, configured: str | None) -> str:
    """This installation's watermark key: TWOSHOT_WATERMARK_KEY, else one drawn at first
    start and kept in the data dir, like the development CA (give it to every replica and
    remote worker). Only this installation can read its marks, and nobody else can stamp
    them onto a picture. ``public`` chooses twoshot's public key: then anyone with twoshot
    can read the marks, and make them."""
    if configured:
        return configured
    path = data_dir / "provenance" / "watermark-key"
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_hex(32)
    path.touch(mode=0o600)
    path.write_text(f"{key}\n")
    return key


def server_id(data_dir: Path, configured: int | None) -> int:
    """This server's 22-bit id in the watermark: TWOSHOT_WATERMARK_ID, else one drawn at
    first start and kept in the data dir (set the same id on every replica and worker)."""
    if configured is not None:
        return configured & ((1 << 22) - 1)
    path = data_dir / "provenance" / "server-id"
    if path.exists():
        return int(path.read_text().strip()) & ((1 << 22) - 1)
    path.parent.mkdir(parents=True, exist_ok=True)
    value = secrets.randbelow(1 << 22)
    path.write_text(f"{value}\n")
    return value


# -- verifying --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Verdict:
    manifest: ManifestReport
    watermark: Detection

    @property
    def marked(self) -> bool:
        """A mark says the picture was made by a machine: a valid manifest (by any signer)
        or this installation's watermark. It proves nothing about who made the mark."""
        return self.manifest.valid or self.watermark.found

    @property
    def signed_by_trusted_signer(self) -> bool:
        """A valid manifest signed by this server's own signer, or by one that chains to a
        configured trust anchor: the manifest's statements are that signer's."""
        return self.manifest.signed_by in ("this_server", "trust_anchor")

    def as_dict(self) -> dict[str, Any]:
        payload = self.watermark.payload
        return {
            "marked": self.marked,
            "signed_by_trusted_signer": self.signed_by_trusted_signer,
            "signed_by_this_server": self.manifest.signed_by == "this_server",
            "manifest": self.manifest.as_dict(),
            "watermark": {
                "found": self.watermark.found,
                "confidence": self.watermark.confidence,
                "score": self.watermark.score,
                "payload_intact": payload is not None,
                "ai_generated": payload.ai_generated if payload else None,
                "composite": payload.composite if payload else None,
                "server_id": payload.server_id if payload else None,
            },
        }


def verify(
    data: bytes,
    *,
    limits: Limits | None = None,
    field: str | None = None,
    trust_anchors: bytes | None = None,
    watermark_key: str | None = None,
    own: OwnSigner | None = None,
) -> Verdict:
    """Check a picture's Content Credentials and look for the watermark. Raises
    ``InvalidImage`` (400) for bytes that are no JPEG, PNG or WebP, ``PayloadTooLarge`` (413)
    over the limits."""
    limits = limits or Limits(max_bytes=len(data) + 1, max_pixels=40_000_000)
    # the watermark is read from a reduced picture (it survives a 50 % downscale), so what
    # a verify costs is bounded by READ_PIXELS, not by what the client sent
    luma, fmt = decode_luma(data, limits, READ_PIXELS, field)
    manifest = read_manifest(data, Image.MIME.get(fmt, "image/jpeg"), trust_anchors, own)
    detection = _watermark(watermark_key).detect(luma)
    return Verdict(manifest, detection)
