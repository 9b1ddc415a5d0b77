"""The solve strategies, each on a small case, and the time limit kept on a mid-size one."""

from __future__ import annotations

import threading
from dataclasses import FrozenInstanceError
from typing import Any

import pytest

from advisor.bounds import nodes_lower_bound
from advisor.budget import Budget, Shares
from advisor.job import Job, Outcome, allowed_candidates
from advisor.model import LayoutModel
from advisor.packing import initial_plan, pack, unit_order
from advisor.packing_search import PackingBeside, plain_objective
from advisor.prepare import prepare
from advisor.solve import SolveControl, advise, finish
from advisor.strategies import (
    at_lower_bound,
    conflicts,
    exact,
    heuristic_only,
    incomplete,
    partial,
    price,
    strict_attempt,
)
from bench.data import generated_vbp_instances, synthetic_problem
from models import Plan, parse_problem
from tests.support import container, node, problem
from tests.validator import validate


def job_for(data: dict[str, Any], budget: Budget | None = None,
            control: SolveControl | None = None) -> Job:
    inst = prepare(parse_problem(data))
    assert not inst.conflicts, inst.conflicts
    lower = nodes_lower_bound(inst)
    first = initial_plan(inst, lower, 1.0)
    return Job.start(inst, control or SolveControl(), budget or Budget.for_instance(inst),
                     first, lower)


def wire(job: Job, outcome: Outcome) -> Plan:
    return finish(job.inst, SolveControl(), job.budget, job.lower, outcome)


def packing_problem(items: int = 12, limit: float = 2.0) -> dict[str, Any]:
    """Plain vector packing: one pool of identical nodes, nothing critical."""
    sizes = [(300 + 137 * i % 900, 256 + 331 * i % 1500) for i in range(items)]
    containers = [container(f"c{i}", cpu=f"{cpu}m", memory=f"{mem}Mi", critical=False)
                  for i, (cpu, mem) in enumerate(sizes)]
    pools = [{"name": "bin", "allocatable": {"cpu": "2", "memory": "4Gi"}, "maxCount": items}]
    return problem(containers, pools=pools, objective="minWaste", timeLimitSeconds=limit)


def test_exact_is_optimal_on_a_small_problem() -> None:
    data = problem([container("web", replicas=2), container("api", replicas=2), container("db")],
                   [node("n1"), node("n2"), node("n3")])
    job = job_for(data)
    outcome = exact(job, price(job))
    assert outcome.status == "optimal"
    assert outcome.assignment is not None
    assert outcome.assignment.complete
    assert outcome.objective == outcome.bound
    assert set(outcome.terms) >= {"node_cost", "spof_one_node"}
    assert validate(job.inst.problem, wire(job, outcome).to_wire()) == []


def test_an_outcome_cannot_change() -> None:
    outcome = Outcome(None, "infeasible", terms={"node_cost": 3})
    with pytest.raises(FrozenInstanceError):
        outcome.status = "optimal"  # type: ignore[misc]
    with pytest.raises(TypeError):
        outcome.terms["node_cost"] = 4  # type: ignore[index]


def test_partial_leaves_a_replica_out_and_proves_it() -> None:
    # Three replicas of 3 cpu on two nodes of 4 cpu: one cannot be placed.
    data = problem([container("big", cpu="3", replicas=3)], [node("n1"), node("n2")])
    job = job_for(data)
    assert not job.first.complete
    allowed = allowed_candidates(job.inst, job.weights, None)
    strict = strict_attempt(job, allowed)
    assert strict is not None
    assert strict.status == "INFEASIBLE"
    outcome = partial(job, allowed, strict)
    assert outcome.status == "infeasible"
    assert outcome.assignment is not None
    assert sum(outcome.assignment.unplaced.values()) == 1
    (conflict,) = outcome.conflicts
    assert conflict.kind == "capacity"
    assert conflict.subjects == ["big"]
    # The whole choice for a first plan that leaves replicas out comes to the same.
    assert incomplete(job).status == "infeasible"


def test_heuristic_only_when_no_model_is_affordable() -> None:
    slow = Shares(build_per_cell=10.0)  # no model of any size builds in time
    data = packing_problem()
    inst = prepare(parse_problem(data))
    job = job_for(data, Budget(1.5, shares=slow, cells=len(inst.units) * len(inst.candidates)))
    priced = price(job)
    assert priced.cap is None
    assert not job.budget.affords(job.cells(priced.allowed))
    outcome = heuristic_only(job, priced)
    assert outcome.status == "heuristic"
    assert outcome.bound is None
    assert "too large for the exact model" in outcome.message
    assert outcome.assignment is not None
    assert outcome.assignment.complete
    assert len(outcome.assignment.used_nodes()) <= len(job.first.used_nodes())
    assert validate(job.inst.problem, wire(job, outcome).to_wire()) == []


def test_conflicts_name_the_hints_that_clash() -> None:
    data = problem([container("a", replicas=2), container("b", replicas=2)],
                   [node("n1"), node("n2"), node("n3")],
                   hints=[{"type": "separateNodes", "containers": ["a", "b"]}], spread="node")
    job = job_for(data)
    found = conflicts(job)
    assert found is not None
    assert found.status == "infeasible"
    assert found.assignment is None
    subjects = {s for c in found.conflicts for s in c.subjects}
    assert "policy.spread" in subjects
    assert any("hints[0]" in s for s in subjects)
    assert incomplete(job).conflicts == found.conflicts
    plan = wire(job, found)
    assert plan.status == "infeasible"
    assert plan.pods == []


