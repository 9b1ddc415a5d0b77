"""Dependencies point one way: models <- advisor <- api."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ALLOWED = {
    "models": {"models"},
    "advisor": {"models", "advisor"},
    "api": {"models", "advisor", "api"},
}
PROJECT = set(ALLOWED) | {"tests", "bench"}


def imported_packages(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names & PROJECT


def test_import_direction() -> None:
    for package, allowed in ALLOWED.items():
        for path in (ROOT / package).rglob("*.py"):
            bad = imported_packages(path) - allowed
            assert not bad, f"{path.relative_to(ROOT)} imports {bad}"


def test_models_import_no_solver() -> None:
    for path in (ROOT / "models").rglob("*.py"):
        assert "ortools" not in path.read_text(), path
