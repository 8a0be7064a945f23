"""The playground in real headless Chromium (Debian's, driven by Playwright): paste a key,
add the photos, generate, watch the progress, see the result and the identity scores."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import DATA, Live, make_settings, working_server
from twoshot.runtime import Runtime
from twoshot.service import NoChecks

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Live]:
    runtime = Runtime.build(make_settings(tmp_path, engine="studio"), checks=NoChecks())
    with working_server(runtime) as server:
        yield server


def browser(playwright):  # type: ignore[no-untyped-def]
    if not shutil.which(CHROMIUM):
        if os.environ.get("CI"):
            pytest.fail("chromium is missing: apt-get install chromium")
        pytest.skip("chromium is not installed (apt-get install chromium)")
    return playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)


def test_playground_makes_a_couple(site: Live, tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = browser(p)
        page = chromium.new_page(viewport={"width": 1280, "height": 860})
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        requested: list[str] = []
        page.on("request", lambda r: requested.append(r.url))
        page.goto(site.url + "/")
        assert page.title() == "twoshot playground"
        page.click("#go")  # no key yet: a clear message, no request
        assert "API key" in page.text_content("#status")  # type: ignore[operator]
        page.fill("#key", site.key)
        page.set_input_files("#file-a", str(DATA / "obama.jpg"))
        page.set_input_files("#file-b", str(DATA / "astronaut.jpg"))
        page.fill("#prompt", "happy couple at the beach")
        page.click("#go")
        shown = "(r => r.complete && r.naturalWidth > 0)(document.getElementById('result'))"
        page.wait_for_function(shown, timeout=60_000)
        assert page.eval_on_selector("#result", "img => img.naturalWidth") == 1024
        assert "completed" in page.text_content("#status")  # type: ignore[operator]
        table = page.text_content("#quality") or ""
        assert "male" in table and "female" in table and "yes" in table
        marks = page.text_content("#provenance") or ""
        assert "Content Credentials" in marks and "invisible watermark" in marks
        assert page.eval_on_selector("#progress", "d => d.style.width") == "100%"
        assert page.eval_on_selector_all("#refs img", "imgs => imgs.length") == 2
        # the result came over the event stream, with no polling
        assert page.evaluate("window.streamedEvents") >= 1
        assert any(u.endswith("/events") for u in requested)
        assert not [u for u in requested if "/api/task-status/" in u and not u.endswith("/events")]
        shot = os.environ.get("TWOSHOT_SCREENSHOT")
        if shot:
            page.screenshot(path=shot, full_page=True)

        page.fill("#key", "ts_wrong")
        page.click("#go")
        page.wait_for_function("document.getElementById('status').className === 'error'")
        assert "unauthorized" in page.text_content("#status")  # type: ignore[operator]
        assert errors == []
        chromium.close()


def test_playground_shows_progress_from_the_event_stream(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from playwright.sync_api import sync_playwright

    monkeypatch.setenv("TWOSHOT_TEST_STEPS", "8")
    monkeypatch.setenv("TWOSHOT_TEST_STEP_SECONDS", "0.25")
    rt = Runtime.build(make_settings(tmp_path, engine="tests.engines:slow"), checks=NoChecks())
    with working_server(rt) as server, sync_playwright() as p:
        chromium = browser(p)
        page = chromium.new_page()
        page.goto(server.url + "/")
        page.fill("#key", server.key)
        page.set_input_files("#file-a", str(DATA / "obama.jpg"))
        page.set_input_files("#file-b", str(DATA / "astronaut.jpg"))
        page.click("#go")
        page.wait_for_function("document.getElementById('result').style.display === 'block'")
        seen = page.evaluate("window.progressLog")
        assert len(seen) >= 3 and seen == sorted(seen) and 0 < seen[-2] < 1, seen
        assert "completed" in page.text_content("#status")  # type: ignore[operator]
        chromium.close()
