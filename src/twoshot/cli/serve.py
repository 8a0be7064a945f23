"""``twoshot serve``: the API with, by default, one in-process worker."""

from __future__ import annotations

import click

from twoshot.cli.common import configure_logging, load_settings


@click.command()
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
    from twoshot.runtime import Background, Runtime, default_evaluator

    settings = load_settings()
    configure_logging(log_level, settings)
    rt = Runtime.build(settings)
    count = settings.workers if workers is None else workers
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
    config = uvicorn.Config(
        create_app(rt), host=host, port=port, log_level=log_level, access_log=False
    )

    try:
        uvicorn.Server(config).run()  # the app's lifespan starts and joins the threads
    finally:
        rt.close()
