"""`podlayout --version` and `--help` load no solver, importer, report or API: what they
import decides how long a user waits, and a module count does not depend on how busy the
machine running the test is, as a timing would."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

# Loaded only by the commands that use them (the first three take most of a second).
LAZY = ("ortools", "numpy", "pandas", "fastapi", "uvicorn", "advisor.solve", "advisor.review",
        "advisor.kube", "advisor.report", "api.app")

# Runs the command line in this process, then lists the lazy modules it loaded.
PROBE = """
import contextlib, io, json, sys
from {module} import main
lazy = json.loads(sys.argv[2])
sys.argv = ["podlayout", *json.loads(sys.argv[1])]
out = io.StringIO()
code = 0
with contextlib.redirect_stdout(out):
    try:
        main()
    except SystemExit as exc:
        code = exc.code
loaded = sorted(m for m in sys.modules if any(m == n or m.startswith(n + ".") for n in lazy))
print(json.dumps({{"code": code, "out": out.getvalue(), "loaded": loaded}}))
"""


def run(module: str, args: list[str]) -> dict[str, object]:
    done = subprocess.run(
        [sys.executable, "-c", PROBE.format(module=module), json.dumps(args), json.dumps(LAZY)],
        capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    result: dict[str, object] = json.loads(done.stdout.splitlines()[-1])
    return result


# api.entry is the installed `podlayout`, api.cli its commands; advisor.cli is the core's
# commands alone.
@pytest.mark.parametrize("module", ["api.entry", "api.cli", "advisor.cli"])
@pytest.mark.parametrize("args", [["--version"], ["--help"], ["advise", "--help"],
                                  ["import", "k8s", "--help"]])
def test_version_and_help_import_no_solver_or_api(module: str, args: list[str]) -> None:
    result = run(module, args)
    assert result["code"] == 0
    assert result["loaded"] == []


def test_help_still_lists_every_command() -> None:
    result = run("api.cli", ["--help"])
    out = str(result["out"])
    for command in ("advise", "review", "batch", "import", "export", "schema", "serve"):
        assert command in out, out


@pytest.mark.parametrize("module", ["api.entry", "api.cli"])
def test_version_prints_the_version(module: str) -> None:
    result = run(module, ["--version"])
    assert str(result["out"]).startswith("podlayout ")


def test_the_command_answers_version_before_loading_its_command_line_library() -> None:
    """`podlayout --version` imports neither typer nor rich (most of its start-up time)."""
    done = subprocess.run(
        [sys.executable, "-c", PROBE.format(module="api.entry"), json.dumps(["--version"]),
         json.dumps(["typer", "rich", "click", "models", "advisor.cli", "importlib.metadata"])],
        capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.splitlines()[-1])
    assert result["out"].startswith("podlayout ")
    assert result["loaded"] == []


def test_the_installed_command_runs_the_commands() -> None:
    result = run("api.entry", ["--help"])
    assert "advise" in str(result["out"])


def test_the_package_names_still_load_on_use() -> None:
    """`from advisor import advise, review` and `from api import create_app` load what they
    name when asked for; `review` stays the function once its submodule is loaded first."""
    code = ("import types\n"
            "import advisor.review\n"
            "from advisor import SolveControl, advise, review\n"
            "from api import Settings, create_app\n"
            "assert not isinstance(review, types.ModuleType), review\n"
            "assert review.__module__ == 'advisor.review', review\n"
            "assert advise.__module__ == SolveControl.__module__ == 'advisor.solve'\n"
            "assert create_app.__module__ == 'api.app'\n"
            "assert Settings.__module__ == 'api.settings'\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120, check=False)
    assert done.returncode == 0, done.stderr
