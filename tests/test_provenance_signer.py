"""Provenance that cannot be borrowed: who signed a manifest (this server, a trust anchor,
or anyone), and a watermark key per installation."""

from __future__ import annotations

import hashlib
import stat
from pathlib import Path

import httpx
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from PIL import Image

from tests.conftest import make_settings, start_live, stop_live
from tests.photos import load
from twoshot.images import encode_jpeg
from twoshot.provenance import PUBLIC_KEY, Provenance, verify
from twoshot.provenance.credentials import Credentials, SignerConfig
from twoshot.provenance.signer import signer_fingerprint
from twoshot.runtime import Runtime
from twoshot.service import NoChecks


def photo() -> Image.Image:
    return load("astronaut").resize((768, 768))


def leaf_sha256(chain_pem: bytes) -> str:
    leaf = x509.load_pem_x509_certificates(chain_pem)[0]
    return hashlib.sha256(leaf.public_bytes(Encoding.DER)).hexdigest()


def test_a_picture_signed_by_another_development_ca_is_not_this_servers(tmp_path: Path) -> None:
    ours = Provenance.from_settings(make_settings(tmp_path / "ours"))
    theirs = Credentials.configure(SignerConfig(), tmp_path / "theirs")  # twoshot's own code
    # a real photo, claimed as made by qwen-edit, signed by the other CA
    forged = theirs.sign(
        encode_jpeg(photo()), source_type="trainedAlgorithmicMedia", engine="qwen-edit", version="1"
    )
    verdict = ours.verify(forged)
    assert verdict.manifest.valid and verdict.marked  # a mark says AI-made: true, by anyone
    assert verdict.manifest.signed_by == "unknown"
    assert not verdict.signed_by_trusted_signer and not verdict.as_dict()["signed_by_this_server"]
    assert verdict.manifest.signer_fingerprint == leaf_sha256(theirs.chain_pem)
    assert not verdict.watermark.found  # and our watermark is not in it

    result = ours.encode(photo(), engine="qwen-edit", source_type="trainedAlgorithmicMedia")
    mine = ours.verify(result.jpeg)
    assert mine.manifest.signed_by == "this_server" and mine.signed_by_trusted_signer
    assert mine.as_dict()["signed_by_this_server"] and mine.watermark.found
    own = ours.own_signer
    assert own is not None and mine.manifest.signer_fingerprint == own.fingerprint
    assert mine.manifest.signer_fingerprint != verdict.manifest.signer_fingerprint
    # the same names and a copied serial number are not enough: only the signature proves
    assert mine.manifest.signer == verdict.manifest.signer
    # a verifier with no own signer (another installation) sees ours as valid, unknown
    assert verify(result.jpeg).manifest.signed_by == "unknown"


def test_a_trust_anchor_is_reported_as_such(tmp_path: Path) -> None:
    theirs = Credentials.configure(SignerConfig(), tmp_path / "partner")
    signed = theirs.sign(
        encode_jpeg(photo()), source_type="compositeSynthetic", engine="studio", version="1"
    )
    root = (tmp_path / "partner" / "provenance" / "dev-ca.pem").read_bytes()
    verdict = verify(signed, trust_anchors=root)
    assert verdict.manifest.signed_by == "trust_anchor" and verdict.signed_by_trusted_signer


def test_no_fingerprint_without_a_single_matching_certificate(tmp_path: Path) -> None:
    creds = Credentials.configure(SignerConfig(), tmp_path)
    signed = creds.sign(encode_jpeg(photo()), source_type="x", engine="y", version="1")
    own = creds.own
    assert signer_fingerprint(signed, str(own.serial), "twoshot development signer") == (
        own.fingerprint
    )
    assert signer_fingerprint(signed, "12345", "twoshot development signer") is None
    assert signer_fingerprint(b"c2pa.signature\x00junk cbor\x00\x00", "1", None) is None


def test_the_watermark_key_is_per_installation(tmp_path: Path) -> None:
    a = Provenance.from_settings(make_settings(tmp_path / "a", provenance="watermark"))
    b = Provenance.from_settings(make_settings(tmp_path / "b", provenance="watermark"))
    key_file = tmp_path / "a" / "data" / "provenance" / "watermark-key"
    assert key_file.read_text().strip() == a.watermark_key != b.watermark_key
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    again = Provenance.from_settings(make_settings(tmp_path / "a", provenance="watermark"))
    assert again.watermark_key == a.watermark_key  # kept across restarts
    marked = a.encode(photo(), engine="studio", source_type="compositeSynthetic").jpeg
    assert a.verify(marked).watermark.found
    assert not b.verify(marked).watermark.found  # another installation cannot read it
    assert not verify(marked).watermark.found  # nor twoshot's public key
    # the public key, only by explicit choice
    public = Provenance.from_settings(
        make_settings(tmp_path / "p", provenance="watermark", watermark_key=PUBLIC_KEY)
    )
    stamped = public.encode(photo(), engine="studio", source_type="compositeSynthetic").jpeg
    assert verify(stamped).watermark.found and not a.verify(stamped).watermark.found


def test_the_verify_route_names_the_signer(tmp_path: Path) -> None:
    rt = Runtime.build(make_settings(tmp_path), checks=NoChecks())
    live = start_live(rt)
    try:
        result = rt.provenance.encode(photo(), engine="studio", source_type="compositeSynthetic")
        other = Credentials.configure(SignerConfig(), tmp_path / "other")
        forged = other.sign(
            encode_jpeg(photo()),
            source_type="trainedAlgorithmicMedia",
            engine="qwen-edit",
            version="1",
        )
        mine, theirs = (
            httpx.post(
                f"{live.url}/api/verify", files={"image": ("x.jpg", data)}, timeout=30
            ).json()
            for data in (result.jpeg, forged)
        )
    finally:
        stop_live(live)
    assert mine["signed_by_this_server"] and mine["signed_by_trusted_signer"] and mine["marked"]
    assert mine["manifest"]["signed_by"] == "this_server" and mine["watermark"]["found"]
    assert theirs["marked"] and not theirs["signed_by_trusted_signer"]
    assert theirs["manifest"]["signed_by"] == "unknown"
    assert len(theirs["manifest"]["signer_fingerprint"]) == 64
