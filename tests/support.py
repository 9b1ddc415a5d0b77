"""Builders for small problems, and one call that solves and validates them."""

from __future__ import annotations

import random
from typing import Any

from advisor import advise
from models import Problem, parse_problem
from tests.validator import validate

# Deterministic and fast: one CP-SAT worker, a fixed seed.
POLICY: dict[str, Any] = {"timeLimitSeconds": 5, "workers": 1, "seed": 0}
PLACED = ("optimal", "feasible", "heuristic")


def container(name: str, cpu: str = "100m", memory: str = "128Mi", **extra: Any
              ) -> dict[str, Any]:
    return {"name": name, "requests": {"cpu": cpu, "memory": memory}, **extra}


def node(name: str, cpu: str = "4", memory: str = "8Gi", **extra: Any) -> dict[str, Any]:
    allocatable: dict[str, Any] = {"cpu": cpu, "memory": memory, **extra.pop("allocatable", {})}
    return {"name": name, "allocatable": allocatable, **extra}


def problem(containers: list[dict[str, Any]], nodes: list[dict[str, Any]] | None = None,
            hints: list[dict[str, Any]] | None = None, pools: list[dict[str, Any]] | None = None,
            **policy: Any) -> dict[str, Any]:
    data: dict[str, Any] = {"containers": containers, "policy": {**POLICY, **policy}}
    if nodes:
        data["nodes"] = nodes
    if hints:
        data["hints"] = hints
    if pools:
        data["pools"] = pools
    return data


def solve(data: dict[str, Any]) -> tuple[Problem, dict[str, Any]]:
    parsed = parse_problem(data)
    return parsed, advise(parsed).to_wire()


def assert_valid_plan(data: dict[str, Any]) -> dict[str, Any]:
    """Solve a feasible problem: every replica placed and the oracle finds nothing wrong."""
    parsed, plan = solve(data)
    assert plan["status"] in PLACED, plan["conflicts"]
    assert plan["unplaced"] == []
    assert validate(parsed, plan) == []
    return plan


def assert_infeasible(data: dict[str, Any], *names: str, kind: str | None = None
                      ) -> dict[str, Any]:
    """Solve an infeasible problem: status infeasible, with conflicts that name `names`."""
    _, plan = solve(data)
    assert plan["status"] == "infeasible", plan
    assert plan["conflicts"], plan
    if kind is not None:
        assert [c for c in plan["conflicts"] if c["kind"] == kind], plan["conflicts"]
    for name in names:
        assert any(name in " ".join(c["subjects"]) or name in c["message"]
                   for c in plan["conflicts"]), (name, plan["conflicts"])
    return plan


def hard_problem() -> dict[str, Any]:
    """Heterogeneous nodes and many shapes: CP-SAT does not close the gap in seconds."""
    rng = random.Random(1)
    containers: list[dict[str, Any]] = [
        {"name": f"s{i}", "ports": [8080], "replicas": rng.randint(1, 4),
         "requests": {"cpu": f"{rng.randint(100, 1500)}m", "memory": f"{rng.randint(128, 3000)}Mi"}}
        for i in range(200)
    ]
    sizes = [rng.choice([8, 12, 16]) for _ in range(50)]
    nodes = [{"name": f"n{i}", "allocatable": {"cpu": str(c), "memory": f"{c * 4}Gi"},
              "zone": f"z{i % 3}"} for i, c in enumerate(sizes)]
    nodes += [{"name": f"m{i}", "allocatable": {"cpu": "6", "memory": "20Gi"}, "zone": f"z{i % 3}"}
              for i in range(25)]
    return {"containers": containers, "nodes": nodes, "policy": {"timeLimitSeconds": 60}}
