"""``twoshot worker`` and ``twoshot workers``: run a worker, manage remote worker tokens."""

from __future__ import annotations

import click

from twoshot.cli.common import configure_logging, load_settings


@click.command()
@click.option("--burst", is_flag=True, help="drain the queue, then exit")
@click.option("--engine", default=None, help="engine to run (default TWOSHOT_ENGINE)")
@click.option("--server", default=None, help="pull work from this twoshot server over HTTP")
@click.option(
    "--token", envvar="TWOSHOT_WORKER_TOKEN", default=None, help="worker token for --server"
)
@click.option(
    "--metrics-port", type=int, default=None, help="serve this worker's Prometheus /metrics"
)
@click.option("--metrics-host", default="127.0.0.1", show_default=True)
@click.option("--log-level", default="info", show_default=True)
def worker(
    burst: bool,
    engine: str | None,
    server: str | None,
    token: str | None,
    metrics_port: int | None,
    metrics_host: str,
    log_level: str,
) -> None:
    """Run one worker: against the database, or with --server against a remote twoshot."""
    from twoshot.runtime import Runtime, default_evaluator, remote_worker

    settings = load_settings()
    configure_logging(log_level, settings)
    name = engine or settings.engine
    if server and not token:
        raise click.ClickException("--server needs a worker token: --token or TWOSHOT_WORKER_TOKEN")
    try:
        if server:
            w, close = remote_worker(settings, server, token or "", name, default_evaluator())
        else:
            rt = Runtime.build(settings)
            try:
                w = rt.make_worker(name, default_evaluator())
            except BaseException:
                rt.close()
                raise
            close = rt.close
    except (ImportError, RuntimeError, ValueError, OSError) as exc:
        # a missing or partial model dir, a missing extra, an unknown engine: say what to fix
        raise click.ClickException(f"could not start the {name} engine: {exc}") from exc
    if metrics_port is not None and w.metrics is not None:
        from prometheus_client import start_http_server

        start_http_server(metrics_port, addr=metrics_host, registry=w.metrics.registry)
        click.echo(f"metrics on http://{metrics_host}:{metrics_port}/metrics", err=True)
    try:
        count = w.run(burst=burst)
    except KeyboardInterrupt:
        count = w.processed
    finally:
        close()
    click.echo(f"processed {count} task(s)", err=True)


@click.group()
def workers() -> None:
    """Manage tokens for remote workers (twoshot worker --server)."""


@workers.command("create-token")
@click.option("--name", required=True, help="which machine or pool the token is for")
def workers_create_token(name: str) -> None:
    """Create a worker token and print it, alone, on stdout. It is shown only this once."""
    from twoshot.store import open_store

    token_id, secret = open_store(load_settings().resolved_database_url).create_worker_token(name)
    click.echo(f"created worker token {token_id} ({name})", err=True)
    click.echo(secret)


@workers.command("revoke")
@click.argument("token_id")
def workers_revoke(token_id: str) -> None:
    """Revoke a worker token; its workers are refused from their next request on."""
    from twoshot.store import open_store

    if not open_store(load_settings().resolved_database_url).revoke_worker_token(token_id):
        raise click.ClickException(f"no live worker token {token_id!r}")
    click.echo(f"revoked {token_id}")
