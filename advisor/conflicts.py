"""Naming the smallest set of hints that cannot hold together.

The hints are checked without capacity (so that a shortage of nodes is not blamed
on them): each node hint and the spread policy is guarded by one assumption
literal, CP-SAT returns a sufficient subset, and deletion shrinks it to a minimal one.
"""

from __future__ import annotations

import time

from ortools.sat.python import cp_model

from advisor.errors import OutOfTimeError
from advisor.model import WEIGHTS, LayoutModel, cp_solver
from advisor.prepare import Instance
from models import Conflict


def _infeasible(model: LayoutModel, labels: list[str], time_limit: float) -> bool | None:
    model.model.clear_assumptions()
    model.model.add_assumptions([model.assumption_of[label] for label in labels])
    solver = cp_solver(time_limit, objective=False)
    status = solver.solve(model.model)
    if status == cp_model.INFEASIBLE:
        return True
    if status in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return False
    return None


def hint_conflicts(inst: Instance, time_limit: float) -> list[Conflict]:
    """The smallest set of hints that cannot hold together, found within `time_limit`
    (building the model included); none when there is none or the time runs out."""
    deadline = time.monotonic() + time_limit
    allowed = [c.index for c in inst.candidates]
    try:
        model = LayoutModel(inst, allowed, WEIGHTS[inst.problem.policy.objective],
                            with_capacity=False, assumptions=True, deadline=deadline)
    except OutOfTimeError:
        return []
    model.model.clear_objective()  # type: ignore[no-untyped-call]
    model.model.clear_hints()  # type: ignore[no-untyped-call]
    labels = list(model.assumption_of)
    if not labels:
        return []
    time_limit = max(0.0, deadline - time.monotonic())
    solver = cp_solver(time_limit / 2, objective=False)
    model.model.add_assumptions(list(model.assumption_of.values()))
    if solver.solve(model.model) != cp_model.INFEASIBLE:
        return []
    found = set(solver.sufficient_assumptions_for_infeasibility())
    core = [label for label, lit in model.assumption_of.items() if lit.index in found] or labels
    per_try = time_limit / 2 / max(1, len(core))
    for label in list(core):
        rest = [x for x in core if x != label]
        if rest and _infeasible(model, rest, per_try) is True:
            core = rest
    if core == ["policy.spread"]:
        pods = _unspreadable(inst) or ["some pod"]
        return [Conflict(
            kind="spread", subjects=["policy.spread", *pods],
            message=f"policy.spread={inst.spread.value} cannot hold for {', '.join(pods)}: "
                    "the nodes that can host it are too few or in too few zones "
                    "(at most one replica per node, ceil(replicas / zones) per zone)",
        )]
    what = ("no node can host both (node selectors, taints or size)"
            if len(core) == 1 and "sameNode" in core[0] else
            "these cannot all hold on the given nodes, whatever their capacity")
    return [Conflict(kind="hint", subjects=core, message=f"{what}: " + "; ".join(core))]


def _unspreadable(inst: Instance) -> list[str]:
    """Pods whose replicas exceed what one-per-node and the per-zone cap allow."""
    out = []
    for u, unit in enumerate(inst.units):
        cap = inst.zone_cap(u)
        room = 0
        for zone in {c.zone for c in inst.candidates if unit.eligible[c.index]}:
            nodes = sum(1 for c in inst.candidates if c.zone == zone and unit.eligible[c.index])
            room += nodes if cap is None or zone is None else min(nodes, cap)
        if room < unit.replicas:
            out.append(unit.name)
    return out
