"""advise(): prepare -> greedy -> CP-SAT -> extract -> score and explain."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import replace

from ortools.sat.python import cp_model

from advisor.bounds import missing_capacity, nodes_lower_bound
from advisor.conflicts import hint_conflicts
from advisor.current import current_view
from advisor.findings import findings
from advisor.greedy import Assignment
from advisor.layout import (
    LayoutView,
    view_from_assignment,
    wire_nodes,
    wire_placements,
    wire_pods,
    wire_unplaced,
)
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
from advisor.packing import initial_plan, more_packing, pure_packing
from advisor.prepare import MAX_POOL_CANDIDATES, Instance, prepare
from advisor.scoring import score
from models import Conflict, Plan, Problem, SolverInfo
from models.plan import Status


class SolveControl:
    """Progress reports, a stop button and the best plan so far of a running solve
    (safe across threads).

    With `keep_plans`, the core offers every improving plan (the greedy one first, then
    CP-SAT's, throttled); `best_plan()` turns the latest into a wire Plan on demand, so the
    cost of scoring falls on whoever asks, not on the search.
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
        plan = build_plan(inst, view_from_assignment(inst, assignment, UNPLACED_REASON), status)
        progress = self.progress
        objective, bound = self.shown(objective, bound)
        plan.solver = SolverInfo(
            objective=objective, bound=bound, gap=relative_gap(objective, bound),
            wall_time_seconds=round(progress.elapsed, 3) if progress else 0.0,
            nodes_used=len(assignment.used_nodes()), nodes_lower_bound=nodes_lower_bound(inst),
            message="best plan so far; the solve is still running",
        )
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


def _solve(model: LayoutModel, inst: Instance, control: SolveControl, time_limit: float
           ) -> SolveResult:
    policy = inst.problem.policy
    on_solution = None
    if control.keep_plans:
        def on_solution(snapshot: Snapshot, objective: float, bound: float) -> None:
            control.offer(inst, snapshot, "feasible", float(round(objective)),
                          float(math.ceil(bound - 1e-6)))
    return model.solve(time_limit=time_limit, workers=policy.workers, seed=policy.seed,
                       on_progress=control.report, stop_flag=control.attach,
                       on_solution=on_solution, should_stop=lambda: control.stopped)


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


# The vectorised packing variants may take this share of the time limit, at most this long:
# on 10,000 replicas one variant takes about half a second.
PACKING_SHARE = 0.15
PACKING_SECONDS = 8.0
# Plain vector packing of this many replicas or more: CP-SAT improved none of the 250-item
# benchmark instances within 10 s, while more noisy node-filling runs did (docs/benchmarks.md).
PURE_PACKING_REPLICAS = 200
PURE_PACKING_SHARE = 0.4

RESERVE_PER_CELL = 1e-5

# Building the model costs about this much per (unit, node) pair that could host it;
# measured on the benchmark problems (docs/benchmarks.md).
BUILD_SECONDS_PER_CELL = 5e-5


def build_seconds(inst: Instance, allowed: list[int]) -> float:
    return BUILD_SECONDS_PER_CELL * sum(
        1 for unit in inst.units for k in allowed if unit.eligible[k]
    )


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
    return Current(counts=counts, together=together)


def advise(problem: Problem, control: SolveControl | None = None) -> Plan:
    started = time.monotonic()  # preparing counts against the time limit too
    return advise_prepared(prepare(problem), control, started)


def advise_prepared(inst: Instance, control: SolveControl | None = None,
                    started: float | None = None) -> Plan:
    """advise() on an instance already prepared (review prepares it for the current layout).
    `started`: when the time limit began (monotonic clock), if before this call."""
    problem = inst.problem
    control = control or SolveControl()
    started = time.monotonic() if started is None else started
    lower = nodes_lower_bound(inst)
    if inst.conflicts:
        return Plan(status="infeasible", conflicts=inst.conflicts, solver=SolverInfo(
            nodes_lower_bound=lower, wall_time_seconds=round(time.monotonic() - started, 3),
            message="the hints and limits named in conflicts cannot all hold",
        ))
    w = WEIGHTS[problem.policy.objective]
    budget = problem.policy.time_limit_seconds
    replicas = sum(u.replicas for u in inst.units)
    share = (PURE_PACKING_SHARE if pure_packing(inst) and replicas >= PURE_PACKING_REPLICAS
             else PACKING_SHARE)
    first = initial_plan(inst, lower, min(budget * share, PACKING_SECONDS))
    control.offer(inst, first, "heuristic")
    today = current_in_model_terms(inst)
    control.offset = float(max_reward(inst, w, today))

    # Kept back for extraction, scoring and the solver's own shutdown, which take longer on
    # big models: CP-SAT overran a 60 s limit by up to 0.2 s on 230,000 unit-node pairs.
    cells = len(inst.units) * len(inst.candidates)
    reserve = min(0.5 + budget * 0.01 + cells * RESERVE_PER_CELL, budget * 0.08)

    def remaining() -> float:
        return max(0.05, budget - (time.monotonic() - started) - reserve)

    status: Status
    conflicts: list[Conflict] = []
    message = ""
    w = replace(w, unplaced=unplaced_weight(inst, w, today))
    fixed = [c.index for c in inst.candidates if c.pool is None]
    model: LayoutModel | None = None
    terms: dict[str, int] = {}
    if first.complete:
        cap: int | None = None
        allowed = fixed
        probe_nodes = sorted(set(fixed) | first.used_nodes())
        probe: LayoutModel | None = None
        if any(inst.pool_candidates.values()) and \
                build_seconds(inst, probe_nodes) <= 0.3 * remaining():
            # The greedy plan's objective involves only the nodes it uses: a small model
            # prices it, and the price caps how many pool nodes the real model offers.
            probe = LayoutModel(inst, probe_nodes, w, hint=first, current=today)
            cap = probe.hinted_objective()
            terms = probe.hinted_terms()
            allowed = allowed_candidates(inst, w, cap, today)
        elif any(inst.pool_candidates.values()):
            allowed = allowed_candidates(inst, w, None, today)  # too big to price: the guard
            # below then returns the greedy plan
        if control.stopped:  # asked while the greedy ran: do not build what will not run
            chosen, status, bound = first, "heuristic", None
            objective = None if cap is None else float(cap)
            message = "stopped before the exact search: greedy plan"
        elif probe is not None and allowed == probe_nodes:
            model = probe  # the pricing model already offers every node worth offering
            assert cap is not None
            model.cap_objective(cap)
        elif build_seconds(inst, allowed) <= 0.4 * remaining():
            model = LayoutModel(inst, allowed, w, hint=first, current=today)
            cap = model.hinted_objective() if cap is None else cap
            model.cap_objective(cap)
        else:
            # No exact search: spend its time on more packing runs where they apply.
            chosen, status, bound = more_packing(inst, first, remaining()), "heuristic", None
            if chosen is not first:
                control.offer(inst, chosen, "heuristic")
                cap = None  # the price was the first plan's
            objective = None if cap is None else float(cap)
            message = (f"too large for the exact model within {budget:g} s (about "
                       f"{build_seconds(inst, allowed):.0f} s to build it): greedy plan; raise "
                       "policy.timeLimitSeconds for a proven plan")
    if model is not None:
        assert cap is not None
        result = _solve(model, inst, control, remaining())
        if result.assignment is not None:
            chosen = result.assignment
            status = "optimal" if result.status == "OPTIMAL" else "feasible"
            objective, bound, terms = result.objective, result.bound, result.terms
        else:
            chosen, status, objective, bound = first, "heuristic", float(cap), None
            terms = model.hinted_terms()
            message = ("stopped before CP-SAT found a better plan: greedy plan" if control.stopped
                       else f"CP-SAT found no better plan in time ({result.status}); greedy plan")
    elif not first.complete and build_seconds(
        inst, allowed_candidates(inst, w, None)
    ) > 0.4 * remaining():
        chosen, status, objective, bound = first, "heuristic", None, None
        message = (f"the greedy plan leaves replicas out and the exact model is too large for "
                   f"{budget:g} s: not proven that they cannot be placed; raise "
                   "policy.timeLimitSeconds" + _truncation_note(inst))
    elif not first.complete:
        allowed = allowed_candidates(inst, w, None)
        # A big model that may well be infeasible costs a build and half the time: past a
        # sixth of the time to build, go straight to the model that may leave replicas out
        # (it finds a complete plan too, if one exists).
        big = build_seconds(inst, allowed) > remaining() / 6
        strict = None if big else _solve(
            LayoutModel(inst, allowed, w, hint=first, current=today), inst, control,
            remaining() * 0.5)
        if strict is not None and strict.assignment is not None:
            chosen = strict.assignment
            status = "optimal" if strict.status == "OPTIMAL" else "feasible"
            objective, bound, terms = strict.objective, strict.bound, strict.terms
        else:
            core = [] if control.stopped or big else hint_conflicts(
                inst, min(remaining() * 0.3, 10.0))
            if core:
                return Plan(status="infeasible", conflicts=core, solver=SolverInfo(
                    nodes_lower_bound=lower,
                    wall_time_seconds=round(time.monotonic() - started, 3),
                    message="the hints named in conflicts cannot all hold, whatever the capacity",
                ))
            if control.stopped:  # do not build a second model that will not run
                chosen, objective, bound, terms = first, None, None, {}
                status = "heuristic"
                message = "stopped before the exact search: greedy plan"
            elif build_seconds(inst, allowed) > 0.4 * remaining():
                chosen, objective, bound, terms = first, None, None, {}
                status = "heuristic"
                message = ("the greedy plan leaves replicas out and no time is left to build "
                           "the exact model: not proven that they cannot be placed; raise "
                           "policy.timeLimitSeconds" + _truncation_note(inst))
            else:
                partial = LayoutModel(inst, allowed, w, allow_unplaced=True, hint=first,
                                      current=today)
                partial.cap_objective(partial.hinted_objective())
                pres = _solve(partial, inst, control, remaining())
                chosen = pres.assignment or first
                objective = pres.objective if pres.assignment else float(partial.hinted_objective())
                terms = pres.terms if pres.assignment else partial.hinted_terms()
                bound = pres.bound
                # Proven: the strict model is infeasible, or the one that may leave replicas out
                # (whose unplaced weight outweighs every other term) is optimal and leaves some.
                proven = not inst.truncated and (
                    (strict is not None and strict.status == "INFEASIBLE")
                    or (pres.status == "OPTIMAL" and not chosen.complete)
                )
                if chosen.complete:
                    status = "feasible"
                elif proven:
                    status = "infeasible"
                    conflicts = [_capacity_conflict(inst, chosen)]
                else:
                    status = "heuristic"
                    message = ("not every replica could be placed within the time limit; "
                               "that they cannot be is not proven" + _truncation_note(inst))
    if control.stopped and not message.startswith("stopped"):
        message = (message + "; " if message else "") + "stopped early: best plan so far"
        if status == "optimal":
            status = "feasible"
    view = view_from_assignment(inst, chosen, UNPLACED_REASON)
    plan = build_plan(inst, view, status)
    plan.conflicts = conflicts
    objective, bound = control.shown(objective, bound)
    gap = relative_gap(objective, bound)
    plan.solver = SolverInfo(
        objective=objective, bound=bound, gap=gap,
        wall_time_seconds=round(time.monotonic() - started, 3),
        nodes_used=len(chosen.used_nodes()), nodes_lower_bound=lower,
        # The shift to the reported scale is a term of its own: the terms still add up.
        terms={**{name: float(v) for name, v in terms.items()},
               **({REWARD_HEADROOM: control.offset} if control.offset and terms else {})},
        interrupted=control.stopped, message=message,
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


def _truncation_note(inst: Instance) -> str:
    if not inst.truncated:
        return ""
    return (f" (only the first {MAX_POOL_CANDIDATES} nodes of pool(s) "
            f"{', '.join(inst.truncated)} were considered)")


def _capacity_conflict(inst: Instance, chosen: Assignment) -> Conflict:
    missing = missing_capacity(inst, chosen.unplaced)
    # Name what actually ran out: resources whose free capacity is short of the request.
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
