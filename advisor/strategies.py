"""The ways a solve can end, each returning one immutable Outcome.

- `exact`: the strict model (every replica placed), capped by the first plan's price;
  for plain vector packing, the packing search (advisor/packing_search.py) runs
  before it is built (60 replicas or more) and in a thread beside it;
- `partial`: the model that may leave replicas out, and the proof that they cannot all be
  placed;
- `heuristic_only`: more packing (the packing search for plain vector packing) when no
  model fits in the time left;
- `conflicts`: the smallest set of hints that cannot hold together;
- `at_lower_bound`: the first plan when it already meets the lower bound.

`advise_prepared` (advisor/solve.py) chooses among them; `Budget` decides what fits.
"""

from __future__ import annotations

import math
import time
from dataclasses import replace

from ortools.sat.python import cp_model

from advisor.bounds import missing_capacity
from advisor.conflicts import hint_conflicts
from advisor.errors import OutOfTimeError
from advisor.greedy import Assignment, plan_key
from advisor.job import Job, Outcome, Priced, allowed_candidates
from advisor.model import (
    LayoutModel,
    Progress,
    Snapshot,
    SolveResult,
)
from advisor.packing import applies, drain, pure_packing
from advisor.packing_search import (
    PackingBeside,
    bound_note,
    improved_origin,
    lowest_objective,
    node_cost_only,
    packing_plans,
    plain_objective,
    search_first,
)
from advisor.prepare import MAX_POOL_CANDIDATES, Instance
from models import Conflict

# ---- pricing the first plan ---------------------------------------------------------------

def price(job: Job) -> Priced:
    """The first plan's objective involves only the nodes it uses: a small model prices it,
    and the price caps how many pool nodes the exact model offers."""
    inst, budget = job.inst, job.budget
    fixed = [c.index for c in inst.candidates if c.pool is None]
    if not any(inst.pool_candidates.values()):
        return Priced(fixed, None, {}, None)
    if job.over_budget:  # the first plan breaks the move budget: it prices nothing
        return Priced(allowed_candidates(inst, job.weights, None, job.today), None, {}, None)
    probe_nodes = sorted(set(fixed) | job.first.used_nodes())
    if budget.affords(job.cells(probe_nodes), budget.shares.probe_of_rest):
        try:
            probe = build(job, probe_nodes, hint=job.first)
        except OutOfTimeError:
            probe = None
        if probe is not None:
            cap = probe.hinted_objective()
            allowed = allowed_candidates(inst, job.weights, cap, job.today)
            return Priced(allowed, cap, probe.hinted_terms(),
                          probe if allowed == probe_nodes else None)
    # Too big to price: the exact model offers every pool node, and is then seldom affordable.
    return Priced(allowed_candidates(inst, job.weights, None, job.today), None, {}, None)


# ---- strategies ---------------------------------------------------------------------------

def at_lower_bound(job: Job) -> Outcome | None:
    """The first plan, proven optimal, when the objective is node cost alone, every node
    costs the same and the plan uses as few nodes as the lower bound."""
    floor = lowest_objective(job)
    if floor is None or not job.first.complete or plain_objective(job, job.first) != floor:
        return None
    return Outcome(job.first, "optimal", float(floor), float(floor), {"node_cost": floor})


def exact(job: Job, priced: Priced) -> Outcome:
    """The strict model over the priced nodes, capped by the first plan's objective."""
    before = job.first
    job, priced = search_first(job, priced)
    if job.first is not before and (done := at_lower_bound(job)) is not None:
        return replace(done, message=bound_note(job, job.origin))
    try:
        model = priced.model or build(job, priced.allowed, hint=job.first)
    except OutOfTimeError:
        return heuristic_only(job, priced)
    cap = model.hinted_objective() if priced.cap is None else priced.cap
    if not job.over_budget:
        model.cap_objective(cap)
    with PackingBeside(job) as beside:
        result = search(job, model, 1.0, beside)
    if beside.found is not None and (result.objective is None
                                     or beside.found[1] < result.objective):
        return beside.outcome(beside.found, result)
    if result.assignment is not None:
        return Outcome(result.assignment, "optimal" if result.status == "OPTIMAL" else "feasible",
                       result.objective, result.bound, result.terms)
    message = (f"stopped before CP-SAT found a better plan: {job.origin}" if job.control.stopped
               else f"CP-SAT found no better plan in time ({result.status}); {job.origin}")
    note = over_budget_note(job, proven=result.status == "INFEASIBLE")
    return job.heuristic(message + note, float(cap), model.hinted_terms())


