"""Client commands of the ``twoshot`` CLI: couple, person, status (with a live progress bar)."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

import click

SERVER = click.option(
    "--server",
    envvar="TWOSHOT_SERVER",
    default="http://127.0.0.1:8000",
    show_default=True,
    help="twoshot server URL",
)
KEY = click.option(
    "--key", envvar="TWOSHOT_API_KEY", default=None, help="API key (default: TWOSHOT_API_KEY)"
)


def _need(key: str | None) -> str:
    if not key:
        raise click.ClickException("no API key: set TWOSHOT_API_KEY or pass --key")
    return key


def _size(value: str | None) -> dict[str, int]:
    if not value:
        return {}
    try:
        w, h = (int(v) for v in value.lower().split("x"))
    except ValueError:
        raise click.BadParameter("use WIDTHxHEIGHT, e.g. 1024x768") from None
    return {"width": w, "height": h}


def _print_quality(quality: dict[str, Any] | None) -> None:
    from rich.console import Console
    from rich.table import Table

    if not quality or not quality.get("persons"):
        return
    table = Table(title="identity", title_justify="left")
    for column in ("person", "found", "distance", "similarity"):
        table.add_column(column)
    for p in quality["persons"]:
        table.add_row(
            p["role"],
            "yes" if p.get("found") else "NO",
            f"{p['distance']:.3f}" if "distance" in p else "–",
            f"{p['similarity']:.2f}" if "similarity" in p else "–",
        )
    console = Console(stderr=True)
    console.print(table)
    if quality.get("flags"):
        console.print(f"flags: {', '.join(quality['flags'])}")


def _run(server: str, key: str | None, submit: Any, output: Path | None) -> None:
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from twoshot.client import ApiError, Client, TaskResult

    with Client(server, _need(key)) as client:
        try:
            task_id = submit(client)
        except ApiError as err:
            raise click.ClickException(f"{err.code}: {err.message}") from None
        click.echo(f"task {task_id}", err=True)
        started = time.monotonic()
        with Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            TextColumn("{task.percentage:>3.0f}%"),
            TimeElapsedColumn(),
            transient=False,
            console=Console(stderr=True),
        ) as bar:
            job = bar.add_task("queued", total=1.0)

            def update(result: TaskResult) -> None:
                bar.update(
                    job,
                    completed=1.0 if result.status == "completed" else result.progress,
                    description=result.status,
                )

            result = client.wait(task_id, on_update=update)
        if result.status != "completed":
            error = result.error or {}
            raise click.ClickException(
                f"task {result.status}: {error.get('code', '')} {error.get('message', '')}".strip()
            )
        click.echo(f"completed in {time.monotonic() - started:.1f} s: {result.image_url}", err=True)
        _print_quality(result.quality)
        if output is not None:
            output.write_bytes(client.download(result))
            click.echo(str(output))


@click.command()
@click.option("--male", required=True, help="the man's photo: a path or an http(s) URL")
@click.option("--female", required=True, help="the woman's photo: a path or an http(s) URL")
@click.option("--pose", default=None, help="optional pose photo")
@click.option("--prompt", default=None)
@click.option("--seed", type=int, default=None)
@click.option("--size", default=None, help="WIDTHxHEIGHT, e.g. 1024x1024")
@click.option("--layout", type=click.Choice(["male_left", "female_left"]), default=None)
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=None)
@SERVER
@KEY
def couple(
    male: str,
    female: str,
    pose: str | None,
    prompt: str | None,
    seed: int | None,
    size: str | None,
    layout: str | None,
    output: Path | None,
    server: str,
    key: str | None,
) -> None:
    """Make a couple image and wait for it, showing progress and identity scores."""
    options = {"prompt": prompt, "seed": seed, "layout": layout, **_size(size)}
    _run(server, key, lambda c: c.couple(male, female, pose, **options), output)


@click.command()
@click.argument("references", nargs=-1, required=True)
@click.option("--control", default=None, help="optional control image (pose / composition)")
@click.option("--prompt", required=True)
@click.option("--seed", type=int, default=None)
@click.option("--size", default=None, help="WIDTHxHEIGHT")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=None)
@SERVER
@KEY
def person(
    references: tuple[str, ...],
    control: str | None,
    prompt: str,
    seed: int | None,
    size: str | None,
    output: Path | None,
    server: str,
    key: str | None,
) -> None:
    """Make a single-person image from 1–4 REFERENCES and wait for it."""
    options = {"seed": seed, **_size(size)}
    _run(
        server, key, lambda c: c.person(list(references), control, prompt=prompt, **options), output
    )


@click.command()
@click.argument("task_id")
@SERVER
@KEY
def status(task_id: str, server: str, key: str | None) -> None:
    """Print a task's (or batch's) status as JSON."""
    import json

    from twoshot.client import ApiError, Client

    with Client(server, _need(key)) as client:
        try:
            result = client.status(task_id)
        except ApiError as err:
            raise click.ClickException(f"{err.code}: {err.message}") from None
    json.dump(result.raw, sys.stdout, indent=2)
    sys.stdout.write("\n")
