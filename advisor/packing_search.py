"""Plain vector packing without the model: the fixed-node-count search (advisor/cns.py)
alone before the exact model is built, node-filling runs and the search beside CP-SAT in a
thread (PackingBeside), and the objective of a plan whose objective is node cost alone."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from types import TracebackType

from ortools.sat.python import cp_model

from advisor import cns
from advisor.bounds import lower_bound
from advisor.greedy import Assignment, plan_key
from advisor.job import Job, Outcome, Priced, allowed_candidates
from advisor.model import (
    SolveResult,
)
from advisor.packing import _arrays, _fills, pure_packing
from advisor.packing import _Search as PoolPacking
from models.plan import Status

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


