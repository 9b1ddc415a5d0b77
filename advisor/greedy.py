"""A fast constructive plan: one pod per unit, replicas placed best-fit with spreading.

It serves three purposes: the fallback answer (status `heuristic`), the CP-SAT
hint, and an upper bound that sizes the model (how many pool nodes to offer).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Literal

from advisor.prepare import Instance
from advisor.rules import Placement, feasible_nodes, instance_units


@dataclass
class Assignment:
    """Replica counts per unit and node; `unplaced` counts replicas that found no node."""

    counts: list[dict[int, int]]
    unplaced: dict[int, int] = field(default_factory=dict)
    leader: list[int] = field(default_factory=list)  # unit -> unit whose pod it joins
    # A deadline stopped the heuristic: some of the unplaced replicas may well fit.
    interrupted: bool = False

    @property
    def complete(self) -> bool:
        return not any(self.unplaced.values())

    def used_nodes(self) -> set[int]:
        return {k for per_node in self.counts for k, n in per_node.items() if n > 0}


Size = Literal["max", "sum"]
Fit = Literal["room", "dot"]


def _order(inst: Instance, measure: Size = "max") -> list[int]:
    """Critical and large units first; within a sameNode group, more replicas first.
    Large: by the largest share of any resource (`max`), or by the shares' sum (`sum`)."""
    max_cap = [max((c.capacity[r] for c in inst.candidates), default=1) or 1
               for r in range(len(inst.resources))]

    def size(u: int) -> float:
        shares = [d / max_cap[r] for r, d in enumerate(inst.units[u].demand)]
        return max(shares) if measure == "max" else sum(shares)

    group = list(range(len(inst.units)))
    for small, big, _ in inst.same_node:
        a, b = group[small], group[big]
        for i, g in enumerate(group):
            if g == b:
                group[i] = a
    members: dict[int, list[int]] = {}
    for u, g in enumerate(group):
        members.setdefault(g, []).append(u)
    group_size = {g: max(size(u) for u in us) for g, us in members.items()}
    group_critical = {g: any(inst.units[u].critical_components for u in us)
                      for g, us in members.items()}
    # A whole sameNode group is placed together, its pod with most replicas first.
    return sorted(
        range(len(inst.units)),
        key=lambda u: (not group_critical[group[u]], -group_size[group[u]], group[u],
                       -inst.units[u].replicas, -size(u), u),
    )


# Rounds of the portfolio are run while replicas x nodes stays under this (a few tenths of a
# second in Python each); larger problems get the first variant only.
PORTFOLIO_CELLS = 200_000
VARIANTS: list[tuple[Size, Fit]] = [("max", "room"), ("sum", "room"), ("max", "dot"),
                                    ("sum", "dot")]


def plan_key(inst: Instance, plan: Assignment) -> tuple[int, int, int]:
    """How first plans compare: fewest replicas left out, then the cheapest nodes, then the
    fewest nodes."""
    used = plan.used_nodes()
    return (sum(plan.unplaced.values()), sum(inst.candidates[k].cost_weight for k in used),
            len(used))


# Placements between two looks at the clock: a look costs tens of nanoseconds, a placement
# microseconds at least, so checking costs nothing measurable and overshoots by little.
CLOCK_EVERY = 32


class Clock:
    """An optional deadline (time.monotonic() seconds), looked at every `every` ticks."""

    def __init__(self, deadline: float | None, every: int = CLOCK_EVERY) -> None:
        self.deadline = deadline
        self.every = every
        self.ticks = 0
        self.passed = False

    def expired(self) -> bool:
        """One tick (a placement, a node); True from the first look past the deadline on."""
        if self.deadline is not None and not self.passed:
            if self.ticks % self.every == 0:
                self.passed = time.monotonic() > self.deadline
            self.ticks += 1
        return self.passed


def past(deadline: float | None) -> bool:
    return deadline is not None and time.monotonic() > deadline


def greedy(inst: Instance, deadline: float | None = None) -> Assignment:
    """The best of a few orders and fit rules: no single one wins on every shape mix (for
    vector packing, dot-product fit often beats best fit). Best: fewest replicas left out,
    then the cheapest nodes, then the fewest. Past `deadline`, no further variant starts
    and the running one leaves the replicas it has not reached unplaced."""
    cells = sum(u.replicas for u in inst.units) * len(inst.candidates)
    variants = VARIANTS if cells <= PORTFOLIO_CELLS else VARIANTS[:1]
    best: tuple[tuple[int, int, int], Assignment] | None = None
    for i, (measure, fit) in enumerate(variants):
        if i and past(deadline):
            break
        plan = greedy_variant(inst, measure, fit, deadline)
        key = plan_key(inst, plan)
        if best is None or key < best[0]:
            best = (key, plan)
    assert best is not None
    return best[1]


