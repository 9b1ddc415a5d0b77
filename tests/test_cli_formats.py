"""Output formats on the command line: JSON stays the default for pipes and byte for byte what
it was, the other formats are chosen by --format (or by a terminal), batch writes one report
per input with an index, and progress stays on stderr."""

from __future__ import annotations

import json
import os
import pty
import re
import subprocess
import sys
import threading
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
import yaml
from rich.console import Console

from advisor import cli
from advisor.batch.progress import BatchClock, minutes
from advisor.model import Progress
from advisor.report import FORMATS
from tests.conftest import EXAMPLES, ROOT

REFERENCE = str(EXAMPLES / "reference.yaml")
REVIEW = str(EXAMPLES / "reference-review.yaml")
# One CP-SAT worker: the same plan on every run, so two runs differ only in their timing.
STEADY = ["--workers", "1"]
RENDERERS = {"text": "advisor.report.text", "markdown": "advisor.report.markdown",
             "html": "advisor.report.html", "sarif": "advisor.report.sarif"}


def need(fmt: str) -> None:
    """Skip unless the renderer of `fmt` is there (JSON and YAML always are)."""
    if fmt in RENDERERS:
        pytest.importorskip(RENDERERS[fmt], reason=f"the {fmt} renderer is not there yet")


def run(args: list[str], stdin: str | None = None, env: dict[str, str] | None = None
        ) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "advisor.cli", *args], input=stdin, capture_output=True,
        text=True, timeout=120, check=False, cwd=ROOT, env=env,
    )


def steady(text: str) -> str:
    """The output without the one field that differs between two runs: the wall time."""
    return re.sub(r'"wallTimeSeconds": [0-9.e-]+', '"wallTimeSeconds": 0', text)


def without_time(data: Any) -> Any:
    if isinstance(data, dict):
        return {k: without_time(v) for k, v in data.items() if k != "wallTimeSeconds"}
    if isinstance(data, list):
        return [without_time(v) for v in data]
    return data


def infeasible_problem() -> dict[str, Any]:
    return {"containers": [{"name": "giant", "requests": {"cpu": "16", "memory": "1Gi"}}],
            "nodes": [{"name": "small", "allocatable": {"cpu": "2", "memory": "4Gi"}}],
            "policy": {"timeLimitSeconds": 2, "workers": 1}}


# --- the default, and JSON unchanged -----------------------------------------------------

def test_default_format_follows_the_terminal() -> None:
    assert cli._default_format(stdout_is_tty=True) == "text"
    assert cli._default_format(stdout_is_tty=False) == "json"


def test_no_format_asks_where_stdout_goes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cli, "_stdout_is_tty", lambda: True)
    assert cli._report_format(None) == "text"
    assert cli._report_format("yaml") == "yaml"
    monkeypatch.setattr(cli, "_stdout_is_tty", lambda: False)
    assert cli._report_format(None) == "json"
    # batch with --output-dir: files are JSON whatever the terminal
    monkeypatch.setattr(cli, "_stdout_is_tty", lambda: True)
    assert cli._report_format(None, "json") == "json"


@pytest.mark.parametrize("command", [["advise", REFERENCE], ["review", REVIEW]])
def test_piped_default_is_json_byte_for_byte_as_format_json(command: list[str]) -> None:
    default = run([*command, *STEADY])
    explicit = run([*command, *STEADY, "--format", "json"])
    assert default.returncode == explicit.returncode == 0, default.stderr + explicit.stderr
    assert steady(default.stdout) == steady(explicit.stdout)
    # what the command has always printed: the wire dict, indented by two, one newline
    assert default.stdout == json.dumps(json.loads(default.stdout), indent=2) + "\n"


@pytest.mark.parametrize("command", [["advise", REFERENCE], ["review", REVIEW]])
def test_yaml_is_the_same_document_as_json(command: list[str]) -> None:
    as_json = run([*command, *STEADY, "-f", "json"])
    as_yaml = run([*command, *STEADY, "-f", "yaml"])
    assert as_json.returncode == as_yaml.returncode == 0, as_yaml.stderr
    assert not as_yaml.stdout.lstrip().startswith("{")
    assert without_time(yaml.safe_load(as_yaml.stdout)) == without_time(
        json.loads(as_json.stdout))


@pytest.mark.parametrize("command", [["advise", REFERENCE], ["review", REVIEW],
                                     ["batch", REFERENCE]])
def test_unknown_format_is_a_usage_error_naming_the_choices(command: list[str]) -> None:
    result = run([*command, "--format", "pdf"])
    assert result.returncode == 2
    assert result.stdout == ""
    assert "--format" in result.stderr
    assert "pdf" in result.stderr
    for name in FORMATS:
        assert name in result.stderr


