"""The greedy portfolio: every variant gives a valid plan; the portfolio keeps the best."""

from __future__ import annotations

import random

import pytest

from advisor.bounds import conflict_bound, nodes_lower_bound
from advisor.greedy import VARIANTS, greedy, greedy_variant
from advisor.layout import view_from_assignment
from advisor.prepare import prepare
from advisor.solve import build_plan
from models import SolverInfo, parse_problem
from tests.validator import validate


def vector_problem(seed: int) -> dict[str, object]:
    rng = random.Random(seed)
    return {
        "containers": [
            {"name": f"i{i}", "critical": False, "replicas": rng.randint(1, 3),
             "requests": {"cpu": f"{rng.randint(50, 600)}m", "memory": str(rng.randint(50, 600)),
                          "example.com/r3": str(rng.randint(50, 600))}}
            for i in range(30)
        ],
        "pools": [{"name": "bins", "maxCount": 100,
                   "allocatable": {"cpu": "1", "memory": "1000", "example.com/r3": "1000"}}],
        "policy": {"objective": "minWaste", "timeLimitSeconds": 5, "workers": 1},
    }


@pytest.mark.parametrize("seed", range(5))
def test_portfolio_is_valid_and_no_worse_than_any_variant(seed: int) -> None:
    problem = parse_problem(vector_problem(seed))
    inst = prepare(problem)
    chosen = greedy(inst)
    assert chosen.complete
    for measure, fit in VARIANTS:
        variant = greedy_variant(inst, measure, fit)
        plan = build_plan(inst, view_from_assignment(inst, variant, "none"), "heuristic")
        plan.solver = SolverInfo(nodes_used=len(variant.used_nodes()),
                                 nodes_lower_bound=nodes_lower_bound(inst))
        assert validate(problem, plan.to_wire()) == []
        assert len(chosen.used_nodes()) <= len(variant.used_nodes())


def test_replicas_over_half_a_node_need_a_node_each() -> None:
    big = [{"name": f"b{i}", "critical": False, "requests": {"cpu": "600m"}} for i in range(5)]
    small = [{"name": f"s{i}", "critical": False, "requests": {"cpu": "100m"}} for i in range(5)]
    data = {"containers": big + small,
            "pools": [{"name": "p", "allocatable": {"cpu": "1"}, "maxCount": 10}],
            "policy": {"timeLimitSeconds": 5, "workers": 1}}
    inst = prepare(parse_problem(data))
    assert conflict_bound(inst) == 5  # cpu alone says 4 (3.5 cores over 1-core nodes)
    assert nodes_lower_bound(inst) == 5