def heuristic_only(job: Job, priced: Priced | None = None) -> Outcome:
    """No exact model fits in the time left (the first plan priced, or leaving replicas
    out when `priced` is None): spend it on more heuristics, where they apply."""
    inst = job.inst
    limit = inst.problem.policy.time_limit_seconds
    if priced is None:
        message = (f"the greedy plan leaves replicas out and the exact model is too large for "
                   f"{limit:g} s: not proven that they cannot be placed; raise "
                   "policy.timeLimitSeconds" + truncation_note(inst))
        if job.first.interrupted:
            message = (f"the heuristics ran out of time ({limit:g} s) before placing every "
                       "replica: the plan leaves some out that may well fit; raise "
                       "policy.timeLimitSeconds")
        objective, terms = None, {}
    else:
        message = (f"too large for the exact model within {limit:g} s (about "
                   f"{job.budget.build_seconds(job.cells(priced.allowed)):.0f} s to build it): "
                   f"{job.origin}; raise policy.timeLimitSeconds for a proven plan")
        objective, terms = priced.cap, dict(priced.terms)
    message += over_budget_note(job)
    # The heuristics know no move budget: today's layout (or the plan within it) stays.
    chosen = job.first if job.moves_capped else improved(job)
    if chosen is not job.first:
        job.control.offer(inst, chosen, "heuristic")
        message = message.replace(f"): {job.origin};", f"): {improved_origin(job)};", 1)
        objective = plain_objective(job, chosen)
        terms = {} if objective is None else {"node_cost": objective}
    return Outcome(chosen, "heuristic", None if objective is None else float(objective), None,
                   terms, message)


def improved(job: Job) -> Assignment:
    """The first plan improved by the heuristics in the time left: the packing search for
    plain vector packing (`packing_plans`); otherwise, where the objective is node cost
    alone, emptying the least loaded nodes onto the others."""
    inst, first = job.inst, job.first
    best = first
    if pure_packing(inst):
        for plan in packing_plans(job, lambda: job.control.stopped):
            best = plan
    elif applies(inst) and node_cost_only(job) and len(first.used_nodes()) > job.lower:
        drained = drain(inst, first, job.budget.remaining(), deadline=job.budget.deadline())
        if plan_key(inst, drained) < plan_key(inst, first):
            best = drained
    return best


def strict_attempt(job: Job, allowed: list[int]) -> SolveResult | None:
    """Replicas left out by the first plan: the strict model, for half of what remains,
    when it builds within a small share (None otherwise). It finds a complete plan if one
    exists, or proves there is none."""
    budget = job.budget
    if not budget.affords(job.cells(allowed), budget.shares.strict_build_of_rest):
        return None
    try:
        model = build(job, allowed, hint=job.first)
    except OutOfTimeError:
        return None
    return search(job, model, budget.shares.strict_search_of_rest)


def conflicts(job: Job) -> Outcome | None:
    """The smallest set of hints that cannot hold together, whatever the capacity."""
    core = hint_conflicts(job.inst, job.budget.conflicts_seconds())
    if not core:
        return None
    return Outcome(None, "infeasible", message="the hints named in conflicts cannot all hold, "
                   "whatever the capacity", conflicts=tuple(core))


def partial(job: Job, allowed: list[int], strict: SolveResult | None) -> Outcome:
    """The model that may leave replicas out, each weighing more than all else together,
    capped by the first plan. Proven infeasible: the strict model is, or this one is
    optimal and leaves some out."""
    inst, budget, first = job.inst, job.budget, job.first
    if job.control.stopped:  # do not build a second model that will not run
        return job.heuristic("stopped before the exact search: greedy plan")
    late = job.heuristic("the greedy plan leaves replicas out and no time is left to build "
                         "the exact model: not proven that they cannot be placed; raise "
                         "policy.timeLimitSeconds" + truncation_note(inst))
    if not budget.affords(job.cells(allowed)):
        return late
    try:
        model = build(job, allowed, allow_unplaced=True, hint=first)
    except OutOfTimeError:
        return late
    cap = model.hinted_objective()
    model.cap_objective(cap)
    result = search(job, model, 1.0)
    chosen = result.assignment or first
    objective = result.objective if result.assignment else float(cap)
    terms = result.terms if result.assignment else model.hinted_terms()
    proven = not inst.truncated and (
        (strict is not None and strict.status == "INFEASIBLE")
        or (result.status == "OPTIMAL" and not chosen.complete))
    if chosen.complete:
        return Outcome(chosen, "feasible", objective, result.bound, terms)
    if proven:
        return Outcome(chosen, "infeasible", objective, result.bound, terms,
                       conflicts=(capacity_conflict(inst, chosen),))
    return Outcome(chosen, "heuristic", objective, result.bound, terms,
                   "not every replica could be placed within the time limit; that they "
                   "cannot be is not proven" + truncation_note(inst))


