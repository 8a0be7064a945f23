"""Every result says it was made by a machine: Content Credentials (checked with the C2PA
SDK's own reader) and an invisible watermark that survives re-encoding, downscaling and
cropping; ``twoshot verify`` and ``POST /api/verify`` read both."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import c2pa
import httpx
import numpy as np
import pytest
from PIL import Image

from tests.conftest import ROOT, Live, couple_files, make_settings, working_server
from tests.photos import load
from twoshot.provenance import Provenance, verify
from twoshot.provenance.credentials import Credentials, SignerConfig, development_certificate
from twoshot.provenance.watermark import Payload, Watermark
from twoshot.runtime import Runtime
from twoshot.service import NoChecks


def reader(jpeg: bytes) -> tuple[str, dict, dict]:
    with c2pa.Reader("image/jpeg", io.BytesIO(jpeg)) as r:
        return r.get_validation_state(), r.get_active_manifest(), r.get_validation_results()


def created_action(manifest: dict) -> dict:
    [actions] = [a for a in manifest["assertions"] if a["label"].startswith("c2pa.actions")]
    [created] = actions["data"]["actions"]
    assert created["action"] == "c2pa.created"
    return dict(created)


def jpeg(image: Image.Image | np.ndarray, quality: int = 92) -> bytes:
    if isinstance(image, np.ndarray):
        image = Image.fromarray(image)
    buf = io.BytesIO()
    image.convert("RGB").save(buf, "JPEG", quality=quality)
    return buf.getvalue()


def attacks(data: bytes) -> dict[str, bytes]:
    """What happens to a picture on its way: a messaging app's JPEG q75 (which also drops
    the metadata), a 50 % downscale, a 10 % crop, and all three at once."""
    im = Image.open(io.BytesIO(data)).convert("RGB")
    w, h = im.size
    crop = im.crop((int(w * 0.05), int(h * 0.05), int(w * 0.95), int(h * 0.95)))
    half = im.resize((w // 2, h // 2), Image.Resampling.LANCZOS)
    return {
        "jpeg q75": jpeg(im, 75),
        "resized 50 %": jpeg(half, 90),
        "cropped 10 %": jpeg(crop, 90),
        "all three": jpeg(crop.resize((crop.width // 2, crop.height // 2)), 75),
    }


@pytest.fixture(scope="module")
def studio_result(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Live, dict, bytes]]:
    """One studio couple through a real server and worker, as a user would get it."""
    tmp = tmp_path_factory.mktemp("prov")
    rt = Runtime.build(make_settings(tmp, engine="studio"), checks=NoChecks())
    with working_server(rt) as live:
        files = couple_files()
        data = {"prompt": "secret words of a user", "width": "768", "height": "768"}
        task_id = httpx.post(
            f"{live.url}/api/couple_image", headers=live.headers, files=files, data=data
        ).json()["task_id"]
        for _ in range(600):
            body = httpx.get(f"{live.url}/api/task-status/{task_id}", headers=live.headers).json()
            if body["status"] in ("completed", "failed"):
                break
            import time

            time.sleep(0.1)
        assert body["status"] == "completed", body
        result = httpx.get(body["image_url"]).content
        yield live, body, result


def test_studio_result_carries_valid_content_credentials(
    studio_result: tuple[Live, dict, bytes],
) -> None:
    _, body, result = studio_result
    state, manifest, results = reader(result)
    assert state == "Valid"  # signed with the development certificate: valid, not trusted
    assert "signingCredential.untrusted" in str(results)
    action = created_action(manifest)
    assert action["digitalSourceType"].endswith("/compositeSynthetic")
    assert action["softwareAgent"]["name"] == "twoshot/studio"
    assert manifest["claim_generator_info"][0]["name"] == "twoshot"
    assert not manifest.get("ingredients")  # no reference photo, nor its hash
    assert "thumbnail" not in manifest
    text = str(manifest)
    assert "secret words" not in text and "obama" not in text
    assert body["quality"]["provenance"] == {
        "digital_source_type": "compositeSynthetic",
        "watermark": True,
        "c2pa": True,
        "c2pa_signer": "development",
    }


def test_result_has_no_other_metadata(studio_result: tuple[Live, dict, bytes]) -> None:
    _, _, result = studio_result
    im = Image.open(io.BytesIO(result))
    assert not im.getexif() and "icc_profile" not in im.info and "xmp" not in im.info
    assert b"secret words" not in result and b"GPS" not in result


def test_watermark_survives_what_happens_to_pictures(
    studio_result: tuple[Live, dict, bytes],
) -> None:
    live, _, result = studio_result
    for name, attacked in attacks(result).items():
        verdict = live.runtime.provenance.verify(attacked)  # the installation's own key
        assert not verdict.manifest.present, name  # the metadata is gone ...
        assert verdict.watermark.found, (name, verdict.watermark)  # ... the mark is not
        payload = verdict.watermark.payload
        if payload is not None:  # its CRC passed: the bits are right
            assert payload.composite and not payload.ai_generated, name
            assert payload.server_id == live.runtime.provenance.server_id, name


def test_verify_route_on_marked_stripped_and_unmarked(
    studio_result: tuple[Live, dict, bytes],
) -> None:
    live, _, result = studio_result
    stripped = attacks(result)["jpeg q75"]
    unmarked = jpeg(load("obama"))

    def check(data: bytes) -> dict:
        r = httpx.post(f"{live.url}/api/verify", files={"image": ("x.jpg", data)}, timeout=30)
        assert r.status_code == 200, r.text
        return dict(r.json())

    marked = check(result)
    assert marked["marked"] and marked["manifest"]["valid"] and not marked["manifest"]["trusted"]
    assert marked["manifest"]["digital_source_type"] == "compositeSynthetic"
    assert marked["watermark"]["found"] and marked["watermark"]["confidence"] > 0.9
    lost = check(stripped)
    assert lost["marked"] and not lost["manifest"]["present"] and lost["watermark"]["found"]
    plain = check(unmarked)
    assert not plain["marked"] and not plain["watermark"]["found"]
    junk = httpx.post(f"{live.url}/api/verify", files={"image": ("x.jpg", b"not a picture")})
    assert junk.status_code == 400 and junk.json()["error"]["code"] == "invalid_image"
    assert junk.json()["error"]["field"] == "image"


def test_verify_is_rate_limited_per_address(tmp_path: Path) -> None:
    from tests.conftest import start_live, stop_live

    rt = Runtime.build(make_settings(tmp_path, verify_per_minute=2), checks=NoChecks())
    live = start_live(rt)
    try:
        small = jpeg(Image.new("RGB", (64, 64), (90, 120, 150)))
        codes = [
            httpx.post(f"{live.url}/api/verify", files={"image": ("x.jpg", small)}).status_code
            for _ in range(3)
        ]
        assert codes == [200, 200, 429]
    finally:
        stop_live(live)


def test_verify_cli_exit_codes(studio_result: tuple[Live, dict, bytes], tmp_path: Path) -> None:
    live, _, result = studio_result
    env = {**os.environ, "TWOSHOT_DATA_DIR": str(live.runtime.settings.data_dir)}
    marked, stripped, plain = tmp_path / "m.jpg", tmp_path / "s.jpg", tmp_path / "p.jpg"
    marked.write_bytes(result)
    stripped.write_bytes(attacks(result)["all three"])
    plain.write_bytes(jpeg(load("astronaut")))

    def run(*files: Path) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "twoshot", "verify", *map(str, files)],
            capture_output=True,
            text=True,
            cwd=tmp_path,
            env=env,
            check=False,
        )

    both = run(marked, stripped)
    assert both.returncode == 0, both.stdout + both.stderr
    assert "MARKED" in both.stdout
    assert "content credentials: valid (this server's signer" in both.stdout
    one_plain = run(marked, plain)
    assert one_plain.returncode == 1 and "NOT MARKED" in one_plain.stdout


def test_no_false_positives_on_100_unmarked_pictures() -> None:
    """Photos (resized, cropped, flipped, re-encoded) and renders: the watermark detector
    must stay silent on every one of them."""
    from twoshot.engines.studio.backdrop import render_background
    from twoshot.engines.studio.scene import read_prompt

    pictures: list[np.ndarray] = []
    for name in ("obama", "obama2", "obama3", "astronaut"):
        im = load(name)
        for i in range(13):
            side = 384 + 48 * i
            v = im.resize((side, side * im.height // im.width))
            if i % 3 == 1:
                v = v.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
            if i % 3 == 2:
                v = v.crop((v.width // 10, 0, v.width, v.height * 9 // 10))
            pictures.append(np.asarray(Image.open(io.BytesIO(jpeg(v, 60 + 3 * i))).convert("RGB")))
    prompts = ["beach", "park", "city at night", "sunset", "snow", "studio portrait"]
    for i in range(48):
        scene = read_prompt(prompts[i % len(prompts)])
        size = (512 + 64 * (i % 4), 512 + 64 * ((i // 4) % 3))
        pictures.append(np.clip(render_background(scene, size, seed=i), 0, 255).astype(np.uint8))
    assert len(pictures) == 100
    wm = Watermark()
    scores = [wm.detect(p).score for p in pictures]
    false_positives = sum(wm.detect(p).found for p in pictures)
    print(f"false positives: {false_positives}/100; highest score {max(scores):.2f}")
    assert false_positives == 0


def test_watermark_is_invisible() -> None:
    """PSNR of the marked picture against the unmarked one, goal ≥ 40 dB."""
    wm = Watermark()
    for name in ("obama", "astronaut"):
        rgb = np.asarray(load(name).resize((1024, 1024)))
        marked = wm.embed(rgb, Payload(True, False, 77))
        mse = float(np.mean((marked.astype(np.float64) - rgb) ** 2))
        assert 10 * np.log10(255**2 / mse) >= 40, name
        assert wm.detect(marked).payload == Payload(True, False, 77)


def test_layers_can_be_turned_off(tmp_path: Path) -> None:
    im = load("obama").resize((640, 640))
    off = Provenance.from_settings(make_settings(tmp_path / "a", provenance="none")).encode(
        im, engine="studio", source_type="compositeSynthetic"
    )
    assert off.applied == {
        "digital_source_type": "compositeSynthetic",
        "watermark": False,
        "c2pa": False,
    }
    assert not verify(off.jpeg).marked
    only_c2pa = Provenance.from_settings(make_settings(tmp_path / "b", provenance="c2pa"))
    marked = only_c2pa.encode(im, engine="qwen-edit", source_type="trainedAlgorithmicMedia")
    verdict = verify(marked.jpeg)
    assert verdict.manifest.valid and not verdict.watermark.found
    assert verdict.manifest.digital_source_type == "trainedAlgorithmicMedia"
    with pytest.raises(ValueError, match="unknown layer"):
        Provenance.from_settings(make_settings(tmp_path / "c", provenance="c2pa,stamp"))


def test_operator_certificate_trust_anchors_and_a_signing_command(tmp_path: Path) -> None:
    """An operator's own chain and key; its root as a trust anchor makes the signer
    trusted; a KMS-style command that signs stdin works the same way."""
    chain, key = development_certificate(tmp_path / "operator")
    cert_path, key_path = tmp_path / "operator" / "dev-signer-chain.pem", tmp_path / "k.pem"
    key_path.write_bytes(key)
    root = (tmp_path / "operator" / "dev-ca.pem").read_bytes()
    im = load("astronaut").resize((512, 512))
    own = Provenance.from_settings(
        make_settings(tmp_path / "d1", c2pa_cert=cert_path, c2pa_key=key_path)
    )
    signed = own.encode(im, engine="qwen-edit", source_type="trainedAlgorithmicMedia")
    assert signed.applied["c2pa_signer"] == "operator"
    assert verify(signed.jpeg, trust_anchors=root).manifest.trusted
    assert not verify(signed.jpeg).manifest.trusted  # without the anchor: valid, untrusted
    signer = tmp_path / "sign.py"
    signer.write_text(
        textwrap.dedent(
            f"""
            import sys
            from cryptography.hazmat.primitives import hashes, serialization
            from cryptography.hazmat.primitives.asymmetric import ec
            key = serialization.load_pem_private_key(open({str(key_path)!r}, "rb").read(), None)
            sys.stdout.buffer.write(key.sign(sys.stdin.buffer.read(), ec.ECDSA(hashes.SHA256())))
            """
        )
    )
    command = Credentials.configure(
        SignerConfig(cert=cert_path, command=f"{sys.executable} {signer}"), tmp_path
    )
    assert not command.development
    kms = command.sign(jpeg(im), source_type="trainedAlgorithmicMedia", engine="x", version="0")
    assert verify(kms, trust_anchors=root).manifest.trusted
    from twoshot.provenance.credentials import CredentialsError

    with pytest.raises(CredentialsError, match="PKCS#8"):
        bad = tmp_path / "bad.pem"
        bad.write_text("-----BEGIN EC PRIVATE KEY-----\n...\n")
        Credentials.configure(SignerConfig(cert=cert_path, key=bad), tmp_path)
    assert chain.count(b"BEGIN CERTIFICATE") == 2


def test_readme_documents_provenance() -> None:
    readme = (ROOT / "README.md").read_text()
    assert "## Provenance" in readme and "twoshot verify" in readme
