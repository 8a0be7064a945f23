"""``twoshot verify``: Content Credentials and the invisible watermark of pictures."""

from __future__ import annotations

import click

from twoshot.cli.common import load_settings


@click.command()
@click.argument("images", nargs=-1, required=True, type=click.Path(dir_okay=False, exists=True))
@click.option("--json", "as_json", is_flag=True, help="one JSON report per line")
def verify(images: tuple[str, ...], as_json: bool) -> None:
    """Check pictures for Content Credentials and twoshot's invisible watermark.

    Exits 0 when every picture carries a valid mark (a manifest or the watermark), 1 when
    one carries none, 2 when one cannot be read."""
    import json
    from pathlib import Path

    from twoshot.errors import TwoshotError
    from twoshot.provenance import verify as check

    settings = load_settings()
    anchors = settings.c2pa_trust_anchors.read_bytes() if settings.c2pa_trust_anchors else None
    status = 0
    for name in images:
        try:
            verdict = check(
                Path(name).read_bytes(),
                trust_anchors=anchors,
                watermark_key=settings.watermark_key,
            )
        except TwoshotError as exc:
            click.echo(f"{name}: cannot read: {exc.message}", err=True)
            status = 2
            continue
        if not verdict.marked:
            status = max(status, 1)
        if as_json:
            click.echo(json.dumps({"file": name, **verdict.as_dict()}))
            continue
        m, w = verdict.manifest, verdict.watermark
        if m.present:
            trust = "trusted" if m.trusted else "untrusted signer"
            manifest = (
                f"{'valid' if m.valid else 'INVALID'} ({trust}: {m.signer}), "
                f"{m.digital_source_type}, {m.generator} {m.software_agent or ''}".rstrip()
            )
        else:
            manifest = "none"
        if w.found:
            p = w.payload
            what = (
                f"AI-generated={p.ai_generated}, composite={p.composite}, server {p.server_id}"
                if p
                else "payload unreadable"
            )
            mark = f"found (confidence {w.confidence:.2f}; {what})"
        else:
            mark = f"not found (score {w.score})"
        verdict_word = "MARKED" if verdict.marked else "NOT MARKED"
        click.echo(
            f"{name}: {verdict_word}\n  content credentials: {manifest}\n  watermark: {mark}"
        )
    raise SystemExit(status)
