"""What every strategy of a solve works from (advisor/strategies.py): the Job (the instance,
the clock, the objective's weights, the current layout in model terms, the first plan), the
Outcome each strategy returns, the nodes the exact model offers (Priced), and how the model
is sized and weighed."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from functools import cached_property
from types import MappingProxyType
from typing import Protocol

import numpy as np
from numpy.typing import NDArray
from ortools.sat.python import cp_model

from advisor.budget import Budget
from advisor.current import current_view
from advisor.greedy import Assignment
from advisor.model import (
    WEIGHTS,
    Current,
    LayoutModel,
    Progress,
    Snapshot,
    Weights,
    blast_weight,
)
from advisor.moves import move_budget, pods_today, within_budget
from advisor.prepare import Instance
from models import Conflict
from models.plan import Status


class Control(Protocol):
    """What the strategies use of SolveControl (advisor/solve.py)."""

    stopped: bool
    keep_plans: bool

    def offer(self, inst: Instance, assignment: Assignment | Snapshot, status: Status,
              objective: float | None = None, bound: float | None = None) -> None: ...

    def report(self, progress: Progress) -> None: ...

    def attach(self, solver: cp_model.CpSolver) -> None: ...


@dataclass(frozen=True)
class Outcome:
    """How a solve ended: the plan (None when hints clash), its status, objective and bound
    on the model's scale, the objective by named term, a message, conflicts."""

    assignment: Assignment | None
    status: Status
    objective: float | None = None
    bound: float | None = None
    terms: Mapping[str, int] = field(default_factory=dict)
    message: str = ""
    conflicts: tuple[Conflict, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "terms", MappingProxyType(dict(self.terms)))


@dataclass
class Job:
    """What every strategy works from."""

    inst: Instance
    control: Control
    budget: Budget
    weights: Weights  # the objective's, with the weight of an unplaced replica
    today: Current | None  # the current layout in model terms (review)
    first: Assignment  # the first plan: hint, cap and fallback answer
    lower: int  # fewest nodes any complete plan needs
    # policy.maxMoves is set and no known plan keeps it: the first plan caps nothing.
    over_budget: bool = False
    origin: str = "greedy plan"  # what found the first plan, for messages

    @classmethod
    def start(cls, inst: Instance, control: Control, budget: Budget, first: Assignment,
              lower: int) -> Job:
        w = WEIGHTS[inst.problem.policy.objective]
        today = current_in_model_terms(inst)
        w = replace(w, unplaced=unplaced_weight(inst, w, today))
        kept = within_budget(inst, first, today)
        today_kept = kept is not None and kept is not first
        if kept is not None and today_kept:
            control.offer(inst, kept, "heuristic")  # the greedy plan moved too much
        return cls(inst=inst, control=control, budget=budget, weights=w, today=today,
                   first=kept or first, lower=lower, over_budget=kept is None,
                   **({"origin": TODAY_ORIGIN} if today_kept else {}))

    @property
    def moves_capped(self) -> bool:
        """policy.maxMoves holds: only plans the model checks, or today's layout, will do."""
        return self.today is not None and self.today.max_moves is not None

    def cells(self, allowed: list[int]) -> int:
        """(unit, node) pairs a model over `allowed` has: what building it costs."""
        return int(self._hosts[allowed].sum())

    @cached_property
    def _hosts(self) -> NDArray[np.int64]:
        """Per candidate node, the units that may run there."""
        eligible = np.array([u.eligible for u in self.inst.units], dtype=np.bool_)
        shape = (len(self.inst.units), len(self.inst.candidates))
        return np.asarray(eligible.reshape(shape).sum(axis=0), dtype=np.int64)

    def heuristic(self, message: str, objective: float | None = None,
                  terms: Mapping[str, int] | None = None) -> Outcome:
        return Outcome(self.first, "heuristic", objective, None, terms or {}, message)


@dataclass(frozen=True)
class Priced:
    """The nodes the exact model offers, and what the first plan costs when known."""

    allowed: list[int]
    cap: int | None  # the first plan's objective: no plan of the model may be worse
    terms: Mapping[str, int]
    model: LayoutModel | None  # the pricing model, when it already offers `allowed`


TODAY_ORIGIN = "today's layout, the replicas it lacks scheduled (within policy.maxMoves)"

# ---- model sizing and weights -------------------------------------------------------------

def max_reward(inst: Instance, w: Weights, today: Current | None) -> int:
    """The most the negative objective terms (traffic kept, moves avoided) can take off."""
    total = 0
    if today is not None:
        total += w.keep * sum(sum(per_node.values()) for per_node in today.counts.values())
        total += w.keep * sum(inst.units[v].replicas for v, _ in today.together)
    for u, v, weight, _ in inst.traffic:
        coef = max(1, round(w.traffic * weight))
        total += coef * min(inst.units[u].replicas, inst.units[v].replicas)
        total += coef * inst.units[v].replicas
    return total


def unplaced_weight(inst: Instance, w: Weights, today: Current | None) -> int:
    """Weight of one unplaced replica: more than all other terms can ever add up to, so that
    the model leaving replicas out places the most it can before anything else."""
    nodes = sum(c.cost_weight for c in inst.candidates) * w.node
    blast = blast_weight(w, len(inst.candidates))  # at most what term_blast_radius weighs
    spof = (w.spof + blast) * 2 * sum(len(u.critical_components) for u in inst.units)
    return max(w.unplaced, 2 * (nodes + spof + max_reward(inst, w, today)) + 1)


def allowed_candidates(inst: Instance, w: Weights, objective_cap: int | None,
                       today: Current | None = None) -> list[int]:
    """Fixed nodes, plus as many nodes per pool as a plan no worse than the cap could pay for."""
    allowed = [c.index for c in inst.candidates if c.pool is None]
    pinned = {k for per_node in (today.counts.values() if today else []) for k in per_node
              if inst.candidates[k].pool is not None}
    allowed += sorted(pinned)
    for ks in inst.pool_candidates.values():
        if not ks:
            continue
        if objective_cap is None:
            allowed += ks
            continue
        per_node = inst.candidates[ks[0]].cost_weight * w.node
        affordable = max(0, (objective_cap + max_reward(inst, w, today)) // max(1, per_node))
        # Per zone, since nodes of one zone are opened in order (the greedy's too).
        by_zone: dict[str | None, list[int]] = {}
        for k in ks:
            by_zone.setdefault(inst.candidates[k].zone, []).append(k)
        for zone_ks in by_zone.values():
            allowed += [k for k in zone_ks if k not in pinned][:affordable]
    return sorted(set(allowed))


def current_in_model_terms(inst: Instance) -> Current | None:
    """The problem's current layout as per-unit node counts, for `term_moves`."""
    budget = move_budget(inst)
    if inst.problem.layout is None:
        return None
    view = current_view(inst)
    pod_of = {c: p for p, pod in enumerate(view.pods) for c in pod.containers}
    counts: dict[int, dict[int, int]] = {}
    for u, unit in enumerate(inst.units):
        main = inst.container_names.index(unit.name)
        counts[u] = view.replicas_on(pod_of[main])
    together = {
        (v, s) for v, options in inst.merge_options.items() for s in options
        if pod_of[inst.container_names.index(inst.units[v].name)]
        == pod_of[inst.container_names.index(inst.units[s].name)]
    }
    return Current(counts=counts, together=together, pods=pods_today(inst, view),
                   max_moves=budget)


