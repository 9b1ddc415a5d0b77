"""A fast constructive plan: one pod per unit, replicas placed best-fit with spreading.

It serves three purposes: the fallback answer (status `heuristic`), the CP-SAT
hint, and an upper bound that sizes the model (how many pool nodes to offer).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from advisor.prepare import Instance
from models.problem import Spread


@dataclass
class Assignment:
    """Replica counts per unit and node; `unplaced` counts replicas that found no node."""

    counts: list[dict[int, int]]
    unplaced: dict[int, int] = field(default_factory=dict)
    leader: list[int] = field(default_factory=list)  # unit -> unit whose pod it joins

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


def greedy(inst: Instance) -> Assignment:
    """The best of a few orders and fit rules: no single one wins on every shape mix (for
    vector packing, dot-product fit often beats best fit). Best: fewest replicas left out,
    then the cheapest nodes, then the fewest."""
    cells = sum(u.replicas for u in inst.units) * len(inst.candidates)
    variants = VARIANTS if cells <= PORTFOLIO_CELLS else VARIANTS[:1]
    best: tuple[tuple[int, int, int], Assignment] | None = None
    for measure, fit in variants:
        plan = greedy_variant(inst, measure, fit)
        key = plan_key(inst, plan)
        if best is None or key < best[0]:
            best = (key, plan)
    assert best is not None
    return best[1]


def greedy_variant(inst: Instance, measure: Size = "max", fit: Fit = "room") -> Assignment:
    n_res = len(inst.resources)
    free = [list(c.capacity) for c in inst.candidates]
    hosting: list[int] = [0] * len(inst.candidates)
    counts: list[dict[int, int]] = [{} for _ in inst.units]
    unplaced: dict[int, int] = {}
    partners_same: dict[int, list[int]] = {}
    for small, big, _ in inst.same_node:
        partners_same.setdefault(small, []).append(big)
        partners_same.setdefault(big, []).append(small)
    apart: dict[int, set[int]] = {}
    for a, b, _ in inst.separate_nodes:
        apart.setdefault(a, set()).add(b)
        apart.setdefault(b, set()).add(a)
    placed_units: set[int] = set()
    # Other units of the same component (a Service over workloads): spread with them.
    kin: dict[int, list[int]] = {}
    for units in inst.components.values():
        for v in units:
            kin.setdefault(v, []).extend(w for w in units if w != v)
    # ReadWriteOnce volumes: the first replica of a group picks the node of them all.
    group_of = {u: g for g, (group, _) in enumerate(inst.one_node) for u in group}
    group_node: dict[int, int] = {}
    zone_of = [c.zone for c in inst.candidates]
    # The nodes worth trying: fixed ones, opened pool nodes, and per pool and zone the
    # next unopened one (identical nodes: trying one stands for all). Kept as we go, so a
    # replica looks at the open nodes only, not at every node a pool could have.
    tryable = [n for n, c in enumerate(inst.candidates) if c.pool is None]
    unopened: dict[tuple[str | None, str | None], list[int]] = {}
    for n, c in enumerate(inst.candidates):
        if c.pool is not None:
            unopened.setdefault((c.pool, c.zone), []).append(n)
    for ks in unopened.values():
        ks.sort(key=lambda n: -inst.candidates[n].pool_rank)  # next to open at the end
        tryable.append(ks.pop())

    for u in _order(inst, measure):
        unit = inst.units[u]
        # sameNode with an already placed partner of at least as many replicas: follow it.
        limit: dict[int, int] | None = None
        for p in partners_same.get(u, []):
            if p in placed_units and inst.units[p].replicas >= unit.replicas:
                cap = counts[p]
                limit = cap if limit is None else {
                    k: min(v, limit.get(k, 0)) for k, v in cap.items()
                }
        # Pods that will follow this one onto its nodes (sameNode, fewer replicas): leave room.
        followers = [p for p in partners_same.get(u, []) if p not in placed_units
                     and inst.units[p].replicas <= unit.replicas]
        room_for = [unit.demand[r] + sum(inst.units[p].demand[r] for p in followers)
                    for r in range(n_res)]
        g = group_of.get(u)
        if g is not None:
            if g in group_node:
                pinned = group_node[g]
                limit = {pinned: unit.replicas if limit is None else limit.get(pinned, 0)}
            else:  # room for every replica of the group on the node it picks
                room_for = [sum(inst.units[v].demand[r] * inst.units[v].replicas
                                for v in inst.one_node[g][0]) for r in range(n_res)]
        for _ in range(unit.replicas):
            k = _choose(inst, u, free, hosting, counts, limit, apart, placed_units, zone_of,
                        room_for, fit, tryable, kin.get(u, []))
            if k is None:
                unplaced[u] = unplaced.get(u, 0) + 1
                continue
            if g is not None and g not in group_node:
                group_node[g] = k
                limit = {k: unit.replicas if limit is None else limit.get(k, 0)}
            counts[u][k] = counts[u].get(k, 0) + 1
            if hosting[k] == 0 and inst.candidates[k].pool is not None:
                rest = unopened[inst.candidates[k].pool, inst.candidates[k].zone]
                if rest:  # the pool's next node of that zone becomes the one to try
                    tryable.append(rest.pop())
            hosting[k] += 1
            for r in range(n_res):
                free[k][r] -= unit.demand[r]
        placed_units.add(u)
    return Assignment(counts=counts, unplaced=unplaced, leader=list(range(len(inst.units))))


def _choose(inst: Instance, u: int, free: list[list[int]], hosting: list[int],
            counts: list[dict[int, int]], limit: dict[int, int] | None,
            apart: dict[int, set[int]], placed: set[int], zone_of: list[str | None],
            room_for: list[int], fit: Fit, tryable: list[int], kin: list[int]) -> int | None:
    unit = inst.units[u]
    mine = counts[u]
    spread = inst.spread
    zone_load: dict[str | None, int] = {}
    for k, n in mine.items():
        zone_load[zone_of[k]] = zone_load.get(zone_of[k], 0) + n
    zone_cap = inst.zone_cap(u)
    # The component's replicas so far, over all its pods.
    ours = dict(mine)
    for v in kin:
        for k, n in counts[v].items():
            ours[k] = ours.get(k, 0) + n
    our_zones = {zone_of[k] for k, n in ours.items() if n > 0} - {None}
    # Availability needs two nodes (and two zones, where there are) per critical component;
    # beyond that, replicas pack like any other.
    critical = bool(unit.critical_components) and (
        unit.replicas + sum(inst.units[v].replicas for v in kin) >= 2)
    want_node = critical and sum(1 for n in ours.values() if n > 0) < 2
    want_zone = critical and len(inst.zones) >= 2 and len(our_zones) < 2
    best: tuple[tuple[float, ...], int] | None = None
    for k in tryable:
        cand = inst.candidates[k]
        if not unit.eligible[k]:
            continue
        if any(unit.demand[r] > free[k][r] for r in range(len(free[k]))):
            continue
        if spread != Spread.NONE and mine.get(k, 0) >= 1:
            continue
        if zone_cap is not None and zone_load.get(cand.zone, 0) >= zone_cap:
            continue
        if limit is not None and mine.get(k, 0) >= limit.get(k, 0):
            continue
        if any(counts[v].get(k, 0) for v in apart.get(u, ()) if v in placed):
            continue
        is_open = hosting[k] > 0 or cand.pool is None
        # Prefer: room for the sameNode followers too, a second node and zone for a
        # critical pod, an already used node (packing), the cheaper node to open, then the
        # tightest fit (best fit by normalised room left).
        if fit == "dot":
            # Dot-product fit: the node whose free room is most aligned with the request.
            room = -sum(unit.demand[r] * free[k][r] / (cand.capacity[r] * cand.capacity[r])
                        for r in range(len(free[k])) if cand.capacity[r] > 0)
        else:  # best fit: the least room left, summed over normalised resources
            room = sum(
                (free[k][r] - unit.demand[r]) / cand.capacity[r]
                for r in range(len(free[k])) if cand.capacity[r] > 0
            )
        key_tuple = (
            0.0 if all(room_for[r] <= free[k][r] for r in range(len(free[k]))) else 1.0,
            1.0 if want_node and ours.get(k, 0) > 0 else 0.0,
            1.0 if want_zone and cand.zone in our_zones else 0.0,
            0.0 if hosting[k] > 0 else (1.0 if is_open else 2.0),
            float(cand.cost_weight) if hosting[k] == 0 else 0.0,
            room,
            float(k),
        )
        if best is None or key_tuple < best[0]:
            best = (key_tuple, k)
    return None if best is None else best[1]