def incomplete(job: Job) -> Outcome:
    """The first plan leaves replicas out: a complete plan from the strict model, else the
    hints that clash, else the most the partial model can place."""
    allowed = allowed_candidates(job.inst, job.weights, None)
    if not job.budget.affords(job.cells(allowed)):
        return heuristic_only(job)
    strict = strict_attempt(job, allowed)
    if strict is not None and strict.assignment is not None:
        return Outcome(strict.assignment, "optimal" if strict.status == "OPTIMAL" else "feasible",
                       strict.objective, strict.bound, strict.terms)
    # A model too big for the strict attempt is too big to name conflicts with, too.
    clash = None if job.control.stopped or strict is None else conflicts(job)
    return clash or partial(job, allowed, strict)


# ---- building and searching ---------------------------------------------------------------

def build(job: Job, allowed: list[int], *, hint: Assignment, allow_unplaced: bool = False
          ) -> LayoutModel:
    """A model over `allowed`, abandoned (OutOfTimeError) once past its share of the time; how
    long it took tunes the budget's later estimates."""
    started = time.monotonic()
    try:
        return LayoutModel(job.inst, allowed, job.weights, allow_unplaced=allow_unplaced,
                           hint=hint, current=job.today, deadline=job.budget.build_deadline())
    finally:
        job.budget.measured_build(job.cells(allowed), time.monotonic() - started)


def search(job: Job, model: LayoutModel, share: float,
           beside: PackingBeside | None = None) -> SolveResult:
    """CP-SAT on `model` for `share` of what remains, every improving plan offered to the
    control. Not started when that is shorter than loading the model takes."""
    inst, control = job.inst, job.control
    seconds = job.budget.search_seconds(len(model.model.proto.variables), share)
    if seconds is None:
        return SolveResult(status="UNKNOWN", assignment=None, objective=None, bound=None)
    policy = inst.problem.policy

    def on_solution(snapshot: Snapshot, objective: float, bound: float) -> None:
        control.offer(inst, snapshot, "feasible", float(round(objective)),
                      float(math.ceil(bound - 1e-6)))

    def attach(solver: cp_model.CpSolver) -> None:
        control.attach(solver)
        if beside is not None:
            beside.attach(solver)

    def on_progress(progress: Progress) -> None:
        control.report(progress)
        if beside is not None:
            beside.searching()

    return model.solve(time_limit=seconds, workers=policy.workers, seed=policy.seed,
                       on_progress=on_progress, stop_flag=attach,
                       on_solution=on_solution if control.keep_plans else None,
                       should_stop=lambda: control.stopped)


# ---- messages and conflicts ---------------------------------------------------------------

# The first plan when the greedy plan moves more than policy.maxMoves allows.

def over_budget_note(job: Job, *, proven: bool = False) -> str:
    """Why the answer moves more than policy.maxMoves allows (`proven`: the exact model has
    no plan within it)."""
    if not job.over_budget:
        return ""
    assert job.today is not None
    found = ("no plan keeps it (proven)" if proven
             else "no plan within it was found in time")
    return (f"; it moves more than policy.maxMoves ({job.today.max_moves}) replicas: {found}, "
            "and today's layout breaks a hard rule or moves more itself")


def truncation_note(inst: Instance) -> str:
    if not inst.truncated:
        return ""
    return (f" (only the first {MAX_POOL_CANDIDATES} nodes of pool(s) "
            f"{', '.join(inst.truncated)} were considered)")


def capacity_conflict(inst: Instance, chosen: Assignment) -> Conflict:
    """What the replicas left out request, and which resources actually ran out."""
    missing = missing_capacity(inst, chosen.unplaced)
    free = {r: 0 for r in missing}
    for k in chosen.used_nodes() | {c.index for c in inst.candidates if c.pool is None}:
        load = [0] * len(inst.resources)
        for u, counts in enumerate(chosen.counts):
            for r, d in enumerate(inst.units[u].demand):
                load[r] += d * counts.get(k, 0)
        for r_name in free:
            r = inst.resources.index(r_name)
            free[r_name] += max(0, inst.candidates[k].capacity[r] - load[r])
    short = {r: v for r, v in missing.items() if free[r] < v} or missing
    amounts = ", ".join(
        ("pod slots " + str(v) if r == "pods" else f"{r} {inst.fmt(inst.resources.index(r), v)}")
        for r, v in sorted(short.items())
    )
    leaders = [u for u in chosen.unplaced if chosen.leader[u] == u]
    pods = sorted(inst.units[u].name for u in leaders)
    count = sum(chosen.unplaced[u] for u in leaders)
    return Conflict(
        kind="capacity", subjects=pods,
        message=f"the nodes cannot hold every replica: {count} replica(s) of {', '.join(pods)} "
                f"do not fit; together they request {amounts} (add at least that much free "
                "capacity, in pieces each replica fits in)",
    )
