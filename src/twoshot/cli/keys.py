"""``twoshot keys``: API keys."""

from __future__ import annotations

import click

from twoshot.cli.common import load_settings


@click.group()
def keys() -> None:
    """Manage API keys."""


@keys.command("create")
@click.option("--name", required=True, help="who or what the key is for")
@click.option("--account", default=None, help="the owning account's email (default: default)")
def keys_create(name: str, account: str | None) -> None:
    """Create a key and print it, alone, on stdout. It is shown only this once."""
    from twoshot.store import open_store
    from twoshot.store.schema import DEFAULT_ACCOUNT

    store = open_store(load_settings().resolved_database_url)
    owner = store.get_account(account) if account else store.get_account(DEFAULT_ACCOUNT)
    if owner is None:
        raise click.ClickException(f"no account {account!r}: twoshot accounts create --email …")
    key, secret = store.create_key(name, owner.id)
    click.echo(
        f"created key {key.id} ({name}) of {owner.email}; store it now, it is not shown again",
        err=True,
    )
    click.echo(secret)


@keys.command("list")
def keys_list() -> None:
    """List keys (never the secrets) with their accounts."""
    from twoshot.store import open_store

    store = open_store(load_settings().resolved_database_url)
    emails = {a.id: a.email for a in store.list_accounts()}
    for key in store.list_keys():
        state = f"revoked {key.revoked_at:%Y-%m-%d %H:%M}" if key.revoked_at else "active"
        click.echo(
            f"{key.id}  {key.prefix}…  {key.created_at:%Y-%m-%d %H:%M}  {state}  {key.name}"
            f"  ({emails.get(key.account_id or '', key.account_id)})"
        )


@keys.command("revoke")
@click.argument("key_id")
def keys_revoke(key_id: str) -> None:
    """Revoke a key by id or by its shown prefix; it is refused from the next request on."""
    from twoshot.store import open_store

    key = open_store(load_settings().resolved_database_url).revoke_key(key_id)
    if key is None:
        raise click.ClickException(f"no key {key_id!r}")
    click.echo(f"revoked {key.id} ({key.name})")
