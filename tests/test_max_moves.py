"""The move budget (policy.maxMoves): the advised plan moves at most that many replicas off
their current node, as the migration counts them, and a larger budget never advises worse.

Plans are checked by the independent validator, migrations replayed step by step."""

from __future__ import annotations

import copy
import itertools
import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from advisor.cli import app
from advisor.review import review
from models import Review, parse_problem
from tests.api_support import serve
from tests.conftest import load_example
from tests.validator import validate, validate_migration

ROOT = Path(__file__).resolve().parents[1]
BOUTIQUE = (ROOT.parent / "shared" / "bench-data" / "manifests" / "online-boutique"
            / "kubernetes-manifests.yaml")
BUDGETS = (0, 2, 5, None)


def _reference() -> dict[str, Any]:
    return load_example("reference-review.yaml")


def _boutique() -> dict[str, Any]:
    """Online Boutique as `podlayout import k8s` makes it, every service at 2 replicas, both
    replicas of each running on one node today (nodes taken in turn)."""
    if not BOUTIQUE.is_file():
        pytest.skip(f"bench manifests not available: {BOUTIQUE}")
    out = CliRunner().invoke(app, ["import", "k8s", str(BOUTIQUE), "--nodes",
                                   str(ROOT / "examples" / "nodes.json"), "--format", "json"])
    assert out.exit_code == 0, out.output
    data: dict[str, Any] = json.loads(out.stdout)
    for c in data["containers"]:
        c["replicas"] = 2
    nodes = [n["name"] for n in data["nodes"]]
    for pod in data["layout"]["pods"]:
        pod["replicas"] = 2
    data["layout"]["placements"] = [
        {"pod": pod["name"], "replica": r, "node": nodes[i % len(nodes)]}
        for i, pod in enumerate(data["layout"]["pods"]) for r in range(2)]
    return data


def _reviewed(data: dict[str, Any], budget: int | None) -> tuple[dict[str, Any], Review]:
    data = copy.deepcopy(data)
    policy = data.setdefault("policy", {})
    policy.update({"timeLimitSeconds": 3, "workers": 2, "seed": 0})
    if budget is not None:
        policy["maxMoves"] = budget
    return data, review(parse_problem(data))


@pytest.mark.parametrize("make", [_reference, _boutique], ids=["reference", "boutique"])
def test_budget_holds_and_more_moves_never_advise_worse(make: Any) -> None:
    base = make()
    results = []
    for budget in BUDGETS:
        data, result = _reviewed(base, budget)
        problem = parse_problem(data)
        advised = result.advised.to_wire()
        assert validate(problem, advised) == [], budget
        assert result.migration is not None
        assert budget is None or result.migration.moves <= budget, (budget, result.migration)
        assert validate_migration(problem, result.current.to_wire(), advised,
                                  result.migration.to_wire()) == [], budget
        results.append((budget, result))
    # Each plan keeps every larger budget: a proven optimum there is at least as good.
    for (_, smaller), (budget, larger) in itertools.pairwise(results):
        assert smaller.advised.solver.objective is not None
        assert larger.advised.solver.objective is not None
        if larger.advised.status == "optimal":
            assert larger.advised.solver.objective <= smaller.advised.solver.objective, budget
    # Today's layouts are worth changing: some budget advises a better plan than none.
    objectives = [r.advised.solver.objective or 0.0 for _, r in results]
    assert objectives[-1] < objectives[0]


def test_zero_moves_keeps_today_and_schedules_what_is_missing() -> None:
    data, result = _reviewed(_reference(), 0)
    assert result.migration is not None
    assert result.migration.moves == 0
    # Today's monolith runs one replica of the two asked for: one is created, none moves.
    assert [s.action for s in result.migration.steps].count("create") == 1
    assert [p.containers for p in result.advised.pods] == [
        p.containers for p in result.current.pods]
    assert validate(parse_problem(data), result.advised.to_wire()) == []


def test_budget_kept_without_time_for_the_search() -> None:
    """The greedy plan knows no budget: without time for CP-SAT, today's layout stays."""
    data = copy.deepcopy(_boutique())
    data["policy"] = {"timeLimitSeconds": 0.01, "workers": 1, "maxMoves": 1}
    result = review(parse_problem(data))
    assert result.migration is not None
    assert result.migration.moves <= 1
    assert validate(parse_problem(data), result.advised.to_wire()) == []


def test_budget_without_a_layout_is_named(tmp_path: Path) -> None:
    data = load_example("reference.yaml")
    path = tmp_path / "p.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    out = CliRunner().invoke(app, ["advise", str(path), "--max-moves", "2", "-f", "json"])
    assert out.exit_code == 2
    assert "policy.maxMoves" in out.output


def test_negative_budget_is_an_option_error(tmp_path: Path) -> None:
    path = tmp_path / "p.json"
    path.write_text(json.dumps(_reference()), encoding="utf-8")
    out = CliRunner().invoke(app, ["review", str(path), "--max-moves", "-1", "-f", "json"])
    assert out.exit_code == 2
    assert "--max-moves" in out.output


def test_cli_review_with_a_budget(tmp_path: Path) -> None:
    path = tmp_path / "p.json"
    path.write_text(json.dumps(_boutique()), encoding="utf-8")
    out = CliRunner().invoke(app, ["review", str(path), "--max-moves", "2", "-t", "2",
                                   "--workers", "2", "-f", "json"])
    assert out.exit_code == 0, out.output
    assert json.loads(out.stdout)["migration"]["moves"] <= 2


def test_api_names_a_move_budget_without_a_layout(tmp_path: Path) -> None:
    data = load_example("reference.yaml")
    data["policy"]["maxMoves"] = 1
    with serve(tmp_path) as client:
        response = client.post("/v1/advise", json=data)
    assert response.status_code == 422, response.text
    assert "policy.maxMoves" in response.text


def test_a_budget_today_cannot_keep_is_said() -> None:
    """Today's layout overcommits a node: no valid plan keeps a budget of 0, and the answer
    (a valid plan) says that it moves more."""
    data = {
        "containers": [{"name": n, "requests": {"cpu": "1500m", "memory": "1Gi"}}
                       for n in ("a", "b")],
        "nodes": [{"name": n, "allocatable": {"cpu": "2", "memory": "8Gi"}}
                  for n in ("n1", "n2")],
        "policy": {"timeLimitSeconds": 2, "workers": 1, "maxMoves": 0},
        "layout": {"pods": [{"name": "a", "containers": ["a"]},
                            {"name": "b", "containers": ["b"]}],
                   "placements": [{"pod": "a", "replica": 0, "node": "n1"},
                                  {"pod": "b", "replica": 0, "node": "n1"}]},
    }
    result = review(parse_problem(data))
    assert validate(parse_problem(data), result.advised.to_wire()) == []
    assert "policy.maxMoves" in result.advised.solver.message
