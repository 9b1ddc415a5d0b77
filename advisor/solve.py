"""advise(): prepare -> first plan -> a strategy (exact, partial, heuristic only, conflicts)
-> score and explain.

The strategies live in advisor/strategies.py, what they work from and return in
advisor/job.py, the packing search in advisor/packing_search.py, the time shares in
advisor/budget.py; this module chooses among them and turns the outcome into a Plan.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import replace

from ortools.sat.python import cp_model

from advisor.bounds import nodes_lower_bound
from advisor.budget import Budget
from advisor.findings import findings
from advisor.greedy import Assignment
from advisor.job import (
    Job,
    Outcome,
    allowed_candidates,
    current_in_model_terms,
    max_reward,
    unplaced_weight,
)
from advisor.layout import (
    LayoutView,
    view_from_assignment,
    wire_nodes,
    wire_placements,
    wire_pods,
    wire_unplaced,
)
from advisor.model import Progress, Snapshot
from advisor.packing import initial_plan, pure_packing
from advisor.prepare import Instance, prepare
from advisor.scoring import score
from advisor.strategies import at_lower_bound, exact, heuristic_only, incomplete, price
from models import Plan, Problem, SolverInfo
from models.plan import Status

__all__ = ["REWARD_HEADROOM", "UNPLACED_REASON", "SolveControl", "advise", "advise_prepared",
           "allowed_candidates", "build_plan", "current_in_model_terms", "max_reward",
           "relative_gap", "unplaced_weight"]


class SolveControl:
    """Progress reports, a stop button and the best plan so far of a running solve
    (safe across threads).

    With `keep_plans`, the core offers every improving plan (the greedy one first, then
    CP-SAT's and, for plain packing, those of the heuristics running beside it); the best
    is kept, and `best_plan()` turns it into a wire Plan on demand, so the cost of scoring
    falls on whoever asks, not on the search.
    """

    def __init__(self, on_progress: Callable[[Progress], None] | None = None, *,
                 keep_plans: bool = False) -> None:
        self.on_progress = on_progress
        self.keep_plans = keep_plans
        self._lock = threading.Lock()
        self._solver: cp_model.CpSolver | None = None
        self.stopped = False
        self.progress: Progress | None = None
        self._offer: tuple[Instance, Assignment | Snapshot, Status, float | None,
                           float | None] | None = None
        self._version = 0
        self._built: tuple[int, Plan] | None = None
        # Added to every objective and bound reported: the most the rewards (traffic kept,
        # moves avoided) can take off, so that both are non-negative and the gap means
        # something. Set by the solve once it knows the problem.
        self.offset = 0.0

    def shown(self, objective: float | None, bound: float | None
              ) -> tuple[float | None, float | None]:
        """Objective and bound as reported: shifted by `offset`, the bound never below 0."""
        return (None if objective is None else objective + self.offset,
                None if bound is None else max(0.0, bound + self.offset))

    def offer(self, inst: Instance, assignment: Assignment | Snapshot, status: Status,
              objective: float | None = None, bound: float | None = None) -> None:
        if self.keep_plans:
            with self._lock:
                kept = self._offer[3] if self._offer is not None else None
                if kept is not None and objective is not None and objective >= kept:
                    return  # no better than the plan kept (two searches offer at once)
                self._offer = (inst, assignment, status, objective, bound)
                self._version += 1

    @property
    def version(self) -> int:
        """Grows with every offered plan: a caller can tell whether `best_plan` changed."""
        return self._version

    def best_plan(self) -> Plan | None:
        with self._lock:
            offer, version, built = self._offer, self._version, self._built
        if offer is None:
            return None
        if built is not None and built[0] == version:
            return built[1]
        inst, offered, status, objective, bound = offer
        assignment = offered if isinstance(offered, Assignment) else offered()
        if not assignment.complete:
            status = "heuristic"  # replicas left out: not a plan that proves anything
        elapsed = self.progress.elapsed if self.progress else 0.0
        plan = wire_plan(inst, self, Outcome(
            assignment, status, objective, bound,
            message="best plan so far; the solve is still running",
        ), nodes_lower_bound(inst), lambda: elapsed, interrupted=False)
        with self._lock:
            self._built = (version, plan)
        return plan

    def attach(self, solver: cp_model.CpSolver) -> None:
        with self._lock:
            self._solver = solver
            if self.stopped:
                solver.stop_search()

    def stop(self) -> None:
        with self._lock:
            self.stopped = True
            if self._solver is not None:
                self._solver.stop_search()

    def report(self, progress: Progress) -> None:
        objective, bound = self.shown(progress.objective, progress.bound)
        progress = replace(progress, objective=objective, bound=bound)
        self.progress = progress
        if self.on_progress is not None:
            self.on_progress(progress)


def advise(problem: Problem, control: SolveControl | None = None) -> Plan:
    started = time.monotonic()  # preparing counts against the time limit too
    return advise_prepared(prepare(problem), control, started)


def advise_prepared(inst: Instance, control: SolveControl | None = None,
                    started: float | None = None) -> Plan:
    """advise() on an instance already prepared (review prepares it for the current layout).
    `started`: when the time limit began (monotonic clock), if before this call."""
    control = control or SolveControl()
    budget = Budget.for_instance(inst, started)
    lower = nodes_lower_bound(inst)
    job = start_job(inst, control, budget, lower)
    if isinstance(job, Outcome):  # clashing hints, or replicas left out
        return finish(inst, control, budget, lower, job)
    if (outcome := at_lower_bound(job)) is None:
        priced = price(job)
        if control.stopped:  # asked while the heuristics ran: build nothing that will not run
            outcome = job.heuristic("stopped before the exact search: greedy plan",
                                    None if priced.cap is None else float(priced.cap),
                                    priced.terms)
        elif priced.model is not None or budget.affords(job.cells(priced.allowed)):
            outcome = exact(job, priced)
        else:
            outcome = heuristic_only(job, priced)
    return finish(inst, control, budget, lower, outcome)


def start_job(inst: Instance, control: SolveControl, budget: Budget, lower: int
              ) -> Job | Outcome:
    """The first plan and the job around it; the outcome itself when the hints clash or
    the first plan leaves replicas out."""
    if inst.conflicts:
        return Outcome(
            None, "infeasible", message="the hints and limits named in conflicts cannot all hold",
            conflicts=tuple(inst.conflicts))
    replicas = sum(u.replicas for u in inst.units)
    first = initial_plan(inst, lower, budget.first_plan_seconds(pure_packing(inst), replicas),
                         deadline=budget.deadline())
    control.offer(inst, first, "heuristic")
    job = Job.start(inst, control, budget, first, lower)
    control.offset = float(max_reward(inst, job.weights, job.today))
    return job if job.first.complete else incomplete(job)


def finish(inst: Instance, control: SolveControl, budget: Budget, lower: int,
           outcome: Outcome) -> Plan:
    """The wire plan of an outcome: scored, with the solver's figures on the reported scale."""
    wall = round(budget.elapsed(), 3)
    if outcome.assignment is None:  # the conflicts say why there is no plan
        return Plan(status="infeasible", conflicts=list(outcome.conflicts), solver=SolverInfo(
            nodes_lower_bound=lower, wall_time_seconds=wall, message=outcome.message))
    if control.stopped and not outcome.message.startswith("stopped"):
        message = outcome.message + "; " if outcome.message else ""
        outcome = replace(outcome, message=message + "stopped early: best plan so far",
                          status="feasible" if outcome.status == "optimal" else outcome.status)
    return wire_plan(inst, control, outcome, lower, budget.elapsed, interrupted=control.stopped)


def wire_plan(inst: Instance, control: SolveControl, outcome: Outcome, lower: int,
              elapsed: Callable[[], float], *, interrupted: bool) -> Plan:
    """A plan and its solver figures, for the final answer and for the best plan so far:
    scored, objective and bound on the reported scale (SolveControl.shown)."""
    chosen = outcome.assignment
    assert chosen is not None
    plan = build_plan(inst, view_from_assignment(inst, chosen, UNPLACED_REASON), outcome.status)
    plan.conflicts = list(outcome.conflicts)
    objective, bound = control.shown(outcome.objective, outcome.bound)
    terms = outcome.terms
    plan.solver = SolverInfo(
        objective=objective, bound=bound, gap=relative_gap(objective, bound),
        wall_time_seconds=round(elapsed(), 3),
        nodes_used=len(chosen.used_nodes()), nodes_lower_bound=lower,
        # The shift to the reported scale is a term of its own: the terms still add up.
        terms={**{name: float(v) for name, v in terms.items()},
               **({REWARD_HEADROOM: control.offset} if control.offset and terms else {})},
        interrupted=interrupted, message=outcome.message,
    )
    return plan


# The name, in `solver.terms`, of what the reported objective adds to the model's own.
REWARD_HEADROOM = "reward_headroom"

UNPLACED_REASON = ("no node has room left for it (resources or allocatable pods); "
                   "critical pods take precedence")


def relative_gap(objective: float | None, bound: float | None) -> float | None:
    """|objective - bound| relative to the objective (at least 1), as plans report it: on
    the reported scale, where both are non-negative (SolveControl.shown)."""
    if objective is None or bound is None:
        return None
    return round(abs(objective - bound) / max(1.0, abs(objective)), 6)


def build_plan(inst: Instance, view: LayoutView, status: Status) -> Plan:
    scores, detail, exposures = score(inst, view)
    return Plan(
        status=status,
        pods=wire_pods(inst, view),
        placements=wire_placements(inst, view),
        nodes=wire_nodes(inst, view),
        scores=scores,
        findings=findings(inst, view, scores, detail, exposures),
        unplaced=wire_unplaced(view),
    )
