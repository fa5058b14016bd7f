"""Imports flow one way: patients ← clinic ← treatments (DESIGN.md)."""

import ast
from pathlib import Path

import pytest

BASE_DIR = Path(__file__).resolve().parents[1]
# app: the apps it must not import
FORBIDDEN = {"patients": {"clinic", "treatments"}, "clinic": {"treatments"}}


def imported_apps(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("app", sorted(FORBIDDEN))
def test_an_app_does_not_import_the_apps_that_build_on_it(app):
    offending = {
        str(path.relative_to(BASE_DIR)): sorted(imported_apps(path) & FORBIDDEN[app])
        for path in (BASE_DIR / app).rglob("*.py")
        if "migrations" not in path.parts
    }
    assert {path: apps for path, apps in offending.items() if apps} == {}