def test_infeasible_exits_1_whatever_the_format() -> None:
    need("text")
    result = run(["advise", "-", "--format", "text"], stdin=json.dumps(infeasible_problem()))
    assert result.returncode == 1, result.stderr
    assert "infeasible" in result.stdout
    assert "giant" in result.stdout
    assert not result.stdout.lstrip().startswith("{")
    assert "infeasible: " in result.stderr  # the conflicts on stderr, as with JSON
    as_yaml = run(["advise", "-", "-f", "yaml"], stdin=json.dumps(infeasible_problem()))
    assert as_yaml.returncode == 1
    assert yaml.safe_load(as_yaml.stdout)["status"] == "infeasible"


@pytest.mark.parametrize("fmt", ["text", "markdown", "html", "sarif"])
def test_each_report_format_prints_its_report(fmt: str) -> None:
    need(fmt)
    result = run(["review", REVIEW, *STEADY, "--format", fmt])
    assert result.returncode == 0, result.stderr
    out = result.stdout
    if fmt == "sarif":
        assert json.loads(out)["version"] == "2.1.0"
    elif fmt == "html":
        assert out.lstrip().lower().startswith("<!doctype html")
    else:
        assert not out.lstrip().startswith("{")
        assert "review" in out.lower()


def test_terminal_stdout_gets_text_by_default() -> None:
    """A real terminal: stdout on a pseudo-terminal, no --format."""
    need("text")
    master, replica = pty.openpty()
    env = {**os.environ, "PODLAYOUT_QUIET": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "advisor.cli", "advise", REFERENCE,
                             *STEADY], stdout=replica, stderr=subprocess.PIPE, cwd=ROOT,
                            env=env)
    os.close(replica)
    chunks: list[bytes] = []

    def read() -> None:  # drained as it comes: a full terminal buffer would block the child
        try:
            while data := os.read(master, 65536):
                chunks.append(data)
        except OSError:  # the terminal closes with the child
            pass

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        _, stderr = proc.communicate(timeout=120)
        reader.join(10)
    finally:
        os.close(master)
    assert proc.returncode == 0, stderr
    shown = b"".join(chunks).decode("utf-8", "replace").replace("\r\n", "\n")
    assert shown.strip(), "nothing on the terminal"
    assert not shown.lstrip().startswith("{")
    assert "optimal" in shown


# --- batch -------------------------------------------------------------------------------

def batch_inputs(tmp_path: Path) -> list[str]:
    good = tmp_path / "good.json"
    good.write_text(json.dumps({
        "containers": [{"name": "a", "requests": {"cpu": "500m", "memory": "256Mi"}}],
        "nodes": [{"name": "n1", "allocatable": {"cpu": "4", "memory": "8Gi"}}],
        "policy": {"timeLimitSeconds": 2, "workers": 1}}))
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"containers": [{"name": "a", "requests": {"cpu": "x"}}]}))
    return [str(good), REVIEW, str(bad)]


def test_batch_markdown_writes_a_report_per_input_and_an_index(tmp_path: Path) -> None:
    need("markdown")
    out = tmp_path / "out"
    result = run(["batch", *batch_inputs(tmp_path), "--format", "markdown", "-o", str(out)])
    assert result.returncode == 2, result.stderr  # the bad input's code, as in JSON
    lines = [json.loads(x) for x in result.stdout.splitlines()]
    assert [x["exitCode"] for x in lines] == [0, 0, 2]
    assert set(lines[0]) == {"file", "exitCode", "status", "output"}
    assert "error" in lines[2]
    reports = sorted(p.name for p in out.glob("*.md") if p.name != "index.md")
    assert [re.sub(r"-[0-9a-f]{8}\.", ".", name) for name in reports] == [
        "good.plan.md", "reference-review.review.md"]
    assert [Path(x["output"]).name for x in lines[:2]] == reports
    assert "optimal" in (out / reports[0]).read_text()
    index = (out / "index.md").read_text()
    for name in reports:
        assert f"]({name})" in index
    for line in lines:
        assert line["file"] in index
        assert line["status"] in index
    # a review shows current -> advised (waste 85.7 -> 71.4 on the reference review)
    assert "85.7 → " in index
    assert "3 inputs" in index


def test_batch_html_index_links_each_report(tmp_path: Path) -> None:
    need("html")
    out = tmp_path / "out"
    result = run(["batch", *batch_inputs(tmp_path)[:2], "-f", "html", "-o", str(out)])
    assert result.returncode == 0, result.stderr
    index = (out / "index.html").read_text()
    names = sorted(p.name for p in out.glob("*.html") if p.name != "index.html")
    assert [re.sub(r"-[0-9a-f]{8}\.", ".", name) for name in names] == [
        "good.plan.html", "reference-review.review.html"]
    for name in names:
        assert f'href="{name}"' in index
    assert "http://" not in index
    assert "https://" not in index


