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


# Where functions are kept short: a longer one is a sequence of steps that want names.
SHORT_FUNCTIONS = ("advisor/kube", "advisor/cli.py", "api/cli.py")
MAX_FUNCTION_LINES = 80


def test_functions_are_short() -> None:
    long: list[str] = []
    for place in SHORT_FUNCTIONS:
        target = ROOT / place
        for path in [target] if target.is_file() else sorted(target.rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                    start = min([d.lineno for d in node.decorator_list] + [node.lineno])
                    lines = (node.end_lineno or node.lineno) - start + 1
                    if lines > MAX_FUNCTION_LINES:
                        long.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.name} "
                                    f"({lines} lines)")
    assert not long, long


def test_kube_importer_stages_import_each_other_without_cycles() -> None:
    """The stages of advisor/kube/k8s import each other at the top of the module only,
    and in one direction: none needs a deferred import to break a cycle."""
    package = ROOT / "advisor" / "kube" / "k8s"
    prefix = "advisor.kube.k8s."
    edges: dict[str, set[str]] = {}
    for path in package.glob("*.py"):
        tree = ast.parse(path.read_text())
        nested = [n for f in ast.walk(tree) if isinstance(f, ast.FunctionDef | ast.AsyncFunctionDef)
                  for n in ast.walk(f) if isinstance(n, ast.Import | ast.ImportFrom)]
        assert not nested, f"{path.name} imports inside a function"
        edges[path.stem] = {n.module.removeprefix(prefix) for n in tree.body
                            if isinstance(n, ast.ImportFrom) and n.module
                            and n.module.startswith(prefix)}
    done: set[str] = set()

    def visit(module: str, path: tuple[str, ...]) -> None:
        assert module not in path, " -> ".join((*path, module))
        if module not in done:
            for other in edges.get(module, set()):
                visit(other, (*path, module))
            done.add(module)

    for module in edges:
        visit(module, ())