def test_a_first_plan_at_the_lower_bound_is_optimal_without_the_model() -> None:
    job = job_for(packing_problem(4))
    outcome = at_lower_bound(job)
    assert len(job.first.used_nodes()) == job.lower  # four small items fit on one node
    assert outcome is not None
    assert outcome.status == "optimal"
    assert outcome.objective == outcome.bound
    # The same objective as the exact model's.
    assert outcome.objective == exact(job, price(job)).objective


def test_the_objective_without_the_model_is_the_models() -> None:
    job = job_for(packing_problem())
    allowed = allowed_candidates(job.inst, job.weights, None)
    model = LayoutModel(job.inst, allowed, job.weights, hint=job.first)
    assert plain_objective(job, job.first) == model.hinted_objective()
    # Anything that the node count does not decide alone has no such shortcut.
    critical = packing_problem()
    critical["containers"][0]["critical"] = True
    assert plain_objective(job_for(critical), job.first) is None


def test_packing_beside_cp_sat_stops_with_it() -> None:
    control = SolveControl(keep_plans=True)
    job = job_for(packing_problem(40), control=control)
    before = threading.active_count()
    outcome = exact(job, price(job))
    assert threading.active_count() == before  # the thread beside CP-SAT has ended
    assert outcome.status in ("optimal", "feasible", "heuristic")
    assert outcome.assignment is not None
    assert outcome.assignment.complete
    best = control.best_plan()
    assert best is not None
    assert best.solver.objective is not None
    assert outcome.objective is not None
    assert best.solver.objective <= outcome.objective + control.offset
    with PackingBeside(job) as beside:  # no search to wait for: it ends at once
        pass
    assert beside.found is None


def test_the_time_limit_is_kept_on_a_mid_size_problem() -> None:
    # 1,000 replicas of 50 shapes, spread over an elastic pool: the heuristics alone took
    # longer than 2 s before each phase looked at the budget.
    limit = 2.0
    plan = advise(parse_problem(synthetic_problem(1000, 50, 0, limit)))
    assert plan.solver.wall_time_seconds <= limit + 0.3
    assert plan.status in ("optimal", "feasible", "heuristic")
    assert plan.unplaced == []


def off_by_one_packing(copies: int = 8, limit: float = 4.0) -> dict[str, Any]:
    """Cpu alone binds (10 cpu nodes): 5+5 on `copies` nodes and 4+3+3 on 2 x `copies` is the
    optimum, at the volume bound; first fit decreasing spends one node more per three 3s."""
    items = [("five", 5, 2 * copies), ("four", 4, 2 * copies), ("three", 3, 4 * copies)]
    containers = [container(name, cpu=str(cpu), memory="100Mi", replicas=n, critical=False)
                  for name, cpu, n in items]
    pools = [{"name": "bin", "allocatable": {"cpu": "10", "memory": "4Gi"},
              "maxCount": 8 * copies}]
    return problem(containers, pools=pools, objective="minWaste", timeLimitSeconds=limit)


def test_the_fixed_node_count_search_closes_the_gap_before_the_model() -> None:
    data = off_by_one_packing()
    inst = prepare(parse_problem(data))
    nodes = sorted((c.index for c in inst.candidates), key=lambda k: inst.candidates[k].pool_rank)
    weak = pack(inst, nodes, unit_order(inst, "sum"), "room")  # first fit decreasing
    control = SolveControl(keep_plans=True)
    lower = nodes_lower_bound(inst)
    job = Job.start(inst, control, Budget.for_instance(inst), weak, lower)
    assert sum(u.replicas for u in inst.units) >= job.budget.shares.search_replicas
    assert len(weak.used_nodes()) > lower == 24
    outcome = exact(job, price(job))
    assert outcome.assignment is not None
    assert len(outcome.assignment.used_nodes()) == lower
    assert outcome.status == "optimal"
    assert "fixed-node-count search" in outcome.message
    assert "volume-cpu" in outcome.message  # the bound that decided
    plan = wire(job, outcome)
    assert validate(inst.problem, plan.to_wire()) == []
    assert len({p.node for p in plan.placements}) == 24
    offered = control.best_plan()  # the search's plan went to the control as it came
    assert offered is not None
    assert offered.solver.nodes_used == lower


def test_the_search_keeps_the_time_limit_when_it_cannot_reach_the_bound() -> None:
    # Panigrahy class 9 (a few dimensions large, the others near zero): the lower bound is
    # weak (52 where the best plans known use 57), so the search runs until the clock.
    limit = 2.0
    (inst,) = generated_vbp_instances(limit, "gen-class9_120_3_s0")
    prepared = prepare(parse_problem(inst.data))
    first = initial_plan(prepared, nodes_lower_bound(prepared), 0.3)
    plan = advise(parse_problem(inst.data))
    assert plan.solver.wall_time_seconds <= limit + 0.3
    assert validate(parse_problem(inst.data), plan.to_wire()) == []
    assert plan.unplaced == []
    assert plan.solver.nodes_used is not None
    assert plan.solver.nodes_lower_bound is not None
    assert plan.solver.nodes_lower_bound < plan.solver.nodes_used <= len(first.used_nodes())
