"""Provenance: what marking costs per 1024² result, what reading costs, how invisible the
watermark is (PSNR) and how it survives JPEG q75, a 50 % downscale and a 10 % crop.

python bench/provenance.py [--runs 15]
"""

from __future__ import annotations

import argparse
import io
import json
import tempfile
from pathlib import Path

import numpy as np
from common import median_ms, quick
from PIL import Image
from tests.photos import load

from twoshot.domain import JobSpec
from twoshot.engines import Job
from twoshot.engines.studio import StudioEngine
from twoshot.images import encode_jpeg
from twoshot.provenance import verify
from twoshot.provenance.credentials import Credentials, SignerConfig
from twoshot.provenance.watermark import Payload, Watermark


def jpeg(image: Image.Image, quality: int) -> bytes:
    buf = io.BytesIO()
    image.save(buf, "JPEG", quality=quality)
    return buf.getvalue()


def attacked(marked: Image.Image) -> dict[str, bytes]:
    w, h = marked.size
    crop = marked.crop((int(w * 0.05), int(h * 0.05), int(w * 0.95), int(h * 0.95)))
    return {
        "jpeg_q75": jpeg(marked, 75),
        "resize_50": jpeg(marked.resize((w // 2, h // 2), Image.Resampling.LANCZOS), 90),
        "crop_10": jpeg(crop, 90),
        "crop_resize_q75": jpeg(crop.resize((crop.width // 2, crop.height // 2)), 75),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=quick(15, 2))
    args = parser.parse_args()
    engine = StudioEngine()
    images = {n: load(n) for n in ("obama", "obama2", "obama3", "astronaut")}
    results = {}
    for name, spec in {
        "studio_couple_beach": JobSpec(
            kind="couple", male="obama", female="astronaut", prompt="beach", seed=1
        ),
        "studio_couple_city": JobSpec(
            kind="couple", male="obama2", female="astronaut", prompt="night city", seed=2
        ),
        "studio_person_park": JobSpec(kind="person", references=["obama3"], prompt="park", seed=3),
        "photo_obama": None,
        "photo_astronaut": None,
    }.items():
        if spec is None:
            results[name] = images[name.removeprefix("photo_")].resize((1024, 1024))
        else:
            [outcome] = engine.generate([Job("b", spec, images)], lambda _f: None)
            assert outcome.image is not None
            results[name] = outcome.image

    wm = Watermark()
    payload = Payload(ai_generated=True, composite=False, server_id=4242)
    with tempfile.TemporaryDirectory() as tmp:
        credentials = Credentials.configure(SignerConfig(), Path(tmp))
    base = results["studio_couple_beach"]
    rgb = np.asarray(base)
    plain = encode_jpeg(base)
    report: dict = {"size": list(base.size)}
    embed, embed_p90 = median_ms(lambda: wm.embed(rgb, payload), args.runs)
    sign, sign_p90 = median_ms(
        lambda: credentials.sign(
            plain, source_type="trainedAlgorithmicMedia", engine="bench", version="0"
        ),
        args.runs,
    )
    enc, _ = median_ms(lambda: encode_jpeg(base), args.runs)
    marked_rgb = wm.embed(rgb, payload)
    signed = credentials.sign(
        encode_jpeg(Image.fromarray(marked_rgb)),
        source_type="trainedAlgorithmicMedia",
        engine="bench",
        version="0",
    )
    detect, detect_p90 = median_ms(lambda: wm.detect(marked_rgb), max(3, args.runs // 3))
    verify_ms, verify_p90 = median_ms(lambda: verify(signed), max(3, args.runs // 3))
    report["added_ms"] = {
        "watermark_embed": [round(embed, 1), round(embed_p90, 1)],
        "c2pa_sign": [round(sign, 1), round(sign_p90, 1)],
        "together": round(embed + sign, 1),
        "jpeg_encode_for_comparison": round(enc, 1),
    }
    report["read_ms"] = {
        "watermark_detect": [round(detect, 1), round(detect_p90, 1)],
        "verify_manifest_and_watermark": [round(verify_ms, 1), round(verify_p90, 1)],
    }
    report["bytes"] = {"plain_jpeg": len(plain), "signed_jpeg": len(signed)}
    rows = {}
    for name, image in results.items():
        original = np.asarray(image.convert("RGB"))
        marked = wm.embed(original, payload)
        mse = float(np.mean((marked.astype(np.float64) - original) ** 2))
        row: dict = {"psnr_db": round(10 * np.log10(255**2 / mse), 2)}
        for attack, data in attacked(Image.fromarray(marked)).items():
            d = wm.detect(np.asarray(Image.open(io.BytesIO(data)).convert("RGB")))
            row[attack] = {"found": d.found, "score": d.score, "payload": d.payload == payload}
        row["unmarked_score"] = wm.detect(original).score
        rows[name] = row
    report["pictures"] = rows
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
