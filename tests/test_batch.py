"""`podlayout batch` in parallel and resumable: stable names, --jobs, --resume, Ctrl-C."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bench.generators import generate_problem
from models import parse_problem
from tests.batch_support import batch, lines, records, small_problem, write_inputs
from tests.conftest import EXAMPLES, ROOT, load_example
from tests.validator import validate


def test_names_follow_the_path_not_the_order_and_do_not_collide(tmp_path: Path) -> None:
    a, b = tmp_path / "a" / "app.json", tmp_path / "b" / "app.json"
    for path in (a, b):
        path.parent.mkdir()
        path.write_text(json.dumps(small_problem(1)))
    review = str(EXAMPLES / "reference-review.yaml")
    first = batch([str(a), str(b), review, "-o", str(tmp_path / "one"), "-j", "2"])
    second = batch([review, str(b), str(a), "-o", str(tmp_path / "two"), "-j", "1"])
    assert first.returncode == second.returncode == 0, first.stderr + second.stderr
    names = {x["file"]: Path(x["output"]).name for x in lines(first.stdout)}
    assert names == {x["file"]: Path(x["output"]).name for x in lines(second.stdout)}
    assert len(set(names.values())) == 3  # the two app.json apart
    assert names[str(a)].startswith("app-")
    assert names[str(a)].endswith(".plan.json")
    assert names[review].endswith(".review.json")  # a review is saved as one
    # lines come in argument order, whatever finished first
    assert [x["file"] for x in lines(second.stdout)] == [review, str(b), str(a)]
    for line in lines(first.stdout):
        plan = json.loads(Path(line["output"]).read_text())
        plan = plan.get("advised", plan)
        if line["file"] != review:
            problem = parse_problem(json.loads(Path(line["file"]).read_text()))
            assert validate(problem, plan) == []


def test_jobs_2_solves_every_input_and_writes_a_summary(tmp_path: Path) -> None:
    inputs = write_inputs(tmp_path / "in", 4)
    out = tmp_path / "out"
    result = batch([*inputs, "-o", str(out), "--jobs", "2"])
    assert result.returncode == 0, result.stderr
    done = lines(result.stdout)
    assert [x["file"] for x in done] == inputs
    assert {x["status"] for x in done} == {"optimal"}
    summary = json.loads((out / "summary.json").read_text())
    assert summary["inputs"] == 4
    assert summary["byStatus"] == {"optimal": 4}
    plans = [json.loads(Path(x["output"]).read_text()) for x in done]
    assert summary["nodesUsed"] == sum(p["solver"]["nodesUsed"] for p in plans)
    mean = sum(p["scores"]["waste"]["score"] for p in plans) / 4
    assert summary["scores"]["waste"] == pytest.approx(mean, abs=1e-3)
    assert "batch: 4 inputs: 4 optimal" in result.stderr  # one summary line


def test_resume_skips_done_inputs_and_redoes_a_changed_one(tmp_path: Path) -> None:
    inputs = write_inputs(tmp_path / "in", 3)
    out = tmp_path / "out"
    first = batch([*inputs, "-o", str(out), "-j", "2"])
    assert first.returncode == 0, first.stderr
    before = {p.name: p.stat().st_mtime_ns for p in out.glob("*.plan.json")}
    Path(inputs[1]).write_text(json.dumps(small_problem(3, 700)))  # new content, same path
    again = batch([*inputs, "-o", str(out), "-j", "2", "--resume"])
    assert again.returncode == 0, again.stderr
    resumed = {x["file"]: bool(x.get("resumed")) for x in lines(again.stdout)}
    assert resumed == {inputs[0]: True, inputs[1]: False, inputs[2]: True}
    after = {p.name: p.stat().st_mtime_ns for p in out.glob("*.plan.json")}
    changed = {name for name in before if before[name] != after[name]}
    assert changed == {Path(lines(again.stdout)[1]["output"]).name}
    plan = json.loads(Path(lines(again.stdout)[1]["output"]).read_text())
    assert len(plan["placements"]) == 3  # the new content's plan
    # other options are other results: a new time limit redoes everything
    other = batch([*inputs, "-o", str(out), "--resume", "-t", "1"])
    assert not any(x.get("resumed") for x in lines(other.stdout))


def test_an_interrupted_batch_marks_files_130_and_resume_redoes_them(tmp_path: Path) -> None:
    slow = tmp_path / "slow.json"
    slow.write_text(json.dumps(generate_problem(0, 100, 20, time_limit_seconds=60)))
    quick = write_inputs(tmp_path / "in", 1)
    out = tmp_path / "out"
    args = [sys.executable, "-m", "advisor.cli", "batch", str(slow), *quick, "-o", str(out),
            "-j", "1", "--workers", "1"]
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            cwd=ROOT)
    time.sleep(5)
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr
    done = lines(stdout)
    assert [(x["status"], x["exitCode"]) for x in done] == [("interrupted", 130)] * 2
    assert records(out)[str(slow)]["exitCode"] == 130
    if "output" in done[0]:  # stopped mid-solve: the best plan so far is kept, and valid
        plan = json.loads(Path(done[0]["output"]).read_text())
        assert validate(parse_problem(json.loads(slow.read_text())), plan) == []
    again = batch([str(slow), *quick, "-o", str(out), "-j", "1", "--workers", "1",
                   "--resume", "-t", "1"])
    assert again.returncode == 0, again.stderr
    assert not any(x.get("resumed") for x in lines(again.stdout))
    assert {r["exitCode"] for r in records(out).values()} == {0}


def test_resume_redoes_an_interrupted_file_with_the_same_options(tmp_path: Path) -> None:
    inputs = write_inputs(tmp_path / "in", 2)
    out = tmp_path / "out"
    assert batch([*inputs, "-o", str(out), "-j", "1"]).returncode == 0
    record = next((out / "records").glob("*.json"))
    data = json.loads(record.read_text())
    data.update(exitCode=130, status="interrupted")  # as a batch stopped mid-solve leaves it
    record.write_text(json.dumps(data))
    again = batch([*inputs, "-o", str(out), "-j", "1", "--resume"])
    assert again.returncode == 0, again.stderr
    redone = [x["file"] for x in lines(again.stdout) if not x.get("resumed")]
    assert redone == [data["file"]]


@pytest.mark.parametrize(("args", "option"), [
    (["--shard", "4/4"], "--shard"), (["--shard", "x"], "--shard"),
    (["--shard", "-1/2"], "--shard"), (["--shard", "0/2", "--shards", "2"], "--shards"),
    (["--shards", "3"], "JOB_COMPLETION_INDEX"), (["--jobs", "0"], "--jobs"),
    (["--resume"], "--output-dir"), (["--memory-limit", "lots"], "--memory-limit"),
])
def test_bad_batch_options_exit_2_naming_the_option(args: list[str], option: str) -> None:
    env = {k: v for k, v in os.environ.items() if k != "JOB_COMPLETION_INDEX"}
    result = batch([str(EXAMPLES / "reference.yaml"), *args], env=env)
    assert result.returncode == 2, result.stderr
    assert option in result.stderr
    assert result.stdout == ""


def test_a_child_that_dies_is_that_file_s_internal_error(tmp_path: Path) -> None:
    """A memory limit too small for a solve ends that file with exit code 3, not the batch."""
    inputs = write_inputs(tmp_path / "in", 1)
    big = tmp_path / "big.json"
    big.write_text(json.dumps(generate_problem(1, 100, 20, time_limit_seconds=2)))
    result = batch([str(big), *inputs, "-o", str(tmp_path / "out"), "-j", "1",
                    "--memory-limit", "300Mi"])
    done = lines(result.stdout)
    assert done[0]["exitCode"] == 3, result.stderr
    assert done[0]["status"] == "error"
    assert result.returncode == 3


def test_merge_needs_batch_output_directories(tmp_path: Path) -> None:
    result = batch(["merge", str(tmp_path)])
    assert result.returncode == 2
    assert "records" in result.stderr


def test_an_import_s_warnings_are_printed_once_with_their_file(tmp_path: Path) -> None:
    """A child's import warnings reach stderr through the batch (above its display on a
    terminal), each once and named with its input; stdout keeps only the JSON lines."""
    quiet = tmp_path / "web.yaml"  # one container: nothing to warn about
    quiet.write_text(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec:\n"
        "  replicas: 2\n  selector: {matchLabels: {app: web}}\n  template:\n"
        "    metadata: {labels: {app: web}}\n    spec:\n      containers:\n"
        "        - {name: web, image: web:1}\n", encoding="utf-8")
    noisy = str(ROOT / "examples" / "bookstore.yaml")  # a main container guessed, a Service
    done = batch([noisy, str(quiet), "--nodes", "examples/nodes.json", "--time-limit", "2",
                  "-o", str(tmp_path / "out"), "--jobs", "2"])
    assert done.returncode == 0, done.stderr
    warnings = [x for x in done.stderr.splitlines() if x.startswith("warning: ")]
    assert len(warnings) >= 2, done.stderr
    assert all(x.startswith(f"warning: {noisy}: ") for x in warnings), warnings
    assert len(warnings) == len(set(warnings))
    assert [line["file"] for line in lines(done.stdout)] == [noisy, str(quiet)]


def test_a_frontier_objective_is_said_to_get_one_balanced_plan(tmp_path: Path) -> None:
    """`review` and `batch` solve one plan: a problem asking for the frontier is told so
    (on stderr, named with its file in a batch), and still gets its plan."""
    data = load_example("reference-review.yaml")
    data["policy"] = {**data.get("policy", {}), "objective": "frontier",
                      "timeLimitSeconds": 2, "workers": 1}
    path = tmp_path / "front.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    said = ("policy.objective frontier: {} advises one plan (balanced); use podlayout "
            "advise --frontier")
    done = subprocess.run([sys.executable, "-m", "advisor.cli", "review", str(path)],
                          capture_output=True, text=True, timeout=120, check=False, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    assert f"warning: {said.format('review')}" in done.stderr
    assert "advised" in json.loads(done.stdout)
    done = batch([str(path), "--time-limit", "2"])
    assert done.returncode == 0, done.stderr
    assert f"warning: {path}: {said.format('batch')}" in done.stderr
    [line] = lines(done.stdout)
    assert line["status"] in ("optimal", "feasible")
