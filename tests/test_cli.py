"""The command line: exit codes, messages naming fields, stdout carrying only the result."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

from tests.conftest import EXAMPLES

NODE = {"name": "small", "allocatable": {"cpu": "2", "memory": "4Gi"}}


def run(args: list[str], stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "advisor.cli", *args], input=stdin, capture_output=True,
        text=True, timeout=120, check=False,
    )


def problem(**extra: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "containers": [{"name": "a", "requests": {"cpu": "500m", "memory": "256Mi"}}],
        "nodes": [NODE, {"name": "big", "allocatable": {"cpu": "4", "memory": "8Gi"}}],
        "policy": {"timeLimitSeconds": 2, "workers": 1},
    }
    base.update(extra)
    return base


def test_advise_example_prints_a_plan() -> None:
    result = run(["advise", str(EXAMPLES / "reference.yaml")])
    assert result.returncode == 0, result.stderr
    plan = json.loads(result.stdout)
    assert plan["status"] in ("optimal", "feasible")
    assert "Traceback" not in result.stderr


def test_stdin_yaml_and_json() -> None:
    for text in (json.dumps(problem()), yaml.safe_dump(problem())):
        result = run(["advise", "-"], stdin=text)
        assert result.returncode == 0, result.stderr
        assert json.loads(result.stdout)["pods"][0]["containers"] == ["a"]


def test_same_port_in_forced_pod_exits_1_naming_both_and_the_port() -> None:
    data = problem(
        containers=[
            {"name": "web", "ports": [8080], "requests": {"cpu": "100m"}},
            {"name": "proxy", "ports": [8080], "requests": {"cpu": "100m"}},
        ],
        hints=[{"type": "samePod", "containers": ["web", "proxy"]}],
    )
    result = run(["advise", "-"], stdin=json.dumps(data))
    assert result.returncode == 1
    plan = json.loads(result.stdout)
    assert plan["status"] == "infeasible"
    port_conflicts = [c for c in plan["conflicts"] if c["kind"] == "port"]
    assert port_conflicts
    text = json.dumps(port_conflicts)
    assert "web" in text
    assert "proxy" in text
    assert "8080" in text
    assert "8080" in result.stderr


def test_container_larger_than_every_node_exits_1_naming_it_and_largest_node() -> None:
    data = problem(containers=[{"name": "giant", "requests": {"cpu": "16", "memory": "1Gi"}}])
    result = run(["advise", "-"], stdin=json.dumps(data))
    assert result.returncode == 1
    plan = json.loads(result.stdout)
    (conflict,) = plan["conflicts"]
    assert conflict["kind"] == "capacity"
    assert conflict["subjects"] == ["giant", "big"]
    assert "giant" in conflict["message"]
    assert "big" in conflict["message"]


def test_bad_quantity_exits_2_naming_the_field() -> None:
    data = problem(containers=[{"name": "a", "requests": {"cpu": "lots"}}])
    result = run(["advise", "-"], stdin=json.dumps(data))
    assert result.returncode == 2
    assert "containers[0].requests.cpu" in result.stderr
    assert result.stdout == ""
    assert "Traceback" not in result.stderr


def test_unknown_container_in_hint_exits_2_naming_the_field() -> None:
    data = problem(hints=[{"type": "sidecar", "container": "ghost", "main": "a"}])
    result = run(["advise", "-"], stdin=json.dumps(data))
    assert result.returncode == 2
    assert "hints[0].container" in result.stderr
    assert "ghost" in result.stderr


def test_malformed_yaml_exits_2_with_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("containers:\n  - name: a\n   requests: [\n")
    result = run(["advise", str(path)])
    assert result.returncode == 2
    assert "line" in result.stderr
    assert str(path) in result.stderr


def test_missing_file_and_usage_errors_exit_2() -> None:
    assert run(["advise", "/no/such/file.yaml"]).returncode == 2
    assert run(["advise"]).returncode == 2
    assert run(["advise", "-", "--time-limit", "-1"], stdin=json.dumps(problem())).returncode == 2


def test_review_without_layout_exits_2() -> None:
    result = run(["review", "-"], stdin=json.dumps(problem()))
    assert result.returncode == 2
    assert "layout" in result.stderr


def test_review_example() -> None:
    result = run(["review", str(EXAMPLES / "reference-review.yaml")])
    assert result.returncode == 0, result.stderr
    review = json.loads(result.stdout)
    assert set(review) == {"current", "advised", "comparison", "whatIf", "migration"}


def test_schema_is_json_schema_of_the_input() -> None:
    result = run(["schema"])
    assert result.returncode == 0
    schema = json.loads(result.stdout)
    assert "containers" in schema["properties"]
    assert "timeLimitSeconds" in json.dumps(schema)


def test_batch_writes_one_line_per_file_and_worst_exit_code(tmp_path: Path) -> None:
    good = tmp_path / "good.json"
    good.write_text(json.dumps(problem()))
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(problem(containers=[{"name": "a", "requests": {"cpu": "x"}}])))
    result = run(["batch", str(good), str(EXAMPLES / "reference-review.yaml"), str(bad),
                  "--output-dir", str(tmp_path / "out")])
    assert result.returncode == 2
    lines = [json.loads(x) for x in result.stdout.splitlines()]
    assert [x["exitCode"] for x in lines] == [0, 0, 2]
    assert "containers[0].requests.cpu" in lines[2]["error"]
    # names from the path (stem and a hash of it); a review is saved as one
    [plan_file] = (tmp_path / "out").glob("good-*.plan.json")
    plan = json.loads(plan_file.read_text())
    assert plan["status"] in ("optimal", "feasible")
    [review_file] = (tmp_path / "out").glob("reference-review-*.review.json")
    review = json.loads(review_file.read_text())
    assert set(review) == {"current", "advised", "comparison", "whatIf", "migration"}


def test_duplicate_json_keys_and_bad_option_values_exit_2() -> None:
    text = '{"containers": [{"name": "a", "name": "b"}], "nodes": []}'
    result = run(["advise", "-"], stdin=text)
    assert result.returncode == 2
    assert "duplicate key 'name'" in result.stderr
    result = run(["advise", "-", "--seed", "-1"], stdin=json.dumps(problem()))
    assert result.returncode == 2
    assert "--seed" in result.stderr


def test_batch_goes_on_after_an_error_the_core_finds(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    data = problem()
    data["pools"] = [{"name": "general", "allocatable": {"cpu": "4"}, "maxCount": 3000}]
    data["layout"] = {"pods": [{"name": "a", "containers": ["a"]}],
                      "placements": [{"pod": "a", "replica": 0, "node": "general-2500"}]}
    bad.write_text(json.dumps(data))
    good = tmp_path / "good.json"
    good.write_text(json.dumps(problem()))
    result = run(["batch", str(bad), str(good)])
    lines = [json.loads(x) for x in result.stdout.splitlines()]
    assert [x["exitCode"] for x in lines] == [2, 0]
    assert "general-2500" in lines[0]["error"]
    assert result.returncode == 2
