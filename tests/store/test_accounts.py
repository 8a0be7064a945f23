"""The store contract for accounts, sign-in links, sessions, usage and workers, on
SQLite and PostgreSQL; and the migration that gives older keys the default account."""

from __future__ import annotations

import threading
from contextlib import ExitStack
from pathlib import Path

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import text

from tests.store.test_contract import Clock, postgres_schema, task
from twoshot.domain import TaskStatus
from twoshot.errors import Conflict
from twoshot.store import MIGRATIONS, SqlStore, make_engine, migrate
from twoshot.store.schema import DEFAULT_ACCOUNT

DAY = 86400


def test_accounts(backend: tuple[SqlStore, Clock]) -> None:
    store, _ = backend
    a = store.create_account("Dev@Example.com", "Dev", is_admin=True)
    assert (a.email, a.name, a.is_admin, a.has_password) == ("dev@example.com", "Dev", True, False)
    with pytest.raises(Conflict):
        store.create_account("DEV@example.com ")
    assert store.get_account("dev@EXAMPLE.com") == a == store.get_account(a.id)
    assert store.get_account("nobody@example.com") is None
    assert {x.id for x in store.list_accounts()} == {DEFAULT_ACCOUNT, a.id}
    assert store.password_hash(a.email) is None  # no password yet: cannot sign in


def test_keys_belong_to_accounts_and_a_disabled_account_is_refused_at_once(
    backend: tuple[SqlStore, Clock],
) -> None:
    store, _ = backend
    a = store.create_account("a@example.com")
    b = store.create_account("b@example.com")
    ka, secret_a = store.create_key("a1", a.id)
    kb, secret_b = store.create_key("b1", b.id)
    legacy, _ = store.create_key("old")
    assert legacy.account_id == DEFAULT_ACCOUNT
    assert [k.id for k in store.list_keys(a.id)] == [ka.id]
    assert store.get_key(kb.id, a.id) is None and store.get_key(kb.id, b.id) is not None
    assert store.revoke_key(kb.id, a.id) is None  # another account's key: unknown
    assert store.authenticate(secret_b) is not None
    store.submit([task(ka.id, 1)], None, "{}")
    assert store.task_for_secret("t0001", secret_a)[1] is not None

    store.create_session(a.id, 3600)
    assert store.set_disabled(a.id, True) is not None
    assert store.authenticate(secret_a) is None
    assert store.task_for_secret("t0001", secret_a) == (None, None)
    assert store.authenticate(secret_b) is not None  # the other account is untouched
    store.set_disabled(a.id, False)
    assert store.authenticate(secret_a) is not None  # its keys were not revoked
    assert store.session_count(a.id) == 0  # but its sessions ended

    limited = store.set_key_limits(ka.id, 5, 0)
    assert limited is not None and (limited.rate_limit_per_minute, limited.quota_per_day) == (5, 0)
    assert store.authenticate(secret_a).rate_limit_per_minute == 5  # type: ignore[union-attr]
    assert store.set_key_limits("nope", 1, 1) is None


def test_sign_in_links_work_once_before_they_expire(backend: tuple[SqlStore, Clock]) -> None:
    store, clock = backend
    a = store.create_account("a@example.com")
    token = store.create_sign_in_link(a.id, ttl=60)
    assert store.sign_in_link(token) == a  # reading does not use it
    assert store.sign_in_link(token + "x") is None
    session, _ = store.create_session(a.id, 3600)
    used = store.use_sign_in_link(token, "hash-1")
    assert used is not None and used.has_password
    assert store.password_hash(a.email) == (used, "hash-1")
    assert store.session(session) is None  # setting a password ends the older sessions
    assert store.use_sign_in_link(token, "hash-2") is None  # used
    assert store.sign_in_link(token) is None

    late = store.create_sign_in_link(a.id, ttl=60)
    clock.now += 61
    assert store.sign_in_link(late) is None
    assert store.use_sign_in_link(late, "hash-3") is None  # expired
    assert store.password_hash(a.email)[1] == "hash-1"  # type: ignore[index]

    disabled = store.create_sign_in_link(a.id, ttl=60)
    store.set_disabled(a.id, True)
    assert store.sign_in_link(disabled) is None
    assert store.use_sign_in_link(disabled, "hash-4") is None
    assert store.password_hash(a.email) is None  # a disabled account cannot sign in


