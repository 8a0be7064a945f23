"""Accounts and the dashboard's JSON API over HTTP: sign-in links, passwords, sessions, CSRF,
throttling, cross-account isolation, disabled accounts, usage, admin, and the CLI."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from starlette.testclient import TestClient

from tests.conftest import couple_files, make_settings
from twoshot.api import create_app
from twoshot.cli import main as cli
from twoshot.runtime import Runtime
from twoshot.service import NoChecks

PASSWORD = "correct horse battery"


@pytest.fixture
def rt(tmp_path: Path) -> Iterator[Runtime]:
    runtime = Runtime.build(make_settings(tmp_path), checks=NoChecks())
    yield runtime
    runtime.close()


@pytest.fixture
def app(rt: Runtime) -> Iterator[TestClient]:
    with TestClient(create_app(rt)) as client:
        yield client


class Dev:
    """A browser of one signed-in account: its own cookie jar and CSRF token."""

    def __init__(self, rt: Runtime, email: str, *, admin: bool = False, https: bool = False):
        self.client = TestClient(
            create_app(rt), base_url="https://testserver" if https else "http://testserver"
        )
        account, token = rt.accounts.create(email, admin=admin)
        self.account = account
        answer = self.client.post(
            "/api/account/password", json={"token": token, "password": PASSWORD}
        )
        assert answer.status_code == 200, answer.text
        self.cookie = answer.headers["set-cookie"]
        self.csrf = answer.json()["csrf_token"]

    def get(self, path: str, **kw: object):  # type: ignore[no-untyped-def]
        return self.client.get(path, **kw)  # type: ignore[arg-type]

    def send(self, method: str, path: str, **kw: object):  # type: ignore[no-untyped-def]
        headers = {"X-CSRF-Token": self.csrf, **kw.pop("headers", {})}  # type: ignore[dict-item]
        return self.client.request(method, path, headers=headers, **kw)  # type: ignore[arg-type]

    def new_key(self, name: str = "app") -> tuple[str, str]:
        made = self.send("POST", "/api/account/keys", json={"name": name})
        assert made.status_code == 201, made.text
        return made.json()["key"]["id"], made.json()["secret"]


def submit(client: TestClient, secret: str) -> str:
    answer = client.post("/api/couple_image", files=couple_files(), headers={"X-Api-Key": secret})
    assert answer.status_code == 200, answer.text
    return str(answer.json()["task_id"])


def drain(rt: Runtime) -> None:
    from twoshot.engines import load_engine

    rt.make_worker(load_engine(rt.settings.engine, rt.settings)).run(burst=True)


def test_a_sign_in_link_sets_the_password_once_and_the_cookie_is_strict(rt: Runtime) -> None:
    dev = Dev(rt, "dev@example.com")
    cookie = dev.cookie.lower()
    assert "httponly" in cookie and "samesite=lax" in cookie and "path=/" in cookie
    assert "secure" not in cookie  # plain http: a Secure cookie would never come back
    assert dev.get("/api/account").json()["email"] == "dev@example.com"
    assert dev.get("/dashboard", follow_redirects=False).status_code == 200

    assert "secure" in Dev(rt, "tls@example.com", https=True).cookie.lower()

    account, token = rt.accounts.reset_link("dev@example.com")
    first = dev.client.post("/api/account/password", json={"token": token, "password": PASSWORD})
    assert first.status_code == 200
    assert dev.cookie.split(";")[0] != first.headers["set-cookie"].split(";")[0]  # rotated
    again = dev.client.post("/api/account/password", json={"token": token, "password": PASSWORD})
    assert again.status_code == 404 and again.json()["error"]["code"] == "link_expired"
    peek = dev.client.post("/api/account/sign-in-link", json={"token": token})
    assert peek.status_code == 404

    expired = rt.store.create_sign_in_link(account.id, ttl=-1)
    late = dev.client.post("/api/account/password", json={"token": expired, "password": PASSWORD})
    assert late.status_code == 404 and late.json()["error"]["code"] == "link_expired"

    fresh = rt.accounts.reset_link(account.id)[1]
    short = dev.client.post("/api/account/password", json={"token": fresh, "password": "short"})
    assert short.status_code == 400 and short.json()["error"]["code"] == "weak_password"
    assert rt.store.sign_in_link(fresh) is not None  # a refused password leaves the link


def test_sign_in_one_answer_for_every_mistake_then_429(rt: Runtime, app: TestClient) -> None:
    Dev(rt, "dev@example.com")

    def sign_in(email: str, password: str) -> object:
        return app.post("/api/account/sign-in", json={"email": email, "password": password})

    ok = sign_in("DEV@example.com", PASSWORD)
    assert ok.status_code == 200 and "twoshot_session=" in ok.headers["set-cookie"]  # type: ignore[attr-defined]
    wrong = sign_in("dev@example.com", "not the password")
    unknown = sign_in("nobody@example.com", "not the password")
    assert wrong.status_code == unknown.status_code == 401  # type: ignore[attr-defined]
    assert wrong.json() == unknown.json()  # type: ignore[attr-defined]
    assert wrong.json()["error"]["code"] == "sign_in_failed"  # type: ignore[attr-defined]

    for _ in range(4):  # five failures in all for this email
        sign_in("dev@example.com", "not the password")
    blocked = sign_in("dev@example.com", PASSWORD)  # even the right password, now
    assert blocked.status_code == 429  # type: ignore[attr-defined]
    assert blocked.json()["error"]["code"] == "too_many_sign_ins"  # type: ignore[attr-defined]
    assert int(blocked.headers["retry-after"]) > 0  # type: ignore[attr-defined]

    for n in range(14):  # 20 failures from this address, over many emails
        sign_in(f"guess{n}@example.com", "x")
    assert sign_in("someone@example.com", "x").status_code == 429  # type: ignore[attr-defined]

    form = app.post("/api/account/sign-in", data={"email": "a", "password": "b"})
    assert form.status_code == 400  # only JSON: a cross-site form cannot sign anyone in


def test_changes_need_the_csrf_token(rt: Runtime) -> None:
    dev = Dev(rt, "dev@example.com")
    key_id, _ = dev.new_key()
    for method, path, body in [
        ("POST", "/api/account/keys", {"name": "x"}),
        ("DELETE", f"/api/account/keys/{key_id}", None),
        ("POST", f"/api/account/keys/{key_id}/webhook-secret", None),
        ("POST", "/api/account/sign-out", None),
    ]:
        for headers in ({}, {"X-CSRF-Token": "wrong"}):
            refused = dev.client.request(method, path, json=body, headers=headers)
            assert refused.status_code == 403, (method, path)
            assert refused.json()["error"]["code"] == "csrf_failed"
    assert [k["revoked_at"] for k in dev.get("/api/account/keys").json()] == [None]
    assert len(dev.get("/api/account/keys").json()) == 1
    assert dev.send("POST", "/api/account/sign-out").status_code == 204
    assert dev.get("/api/account").status_code == 401  # the session is gone server-side


def test_another_accounts_keys_tasks_thumbnails_and_usage_are_404(rt: Runtime) -> None:
    alice, bob = Dev(rt, "alice@example.com"), Dev(rt, "bob@example.com")
    bob_key, bob_secret = bob.new_key("bob-app")
    task_id = submit(bob.client, bob_secret)
    drain(rt)
    thumb = f"/api/account/tasks/{task_id}/thumbnail"
    assert bob.get(thumb).status_code == 200
    assert bob.get(thumb).headers["content-type"] == "image/jpeg"

    for path in [
        f"/api/account/tasks/{task_id}",
        thumb,
        f"/api/account/usage?key={bob_key}",
        f"/api/account/usage.csv?key={bob_key}",
        f"/api/account/tasks?key={bob_key}",
        f"/api/account/keys/{bob_key}/webhook-secret",
    ]:
        answer = alice.get(path)
        assert answer.status_code == 404, path
        assert "bob" not in answer.text
    for method, path in [
        ("DELETE", f"/api/account/keys/{bob_key}"),
        ("POST", f"/api/account/keys/{bob_key}/webhook-secret"),
    ]:
        assert alice.send(method, path).status_code == 404, path
    assert alice.get("/api/account/tasks").json()["tasks"] == []
    assert alice.get("/api/account/usage").json()["keys"] == []
    assert sum(d["completed"] for d in alice.get("/api/account/usage").json()["days"]) == 0
    assert bob.get(f"/api/account/tasks/{task_id}").json()["status"] == "completed"


def test_keys_and_sessions_never_cross(rt: Runtime, app: TestClient) -> None:
    dev = Dev(rt, "dev@example.com")
    _, secret = dev.new_key()
    task_id = submit(app, secret)
    # an API key does not open the dashboard or its API
    assert app.get("/api/account", headers={"X-Api-Key": secret}).status_code == 401
    assert (
        app.get("/dashboard", headers={"X-Api-Key": secret}, follow_redirects=False).headers[
            "location"
        ]
        == "/dashboard/login"
    )
    # and a session does not call the API
    assert dev.get(f"/api/task-status/{task_id}").status_code == 401
    assert dev.client.post("/api/couple_image", files=couple_files()).status_code == 401


def test_revoking_a_key_and_disabling_an_account_take_effect_at_once(
    rt: Runtime, app: TestClient
) -> None:
    dev = Dev(rt, "dev@example.com")
    admin = Dev(rt, "ops@example.com", admin=True)
    key_id, secret = dev.new_key()
    _, other = dev.new_key("second")
    task_id = submit(app, secret)
    revoked = dev.send("DELETE", f"/api/account/keys/{key_id}")
    assert revoked.status_code == 200 and revoked.json()["revoked_at"]
    assert app.get(f"/api/task-status/{task_id}", headers={"X-Api-Key": secret}).status_code == 401

    assert (
        dev.send("POST", f"/api/account/admin/accounts/{admin.account.id}/disable").status_code
        == 403
    )
    off = admin.send("POST", f"/api/account/admin/accounts/{dev.account.id}/disable")
    assert off.status_code == 200 and off.json()["disabled_at"]
    assert app.get("/api/webhook-secret", headers={"X-Api-Key": other}).status_code == 401
    assert dev.get("/api/account").status_code == 401  # its sessions ended
    signin = app.post(
        "/api/account/sign-in", json={"email": "dev@example.com", "password": PASSWORD}
    )
    assert signin.status_code == 401
    admin.send("POST", f"/api/account/admin/accounts/{dev.account.id}/enable")
    assert app.get("/api/webhook-secret", headers={"X-Api-Key": other}).status_code == 200
    own = admin.send("POST", f"/api/account/admin/accounts/{admin.account.id}/disable")
    assert own.status_code == 400


def test_usage_counts_outcomes_per_day_and_key_with_csv(rt: Runtime, app: TestClient) -> None:
    dev = Dev(rt, "dev@example.com")
    k1, s1 = dev.new_key("web")
    k2, s2 = dev.new_key("=cmd()")  # a formula-looking name stays text in the CSV
    done = [submit(app, s1), submit(app, s1), submit(app, s2)]
    drain(rt)
    canceled = submit(app, s2)
    assert app.post(f"/api/task/{canceled}/cancel", headers={"X-Api-Key": s2}).status_code == 200
    assert app.delete(f"/api/task/{done[0]}", headers={"X-Api-Key": s1}).status_code == 204

    report = dev.get("/api/account/usage").json()
    today = report["days"][-1]
    assert len(report["days"]) == 30
    assert (today["completed"], today["failed"], today["canceled"]) == (3, 0, 1)
    assert today["keys"][k1]["completed"] == 2 and today["keys"][k2]["canceled"] == 1
    assert report["run_seconds"]["p50"] is not None and report["sampled_tasks"] == 2
    keys = {k["id"]: k for k in dev.get("/api/account/keys").json()}
    # submissions, counted when made: the deleted one still counts, as in the chart
    assert keys[k1]["tasks_today"] == 2 and keys[k2]["tasks_today"] == 2
    assert keys[k1]["last_used_at"] is not None

    only = dev.get(f"/api/account/usage?key={k2}&days=7").json()
    assert len(only["days"]) == 7 and only["days"][-1]["completed"] == 1
    csv = dev.get("/api/account/usage.csv").text.splitlines()
    assert csv[0] == "date,key_id,key_name,completed,failed,canceled"
    assert f"{today['date']},{k1},web,2,0,0" in csv
    assert f"{today['date']},{k2},'=cmd(),1,0,1" in csv

    listed = dev.get("/api/account/tasks").json()["tasks"]
    assert listed[0]["task_id"] == canceled
    by_id = {t["task_id"]: t for t in listed}
    assert by_id[done[1]]["thumbnail_url"] and by_id[canceled]["thumbnail_url"] is None
    assert by_id[done[1]]["key_name"] == "web"  # identity: in the browser test (evaluator)
    filtered = dev.get(f"/api/account/tasks?status=canceled&key={k2}").json()["tasks"]
    assert [t["task_id"] for t in filtered] == [canceled]
    assert dev.get("/api/account/tasks?status=bogus").status_code == 400


def test_admin_sets_limits_and_sees_workers(rt: Runtime, app: TestClient) -> None:
    dev = Dev(rt, "dev@example.com")
    admin = Dev(rt, "ops@example.com", admin=True)
    key_id, secret = dev.new_key()
    for path in [
        "/api/account/admin/accounts",
        "/api/account/admin/keys",
        "/api/account/admin/queue",
    ]:
        assert dev.get(path).status_code == 403
        assert dev.get(path).json()["error"]["code"] == "admin_only"
    put = f"/api/account/admin/keys/{key_id}/limits"
    assert dev.send("PUT", put, json={"rate_limit_per_minute": 1}).status_code == 403
    limited = admin.send("PUT", put, json={"rate_limit_per_minute": 1, "quota_per_day": None})
    assert limited.status_code == 200 and limited.json()["effective_rate_limit_per_minute"] == 1
    assert admin.send("PUT", put, json={"rate_limit_per_minute": -1}).status_code == 400
    submit(app, secret)
    again = app.post("/api/couple_image", files=couple_files(), headers={"X-Api-Key": secret})
    assert again.status_code == 429 and again.json()["error"]["code"] == "rate_limited"
    assert {a["email"] for a in admin.get("/api/account/admin/accounts").json()} >= {
        "dev@example.com",
        "ops@example.com",
    }
    drain(rt)
    queue = admin.get("/api/account/admin/queue").json()
    assert queue["tasks"]["completed"] == 1
    assert queue["workers"] and queue["workers"][0]["engines"] == [rt.settings.engine]


def test_nothing_secret_reaches_the_logs(rt: Runtime, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    dev = Dev(rt, "dev@example.com")
    _, secret = dev.new_key()
    task_id = submit(dev.client, secret)
    drain(rt)
    dev.get(f"/api/account/tasks/{task_id}")
    dev.client.post("/api/account/sign-in", json={"email": "dev@example.com", "password": "x"})
    session = dev.cookie.split(";")[0].split("=", 1)[1]
    for secret_text in (PASSWORD, secret, session, dev.csrf, "/results/"):
        assert secret_text not in caplog.text


def test_cli_accounts_and_keys(tmp_path: Path) -> None:
    env = {"TWOSHOT_DATA_DIR": str(tmp_path / "d"), "TWOSHOT_PUBLIC_URL": "https://api.example"}
    runner = CliRunner()
    made = runner.invoke(cli, ["accounts", "create", "--email", "Dev@Example.com"], env=env)
    assert made.exit_code == 0, made.output
    link = made.stdout.strip()
    assert link.startswith("https://api.example/dashboard/welcome#token=")
    key = runner.invoke(
        cli, ["keys", "create", "--name", "app", "--account", "dev@example.com"], env=env
    )
    assert key.exit_code == 0 and key.stdout.strip().startswith("ts_")
    legacy = runner.invoke(cli, ["keys", "create", "--name", "legacy"], env=env)
    assert legacy.exit_code == 0
    nobody = runner.invoke(
        cli, ["keys", "create", "--name", "x", "--account", "no@example.com"], env=env
    )
    assert nobody.exit_code != 0 and "no account" in nobody.output
    listed = runner.invoke(cli, ["accounts", "list"], env=env).stdout
    assert "dev@example.com  developer  no password yet  1 key(s)" in listed
    assert "default@twoshot.invalid" in listed
    assert "(dev@example.com)" in runner.invoke(cli, ["keys", "list"], env=env).stdout
    reset = runner.invoke(cli, ["accounts", "reset-password", "dev@example.com"], env=env)
    assert reset.exit_code == 0 and reset.stdout.strip() != link
    assert runner.invoke(cli, ["accounts", "disable", "dev@example.com"], env=env).exit_code == 0
    assert "disabled" in runner.invoke(cli, ["accounts", "list"], env=env).stdout
    assert runner.invoke(cli, ["accounts", "disable", "no@example.com"], env=env).exit_code != 0
    dup = runner.invoke(cli, ["accounts", "create", "--email", "dev@example.com"], env=env)
    assert dup.exit_code != 0 and "exists" in dup.output


def test_admin_cannot_disable_their_own_account_by_email(rt: Runtime, app: TestClient) -> None:
    """Was: the route refused only the admin's own id; the email went through."""
    admin = Dev(rt, "ops@example.com", admin=True)
    own = admin.send("POST", "/api/account/admin/accounts/OPS@example.com/disable")
    assert own.status_code == 400
    assert admin.get("/api/account").status_code == 200  # still signed in


