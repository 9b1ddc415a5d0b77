"""The fixed-node-count local search (advisor/cns.py) and the lower bounds (advisor/bounds.py).

Plans are checked by an independent recount here (replicas per pod, requests per node,
one replica per node under spreading), not by the packing code's own bookkeeping.
"""

from __future__ import annotations

import random
import time

import pytest

from advisor import cns
from advisor.bounds import dff_bound, lower_bound, nodes_lower_bound
from advisor.greedy import Assignment
from advisor.packing import pack, pure_packing, unit_order
from advisor.prepare import Instance, prepare
from bench import data
from models import parse_problem

needs_data = pytest.mark.skipif(not data.DATA_DIR.is_dir(), reason="no ../shared/bench-data")


def pool_problem(items: list[tuple[int, int, int]], cpu: int, memory: int,
                 spread: str = "none") -> dict[str, object]:
    """(cpu millicores, memory MiB, replicas) per container, on one pool of identical
    nodes; no hint and nothing critical: plain vector packing."""
    containers = [{"name": f"c{i}", "critical": False, "replicas": n,
                   "requests": {"cpu": f"{c}m", "memory": f"{m}Mi"}}
                  for i, (c, m, n) in enumerate(items)]
    return {"containers": containers,
            "pools": [{"name": "p", "maxCount": 60,
                       "allocatable": {"cpu": f"{cpu}m", "memory": f"{memory}Mi"}}],
            "policy": {"timeLimitSeconds": 5, "workers": 1, "spread": spread}}


def first_fit(inst: Instance) -> Assignment:
    """First fit decreasing onto the pool's nodes, in order (packing's `pack`, deterministic)."""
    nodes = sorted((c.index for c in inst.candidates),
                   key=lambda k: inst.candidates[k].pool_rank)
    return pack(inst, nodes, unit_order(inst, "sum"), "room")


def recount(inst: Instance, plan: Assignment) -> int:
    """Nodes used, after checking the plan without the packing code: every replica placed
    once, on a node of the pool, within every resource; at most one replica of a pod per
    node under spreading."""
    assert not any(plan.unplaced.values())
    load: dict[int, list[int]] = {}
    for u, unit in enumerate(inst.units):
        assert sum(plan.counts[u].values()) == unit.replicas, unit.name
        for k, n in plan.counts[u].items():
            assert 0 <= k < len(inst.candidates)
            assert n > 0
            if inst.spread.value != "none":
                assert n == 1, f"{unit.name}: {n} replicas on one node"
            row = load.setdefault(k, [0] * len(inst.resources))
            for r, d in enumerate(unit.demand):
                row[r] += n * d
    for k, row in load.items():
        cap = inst.candidates[k].capacity
        assert all(x <= c for x, c in zip(row, cap, strict=True)), (k, row, cap)
    return len(load)


# One resource binds: 5+5 | 4+4 | 3+3+3 | 3 by first fit decreasing, 5+5 | 4+3+3 | 4+3+3 at
# best (each node 10 cpu, memory never binds).
OFF_BY_ONE = [(5000, 100, 2), (4000, 100, 2), (3000, 100, 4)]


def test_first_fit_is_off_by_one_and_the_search_closes_it() -> None:
    inst = prepare(parse_problem(pool_problem(OFF_BY_ONE, 10_000, 4096)))
    assert pure_packing(inst)
    start = first_fit(inst)
    assert recount(inst, start) == 4
    assert nodes_lower_bound(inst) == 3
    better = cns.improve(inst, start, time.monotonic() + 5.0)
    assert better is not None
    assert recount(inst, better) == 3


def test_spreading_holds_in_every_move() -> None:
    # Under node spreading first fit decreasing opens 5 nodes where 4 do.
    items = [(4000, 100, 2), (3000, 100, 3), (6000, 100, 2), (4000, 100, 1), (3000, 100, 1)]
    inst = prepare(parse_problem(pool_problem(items, 10_000, 4096, spread="node")))
    assert pure_packing(inst)
    start = first_fit(inst)
    assert recount(inst, start) == 5
    assert nodes_lower_bound(inst) == 4
    better = cns.improve(inst, start, time.monotonic() + 5.0)
    assert better is not None
    assert recount(inst, better) == 4


def random_items(seed: int, n: int) -> list[tuple[int, int, int]]:
    """Two-resource replicas between a tenth and 40 % of a node (Caprara and Toth's class 1
    shapes), one replica each."""
    rng = random.Random(seed)
    return [(rng.randint(100, 400), rng.randint(100, 400), 1) for _ in range(n)]


def test_same_seed_same_plan() -> None:
    inst = prepare(parse_problem(pool_problem(random_items(3, 40), 1000, 1000)))
    start = first_fit(inst)
    runs = [cns.improve(inst, start, time.monotonic() + 20.0, seed=7) for _ in range(2)]
    assert runs[0] is not None
    assert runs[1] is not None
    assert runs[0].counts == runs[1].counts
    assert recount(inst, runs[0]) < recount(inst, start)


