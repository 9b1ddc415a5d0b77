"""The symmetry cut on identical pool nodes keeps every optimum, and the hint keeps the cut."""

from __future__ import annotations

import random
from typing import Any

import pytest

from advisor.greedy import greedy
from advisor.model import WEIGHTS, LayoutModel
from advisor.prepare import prepare
from advisor.solve import allowed_candidates
from models import parse_problem


def pool_problem(seed: int) -> dict[str, Any]:
    rng = random.Random(seed)
    containers: list[dict[str, Any]] = [
        {"name": f"c{i}", "replicas": rng.randint(1, 3), "critical": rng.random() < 0.3,
         "requests": {"cpu": f"{rng.choice([250, 500, 700, 1000, 1500, 2500])}m",
                      "memory": f"{rng.choice([256, 512, 1024, 3000])}Mi"}}
        for i in range(rng.randint(3, 7))
    ]
    hints: list[dict[str, Any]] = []
    if rng.random() < 0.5:
        hints.append({"type": "traffic", "containers": ["c0", "c1"], "weight": 5})
    zones = rng.choice([[], ["za"], ["za", "zb"]])
    return {
        "containers": containers, "hints": hints,
        "nodes": [{"name": "fixed-1", "allocatable": {"cpu": "2", "memory": "4Gi"}}]
        if rng.random() < 0.5 else [],
        "pools": [{"name": "p", "allocatable": {"cpu": "4", "memory": "8Gi"}, "zones": zones,
                   "maxCount": 12}],
        "policy": {"spread": rng.choice(["none", "node"]),
                   "objective": rng.choice(["balanced", "minWaste"]),
                   "timeLimitSeconds": 20, "workers": 1},
    }


def optimum(data: dict[str, Any], cuts: bool) -> tuple[str, float]:
    inst = prepare(parse_problem(data))
    first = greedy(inst)
    w = WEIGHTS[inst.problem.policy.objective]
    model = LayoutModel(inst, allowed_candidates(inst, w, None), w, hint=first,
                        symmetry_cuts=cuts)
    result = model.solve(time_limit=20, workers=1, seed=0)
    assert result.objective is not None
    return result.status, result.objective


@pytest.mark.parametrize("seed", range(12))
def test_the_cut_keeps_the_optimum(seed: int) -> None:
    data = pool_problem(seed)
    with_cut, without = optimum(data, True), optimum(data, False)
    assert with_cut[0] == without[0] == "OPTIMAL"
    assert with_cut[1] == without[1]


@pytest.mark.parametrize("seed", range(12))
def test_the_relabelled_hint_keeps_the_cut_and_its_price(seed: int) -> None:
    inst = prepare(parse_problem(pool_problem(seed)))
    first = greedy(inst)
    w = WEIGHTS[inst.problem.policy.objective]
    allowed = allowed_candidates(inst, w, None)
    cut = LayoutModel(inst, allowed, w, hint=first)
    plain = LayoutModel(inst, allowed, w, hint=first, symmetry_cuts=False)
    assert cut.hint is not None
    assert cut.last_bin  # the cut is there to keep: the largest units get the first nodes
    for u, per_node in enumerate(cut.hint.counts):
        assert not [k for k, n in per_node.items() if n and cut.last_bin.get((u, k))]
    assert cut.hinted_objective() == plain.hinted_objective()
    assert sorted(sum(c.values()) for c in cut.hint.counts) == \
        sorted(sum(c.values()) for c in first.counts)
