"""The ``twoshot`` command: serve, worker, keys, accounts."""

from __future__ import annotations

from typing import Any

import click

from twoshot import cli_client
from twoshot.config import Settings
from twoshot.logs import configure


def _settings() -> Settings:
    return Settings()


def _logging(level: str, settings: Settings) -> None:
    configure(level, settings.log_format)


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
    from twoshot.runtime import Background, Runtime, default_evaluator

    settings = _settings()
    _logging(log_level, settings)
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

    class Server(uvicorn.Server):
        def handle_exit(self, sig: int, frame: object) -> None:
            rt.events.close()  # waiting clients answer now, rather than hold the shutdown
            super().handle_exit(sig, frame)  # type: ignore[arg-type]

    try:
        Server(config).run()  # the app's lifespan starts and joins the threads
    finally:
        rt.close()


@main.command()
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

    settings = _settings()
    _logging(log_level, settings)
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


@main.group()
def workers() -> None:
    """Manage tokens for remote workers (twoshot worker --server)."""


@workers.command("create-token")
@click.option("--name", required=True, help="which machine or pool the token is for")
def workers_create_token(name: str) -> None:
    """Create a worker token and print it, alone, on stdout. It is shown only this once."""
    from twoshot.store import open_store

    token_id, secret = open_store(_settings().resolved_database_url).create_worker_token(name)
    click.echo(f"created worker token {token_id} ({name})", err=True)
    click.echo(secret)


@workers.command("revoke")
@click.argument("token_id")
def workers_revoke(token_id: str) -> None:
    """Revoke a worker token; its workers are refused from their next request on."""
    from twoshot.store import open_store

    if not open_store(_settings().resolved_database_url).revoke_worker_token(token_id):
        raise click.ClickException(f"no live worker token {token_id!r}")
    click.echo(f"revoked {token_id}")


@main.command()
@click.argument("images", nargs=-1, required=True, type=click.Path(dir_okay=False, exists=True))
@click.option("--json", "as_json", is_flag=True, help="one JSON report per line")
def verify(images: tuple[str, ...], as_json: bool) -> None:
    """Check pictures for Content Credentials and twoshot's invisible watermark.

    Exits 0 when every picture carries a valid mark (a manifest or the watermark), 1 when
    one carries none, 2 when one cannot be read."""
    import json
    from pathlib import Path

    from twoshot.errors import TwoshotError
    from twoshot.provenance import verify as check

    settings = _settings()
    anchors = settings.c2pa_trust_anchors.read_bytes() if settings.c2pa_trust_anchors else None
    status = 0
    for name in images:
        try:
            verdict = check(
                Path(name).read_bytes(),
                trust_anchors=anchors,
                watermark_key=settings.watermark_key,
            )
        except TwoshotError as exc:
            click.echo(f"{name}: cannot read: {exc.message}", err=True)
            status = 2
            continue
        if not verdict.marked:
            status = max(status, 1)
        if as_json:
            click.echo(json.dumps({"file": name, **verdict.as_dict()}))
            continue
        m, w = verdict.manifest, verdict.watermark
        if m.present:
            trust = "trusted" if m.trusted else "untrusted signer"
            manifest = (
                f"{'valid' if m.valid else 'INVALID'} ({trust}: {m.signer}), "
                f"{m.digital_source_type}, {m.generator} {m.software_agent or ''}".rstrip()
            )
        else:
            manifest = "none"
        if w.found:
            p = w.payload
            what = (
                f"AI-generated={p.ai_generated}, composite={p.composite}, server {p.server_id}"
                if p
                else "payload unreadable"
            )
            mark = f"found (confidence {w.confidence:.2f}; {what})"
        else:
            mark = f"not found (score {w.score})"
        verdict_word = "MARKED" if verdict.marked else "NOT MARKED"
        click.echo(
            f"{name}: {verdict_word}\n  content credentials: {manifest}\n  watermark: {mark}"
        )
    raise SystemExit(status)


main.add_command(cli_client.couple)
main.add_command(cli_client.person)
main.add_command(cli_client.status)


@main.group()
def keys() -> None:
    """Manage API keys."""


@keys.command("create")
@click.option("--name", required=True, help="who or what the key is for")
@click.option("--account", default=None, help="the owning account's email (default: default)")
def keys_create(name: str, account: str | None) -> None:
    """Create a key and print it, alone, on stdout. It is shown only this once."""
    from twoshot.store import open_store
    from twoshot.store.schema import DEFAULT_ACCOUNT

    store = open_store(_settings().resolved_database_url)
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

    store = open_store(_settings().resolved_database_url)
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

    key = open_store(_settings().resolved_database_url).revoke_key(key_id)
    if key is None:
        raise click.ClickException(f"no key {key_id!r}")
    click.echo(f"revoked {key.id} ({key.name})")


@main.group()
def accounts() -> None:
    """Manage the accounts that sign in to the Developer Dashboard (/dashboard)."""


def _accounts() -> tuple[Settings, Any]:
    from twoshot.service.accounts import Accounts
    from twoshot.store import open_store

    settings = _settings()
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
