"""``twoshot migrate``: bring the database to the newest schema, and nothing else.

Every process migrates when it starts (one at a time), so this is optional on one machine;
the Helm chart runs it as a pre-install/pre-upgrade Job, so that a failing migration stops
an upgrade before any pod of the new version starts.
"""

from __future__ import annotations

import click

from twoshot.cli.common import configure_logging, load_settings


@click.command()
@click.option("--log-level", default="info", show_default=True)
def migrate(log_level: str) -> None:
    """Apply the database migrations (TWOSHOT_DATABASE_URL), then exit."""
    from twoshot.store import open_store

    settings = load_settings()
    configure_logging(log_level, settings)
    open_store(settings.resolved_database_url).close()
    click.echo("database is at the newest schema", err=True)
