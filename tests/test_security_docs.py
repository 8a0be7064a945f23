"""The README's Security section names every limit, and every setting it names exists."""

from __future__ import annotations

import re

from tests.conftest import ROOT
from twoshot.config import Settings


def test_the_security_section_lists_real_settings() -> None:
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("## Security") : readme.index("## Beyond one machine")]
    named = set(re.findall(r"TWOSHOT_([A-Z_]+[A-Z])", section))
    fields = {name.upper() for name in Settings.model_fields}
    assert named, section[:200]
    assert named - fields == set()
    for setting in (
        "VERIFY_CONCURRENCY",
        "VERIFY_PER_MINUTE",
        "TRUSTED_PROXIES",
        "HEADER_TIMEOUT",
        "METRICS_TOKEN",
        "SIGN_IN_FAILURES_PER_ACCOUNT",
        "RATE_LIMIT_PER_MINUTE",
    ):
        assert setting in named, setting
    assert "What an anonymous client can cost" in section
    assert "```nginx" in section and "```caddy" in section