def test_tasks_today_counts_a_deleted_task_like_the_usage_chart(
    rt: Runtime, app: TestClient
) -> None:
    """Was: tasks_today counted the rows still there, the chart the tasks that ran."""
    dev = Dev(rt, "dev@example.com")
    key_id, secret = dev.new_key()
    gone = submit(app, secret)
    submit(app, secret)
    drain(rt)
    assert app.delete(f"/api/task/{gone}", headers={"X-Api-Key": secret}).status_code == 204
    keys = {k["id"]: k for k in dev.get("/api/account/keys").json()}
    today = dev.get("/api/account/usage").json()["days"][-1]
    assert keys[key_id]["tasks_today"] == today["completed"] == 2


def test_dashboard_task_paging_does_not_skip_tasks_created_in_the_same_instant(
    rt: Runtime, app: TestClient, image_server: str
) -> None:
    """Was: the next page asked for ``created_at < before``: the rest of a batch (one
    created_at for all its tasks) fell between two pages."""
    dev = Dev(rt, "dev@example.com")
    _key_id, secret = dev.new_key()
    body = {
        "personImages": [f"{image_server}/obama.jpg"],
        "promptData": [{"prompt": f"p{i}"} for i in range(5)],
    }
    batch = app.post("/api/person_image_batch", headers={"X-Api-Key": secret}, json=body).json()
    from sqlalchemy import update

    from twoshot.store.schema import tasks

    with rt.store._engine.begin() as conn:  # type: ignore[attr-defined]
        # one instant for all (a coarse clock, or one created_at for a whole batch)
        conn.execute(
            update(tasks).where(tasks.c.batch_id == batch["task_id"]).values(created_at=1e9)
        )
    seen: list[str] = []
    query = "limit=2"
    while True:
        page = dev.get(f"/api/account/tasks?{query}").json()
        seen += [t["task_id"] for t in page["tasks"]]
        if page["next_before"] is None:
            break
        query = f"limit=2&before={page['next_before']}&before_id={page.get('next_before_id')}"
    assert sorted(seen) == sorted(batch["task_ids"]) and len(seen) == 5
