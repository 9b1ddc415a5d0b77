"""The reported objective and bound are non-negative, so that the gap between them means
something even when rewards (traffic kept together, moves avoided) outweigh the costs."""

from __future__ import annotations

from typing import Any

from advisor.review import review
from advisor.solve import advise
from models import parse_problem
from tests.validator import validate


def _chatty(pairs: int, weight: float) -> dict[str, Any]:
    containers, hints = [], []
    for i in range(pairs):
        a, b = f"front-{i}", f"back-{i}"
        containers += [{"name": a, "requests": {"cpu": "200m", "memory": "256Mi"}},
                       {"name": b, "requests": {"cpu": "200m", "memory": "256Mi"}}]
        hints.append({"type": "traffic", "containers": [a, b], "weight": weight})
    return {"containers": containers, "hints": hints,
            "nodes": [{"name": f"node-{j}", "allocatable": {"cpu": "4", "memory": "16Gi"}}
                      for j in range(3)],
            "policy": {"timeLimitSeconds": 5, "workers": 2}}


def test_rewards_larger_than_costs_still_give_a_non_negative_objective_and_bound() -> None:
    data = _chatty(6, 100.0)  # traffic rewards far above the cost of the nodes
    plan = advise(parse_problem(data)).to_wire()
    solver = plan["solver"]
    assert sum(v for v in solver["terms"].values() if v < 0) < -solver["objective"] / 2
    assert solver["objective"] >= 0
    assert 0 <= solver["bound"] <= solver["objective"]
    assert 0 <= solver["gap"] <= 1
    if plan["status"] == "optimal":
        assert solver["gap"] == 0
    assert validate(parse_problem(data), plan) == []


def test_a_review_with_moves_rewarded_reports_a_gap_below_one() -> None:
    data = _chatty(8, 5.0)
    data["layout"] = {"pods": [{"name": c["name"], "containers": [c["name"]], "replicas": 1}
                               for c in data["containers"]]}
    advised = review(parse_problem(data)).to_wire()["advised"]
    solver = advised["solver"]
    assert solver["objective"] >= 0
    assert solver["bound"] >= 0
    assert solver["gap"] <= 1
    assert validate(parse_problem(data), advised) == []
