"""``twoshot accounts``: the accounts that sign in to the Developer Dashboard."""

from __future__ import annotations

from typing import Any

import click

from twoshot.cli.common import load_settings
from twoshot.config import Settings


@click.group()
def accounts() -> None:
    """Manage the accounts that sign in to the Developer Dashboard (/dashboard)."""


def _accounts() -> tuple[Settings, Any]:
    from twoshot.service.accounts import Accounts
    from twoshot.store import open_store

    settings = load_settings()
    store = open_store(settings.resolved_database_url)
    return settings, Accounts(store, link_ttl=settings.sign_in_link_ttl)


def _link(settings: Settings, token: str) -> str:
    """The absolute one-time link; its token is in the fragment, which no server logs."""
    base = (settings.public_url or "http://127.0.0.1:8000").rstrip("/")
    return f"{base}/dashboard/welcome#token={token}"


def _expiry(settings: Settings) -> str:
    hours = settings.sign_in_link_ttl / 3600
    return f"{hours:g} hour(s)" if hours >= 1 else f"{settings.sign_in_link_ttl:g} s"


@accounts.command("create")
@click.option("--email", required=True)
@click.option("--name", default="", help="a display name")
@click.option("--admin", is_flag=True, help="may see every account, workers, and set limits")
def accounts_create(email: str, name: str, admin: bool) -> None:
    """Create an account and print its one-time sign-in link, alone, on stdout."""
    from twoshot.errors import TwoshotError

    settings, service = _accounts()
    try:
        account, token = service.create(email, name, admin=admin)
    except TwoshotError as exc:
        raise click.ClickException(exc.message) from exc
    click.echo(
        f"created {'admin ' if admin else ''}account {account.email}; send them this link "
        f"to set a password (it works once, for {_expiry(settings)}):",
        err=True,
    )
    click.echo(_link(settings, token))


@accounts.command("list")
def accounts_list() -> None:
    """List accounts."""
    service = _accounts()[1]
    keys: dict[str, int] = {}
    for key in service.store.list_keys():
        if key.revoked_at is None and key.account_id:
            keys[key.account_id] = keys.get(key.account_id, 0) + 1
    for a in service.store.list_accounts():
        state = (
            f"disabled {a.disabled_at:%Y-%m-%d %H:%M}"
            if a.disabled_at
            else ("active" if a.has_password else "no password yet")
        )
        role = "admin" if a.is_admin else "developer"
        click.echo(
            f"{a.id}  {a.email}  {role}  {state}  {keys.get(a.id, 0)} key(s)  {a.name}".rstrip()
        )


@accounts.command("disable")
@click.argument("email")
def accounts_disable(email: str) -> None:
    """Disable an account: its keys are refused and its sessions end, at once."""
    _set_disabled(email, True)


@accounts.command("enable")
@click.argument("email")
def accounts_enable(email: str) -> None:
    """Enable a disabled account again (its keys that were not revoked work again)."""
    _set_disabled(email, False)


def _set_disabled(email: str, disabled: bool) -> None:
    from twoshot.errors import TwoshotError

    service = _accounts()[1]
    try:
        account = service.set_disabled(email, disabled)
    except TwoshotError as exc:
        raise click.ClickException(exc.message) from exc
    click.echo(f"{'disabled' if disabled else 'enabled'} {account.email}")


@accounts.command("reset-password")
@click.argument("email")
def accounts_reset_password(email: str) -> None:
    """Print a new one-time sign-in link for setting the password (the old one keeps
    working until the link is used; then every session of the account ends)."""
    from twoshot.errors import TwoshotError

    settings, service = _accounts()
    try:
        account, token = service.reset_link(email)
    except TwoshotError as exc:
        raise click.ClickException(exc.message) from exc
    click.echo(f"a sign-in link for {account.email} ({_expiry(settings)}, once):", err=True)
    click.echo(_link(settings, token))