def test_batch_json_output_keeps_its_names_and_bytes(tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = run(["batch", REVIEW, "--format", "json", "-o", str(out)])
    assert result.returncode == 0, result.stderr
    [report] = out.glob("reference-review-*.review.json")
    text = report.read_text()
    assert text == json.dumps(json.loads(text), indent=2) + "\n"
    assert not (out / "index.md").exists()
    # without --format and with --output-dir, the files are JSON whatever the terminal
    again = run(["batch", REVIEW, "-o", str(tmp_path / "again")])
    assert again.returncode == 0
    assert (tmp_path / "again" / report.name).is_file()


@pytest.mark.parametrize("fmt", ["html", "sarif"])
def test_batch_html_or_sarif_without_output_dir_is_a_usage_error(fmt: str) -> None:
    result = run(["batch", REFERENCE, "--format", fmt])
    assert result.returncode == 2
    assert result.stdout == ""
    assert "--output-dir" in result.stderr


def test_batch_yaml_on_stdout_is_the_lines_as_documents(tmp_path: Path) -> None:
    inputs = batch_inputs(tmp_path)
    as_yaml = run(["batch", *inputs, "-f", "yaml"])
    as_json = run(["batch", *inputs])
    assert as_yaml.returncode == as_json.returncode == 2
    documents = list(yaml.safe_load_all(as_yaml.stdout))
    lines = [json.loads(x) for x in as_json.stdout.splitlines()]
    assert without_time(documents) == without_time(lines)


def test_batch_text_on_stdout_has_a_heading_per_file(tmp_path: Path) -> None:
    need("text")
    inputs = batch_inputs(tmp_path)
    result = run(["batch", *inputs, "--format", "text"])
    assert result.returncode == 2, result.stderr
    for path in inputs:
        assert f"==> {path} <==" in result.stdout
    assert "containers[0].requests.cpu" in result.stdout  # the bad file's error, under its name
    assert not any(line.startswith("{") for line in result.stdout.splitlines())


def test_batch_markdown_on_stdout_has_a_heading_per_file(tmp_path: Path) -> None:
    need("markdown")
    inputs = batch_inputs(tmp_path)
    result = run(["batch", *inputs, "-f", "markdown"])
    assert result.returncode == 2, result.stderr
    for path in inputs:
        assert f"# `{path}`" in result.stdout


# --- progress ----------------------------------------------------------------------------

def test_progress_shows_the_bar_numbers_and_the_stop_hint(monkeypatch: pytest.MonkeyPatch
                                                          ) -> None:
    screen = Console(file=StringIO(), force_terminal=True, width=100, record=True)
    monkeypatch.setattr(cli, "err", screen)
    display = cli._SolveDisplay(limit=10.0)
    display.update(2.5, Progress(objective=1200.0, bound=1000.0, elapsed=2.4, solutions=3),
                   stopping=False)
    screen.print(display.bars)
    shown = screen.export_text()
    assert "2.5/10s" in shown
    assert "objective 1,200" in shown
    assert "bound 1,000" in shown
    assert "gap 16.7%" in shown
    assert "Ctrl-C: stop, keep best" in shown
    assert "files" not in shown  # a batch draws its own display
    display.update(3.0, None, stopping=True)
    screen.print(display.bars)
    assert "keeping the best plan so far" in screen.export_text()


def test_batch_eta_is_the_mean_time_per_file_for_the_files_left() -> None:
    now = [100.0]
    clock = BatchClock(total=5, now=lambda: now[0])
    assert clock.eta() is None  # no file done: no estimate
    now[0] = 110.0
    clock.finish_one()
    now[0] = 120.0
    clock.finish_one()
    assert clock.eta() == pytest.approx(30.0)  # 10 s a file, 3 left
    now[0] = 124.0
    assert clock.eta() == pytest.approx(26.0)  # counts down: 4 s into the third
    now[0] = 200.0
    assert clock.eta() == 0.0  # slower than the pace so far: never below nothing left
    for _ in range(3):
        clock.finish_one()
    assert clock.eta() is None  # all done
    assert minutes(75) == "1m15s"
    assert minutes(6.4) == "0m06s"


def test_batch_progress_on_a_terminal_leaves_stdout_to_the_lines(tmp_path: Path) -> None:
    """stderr on a pseudo-terminal (live progress), stdout a pipe: stdout is the JSON lines."""
    master, replica = pty.openpty()
    env = {k: v for k, v in os.environ.items() if k != "PODLAYOUT_QUIET"}
    proc = subprocess.Popen([sys.executable, "-m", "advisor.cli", "batch",
                             *batch_inputs(tmp_path)], stdout=subprocess.PIPE, stderr=replica,
                            cwd=ROOT, env=env)
    os.close(replica)
    chunks: list[bytes] = []

    def read() -> None:
        try:
            while data := os.read(master, 65536):
                chunks.append(data)
        except OSError:
            pass

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        stdout, _ = proc.communicate(timeout=120)
        reader.join(10)
    finally:
        os.close(master)
    assert proc.returncode == 2
    lines = [json.loads(x) for x in stdout.decode().splitlines()]
    assert [x["exitCode"] for x in lines] == [0, 0, 2]
    shown = b"".join(chunks).decode("utf-8", "replace")
    assert "[3/3]" in shown
    assert "/3 files" in shown  # the live display was drawn
    assert "elapsed, ETA" in shown