def greedy_variant(inst: Instance, measure: Size = "max", fit: Fit = "room",
                   deadline: float | None = None) -> Assignment:
    """One order and fit rule; replicas not reached by `deadline` count as unplaced."""
    order = _order(inst, measure)
    state = Placement(inst, instance_units(inst, order))
    frontier = _Frontier(inst)
    partners: dict[int, list[int]] = {}
    for small, big, _ in inst.same_node:
        partners.setdefault(small, []).append(big)
        partners.setdefault(big, []).append(small)
    # Other units of the same component (a Service over workloads): spread with them.
    kin: dict[int, list[int]] = {}
    for units in inst.components.values():
        for v in units:
            kin.setdefault(v, []).extend(w for w in units if w != v)
    group_of = {u: g for g, (group, _) in enumerate(inst.one_node) for u in group}
    clock = Clock(deadline)
    unplaced: dict[int, int] = {}
    placed: set[int] = set()
    for u in order:
        room_for = _room_for(inst, state, u, [p for p in partners.get(u, []) if p not in placed],
                             group_of.get(u))
        for _ in range(inst.units[u].replicas):
            k = None if clock.expired() else _choose(inst, state, u, room_for, fit,
                                                      frontier.nodes, kin.get(u, []))
            if k is None:
                unplaced[u] = unplaced.get(u, 0) + 1
                continue
            frontier.opening(state, k)
            state.place(u, k)
        placed.add(u)
    return Assignment(counts=state.counts, unplaced=unplaced,
                      leader=list(range(len(inst.units))), interrupted=clock.passed)


class _Frontier:
    """The nodes worth trying: fixed ones, opened pool nodes, and per pool and zone the
    next unopened one (identical nodes: trying one stands for all). Kept as replicas land,
    so a replica looks at the open nodes only, not at every node a pool could have."""

    def __init__(self, inst: Instance) -> None:
        self.inst = inst
        self.nodes = [n for n, c in enumerate(inst.candidates) if c.pool is None]
        self.unopened: dict[tuple[str | None, str | None], list[int]] = {}
        for n, c in enumerate(inst.candidates):
            if c.pool is not None:
                self.unopened.setdefault((c.pool, c.zone), []).append(n)
        for ks in self.unopened.values():
            ks.sort(key=lambda n: -inst.candidates[n].pool_rank)  # next to open at the end
            self.nodes.append(ks.pop())

    def opening(self, state: Placement, k: int) -> None:
        """Before a replica lands on `k`: an empty pool node makes its pool's next node of
        that zone the one to try."""
        cand = self.inst.candidates[k]
        if state.hosting.get(k, 0) == 0 and cand.pool is not None:
            rest = self.unopened[cand.pool, cand.zone]
            if rest:
                self.nodes.append(rest.pop())


def _room_for(inst: Instance, state: Placement, u: int, waiting: list[int],
              group: int | None) -> list[int]:
    """The room a node should have for `u`: with the sameNode partners still to place that
    will follow it (fewer replicas), or for every replica of its ReadWriteOnce volume's
    pods while the volume has no node yet."""
    unit = inst.units[u]
    n_res = len(inst.resources)
    if group is not None and not state.attached[group]:
        members = inst.one_node[group][0]
        return [sum(inst.units[v].demand[r] * inst.units[v].replicas for v in members)
                for r in range(n_res)]
    followers = [p for p in waiting if inst.units[p].replicas <= unit.replicas]
    return [unit.demand[r] + sum(inst.units[p].demand[r] for p in followers)
            for r in range(n_res)]


def _choose(inst: Instance, state: Placement, u: int, room_for: list[int], fit: Fit,
            tryable: list[int], kin: list[int]) -> int | None:
    """The best node the rules allow for one more replica of `u`, or None."""
    unit = inst.units[u]
    # The component's replicas so far, over all its pods.
    ours = dict(state.counts[u])
    for v in kin:
        for k, n in state.counts[v].items():
            ours[k] = ours.get(k, 0) + n
    our_zones = {inst.candidates[k].zone for k, n in ours.items() if n > 0} - {None}
    # Availability needs two nodes (and two zones, where there are) per critical component;
    # beyond that, replicas pack like any other.
    critical = bool(unit.critical_components) and (
        unit.replicas + sum(inst.units[v].replicas for v in kin) >= 2)
    want_node = critical and sum(1 for n in ours.values() if n > 0) < 2
    want_zone = critical and len(inst.zones) >= 2 and len(our_zones) < 2
    best: tuple[tuple[float, ...], int] | None = None
    for k in feasible_nodes(inst, state, u, tryable):
        cand = inst.candidates[k]
        free = state.free[k]
        hosting = state.hosting.get(k, 0)
        is_open = hosting > 0 or cand.pool is None
        # Prefer: room for the sameNode followers too, a second node and zone for a
        # critical pod, an already used node (packing), the cheaper node to open, then the
        # tightest fit (best fit by normalised room left).
        if fit == "dot":
            # Dot-product fit: the node whose free room is most aligned with the request.
            room = -sum(unit.demand[r] * free[r] / (cand.capacity[r] * cand.capacity[r])
                        for r in range(len(free)) if cand.capacity[r] > 0)
        else:  # best fit: the least room left, summed over normalised resources
            room = sum(
                (free[r] - unit.demand[r]) / cand.capacity[r]
                for r in range(len(free)) if cand.capacity[r] > 0
            )
        key_tuple = (
            0.0 if all(room_for[r] <= free[r] for r in range(len(free))) else 1.0,
            1.0 if want_node and ours.get(k, 0) > 0 else 0.0,
            1.0 if want_zone and cand.zone in our_zones else 0.0,
            0.0 if hosting > 0 else (1.0 if is_open else 2.0),
            float(cand.cost_weight) if hosting == 0 else 0.0,
            room,
            float(k),
        )
        if best is None or key_tuple < best[0]:
            best = (key_tuple, k)
    return None if best is None else best[1]
