"""The waste-versus-SPOF frontier: plans that trade node cost against availability, none of
them better than another on both.

Two axes of the same CP-SAT model (advisor/model.py): the node cost (the `node_cost` term)
and the risk (the SPOF and blast-radius terms, at the balanced weights). Epsilon-constraint
solves share the time limit: the cheapest plan (least cost, then least risk), the safest
(least risk, then least cost), and between them the least risk under evenly spaced caps on
the cost. Each point says whether it is proven optimal for its bound; dominated points are
dropped, and the knee (the point farthest below the chord between the extremes, costs and
risks scaled to 0-1) is recommended; when none lies clearly below it (the points on one
line), the message says there is no clear knee and the least cost plus risk is recommended.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from ortools.sat.python import cp_model

from advisor.bounds import nodes_lower_bound
from advisor.budget import Budget
from advisor.errors import OutOfTimeError
from advisor.greedy import Assignment
from advisor.job import Job, Outcome
from advisor.model import LayoutModel, LinearExpr
from advisor.prepare import Instance, prepare
from advisor.solve import SolveControl, finish, start_job, wire_plan
from advisor.strategies import build, heuristic_only, price, search
from models import Frontier, FrontierPoint, Objective, Plan, Problem

DEFAULT_POINTS = 5
# How far below the chord between the extremes (both axes scaled to 0-1) a point must lie to
# be a knee: closer, the points lie on one line and none stands out.
KNEE_TOLERANCE = 0.05
NO_KNEE = ("no clear knee: the points lie on one line; the recommended plan is the one with "
           "the least node cost plus risk")
COST = ("node_cost",)
RISK = ("spof_one_node", "spof_one_zone", "spof_bundled", "spof_budget", "blast_radius_node",
        "blast_radius_zone")


@dataclass(frozen=True)
class Point:
    """One solve's plan, where it stands on both axes, and under what bound."""

    assignment: Assignment
    cost: int
    risk: int
    proven: bool
    bounded: str
    terms: dict[str, int]
    solution: list[int] | None = None  # every model variable's value: the next solve's hint


def frontier(problem: Problem, control: SolveControl | None = None,
             points: int = DEFAULT_POINTS) -> Frontier:
    """Up to `points` mutually non-dominated plans, cheapest first, within the time limit."""
    started = time.monotonic()
    # Whatever single objective the policy names, the axes are weighed as the frontier's.
    policy = problem.policy.model_copy(update={"objective": Objective.FRONTIER})
    inst = prepare(problem.model_copy(update={"policy": policy}))
    control = control or SolveControl()
    budget = Budget.for_instance(inst, started)
    lower = nodes_lower_bound(inst)
    job, ready = _setup(inst, control, budget, lower)
    if isinstance(ready, Outcome):  # no model to sweep: the one plan there is
        plan = finish(inst, control, budget, lower, ready)
        return Frontier(plans=[plan], points=[_lone_point(ready)], recommended=0,
                        wall_time_seconds=round(budget.elapsed(), 3),
                        message="one plan: no exact model could be solved within the time "
                                "limit (" + (ready.message or ready.status) + ")")
    assert job is not None
    found = _sweep(job, ready, max(2, points)) or [_first_point(job, ready)]
    return _assemble(inst, control, budget, lower, found)


def _setup(inst: Instance, control: SolveControl, budget: Budget, lower: int
           ) -> tuple[Job | None, LayoutModel | Outcome]:
    """The job and its exact model, as `advise_prepared` would build it; or the outcome of a
    single plan when there is none (clashing hints, replicas left out, no time to build)."""
    job = start_job(inst, control, budget, lower)
    if isinstance(job, Outcome):
        return None, job
    priced = price(job)
    if control.stopped:
        return job, job.heuristic("stopped before the exact search: greedy plan")
    if priced.model is None and not budget.affords(job.cells(priced.allowed)):
        return job, heuristic_only(job, priced)
    try:
        return job, priced.model or build(job, priced.allowed, hint=job.first)
    except OutOfTimeError:
        return job, heuristic_only(job, priced)


