"""Vectorised packing for problems without node-level hints.

The greedy in `greedy.py` handles every hint, one node at a time in Python. Most large
problems have none of those hints (no sameNode, separateNodes or zone spreading), and
for them this module places a replica against every node at once with numpy, which is
fast enough to try several orders and fit rules, and, on an elastic pool, to search for
the fewest pool nodes a fit rule can pack everything into (the pool's first K nodes all
open from the start, so replicas balance over them instead of filling them one by one).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import NDArray

from advisor.greedy import PORTFOLIO_CELLS, Assignment, Clock, greedy, past, plan_key
from advisor.prepare import Instance
from advisor.rules import admitted_mask, capacity_mask, one_per_node
from models.problem import Spread

Fit = Literal["room", "dot", "worst"]
Order = Literal["max", "sum", "input", "scarce", "bottleneck"]

# Nodes between two looks at the clock when filling node by node (a node takes many
# placements).
NODE_CLOCK_EVERY = 4
# Larger than any fit score (a sum of at most one per resource), smaller than a float's
# precision would blur: ranks "node already used" above every fit difference.
_OPEN_PENALTY = 1e6


def applies(inst: Instance) -> bool:
    """Problems this packer places exactly as the rules require: no node-level hints, no
    zone spreading, no critical pod that would want a second zone, no component over
    several pods and no disruption budget."""
    if inst.same_node or inst.separate_nodes or inst.one_node or inst.budgets:
        return False
    if any(len(units) > 1 for units in inst.components.values()):
        return False  # a component over several pods wants its pods apart
    if inst.spread == Spread.ZONE and inst.zones:
        return False
    return not (inst.zones and any(u.critical_components and u.replicas >= 2
                                   for u in inst.units))


@dataclass
class _Arrays:
    demand: NDArray[np.float64]  # unit x resource
    replicas: list[int]
    eligible: NDArray[np.bool_]  # unit x node
    capacity: NDArray[np.float64]  # node x resource
    scale: NDArray[np.float64]  # node x resource: capacity, 1 where it is 0
    cost: NDArray[np.float64]  # node
    critical: list[bool]


def _arrays(inst: Instance) -> _Arrays:
    capacity = np.array([c.capacity for c in inst.candidates], dtype=np.float64)
    scale = np.where(capacity > 0, capacity, 1.0)
    return _Arrays(
        demand=np.array([u.demand for u in inst.units], dtype=np.float64),
        replicas=[u.replicas for u in inst.units],
        eligible=admitted_mask(inst),
        capacity=capacity, scale=scale,
        cost=np.array([c.cost_weight for c in inst.candidates], dtype=np.float64),
        critical=[bool(u.critical_components) and u.replicas >= 2 for u in inst.units],
    )


def unit_order(inst: Instance, order: Order) -> list[int]:
    """`max`/`sum`: decreasing by the largest share or the sum of shares of the largest
    node's capacity; `scarce`: units asking for a resource some nodes lack (a GPU) first,
    then by `sum`; `input`: as given."""
    n = len(inst.units)
    if order == "input" or n == 0:
        return list(range(n))
    a = _arrays(inst)
    shares = a.demand / np.maximum(a.capacity.max(axis=0), 1.0)
    size = shares.max(axis=1) if order == "max" else shares.sum(axis=1)
    first = np.zeros(n, dtype=np.bool_)
    if order == "scarce":
        lacking = (a.capacity <= 0).any(axis=0)
        first = np.asarray((a.demand[:, lacking] > 0).any(axis=1), dtype=np.bool_)
    if order == "bottleneck":
        # The resource asked for most, relative to what all nodes have, decides; the sum of
        # shares breaks ties. Where one resource is nearly exhausted (GPUs on a GPU
        # cluster), packing it first is what lets everything fit.
        demand = (a.demand * np.array(a.replicas, dtype=np.float64)[:, None]).sum(axis=0)
        use = demand / np.maximum(a.capacity.sum(axis=0), 1.0)
        tight = int(np.argmax(use))
        size = shares[:, tight] + 1e-3 * shares.sum(axis=1)
    critical = np.array([bool(u.critical_components) for u in inst.units])
    return sorted(range(n), key=lambda u: (not critical[u], not first[u], -size[u], u))


def pack(inst: Instance, nodes: list[int], order: list[int], fit: Fit,
         prefer_used: bool = True, arrays: _Arrays | None = None,
         deadline: float | None = None) -> Assignment:
    """Place every replica on the listed nodes only, unit by unit in `order`.

    prefer_used: a node already hosting something wins over an empty one (then the
    cheaper empty one), as in first fit; without it, all listed nodes are equally open.
    Replicas not reached by `deadline` count as unplaced."""
    a = arrays or _arrays(inst)
    idx = np.asarray(nodes, dtype=np.int64)
    free = a.capacity[idx].copy()
    scale = a.scale[idx]
    used = np.zeros(len(idx), dtype=np.bool_)
    open_cost = a.cost[idx] / max(1.0, float(a.cost.max()))
    spread = one_per_node(inst)
    counts: list[dict[int, int]] = [{} for _ in inst.units]
    unplaced: dict[int, int] = {}
    on: dict[int, NDArray[np.bool_]] = {}
    clock = Clock(deadline)
    for u in (v for v in order for _ in range(a.replicas[v])):
        if clock.expired():
            unplaced[u] = unplaced.get(u, 0) + 1
            continue
        d = a.demand[u]
        mine = on.get(u)
        if mine is None:
            mine = on[u] = np.zeros(len(idx), dtype=np.bool_)
        ok = a.eligible[u, idx] & capacity_mask(d, free)
        if spread:
            ok &= ~mine
        elif a.critical[u] and int(mine.sum()) < 2 and (ok & ~mine).any():
            ok &= ~mine  # a critical pod's first two replicas on two nodes
        cand = np.flatnonzero(ok)
        if cand.size == 0:
            unplaced[u] = unplaced.get(u, 0) + 1
            continue
        score = _fit_score(fit, d, free[cand], scale[cand])
        if prefer_used:
            score = score + np.where(used[cand], 0.0, _OPEN_PENALTY * (1.0 + open_cost[cand]))
        j = int(cand[int(np.argmin(score))])
        free[j] -= d
        used[j] = True
        mine[j] = True
        k = int(idx[j])
        counts[u][k] = counts[u].get(k, 0) + 1
    return Assignment(counts=counts, unplaced=unplaced, leader=list(range(len(inst.units))),
                      interrupted=clock.passed)


def _fit_score(fit: Fit, d: NDArray[np.float64], f: NDArray[np.float64],
               s: NDArray[np.float64]) -> NDArray[np.float64]:
    """Lower is better: best fit (`room`), worst fit, or dot product of request and room."""
    score: NDArray[np.float64]
    if fit == "dot":
        score = -(d * f / (s * s)).sum(axis=1)
    elif fit == "worst":
        score = -((f - d) / s).sum(axis=1)
    else:
        score = ((f - d) / s).sum(axis=1)
    return score


VARIANTS: list[tuple[Order, Fit]] = [("max", "room"), ("sum", "room"), ("sum", "dot"),
                                     ("max", "dot"), ("scarce", "dot"), ("scarce", "room"),
                                     ("input", "worst"), ("input", "room")]
# Fit rules that pack well into a fixed number of open nodes (dot product above all: it
# keeps each node's cpu and memory in step).
SPREAD_VARIANTS: list[tuple[Order, Fit]] = [("bottleneck", "worst"), ("bottleneck", "dot"),
                                            ("sum", "worst")]
SHRINK_VARIANTS: list[tuple[Order, Fit]] = [("max", "dot"), ("sum", "dot"), ("sum", "room")]


def best_packing(inst: Instance, lower: int, seconds: float,
                 deadline: float | None = None) -> Assignment | None:
    """The best plan of the variants within about `seconds`; None when none ran.

    Fixed nodes are always listed. With one elastic pool (one zone or none), once two
    variants have run, the fit rules pack again, all nodes open, into fewer pool nodes,
    down to the lower bound, keeping the smallest count that places everything. At
    `deadline` every run stops (the first one then leaves replicas unplaced)."""
    if not applies(inst) or not inst.units:
        return None
    search = _Search(inst, lower, seconds, deadline)
    search.variants()
    if pure_packing(inst):
        # Pure packing into one pool: fill one node at a time, then the same with a little
        # noise in the choice, as long as time allows (seeded: the same problem gives the
        # same plan when the time limit allows the same number of runs).
        (pool_nodes,) = search.pools.values()
        for plan in _fills(inst, search.a, pool_nodes, 0, search.done, deadline):
            search.consider(plan)
    return search.best


class _Search:
    """The packing runs of `best_packing` and the best plan they found."""

    def __init__(self, inst: Instance, lower: int, seconds: float,
                 deadline: float | None) -> None:
        self.inst = inst
        self.lower = lower
        self.deadline = deadline  # every run stops there
        self.until = time.monotonic() + seconds  # no new run starts after this
        if deadline is not None:
            self.until = min(self.until, deadline)
        self.a = _arrays(inst)
        self.fixed = [c.index for c in inst.candidates if c.pool is None]
        self.pools: dict[tuple[str | None, str | None], list[int]] = {}
        for c in inst.candidates:
            if c.pool is not None:
                self.pools.setdefault((c.pool, c.zone), []).append(c.index)
        for ks in self.pools.values():
            ks.sort(key=lambda k: inst.candidates[k].pool_rank)
        self.everything = self.fixed + [k for ks in self.pools.values() for k in ks]
        self.key: tuple[int, int, int] | None = None
        self.best: Assignment | None = None
        self.orders: dict[Order, list[int]] = {}
        # Nothing beats a plan that places everything on as few nodes as the bound, when
        # every node costs the same.
        self.uniform = len({c.cost_weight for c in inst.candidates}) <= 1

    def consider(self, plan: Assignment) -> None:
        key = plan_key(self.inst, plan)
        if self.key is None or key < self.key:
            self.key, self.best = key, plan

    def pack(self, nodes: list[int], order: Order, fit: Fit, prefer_used: bool) -> Assignment:
        ordered = self.orders.setdefault(order, unit_order(self.inst, order))
        return pack(self.inst, nodes, ordered, fit, prefer_used=prefer_used, arrays=self.a,
                    deadline=self.deadline)

    def done(self) -> bool:
        return time.monotonic() > self.until or (
            self.uniform and self.key is not None and self.key[0] == 0
            and self.key[2] <= self.lower)

    def variants(self) -> None:
        """The orders and fit rules over every node; the first always runs."""
        queue: list[tuple[Order, Fit, bool]] = [(o, f, True) for o, f in VARIANTS]
        i = 0
        while i < len(queue):
            order, fit, prefer_used = queue[i]
            if i and self.done():
                break
            self.consider(self.pack(self.everything, order, fit, prefer_used))
            assert self.key is not None
            if i == 0 and self.key[0] > 0:
                # Replicas left out: spreading over every node (no preference for used
                # ones) keeps room on each for what comes later, which a full fixed
                # inventory needs.
                queue[1:1] = [(o, f, False) for o, f in SPREAD_VARIANTS]
            if i == 1 and len(self.pools) == 1 and self.key[0] == 0:
                self.shrink_pool(next(iter(self.pools.values())))
            i += 1

    def shrink_pool(self, pool_nodes: list[int]) -> None:
        """Pack again, all nodes open, into fewer pool nodes (binary search per fit rule)."""
        assert self.best is not None
        inst = self.inst
        hi = sum(1 for k in self.best.used_nodes() if inst.candidates[k].pool is not None)
        floor = max(0, self.lower - len(self.fixed))
        for order, fit in SHRINK_VARIANTS:
            lo, first = floor, True
            while lo < hi and time.monotonic() < self.until:
                k = lo if first else (lo + hi) // 2  # the bound itself first: it often holds
                first = False
                plan = self.pack(self.fixed + pool_nodes[:k], order, fit, prefer_used=False)
                if plan.complete:
                    self.consider(plan)
                    hi = min(k, sum(1 for n in plan.used_nodes()
                                    if inst.candidates[n].pool is not None))
                else:
                    lo = k + 1


def _fills(inst: Instance, a: _Arrays, pool_nodes: list[int], seed: int,
           done: Callable[[], bool], deadline: float | None = None) -> Iterator[Assignment]:
    """Node-filling runs until `done`: dot product, least squares, then dot product with
    noise; seeded, so the same problem and run count give the same plans. A run that
    `deadline` stops yields nothing."""
    rng = np.random.default_rng(seed)
    runs = 0 if seed == 0 else 2
    while not done():
        rule: Literal["dot", "l2"] = "l2" if runs == 1 else "dot"
        noise = 0.0 if runs < 2 else NOISE[runs % len(NOISE)]
        plan = fill_nodes(inst, a, pool_nodes, rule, rng, noise, deadline)
        if plan is not None:
            yield plan
        runs += 1


def more_packing(inst: Instance, plan: Assignment, seconds: float,
                 deadline: float | None = None) -> Assignment:
    """More node-filling runs (a new seed) for pure packing, where the exact model cannot be
    afforded: the best of them and `plan`."""
    if not pure_packing(inst):
        return plan
    until = time.monotonic() + seconds
    if deadline is not None:
        until = min(until, deadline)
    best, key = plan, plan_key(inst, plan)
    pool_nodes = sorted((c.index for c in inst.candidates),
                        key=lambda k: inst.candidates[k].pool_rank)
    for candidate in _fills(inst, _arrays(inst), pool_nodes, 1,
                            lambda: time.monotonic() > until, deadline):
        if plan_key(inst, candidate) < key:
            best, key = candidate, plan_key(inst, candidate)
    return best


# Relative noise on the fill score, in turn: no single level wins on every instance.
NOISE = (0.02, 0.05, 0.1, 0.2)


def pure_packing(inst: Instance) -> bool:
    """One elastic pool (one zone or none), no fixed nodes, no node-level hints, and no
    critical pod that wants two nodes without hard spreading: plain vector packing."""
    keys = {(c.pool, c.zone) for c in inst.candidates}
    if not applies(inst) or len(keys) != 1 or None in {c.pool for c in inst.candidates}:
        return False
    return one_per_node(inst) or not any(
        u.critical_components and u.replicas >= 2 for u in inst.units)


def fill_nodes(inst: Instance, a: _Arrays, pool_nodes: list[int], rule: Literal["dot", "l2"],
               rng: np.random.Generator, noise: float,
               deadline: float | None = None) -> Assignment | None:
    """Node-centric packing of one pool: open a node, add the replica whose request best
    matches its free room (dot product, or the least squared room left) until none fits,
    then the next node. None when the pool runs out of nodes first, or at `deadline`."""
    first = pool_nodes[0]
    demand = a.demand.astype(np.int64)
    share = a.demand / a.scale[first]
    # The pool's nodes are identical: what the first admits, they all admit.
    left = np.array(a.replicas, dtype=np.int64) * a.eligible[:, first]
    unplaced = {u: a.replicas[u] for u in range(len(inst.units)) if not a.eligible[u, first]}
    counts: list[dict[int, int]] = [{} for _ in inst.units]
    spread = one_per_node(inst)
    clock = Clock(deadline, NODE_CLOCK_EVERY)
    for k in pool_nodes:
        if not left.any():
            break
        if clock.expired():
            return None
        free = a.capacity[first].astype(np.int64)
        room = np.ones(share.shape[1])
        # The candidates only shrink as the node fills: filter the last list, not all units.
        idx = np.flatnonzero((left > 0) & capacity_mask(demand, free))
        while idx.size:
            if rule == "dot":
                score = (share[idx] * room).sum(axis=1)
                if noise:
                    score = score * (1.0 + noise * rng.random(idx.size))
            else:
                score = -((room - share[idx]) ** 2).sum(axis=1)
            u = int(idx[int(np.argmax(score))])
            free -= demand[u]
            room -= share[u]
            left[u] -= 1
            counts[u][k] = counts[u].get(k, 0) + 1
            keep = capacity_mask(demand[idx], free) & (left[idx] > 0)
            if spread:
                keep &= idx != u
            idx = idx[keep]
    if left.any():
        return None
    return Assignment(counts=counts, unplaced=unplaced, leader=list(range(len(inst.units))))


def initial_plan(inst: Instance, lower: int, seconds: float,
                 deadline: float | None = None) -> Assignment:
    """The first plan: the hint, the fallback answer and the bound on pool nodes.

    The vectorised variants where they apply, the hint-aware greedy where they do not or
    where it is cheap (small problems), the better of the two by `plan_key`. At `deadline`
    every heuristic stops; the plan may then leave replicas unplaced (`interrupted`)."""
    started = time.monotonic()
    packed = best_packing(inst, lower, seconds, deadline)
    if packed is not None and len(packed.used_nodes()) > lower:
        packed = drain(inst, packed, max(0.0, seconds - (time.monotonic() - started)) + 0.5,
                       deadline)
    cells = sum(u.replicas for u in inst.units) * len(inst.candidates)
    if packed is not None and (cells > PORTFOLIO_CELLS or past(deadline)):
        return packed
    plan = greedy(inst, deadline)
    if packed is not None and plan_key(inst, packed) < plan_key(inst, plan):
        return packed
    return plan


def drain(inst: Instance, plan: Assignment, seconds: float,
          deadline: float | None = None) -> Assignment:
    """Empty the least loaded nodes one by one, moving their replicas onto other used
    nodes (best fit), while it works and time allows (`seconds`, and `deadline` if
    sooner): the same replicas placed on fewer nodes. A spreading plan (a full
    inventory) leaves many nodes half empty."""
    until = time.monotonic() + seconds
    if deadline is not None:
        until = min(until, deadline)
    a = _arrays(inst)
    n_units, n_nodes = len(inst.units), len(inst.candidates)
    on = np.zeros((n_units, n_nodes), dtype=np.int64)
    for u, per in enumerate(plan.counts):
        for k, n in per.items():
            on[u, k] += n
    free = a.capacity - on.T.astype(np.float64) @ a.demand
    # A node may take a replica of a pod it already hosts only without hard spreading and
    # when the pod is not critical (its replicas stay on two nodes or more).
    stack_ok = np.array([not one_per_node(inst) and not a.critical[u]
                         for u in range(n_units)])
    load = ((a.capacity - free) / a.scale).sum(axis=1)
    for k in map(int, np.argsort(load)):
        if time.monotonic() > until:
            break
        if on[:, k].any():
            moved = _empty_node(a, on, free, k, stack_ok)
            if moved is not None:
                free, on = moved
    counts = [{int(k): int(n) for k, n in enumerate(row) if n} for row in on]
    return Assignment(counts=counts, unplaced=dict(plan.unplaced),
                      leader=list(range(n_units)), interrupted=plan.interrupted)


def _empty_node(a: _Arrays, on: NDArray[np.int64], free: NDArray[np.float64], k: int,
                stack_ok: NDArray[np.bool_]
                ) -> tuple[NDArray[np.float64], NDArray[np.int64]] | None:
    """Node `k`'s replicas moved onto the other used nodes (best fit): the new free room
    and counts, or None when one of them fits nowhere."""
    trial_free = free.copy()
    trial_on = on.copy()
    used = trial_on.sum(axis=0) > 0
    used[k] = False
    for u in map(int, np.flatnonzero(on[:, k])):
        d = a.demand[u]
        for _ in range(int(on[u, k])):
            fits = used & a.eligible[u] & capacity_mask(d, trial_free)
            if not stack_ok[u]:
                fits &= trial_on[u] == 0
            cand = np.flatnonzero(fits)
            if cand.size == 0:
                return None
            j = int(cand[int(np.argmin(((trial_free[cand] - d) / a.scale[cand]).sum(axis=1)))])
            trial_free[j] -= d
            trial_on[u, j] += 1
            trial_on[u, k] -= 1
            trial_free[k] += d
    return trial_free, trial_on
