"""Property-based fuzzing of the whole API from its own /openapi.json (schemathesis): no 5xx,
and every response matches what the schema says (status codes, content types, bodies).

schemathesis' pytest plugin does not run under pytest 9, so each operation's strategy is
driven by Hypothesis directly.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.specs.openapi.checks import positive_data_acceptance

from tests.conftest import make_settings, start_live, stop_live
from twoshot.runtime import Runtime
from twoshot.service import NoChecks

pytestmark = pytest.mark.slow


def fuzz(operation, key: str) -> int:  # type: ignore[no-untyped-def]
    """Run one operation's generated cases; returns how many requests were sent."""
    sent = 0

    @settings(
        max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), database=None
    )
    @given(data=st.data())
    def run(data: st.DataObject) -> None:
        nonlocal sent
        sent += 1
        case = data.draw(operation.as_strategy())
        # every other check runs: no 5xx, documented status codes, content types, headers and
        # bodies. "Schema-valid data is accepted" cannot hold here: a schema can say "a file",
        # not "a photo with one face", so random bytes get their honest 400.
        case.call_and_validate(
            headers={"X-Api-Key": key}, timeout=30, excluded_checks=[positive_data_acceptance]
        )

    run()
    return sent


def test_api_conforms_to_its_schema(tmp_path: Path) -> None:
    server = start_live(
        Runtime.build(make_settings(tmp_path, fetch_allow_private=False), checks=NoChecks())
    )
    try:
        schema = schemathesis.openapi.from_url(f"{server.url}/openapi.json")
        operations = [result.ok() for result in schema.get_all_operations()]
        assert len(operations) >= 10
        sent = {operation.label: fuzz(operation, server.key) for operation in operations}
        assert sent["POST /api/couple_image"] >= 10, sent
        assert sum(sent.values()) >= 100, sent
    finally:
        stop_live(server)