def test_returns_by_the_deadline() -> None:
    inst = prepare(parse_problem(pool_problem(random_items(11, 120), 1000, 1000)))
    start = first_fit(inst)
    began = time.monotonic()
    plan = cns.improve(inst, start, began + 0.5)
    assert time.monotonic() <= began + 0.6
    if plan is not None:
        assert recount(inst, plan) < recount(inst, start)


def test_nothing_to_do_at_the_lower_bound() -> None:
    inst = prepare(parse_problem(pool_problem(OFF_BY_ONE, 10_000, 4096)))
    found = cns.improve(inst, first_fit(inst), time.monotonic() + 5.0)
    assert found is not None
    began = time.monotonic()
    assert cns.improve(inst, found, began + 5.0) is None
    assert time.monotonic() - began < 1.0


def test_not_applicable_outside_plain_packing() -> None:
    problem = pool_problem(OFF_BY_ONE, 10_000, 4096)
    problem["hints"] = [{"type": "separateNodes", "containers": ["c0", "c1"]}]
    inst = prepare(parse_problem(problem))
    assert not pure_packing(inst)
    assert cns.improve(inst, first_fit(inst), time.monotonic() + 1.0) is None


# --- lower bounds ------------------------------------------------------------------------


def test_dff_counts_items_over_a_third_as_halves() -> None:
    # Nine replicas of 34 % of a node: volume says 4, two per node means 5.
    inst = prepare(parse_problem(pool_problem([(340, 10, 9)], 1000, 1000)))
    assert dff_bound(inst) == (5, "dff-cpu")
    assert lower_bound(inst) == (5, "dff-cpu")


def test_dff_on_a_surrogate_of_two_resources() -> None:
    # cpu a, memory 120-a, both 45-75 of 150: any two fit, no three do (their shares of
    # both resources add up to 2.4 nodes), though one resource alone often takes three:
    # only the mean of both tells.
    rng = random.Random(5)
    items = [(a, 120 - a, 1) for a in (rng.randint(45, 75) for _ in range(20))]
    inst = prepare(parse_problem(pool_problem(items, 150, 150)))
    value, name = lower_bound(inst)
    assert (value, name) == (10, "dff-cpu+memory")


@needs_data
@pytest.mark.parametrize(("name", "decided"), [("class2_40_3_0", "conflict"),
                                               ("class6_20_3_0", "dff-cpu"),
                                               ("class8_40_3_0", "dff-cpu+memory"),
                                               ("class9_120_3_0", "dff-example.com/r3")])
def test_bounds_stay_at_or_below_the_published_optimum(name: str, decided: str) -> None:
    # Each of these rose above the volume and size-order clique bounds (the whole set is
    # checked by the vbp bench).
    (instance,) = data.vbp_instances(10.0, name)
    inst = prepare(parse_problem(instance.data))
    value, by = lower_bound(inst)
    assert instance.opt is not None
    assert instance.lower_bound is not None
    assert instance.lower_bound <= value <= instance.opt
    assert by == decided


# --- the bench's generated spread and the search's report ------------------------------------


def test_generated_panigrahy_classes_follow_the_published_rules() -> None:
    found = data.generated_vbp_instances(10.0)
    assert len(found) == 9 * 2 * 2
    again = data.generated_vbp_instances(10.0, "gen-class7_*")
    assert [i.data for i in again] == [i.data for i in found if i.name.startswith("gen-class7_")]
    for inst in found:
        problem = parse_problem(inst.data)
        cls = int(inst.name.removeprefix("gen-class").split("_")[0])
        n = int(inst.name.split("_")[1])
        assert inst.replicas == (n + 1 if cls == 9 else n)
        assert sum(c.replicas or 0 for c in problem.containers) == inst.replicas
        cap = 1000 if cls <= 5 else 150 if cls <= 8 else 100
        assert int(problem.pools[0].allocatable["memory"]) == cap
        if cls in data.PANIGRAHY_UNIFORM:
            _, lo, hi = data.PANIGRAHY_UNIFORM[cls]
            assert all(lo <= int(c.requests["memory"]) <= hi for c in problem.containers)


def test_cns_report_counts_optima_and_breaks() -> None:
    from bench.scale import CnsRow, cns_summary, cns_table  # noqa: PLC0415

    def row(name: str, first: int, nodes: int, opt: int, best: int, lower: int,
            broken: bool = False) -> CnsRow:
        return CnsRow(instance=name, replicas=20, time_limit=10.0, opt=opt, best_overall=best,
                      paper_lb=lower, ffd=first + 1, first_nodes=first, nodes=nodes,
                      lower_bound=lower, bound_name="volume-cpu", size_order_bound=lower - 1,
                      first_seconds=0.5, wall=9.8,
                      violations=["node n1 over cpu"] if broken else [])

    rows = [row("a", 12, 11, 11, 12, 11), row("b", 10, 10, 9, 9, 9),
            row("c", 5, 5, 5, 5, 5, broken=True)]
    table = cns_table(rows)
    assert "| a | 20 | 13 | 12 | **11** |" in table
    assert "INVALID (1)" in table
    summary = "\n".join(cns_summary(rows))
    assert "at OPT: 1 of 3" in summary
    assert "above best_overall: 2; b 10 > 9; c invalid plan" in summary
    assert "c: node n1 over cpu" in summary
