"""``twoshot scenes``: the studio engine's scene photos (``TWOSHOT_SCENES`` and the default
pack)."""

from __future__ import annotations

import json
from pathlib import Path

import click

from twoshot.cli.common import load_settings

MAX_SIDE = 2048  # photos are stored resized: a scene is never shown larger than the output


def _folder() -> Path:
    folder = load_settings().scenes
    if folder is None:
        raise click.ClickException("set TWOSHOT_SCENES to the folder of your scene photos")
    return folder


@click.group()
def scenes() -> None:
    """Scene photos: real places the studio engine puts people into."""


@scenes.command("list")
def scenes_list() -> None:
    """Every scene photo: name, what it is tagged with, licence, where it comes from."""
    from twoshot.engines.studio.photos import DEFAULT_PACK, ScenePacks

    settings = load_settings()
    packs = ScenePacks(settings.scenes, settings.default_scenes)
    for photo in packs.photos():
        origin = "default" if photo.path.parent == DEFAULT_PACK else str(photo.path.parent)
        kind = "template" if photo.couple else "scene"
        click.echo(
            f"{photo.name}  {kind}  places={','.join(photo.places)}  "
            f"times={','.join(photo.times) or 'day'}  weathers={','.join(photo.weathers)}  "
            f"{photo.licence or 'licence?'}  {photo.author}  ({origin})"
        )


@scenes.command("add")
@click.argument("photo", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--name", default=None, help="its name (default: the file's)")
@click.option("--place", "places", multiple=True, required=True, help="beach, park, field, …")
@click.option("--time", "times", multiple=True, help="day (default), golden, night")
@click.option("--weather", "weathers", multiple=True, help="clear (default), overcast, fog, …")
@click.option("--tag", "tags", multiple=True, help="more words a prompt may name it by")
@click.option("--licence", required=True, help="e.g. CC0-1.0; yours to respect")
@click.option("--author", default="")
@click.option("--source", default="")
@click.option("--title", default="")
@click.option("--couple", is_flag=True, help="it holds a couple: a template, faces swapped")
@click.option("--horizon", type=click.FloatRange(0, 1), default=None, help="fraction of height")
@click.option("--light-from", type=click.Choice(["left", "right"]), default=None)
@click.option("--kelvin", type=click.IntRange(1500, 12000), default=None)
def scenes_add(
    photo: Path,
    name: str | None,
    places: tuple[str, ...],
    times: tuple[str, ...],
    weathers: tuple[str, ...],
    tags: tuple[str, ...],
    licence: str,
    author: str,
    source: str,
    title: str,
    couple: bool,
    horizon: float | None,
    light_from: str | None,
    kelvin: int | None,
) -> None:
    """Add PHOTO to the TWOSHOT_SCENES folder (resized, as JPEG) with its sidecar."""
    from PIL import Image

    from twoshot.engines.studio.scene import PLACES, TIMES, WEATHERS

    for given, known, what in (
        (places, PLACES, "place"),
        (times, TIMES, "time"),
        (weathers, (*WEATHERS, "clear"), "weather"),
    ):
        unknown = [g for g in given if g not in known]
        if unknown:
            raise click.BadParameter(
                f"unknown {what} {unknown[0]!r}; one of: {', '.join(known)}", param_hint=what
            )
    folder = _folder()
    folder.mkdir(parents=True, exist_ok=True)
    stem = name or photo.stem
    if not stem.replace("-", "").replace("_", "").isalnum():
        raise click.BadParameter("letters, digits, - and _ only", param_hint="name")
    with Image.open(photo) as original:
        image = original.convert("RGB")
    image.thumbnail((MAX_SIDE, MAX_SIDE), Image.Resampling.LANCZOS)
    image.save(folder / f"{stem}.jpg", quality=88, optimize=True)
    light = {k: v for k, v in (("from", light_from), ("kelvin", kelvin)) if v is not None}
    sidecar = {
        "title": title,
        "places": list(places),
        "times": list(times),
        "weathers": list(weathers) or ["clear"],
        "tags": [t.lower() for t in tags],
        "licence": licence,
        "author": author,
        "source": source,
        "couple": couple,
        "horizon": horizon,
        "light": light,
    }
    (folder / f"{stem}.json").write_text(json.dumps(sidecar, indent=2) + "\n")
    click.echo(f"added {stem} to {folder}")


@scenes.command("remove")
@click.argument("name")
def scenes_remove(name: str) -> None:
    """Remove a photo (and its sidecar) from the TWOSHOT_SCENES folder."""
    from twoshot.engines.studio.photos import SUFFIXES

    folder = _folder()
    gone = [p for p in folder.glob(f"{name}.*") if p.suffix.lower() in (*SUFFIXES, ".json")]
    if not gone or not any(p.suffix == ".json" for p in gone):
        raise click.ClickException(f"no scene {name!r} in {folder}")
    for path in gone:
        path.unlink()
    click.echo(f"removed {name}")