def _sweep(job: Job, model: LayoutModel, points: int) -> list[Point]:
    """The extremes (a third of the time each: they anchor everything), then the least risk
    under evenly spaced cost caps between them, sharing the rest. Each solve starts from the
    plan before it that keeps its cap."""
    cost, risk = model.term_expr(COST), model.term_expr(RISK)
    cost_top, risk_top = model.term_ceiling(COST), model.term_ceiling(RISK)
    sweep = _Sweep(job, model, model.model.new_int_var(0, cost_top, "frontier_cost_cap"))
    model.model.add(cost <= sweep.cap)
    model.model.add_hint(sweep.cap, cost_top)  # a complete hint: start from the first plan
    cost_first = cost * (risk_top + 1) + risk
    risk_first = risk * (cost_top + 1) + cost
    cheap = sweep.solve(cost_first, cost_top, "least node cost", 1 / 3, None)
    safe = sweep.solve(risk_first, cost_top, "least risk", 1 / 2,
                       cheap.solution if cheap else None)
    if cheap is not None and not cheap.proven and (safe is None or safe.cost <= cheap.cost):
        # No trade-off seen, the cheapest not proven: the rest of the time goes to it.
        cheap = sweep.solve(cost_first, cost_top, "least node cost", 1.0,
                            cheap.solution) or cheap
    found = [p for p in (cheap, safe) if p is not None]
    if cheap is None or safe is None or safe.cost <= cheap.cost:
        return found
    # Caps strictly between the extremes: at the cheapest cost, the cheapest plan is
    # already the least risk.
    limits = sorted({cheap.cost + (safe.cost - cheap.cost) * i // (points - 1)
                     for i in range(1, points - 1)} - {cheap.cost})
    hint = cheap.solution
    for i, limit in enumerate(limits):
        point = sweep.solve(risk_first, limit, f"least risk with node cost <= {limit}",
                            1 / (len(limits) - i), hint)
        if point is not None:
            found.append(point)
            hint = point.solution  # within every larger cap
    return found


@dataclass(frozen=True)
class _Sweep:
    """The model of the sweep and the variable bounding its node cost."""

    job: Job
    model: LayoutModel
    cap: cp_model.IntVar

    def solve(self, objective: LinearExpr, limit: int, bounded: str, share: float,
              hint: list[int] | None) -> Point | None:
        """One epsilon-constraint solve: `objective` with the node cost at most `limit`,
        for `share` of the time left, from `hint` (else the model's own hint)."""
        if self.job.control.stopped:
            return None
        domain = self.model.model.proto.variables[self.cap.index].domain
        domain.clear()
        domain.extend([0, limit])
        self.model.retarget(objective, hint)
        result = search(self.job, self.model, share)
        if result.assignment is None:
            return None
        terms = dict(result.terms)
        return Point(result.assignment, sum(terms.get(n, 0) for n in COST),
                     sum(terms.get(n, 0) for n in RISK), result.status == "OPTIMAL", bounded,
                     terms, self.model.last_solution)


def _first_point(job: Job, model: LayoutModel) -> Point:
    """The first plan, when no solve found one in time."""
    terms = model.hinted_terms()
    return Point(job.first, sum(terms.get(n, 0) for n in COST),
                 sum(terms.get(n, 0) for n in RISK), False,
                 "the first plan (no solve finished in time)", terms)


def nondominated(points: list[Point]) -> list[Point]:
    """The points no other beats on both axes, cheapest first (so riskiest first)."""
    kept: list[Point] = []
    for p in sorted(points, key=lambda p: (p.cost, p.risk, not p.proven)):
        if not kept or p.risk < kept[-1].risk:
            kept.append(p)
    return kept


def _below(axes: list[tuple[int, int]]) -> list[float]:
    """How far each (cost, risk) point, sorted by cost, lies below the chord from the
    cheapest to the safest, both axes scaled to 0-1 (0 on the chord)."""
    (c0, r0), (c1, r1) = axes[0], axes[-1]
    span_c, span_r = max(1, c1 - c0), max(1, r0 - r1)
    return [1 - (c - c0) / span_c - (r - r1) / span_r for c, r in axes]


