"""The Developer Dashboard in real headless Chromium (Debian's, driven by Playwright), the way
a developer meets it: the operator creates their account, they follow the sign-in link, set a
password, make a key, use it, see the task and its thumbnail and the usage chart, and revoke
the key."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from tests.conftest import Live, couple_files, make_settings, working_server
from tests.test_playground import browser
from twoshot.cli import main as cli
from twoshot.runtime import Runtime
from twoshot.service import NoChecks


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Live]:
    runtime = Runtime.build(make_settings(tmp_path, engine="studio"), checks=NoChecks())
    with working_server(runtime) as server:
        yield server


def shown(page, selector: str, timeout: float = 20) -> None:  # type: ignore[no-untyped-def]
    """Wait until the image has loaded. (The page's CSP forbids eval, which Playwright's
    string predicates of wait_for_function need: poll from here instead.)"""
    deadline = time.monotonic() + timeout
    while not page.eval_on_selector(selector, "i => i.complete && i.naturalWidth > 0"):
        assert time.monotonic() < deadline, f"{selector} did not load"
        time.sleep(0.1)


def test_a_developer_signs_in_makes_a_key_sees_its_task_and_revokes_it(site: Live) -> None:
    from playwright.sync_api import sync_playwright

    env = {
        "TWOSHOT_DATA_DIR": str(site.runtime.settings.data_dir),
        "TWOSHOT_PUBLIC_URL": site.url,
    }
    made = CliRunner().invoke(
        cli,
        ["accounts", "create", "--email", "dev@example.com", "--name", "Dev", "--admin"],
        env=env,
    )
    assert made.exit_code == 0, made.output
    link = made.stdout.strip()
    shots = os.environ.get("TWOSHOT_SCREENSHOT_DIR")

    with sync_playwright() as p:
        chromium = browser(p)
        page = chromium.new_page(viewport={"width": 1280, "height": 820})
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        # a script or style the CSP refused (no 'unsafe-inline') shows as a console error
        page.on(
            "console",
            lambda m: errors.append(m.text) if "Content Security Policy" in m.text else None,
        )
        page.on("dialog", lambda d: d.accept())

        page.goto(site.url + "/dashboard")  # not signed in: to the sign-in page
        assert page.url.endswith("/dashboard/login")

        page.goto(link)
        page.wait_for_selector("#who:has-text('dev@example.com')")
        assert "#token" not in page.url  # the token left the address bar at once
        page.fill("#new1", "correct horse battery")
        page.fill("#new2", "correct horse battery")
        page.click("#set")
        page.wait_for_url(site.url + "/dashboard")
        page.wait_for_selector("body[data-ready]")
        assert page.text_content("#who") == "dev@example.com"

        page.fill("#key-name", "ios-app")
        page.click("#create-key")
        page.wait_for_selector("#new-secret")
        secret = page.text_content("#new-secret") or ""
        assert secret.startswith("ts_")
        assert secret in (page.text_content("#created pre") or "")  # the curl line, filled in
        href = page.get_attribute("#try-playground", "href") or ""
        assert href.startswith("/#key=")
        if shots:
            page.screenshot(path=f"{shots}/dashboard-new-key.png", full_page=True)

        # the test, as the developer's app: a couple task over HTTP with the new key
        answer = httpx.post(
            site.url + "/api/couple_image",
            files=couple_files(),
            data={"prompt": "happy couple at the beach at sunset"},
            headers={"X-Api-Key": secret, "Prefer": "wait=60"},
            timeout=90,
        )
        assert answer.status_code == 200 and answer.json()["status"] == "completed", answer.text
        task_id = answer.json()["task_id"]

        page.reload()
        page.wait_for_selector("#keys tr[data-key]")
        row = page.text_content("#keys tr[data-key]") or ""
        assert "ios-app" in row and secret[:10] in row
        if shots:
            page.screenshot(path=f"{shots}/dashboard-keys.png", full_page=True)

        page.goto(site.url + "/dashboard#tasks")
        page.wait_for_selector(f"tr[data-task='{task_id}'] img.thumb")
        shown(page, f"tr[data-task='{task_id}'] img")
        row = page.text_content(f"tr[data-task='{task_id}']") or ""
        assert "completed" in row and "ios-app" in row and "male: 0." in row
        if shots:
            page.screenshot(path=f"{shots}/dashboard-tasks.png", full_page=True)
        page.click(f"tr[data-task='{task_id}']")
        page.wait_for_selector("#task-json")
        assert f'"task_id": "{task_id}"' in (page.text_content("#task-json") or "")

        page.goto(site.url + "/dashboard#usage")
        page.wait_for_selector("#usage-chart rect[data-outcome='completed']")
        assert page.text_content("#total-completed") == "1"
        if shots:
            page.screenshot(path=f"{shots}/dashboard-usage.png", full_page=True)

        page.goto(site.url + "/dashboard#admin")
        page.wait_for_selector("#workers")
        assert "studio" in (page.text_content("#workers") or "")
        if shots:
            page.screenshot(path=f"{shots}/dashboard-admin.png", full_page=True)

        page.goto(site.url + "/dashboard#keys")
        page.click("button[data-revoke]")  # the confirm() is accepted
        page.wait_for_selector("#keys .badge.revoked")
        chromium.close()
        assert not errors, errors

    after = httpx.get(site.url + f"/api/task-status/{task_id}", headers={"X-Api-Key": secret})
    assert after.status_code == 401
