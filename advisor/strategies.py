"""The ways a solve can end, each returning one immutable Outcome.

- `exact`: the strict model (every replica placed), capped by the first plan's price;
  for plain vector packing, the packing search (`search_first`, `packing_plans`) runs
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
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from functools import cached_property
from types import MappingProxyType, TracebackType
from typing import Protocol

import numpy as np
from numpy.typing import NDArray
from ortools.sat.python import cp_model

from advisor import cns
from advisor.bounds import lower_bound, missing_capacity
from advisor.budget import Budget
from advisor.conflicts import hint_conflicts
from advisor.current import current_view
from advisor.errors import OutOfTimeError
from advisor.greedy import Assignment, plan_key
from advisor.model import (
    WEIGHTS,
    Current,
    LayoutModel,
    Progress,
    Snapshot,
    SolveResult,
    Weights,
    blast_weight,
)
from advisor.moves import move_budget, pods_today, within_budget
from advisor.packing import _arrays, _fills, applies, drain, pure_packing
from advisor.packing import _Search as PoolPacking
from advisor.prepare import MAX_POOL_CANDIDATES, Instance
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


# ---- pricing the first plan ---------------------------------------------------------------

@dataclass(frozen=True)
class Priced:
    """The nodes the exact model offers, and what the first plan costs when known."""

    allowed: list[int]
    cap: int | None  # the first plan's objective: no plan of the model may be worse
    terms: Mapping[str, int]
    model: LayoutModel | None  # the pricing model, when it already offers `allowed`


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


# ---- more packing, alone or beside CP-SAT -------------------------------------------------

# Node-filling runs after the first plan's start from this seed (the first plan's use 0).
MORE_PACKING_SEED = 1
# The fixed-node-count search after the one before the build (beside CP-SAT, or alone when
# no model fits) starts from this offset to the policy's seed, not to retrace its attempts.
LATER_SEARCH_SEED = 1


def search_first(job: Job, priced: Priced) -> tuple[Job, Priced]:
    """Plain packing of `search_replicas` or more, whose objective is node cost alone: the
    fixed-node-count search (advisor/cns.py) alone, for a share of what remains, before the
    exact model is built. A plan on fewer nodes becomes the first plan: CP-SAT's hint, and
    the cap that decides how many pool nodes the model offers."""
    inst, budget = job.inst, job.budget
    replicas = sum(u.replicas for u in inst.units)
    if (replicas < budget.shares.search_replicas or not pure_packing(inst)
            or plain_objective(job, job.first) is None or job.control.stopped):
        return job, priced
    deadline = budget.search_first_deadline()
    better, origin = shrunk(job, deadline), SHRINK_ORIGIN
    searched = cns.improve(inst, better or job.first, deadline, seed=inst.problem.policy.seed,
                           stop=lambda: job.control.stopped, lower=job.lower)
    if searched is not None:
        better, origin = searched, SEARCH_ORIGIN
    objective = None if better is None else plain_objective(job, better)
    if better is None or objective is None:
        return job, priced
    job.control.offer(inst, better, "heuristic", float(objective))
    allowed = allowed_candidates(inst, job.weights, objective, job.today)
    return (replace(job, first=better, origin=origin),
            Priced(allowed, objective, {"node_cost": objective}, None))


SEARCH_ORIGIN = "the fixed-node-count search's plan"
SHRINK_ORIGIN = "the plan packed with every pool node open"


def improved_origin(job: Job) -> str:
    """What found the plan `improved` returns, when better than the first, for messages."""
    if pure_packing(job.inst):
        return "the packing searches' plan" if job.first.complete else \
            "the packing heuristics' plan"
    return "the greedy plan with its least loaded nodes emptied"


def packing_plans(job: Job, stop: Callable[[], bool], deadline: float | None = None
                  ) -> Iterator[Assignment]:
    """Ever better plans for plain packing, until `stop` or `deadline` (default the
    budget's): every pool node open and packed into fewer, down to the lower bound, then the
    fixed-node-count search from the best plan (one node fewer each); node-filling runs
    when the first plan leaves replicas out."""
    inst = job.inst
    if not pure_packing(inst):
        return
    if not job.first.complete:
        yield from more_plans(job, stop)
        return
    deadline = job.budget.deadline() if deadline is None else deadline
    start = job.first
    if (packed := shrunk(job, deadline)) is not None:
        yield packed
        start = packed
    yield from cns.plans(inst, start, deadline, seed=inst.problem.policy.seed + LATER_SEARCH_SEED,
                         stop=stop, lower=job.lower)


def shrunk(job: Job, deadline: float) -> Assignment | None:
    """The first plan's nodes, all open at once and packed into fewer pool nodes down to the
    lower bound (packing's pool shrinking), when that places every replica on fewer; None
    otherwise. The first plan does the same when it has time: on 10,000 replicas on a busy
    machine it may not have had it, and one node fewer at a time is slow to make up for it."""
    if len(job.first.used_nodes()) <= job.lower:
        return None
    search = PoolPacking(job.inst, job.lower, max(0.0, deadline - time.monotonic()), deadline)
    search.consider(job.first)
    (pool_nodes,) = search.pools.values()
    search.shrink_pool(pool_nodes)
    return None if search.best is job.first else search.best


def bound_note(job: Job, what: str) -> str:
    """Which lower bound a plan on as few nodes as it meets (advisor/bounds.py)."""
    value, name = lower_bound(job.inst)
    return f"{what}: {value} nodes, the lower bound ({name}), so optimal"


def more_plans(job: Job, stop: Callable[[], bool]) -> Iterator[Assignment]:
    """Ever better plans from node-filling runs with seeded noise (pure packing only),
    until `stop` or the budget's deadline; a run starts only when the time left holds one
    more of the longest so far."""
    inst = job.inst
    if not pure_packing(inst) or not job.first.complete:
        return
    deadline = job.budget.deadline()
    longest = 0.0
    last = time.monotonic()

    def done() -> bool:
        nonlocal longest, last
        now = time.monotonic()
        longest, last = max(longest, now - last), now
        return stop() or now + longest > deadline

    nodes = sorted((c.index for c in inst.candidates), key=lambda k: inst.candidates[k].pool_rank)
    best = plan_key(inst, job.first)
    for plan in _fills(inst, _arrays(inst), nodes, MORE_PACKING_SEED, done, deadline):
        if plan_key(inst, plan) < best:
            best = plan_key(inst, plan)
            yield plan


class PackingBeside:
    """The packing search in a thread while CP-SAT searches, for plain vector packing
    whose objective is node cost alone (so a plan's objective follows from its nodes).
    CP-SAT releases the GIL while it searches and numpy while it computes, so both cores
    work; improving plans go to the control as they come, and the best is set against
    CP-SAT's at the end. A plan on as few nodes as the lower bound stops the search.

    The search waits for CP-SAT's first solution (or half the search time): loading the model
    and presolving run on one thread, and a busy neighbour slowed them 2.5-fold."""

    def __init__(self, job: Job) -> None:
        self.job = job
        self.found: tuple[Assignment, int] | None = None  # the best plan and its objective
        self._stop = threading.Event()
        self._go = threading.Event()
        self._delay = job.budget.remaining() / 2
        self._solver: cp_model.CpSolver | None = None
        self._lock = threading.Lock()
        self._failure: BaseException | None = None
        self._thread: threading.Thread | None = None
        self.floor = lowest_objective(job)
        if pure_packing(job.inst) and plain_objective(job, job.first) is not None:
            self._thread = threading.Thread(target=self._run, name="packing beside CP-SAT",
                                            daemon=True)

    def __enter__(self) -> PackingBeside:
        if self._thread is not None:
            self._thread.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self._stop.set()
        self._go.set()
        if self._thread is not None:
            self._thread.join()
        if self._failure is not None and error is None:
            raise self._failure

    def attach(self, solver: cp_model.CpSolver) -> None:
        with self._lock:
            self._solver = solver

    def searching(self) -> None:
        """CP-SAT has a solution: its single-threaded start is over."""
        self._go.set()

    def outcome(self, found: tuple[Assignment, int], result: SolveResult) -> Outcome:
        """Its best plan, better than CP-SAT's `result`: optimal when it meets CP-SAT's
        bound or the lower bound, `feasible` beside a CP-SAT plan, else `heuristic`."""
        plan, objective = found
        bounds = [b for b in (result.bound, self.floor) if b is not None]
        bound = float(max(bounds)) if bounds else None
        status: Status = ("optimal" if bound is not None and objective <= bound
                          else "feasible" if result.assignment is not None else "heuristic")
        if status == "heuristic":
            return Outcome(plan, status, float(objective), None, {"node_cost": objective},
                           f"CP-SAT found no plan in time ({result.status}); the best of the "
                           "packing heuristics run beside it")
        what = "the packing search's plan (beside CP-SAT)"
        message = (bound_note(self.job, what) if self.floor is not None
                   and objective <= self.floor else f"{what}, optimal by CP-SAT's bound" if status
                   == "optimal" else what)
        return Outcome(plan, status, float(objective), bound, {"node_cost": objective},
                       message)

    def _run(self) -> None:
        job = self.job
        self._go.wait(self._delay)
        try:
            for plan in packing_plans(job, self._stop.is_set):
                objective = plain_objective(job, plan)
                assert objective is not None
                self.found = (plan, objective)
                job.control.offer(job.inst, plan, "feasible", float(objective))
                if self.floor is not None and objective <= self.floor:
                    with self._lock:  # nothing can beat it: the search may stop
                        if self._solver is not None:
                            self._solver.stop_search()
                    return
        except Exception as exc:  # handed to the solving thread, which raises it
            self._failure = exc


# ---- the objective without the model ------------------------------------------------------

def node_cost_only(job: Job) -> bool:
    """The objective is node cost alone: no critical component, no chatty pair or shared
    volume, no current layout."""
    inst = job.inst
    return job.today is None and not inst.traffic and not any(
        u.critical_components for u in inst.units)


def plain_objective(job: Job, plan: Assignment) -> int | None:
    """The model's objective for a complete plan when it is node cost alone (see
    node_cost_only); None otherwise."""
    if not plan.complete or not node_cost_only(job):
        return None
    inst = job.inst
    return sum(inst.candidates[k].cost_weight * job.weights.node + 1 for k in plan.used_nodes())


def lowest_objective(job: Job) -> int | None:
    """What the lower bound on nodes costs at least, when the objective is node cost alone
    and every node costs the same; None otherwise."""
    inst = job.inst
    weights = {c.cost_weight for c in inst.candidates}
    if len(weights) != 1 or plain_objective(job, job.first) is None:
        return None
    return job.lower * (weights.pop() * job.weights.node + 1)


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


# ---- messages and conflicts ---------------------------------------------------------------

# The first plan when the greedy plan moves more than policy.maxMoves allows.
TODAY_ORIGIN = "today's layout, the replicas it lacks scheduled (within policy.maxMoves)"


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
