"""SolveControl(keep_plans=True): the best plan so far is a valid plan that only improves."""

from __future__ import annotations

import threading

from advisor.solve import SolveControl, advise
from bench.generators import generate_problem
from models import Plan, parse_problem
from tests.validator import validate


def test_plans_so_far_are_valid_and_improve() -> None:
    problem = parse_problem(generate_problem(0, time_limit_seconds=3))
    control = SolveControl(keep_plans=True)
    result: list[Plan] = []
    solving = threading.Thread(target=lambda: result.append(advise(problem, control)))
    solving.start()
    seen: dict[int, Plan] = {}
    while solving.is_alive():
        plan = control.best_plan()
        if plan is not None:
            seen.setdefault(control.version, plan)
        solving.join(0.2)
    final = result[0]
    assert seen, "no plan so far was ever offered"
    snapshots = [seen[v] for v in sorted(seen)]
    assert snapshots[0].status == "heuristic"  # the greedy plan comes first
    for plan in snapshots:
        assert validate(problem, plan.to_wire()) == []
        assert plan.solver.nodes_lower_bound == final.solver.nodes_lower_bound
    objectives = [p.solver.objective for p in snapshots
                  if p.status == "feasible" and p.solver.objective is not None]
    assert objectives, "CP-SAT offered no plan during a 3 s search"
    assert objectives == sorted(objectives, reverse=True)  # each offer improves
    assert final.solver.objective is not None
    assert final.solver.objective <= objectives[-1]
    last = control.best_plan()  # every improving solution is offered: none lags behind
    assert last is not None
    assert last.solver.objective == final.solver.objective
    for p in snapshots:
        if p.solver.bound is not None and p.solver.objective is not None:
            assert p.solver.bound <= p.solver.objective


def test_without_keep_plans_nothing_is_kept() -> None:
    problem = parse_problem(generate_problem(1, containers=20, nodes=5, time_limit_seconds=1))
    control = SolveControl()
    advise(problem, control)
    assert control.best_plan() is None
