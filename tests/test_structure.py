"""The layering the architecture promises, checked on the sources (issue #20)."""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parent.parent / "src" / "twoshot"


def test_the_api_reaches_the_store_only_through_services() -> None:
    offenders = []
    for path in (SRC / "api").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Attribute) and node.attr == "store":
                offenders.append(f"{path.relative_to(SRC)}:{node.lineno}")
    assert offenders == []


def test_the_store_knows_nothing_of_live_notifications() -> None:
    for path in (SRC / "store").rglob("*.py"):
        tree = ast.parse(path.read_text())
        imported = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
        assert not {"twoshot.live", "twoshot.live_sqlite"} & imported, path


def test_no_module_is_over_400_lines() -> None:
    sizes = {str(p.relative_to(SRC)): len(p.read_text().splitlines()) for p in SRC.rglob("*.py")}
    assert {p: n for p, n in sizes.items() if n > 400} == {}


def test_every_data_file_ships_in_the_package() -> None:
    """A file the code reads at run time (a model, a rules list, a page) that no package-data
    pattern names is missing from a plain ``pip install .``, though an editable install
    finds it."""
    import tomllib
    from fnmatch import fnmatch

    project = tomllib.loads((SRC.parent.parent / "pyproject.toml").read_text())
    patterns = project["tool"]["setuptools"]["package-data"]["twoshot"]
    data = [
        str(p.relative_to(SRC))
        for p in SRC.rglob("*")
        if p.is_file() and p.suffix not in (".py", ".pyc")
    ]
    assert [f for f in data if not any(fnmatch(f, pattern) for pattern in patterns)] == []
