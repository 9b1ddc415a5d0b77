"""The vectorised packer: every variant's plan is valid, and on an elastic pool it packs
into fewer nodes than first fit where balancing pays (node spreading, mixed shapes)."""

from __future__ import annotations

import random

import pytest

from advisor.bounds import nodes_lower_bound
from advisor.greedy import Assignment, greedy
from advisor.layout import view_from_assignment
from advisor.packing import (
    VARIANTS,
    applies,
    best_packing,
    drain,
    initial_plan,
    pack,
    unit_order,
)
from advisor.prepare import Instance, prepare
from advisor.solve import advise, build_plan
from models import Problem, SolverInfo, parse_problem
from tests.validator import validate


def _check(problem: Problem, inst: Instance, chosen: Assignment) -> None:
    plan = build_plan(inst, view_from_assignment(inst, chosen, "none"), "heuristic")
    plan.solver = SolverInfo(nodes_used=len(chosen.used_nodes()),
                             nodes_lower_bound=nodes_lower_bound(inst))
    assert validate(problem, plan.to_wire()) == []


def mixed_problem(seed: int, spread: str = "node") -> dict[str, object]:
    """cpu-heavy and memory-heavy services on one pool, several replicas each."""
    rng = random.Random(seed)
    containers = []
    for i in range(24):
        if i % 2:
            cpu, mem = rng.randint(1500, 3500), rng.randint(256, 2048)
        else:
            cpu, mem = rng.randint(100, 600), rng.randint(6144, 14336)
        containers.append({"name": f"s{i}", "critical": False, "replicas": rng.randint(2, 8),
                           "requests": {"cpu": f"{cpu}m", "memory": f"{mem}Mi"}})
    return {"containers": containers,
            "pools": [{"name": "p", "maxCount": 200,
                       "allocatable": {"cpu": "16", "memory": "64Gi"}}],
            "policy": {"timeLimitSeconds": 5, "workers": 1, "spread": spread}}


def fixed_problem(seed: int) -> dict[str, object]:
    """A fixed inventory where some nodes have a GPU, some pods ask for one, some nodes are
    tainted or labelled and some containers tolerate or select them."""
    rng = random.Random(seed)
    nodes = []
    for i in range(12):
        alloc = {"cpu": str(rng.choice([4, 8, 16])), "memory": f"{rng.choice([16, 32])}Gi"}
        node: dict[str, object] = {"name": f"n{i}", "allocatable": alloc,
                                   "labels": {"disk": "ssd" if i % 3 == 0 else "hdd"}}
        if i % 4 == 0:
            alloc["nvidia.com/gpu"] = "2"
        if i == 5:
            node["taints"] = [{"key": "dedicated", "value": "batch", "effect": "NoSchedule"}]
        nodes.append(node)
    containers: list[dict[str, object]] = []
    for i in range(20):
        c: dict[str, object] = {
            "name": f"c{i}", "replicas": rng.randint(1, 4), "critical": i % 5 == 0,
            "requests": {"cpu": f"{rng.randint(100, 2500)}m",
                         "memory": f"{rng.randint(128, 6000)}Mi"}}
        if i % 7 == 0:
            c["requests"]["nvidia.com/gpu"] = "1"  # type: ignore[index]
        if i % 6 == 0:
            c["nodeSelector"] = {"disk": "ssd"}
        if i == 3:
            c["tolerations"] = [{"key": "dedicated", "operator": "Exists"}]
        containers.append(c)
    return {"containers": containers, "nodes": nodes,
            "policy": {"timeLimitSeconds": 5, "workers": 1,
                       "spread": rng.choice(["none", "node"])}}


@pytest.mark.parametrize("seed", range(6))
def test_every_variant_gives_a_valid_plan_on_a_fixed_inventory(seed: int) -> None:
    problem = parse_problem(fixed_problem(seed))
    inst = prepare(problem)
    assert applies(inst)
    nodes = [c.index for c in inst.candidates]
    for order, fit in VARIANTS:
        for prefer_used in (True, False):
            chosen = pack(inst, nodes, unit_order(inst, order), fit, prefer_used=prefer_used)
            _check(problem, inst, chosen)


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("spread", ["node", "none"])
def test_pool_packing_is_valid_and_no_worse_than_the_greedy(seed: int, spread: str) -> None:
    problem = parse_problem(mixed_problem(seed, spread))
    inst = prepare(problem)
    lower = nodes_lower_bound(inst)
    packed = best_packing(inst, lower, 5.0)
    assert packed is not None
    assert packed.complete
    _check(problem, inst, packed)
    assert lower <= len(packed.used_nodes()) <= len(greedy(inst).used_nodes())
    chosen = initial_plan(inst, lower, 5.0)
    assert len(chosen.used_nodes()) <= len(packed.used_nodes())
    _check(problem, inst, chosen)


def test_balancing_beats_first_fit_on_node_spreading() -> None:
    """With spreading, first fit opens a node per replica of the first big services; packing
    into K open nodes with dot-product fit pairs cpu-heavy with memory-heavy pods."""
    data = mixed_problem(0, "node")
    problem = parse_problem(data)
    inst = prepare(problem)
    lower = nodes_lower_bound(inst)
    packed = best_packing(inst, lower, 5.0)
    assert packed is not None
    first = pack(inst, [c.index for c in inst.candidates], unit_order(inst, "max"), "room")
    assert len(packed.used_nodes()) < len(first.used_nodes())
    assert len(packed.used_nodes()) <= lower + 1


def test_hints_that_need_the_python_greedy_are_left_to_it() -> None:
    data = mixed_problem(1, "none")
    data["hints"] = [{"type": "sameNode", "containers": ["s0", "s1"]}]
    inst = prepare(parse_problem(data))
    assert not applies(inst)
    assert best_packing(inst, nodes_lower_bound(inst), 1.0) is None


def test_advise_uses_the_packing_and_stays_valid() -> None:
    problem = parse_problem(mixed_problem(2, "node"))
    plan = advise(problem)
    assert validate(problem, plan.to_wire()) == []
    assert plan.solver.nodes_used is not None
    assert plan.solver.nodes_used <= nodes_lower_bound(prepare(problem)) + 1


@pytest.mark.parametrize("seed", range(4))
def test_drain_frees_nodes_and_keeps_the_plan_valid(seed: int) -> None:
    """Spreading over a fixed inventory leaves nodes half empty; draining the least loaded
    ones places the same replicas on fewer nodes without breaking a rule."""
    problem = parse_problem(fixed_problem(seed))
    inst = prepare(problem)
    spread = pack(inst, [c.index for c in inst.candidates], unit_order(inst, "sum"), "worst",
                  prefer_used=False)
    drained = drain(inst, spread, 5.0)
    _check(problem, inst, drained)
    assert drained.unplaced == spread.unplaced
    placed = [sum(per.values()) for per in drained.counts]
    assert placed == [sum(per.values()) for per in spread.counts]
    if spread.complete:  # room to spare: some node empties
        assert len(drained.used_nodes()) < len(spread.used_nodes())
    else:  # a full inventory may have no node to empty
        assert len(drained.used_nodes()) <= len(spread.used_nodes())
