"""``twoshot serve``: the API with, by default, one in-process worker; or, with
``--processes N``, the API in N processes and the workers in one of their own."""

from __future__ import annotations

import click

from twoshot.cli.common import configure_logging, load_settings


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option(
    "--workers", type=int, default=None, help="in-process workers (default TWOSHOT_WORKERS, 1)"
)
@click.option(
    "--processes",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="API processes on the port (one per core); above 1 the workers get a process of "
    "their own, and one process of all sweeps and sends webhooks",
)
@click.option("--log-level", default="info", show_default=True)
def serve(host: str, port: int, workers: int | None, processes: int, log_level: str) -> None:
    """Run the API and, by default, one in-process worker."""
    from twoshot.api import create_app
    from twoshot.processes import run_api, serve_processes
    from twoshot.runtime import Background, Runtime, default_evaluator
    from twoshot.serving import uvicorn_config

    settings = load_settings()
    count = settings.workers if workers is None else workers
    if processes > 1:
        if settings.metrics_port is not None:  # N processes' registries cannot share a port
            raise click.UsageError("TWOSHOT_METRICS_PORT needs --processes 1")
        raise SystemExit(serve_processes(host, port, processes, count, log_level))
    configure_logging(log_level, settings)
    rt = Runtime.build(settings)
    try:
        rt.plan(
            Background(
                workers=count,
                evaluator=default_evaluator() if count else None,
                sweeper=True,
                webhooks=True,
            )
        )
    except Exception as exc:
        rt.close()
        raise click.ClickException(f"could not start the {settings.engine} engine: {exc}") from exc
    config = uvicorn_config(create_app(rt), settings, host, port, log_level)
    if settings.metrics_port is not None:
        from prometheus_client import start_http_server

        start_http_server(
            settings.metrics_port, addr=settings.metrics_host, registry=rt.metrics.registry
        )
    run_api(rt, config)
