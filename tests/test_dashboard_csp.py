"""The dashboard's pages run under a CSP without 'unsafe-inline': their scripts and styles
are files of their own (tests/test_dashboard_browser.py drives them in Chromium and fails on
any CSP violation)."""

from __future__ import annotations

import re
from pathlib import Path

from starlette.testclient import TestClient

from tests.conftest import make_settings
from twoshot.api import create_app
from twoshot.runtime import Runtime
from twoshot.service import NoChecks


def test_pages_and_assets_under_a_strict_csp(tmp_path: Path) -> None:
    rt = Runtime.build(make_settings(tmp_path), checks=NoChecks())
    with TestClient(create_app(rt)) as app:
        for path in ("/dashboard/login", "/dashboard/welcome"):
            page = app.get(path)
            csp = page.headers["content-security-policy"]
            assert "unsafe-inline" not in csp and "script-src 'self'" in csp
            assert "style-src 'self'" in csp
            # no inline script, no inline handler, no style attribute in the markup
            assert not re.search(r"<script>|<script [^>]*>[^<]", page.text)
            assert not re.search(r"\son[a-z]+=|\sstyle=|<style", page.text)
        signed_in = (Path(__file__).parent.parent / "src/twoshot/static/dashboard.html").read_text()
        assert not re.search(r"<script>|\son[a-z]+=|\sstyle=|<style", signed_in)
        for name, media in (("dashboard.js", "text/javascript"), ("login.css", "text/css")):
            asset = app.get(f"/dashboard/static/{name}")
            assert asset.status_code == 200 and asset.headers["content-type"].startswith(media)
        for hostile in ("dashboard.html", "..%2F..%2Fconfig.py", "%2e%2e/api/app.py", "x.js"):
            assert app.get(f"/dashboard/static/{hostile}").status_code == 404, hostile
