"""The ``twoshot`` command: serve, worker, keys, accounts; and the client commands.

One module per command group; this one only assembles them under ``main``."""

from __future__ import annotations

import click

from twoshot.cli import accounts, client, keys, serve, verify, worker


@click.group()
@click.version_option(package_name="twoshot")
def main() -> None:
    """twoshot: a self-hosted Couple & Person Image API."""


for command in (
    serve.serve,
    worker.worker,
    worker.workers,
    verify.verify,
    client.couple,
    client.person,
    client.status,
    keys.keys,
    accounts.accounts,
):
    main.add_command(command)

__all__ = ["main"]