def has_knee(axes: list[tuple[int, int]]) -> bool:
    """Whether some point lies clearly (more than KNEE_TOLERANCE, axes scaled to 0-1) below
    the chord between the extremes; two points, or points on one line, have no knee."""
    return len(axes) >= 3 and max(_below(axes)) > KNEE_TOLERANCE


def knee(axes: list[tuple[int, int]]) -> int:
    """Index of the knee of (cost, risk) points sorted by cost: the farthest below the chord
    from the cheapest to the safest, both axes scaled to 0-1; without a clear knee
    (`has_knee`), the one with the least cost plus risk."""
    if not has_knee(axes):
        return min(range(len(axes)), key=lambda i: (sum(axes[i]), i))
    below = _below(axes)
    return max(range(len(axes)), key=lambda i: (below[i], -i))


def _assemble(inst: Instance, control: SolveControl, budget: Budget, lower: int,
              found: list[Point]) -> Frontier:
    kept = nondominated(found)
    plans = [_plan(inst, control, budget, lower, p, i, len(kept)) for i, p in enumerate(kept)]
    points = [FrontierPoint(node_cost=p.cost, risk=p.risk, bounded=p.bounded, proven=p.proven,
                            delta=delta(plans[i - 1], plans[i]) if i else "")
              for i, p in enumerate(kept)]
    ends = {p.bounded: p.proven for p in found}  # the extremes, dropped or not
    proven = ends.get("least node cost", False) and ends.get("least risk", False)
    dropped = len(found) - len(kept)
    if len(kept) == 1 and proven:
        points[0].bounded = "least node cost and least risk: no trade-off"
    message = (f"{len(kept)} plan(s) from {len(found)} solve(s)"
               + (f", {dropped} equal to or dominated by another" if dropped else "")
               + ("; the cheapest and the safest are proven" if proven else
                  "; the extremes are not both proven within the time limit")
               + ("; stopped early" if control.stopped else ""))
    axes = [(p.cost, p.risk) for p in kept]
    if len(kept) >= 2 and not has_knee(axes):
        message += "; " + NO_KNEE
    return Frontier(plans=plans, points=points, recommended=knee(axes) if kept else 0,
                    extremes_proven=proven, wall_time_seconds=round(budget.elapsed(), 3),
                    message=message)


def _plan(inst: Instance, control: SolveControl, budget: Budget, lower: int, point: Point,
          index: int, total: int) -> Plan:
    proof = "proven optimal for it" if point.proven else "not proven within the time limit"
    outcome = Outcome(point.assignment, "optimal" if point.proven else "feasible",
                      float(sum(point.terms.values())), None, point.terms,
                      f"frontier plan {index + 1} of {total}: {point.bounded} ({proof})")
    elapsed: Callable[[], float] = budget.elapsed
    return wire_plan(inst, control, outcome, lower, elapsed, interrupted=control.stopped)


def _lone_point(outcome: Outcome) -> FrontierPoint:
    terms = outcome.terms
    known = bool(terms)
    return FrontierPoint(node_cost=sum(terms.get(n, 0) for n in COST) if known else None,
                         risk=sum(terms.get(n, 0) for n in RISK) if known else None,
                         bounded="the single plan", proven=outcome.status == "optimal")


def delta(before: Plan, after: Plan) -> str:
    """How `after` differs from `before`: nodes, SPOF, blast radius, waste."""
    if before.scores is None or after.scores is None:
        return ""
    nodes = after.solver.nodes_used - before.solver.nodes_used
    a, b = before.scores, after.scores
    ra, rb = a.spof.blast_radius, b.spof.blast_radius
    parts = [f"{nodes:+d} node(s)" if nodes else "same nodes used",
             f"SPOF {a.spof.score:.1f} -> {b.spof.score:.1f}",
             f"blast radius (one node) {ra.node:.0f} % -> {rb.node:.0f} %"]
    if (ra.zone, rb.zone) != (ra.node, rb.node):
        parts.append(f"(one zone) {ra.zone:.0f} % -> {rb.zone:.0f} %")
    parts.append(f"waste {a.waste.score:.1f} -> {b.waste.score:.1f}")
    return ", ".join(parts)
