"""The ``twoshot`` command: serve, worker, keys."""

from __future__ import annotations

import os

import click

from twoshot import cli_client
from twoshot.config import Settings
from twoshot.logs import configure


def _settings() -> Settings:
    return Settings()


def _logging(level: str) -> None:
    configure(level, os.environ.get("TWOSHOT_LOG_FORMAT", "text"))


@click.group()
@click.version_option(package_name="twoshot")
def main() -> None:
    """twoshot: a self-hosted Couple & Person Image API."""


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option(
    "--workers", type=int, default=None, help="in-process workers (default TWOSHOT_WORKERS, 1)"
)
@click.option("--log-level", default="info", show_default=True)
def serve(host: str, port: int, workers: int | None, log_level: str) -> None:
    """Run the API and, by default, one in-process worker."""
    import uvicorn

    from twoshot.api import create_app
    from twoshot.runtime import Runtime, default_evaluator

    _logging(log_level)
    settings = _settings()
    rt = Runtime.build(settings)
    count = settings.workers if workers is None else workers
    if count:
        try:
            rt.start_workers(count, evaluator=default_evaluator())
        except Exception as exc:
            raise click.ClickException(
                f"could not start the {settings.engine} engine: {exc}"
            ) from exc
    rt.start_sweeper()
    rt.start_webhooks()
    config = uvicorn.Config(
        create_app(rt), host=host, port=port, log_level=log_level, access_log=False
    )
    try:
        uvicorn.Server(config).run()
    finally:
        rt.close()


@main.command()
@click.option("--burst", is_flag=True, help="drain the queue, then exit")
@click.option("--engine", default=None, help="engine to run (default TWOSHOT_ENGINE)")
@click.option("--log-level", default="info", show_default=True)
def worker(burst: bool, engine: str | None, log_level: str) -> None:
    """Run one worker against the database, without the API."""
    from twoshot.engines import load_engine
    from twoshot.runtime import Runtime, default_evaluator

    _logging(log_level)
    settings = _settings()
    rt = Runtime.build(settings)
    name = engine or settings.engine
    w = rt.make_worker(load_engine(name, settings), default_evaluator())
    try:
        count = w.run(burst=burst)
    except KeyboardInterrupt:
        count = w.processed
    finally:
        rt.store.close()
    click.echo(f"processed {count} task(s)", err=True)


main.add_command(cli_client.couple)
main.add_command(cli_client.person)
main.add_command(cli_client.status)


@main.group()
def keys() -> None:
    """Manage API keys."""


@keys.command("create")
@click.option("--name", required=True, help="who or what the key is for")
def keys_create(name: str) -> None:
    """Create a key and print it, alone, on stdout. It is shown only this once."""
    from twoshot.store import open_store

    store = open_store(_settings().resolved_database_url)
    key, secret = store.create_key(name)
    click.echo(f"created key {key.id} ({name}); store it now, it is not shown again", err=True)
    click.echo(secret)


@keys.command("list")
def keys_list() -> None:
    """List keys (never the secrets)."""
    from twoshot.store import open_store

    store = open_store(_settings().resolved_database_url)
    for key in store.list_keys():
        state = f"revoked {key.revoked_at:%Y-%m-%d %H:%M}" if key.revoked_at else "active"
        click.echo(f"{key.id}  {key.prefix}…  {key.created_at:%Y-%m-%d %H:%M}  {state}  {key.name}")


@keys.command("revoke")
@click.argument("key_id")
def keys_revoke(key_id: str) -> None:
    """Revoke a key by id or by its shown prefix; it is refused from the next request on."""
    from twoshot.store import open_store

    key = open_store(_settings().resolved_database_url).revoke_key(key_id)
    if key is None:
        raise click.ClickException(f"no key {key_id!r}")
    click.echo(f"revoked {key.id} ({key.name})")