def test_a_sign_in_link_used_twice_at_once_wins_once(backend: tuple[SqlStore, Clock]) -> None:
    store, _ = backend
    a = store.create_account("a@example.com")
    token = store.create_sign_in_link(a.id, ttl=60)
    barrier = threading.Barrier(4)
    wins: list[str] = []

    def use(n: int) -> None:
        barrier.wait()
        if store.use_sign_in_link(token, f"hash-{n}") is not None:
            wins.append(f"hash-{n}")

    threads = [threading.Thread(target=use, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(wins) == 1
    assert store.password_hash(a.email)[1] == wins[0]  # type: ignore[index]


def test_sessions_expire_and_end(backend: tuple[SqlStore, Clock]) -> None:
    store, clock = backend
    a = store.create_account("a@example.com")
    token, csrf = store.create_session(a.id, ttl=100)
    other, _ = store.create_session(a.id, ttl=100)
    assert store.session(token) == (a, csrf) and token != other
    store.end_session(token)
    assert store.session(token) is None and store.session(other) is not None
    clock.now += 101
    assert store.session(other) is None


def test_usage_is_counted_as_tasks_end_and_outlives_them(backend: tuple[SqlStore, Clock]) -> None:
    store, clock = backend
    a = store.create_account("a@example.com")
    b = store.create_account("b@example.com")
    ka = store.create_key("a1", a.id)[0].id
    ka2 = store.create_key("a2", a.id)[0].id
    kb = store.create_key("b1", b.id)[0].id
    day = int(clock.now // DAY)
    store.submit([task(ka, 1), task(ka, 2), task(ka2, 3), task(kb, 4)], None, "{}")
    assert store.submitted_since(a.id, clock.now - 10) == {ka: 2, ka2: 1}
    for n in range(3):
        claimed = store.claim(f"w{n}", ["e"], 30)
        assert claimed is not None
        clock.now += 2
        store.finish(claimed.id, f"w{n}", TaskStatus.COMPLETED, result_key=f"r{n}")
    store.cancel("t0004", kb)
    clock.now += DAY  # the next day: a failure
    store.submit([task(ka, 5)], None, "{}")
    claimed = store.claim("w", ["e"], 30)
    assert claimed is not None
    store.finish(claimed.id, "w", TaskStatus.FAILED)

    rows = {(r.day - day, r.api_key_id, r.status): r.count for r in store.usage(a.id, day)}
    assert rows == {
        (0, ka, "completed"): 2,
        (0, ka2, "completed"): 1,
        (1, ka, "failed"): 1,
    }
    assert {(r.api_key_id, r.status) for r in store.usage(b.id, day)} == {(kb, "canceled")}
    assert [r.count for r in store.usage(a.id, day + 1)] == [1]  # from a day on
    assert {r.api_key_id for r in store.usage(a.id, day, ka2)} == {ka2}
    assert {r.api_key_id for r in store.usage(None, day)} == {ka, ka2, kb}  # admins: all

    store.delete_tasks(["t0001", "t0002"], ka)  # deleting tasks leaves what they counted
    assert sum(r.count for r in store.usage(a.id, day)) == 4

    waits = store.durations(a.id, 0)
    assert len(waits) == 1 and waits[0][1] == pytest.approx(2.0)  # t0003: ran 2 s
    assert store.durations(b.id, 0) == []


def test_account_tasks_are_scoped_newest_first(backend: tuple[SqlStore, Clock]) -> None:
    store, _ = backend
    a = store.create_account("a@example.com")
    b = store.create_account("b@example.com")
    ka = store.create_key("a1", a.id)[0].id
    kb = store.create_key("b1", b.id)[0].id
    store.submit([task(ka, 1), task(ka, 2), task(kb, 3), task(ka, 4)], None, "{}")
    store.cancel("t0002", ka)
    assert [t.id for t in store.account_tasks(a.id)] == ["t0004", "t0002", "t0001"]
    assert [t.id for t in store.account_tasks(a.id, status="canceled")] == ["t0002"]
    assert [t.id for t in store.account_tasks(a.id, limit=1)] == ["t0004"]
    before = store.account_tasks(a.id, limit=1)[0].created_at.timestamp()
    assert [t.id for t in store.account_tasks(a.id, before=before)] == ["t0002", "t0001"]
    assert [t.id for t in store.account_tasks(a.id, key_id=kb)] == []  # not a's key
    assert store.account_task(a.id, "t0003") is None
    assert store.account_task(b.id, "t0003") is not None
    assert store.account_task(None, "t0003") is not None


def test_workers_are_seen_by_their_claims_and_heartbeats(backend: tuple[SqlStore, Clock]) -> None:
    store, clock = backend
    key = store.create_key("k")[0].id
    store.claim("idle", ["e", "f"], 30)
    store.submit([task(key, 1)], None, "{}")
    claimed = store.claim("busy", ["e"], 30)
    assert claimed is not None
    seen = {w.owner: w for w in store.list_workers(clock.now - 1)}
    assert seen["idle"].engines == ("e", "f") and seen["idle"].task_id is None
    assert seen["busy"].task_id == "t0001"
    clock.now += 60
    store.heartbeat("t0001", "busy", 0.5, 30)
    assert [w.owner for w in store.list_workers(clock.now - 1)] == ["busy"]


def test_existing_keys_move_to_the_default_account(tmp_path: Path) -> None:
    """A database made before accounts (revision 0006) with keys and finished tasks: after
    the migration its keys belong to the default account, still work, and count usage."""
    for kind in ("sqlite", "postgresql"):
        with ExitStack() as stack:
            if kind == "postgresql":
                url = stack.enter_context(postgres_schema())
            else:
                url = f"sqlite:///{tmp_path / 'old.db'}"
            engine = make_engine(url)
            stack.callback(engine.dispose)
            cfg = Config()
            cfg.set_main_option("script_location", str(MIGRATIONS))
            with engine.connect() as conn:
                conn = conn.execution_options(twoshot_write=True)
                with conn.begin():
                    cfg.attributes["connection"] = conn
                    command.upgrade(cfg, "0006")
                    conn.execute(
                        text(
                            "INSERT INTO api_keys (id, name, prefix, key_hash, created_at, "
                            "webhook_secret) VALUES ('old', 'old', 'ts_old', :h, 1, 'whsec_x')"
                        ),
                        {"h": __import__("hashlib").sha256(b"ts_oldsecret").hexdigest()},
                    )
                    conn.execute(
                        text(
                            "INSERT INTO tasks (id, api_key_id, kind, engine, status, spec, "
                            "progress, attempts, max_attempts, cancel_requested, created_at, "
                            "updated_at, finished_at) VALUES ('t1', 'old', 'couple', 'studio', "
                            "'completed', '{}', 1, 1, 3, false, 86400.5, 86401, 86401.9)"
                        )
                    )
            migrate(engine)
            store = SqlStore(engine)
            key = store.authenticate("ts_oldsecret")
            assert key is not None and key.account_id == DEFAULT_ACCOUNT, kind
            assert [k.id for k in store.list_keys(DEFAULT_ACCOUNT)] == ["old"]
            rows = store.usage(DEFAULT_ACCOUNT, 0)
            assert [(r.day, r.status, r.count) for r in rows] == [(1, "completed", 1)], kind
