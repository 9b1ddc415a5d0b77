"""Lower bounds that hold for every plan placing all replicas."""

from __future__ import annotations

from advisor.prepare import Instance
from models.problem import Spread


def nodes_lower_bound(inst: Instance) -> int:
    """Fewest nodes any complete plan needs.

    Per resource: the fewest candidate nodes whose largest capacities add up to the
    total request (the pod count only when no units may merge). Under hard spreading,
    also the largest replica count.
    """
    best = 0
    for r in range(len(inst.resources)):
        if r == inst.pods_index and inst.merge_options:
            continue  # merged units make fewer pods than units
        need = sum(u.replicas * u.demand[r] for u in inst.units)
        if need <= 0:
            continue
        caps = sorted((c.capacity[r] for c in inst.candidates), reverse=True)
        total, count = 0, 0
        for cap in caps:
            if total >= need:
                break
            total += cap
            count += 1
        best = max(best, count)
    if inst.spread != Spread.NONE:
        best = max([best, *(u.replicas for u in inst.units)])
    return max(best, conflict_bound(inst))


# Pairwise checks grow with units times the clique: past this many units the bound is skipped.
MAX_CLIQUE_UNITS = 3000


def conflict_bound(inst: Instance) -> int:
    """Replicas that pairwise cannot share a node need a node each.

    Two replicas conflict when, on every kind of node both may use, their requests
    together exceed some resource. A greedy clique, largest first: the bound that
    resource sums miss when many requests are over half a node (vector packing's
    "big items"). Nodes are grouped by capacity; being eligible somewhere in a group
    counts as sharing it, which can only weaken the bound.
    """
    if len(inst.units) > MAX_CLIQUE_UNITS or not inst.candidates:
        return 0
    kinds: dict[tuple[int, ...], int] = {}
    where: list[set[int]] = [set() for _ in inst.units]
    for k, cand in enumerate(inst.candidates):
        kind = kinds.setdefault(tuple(cand.capacity), len(kinds))
        for u, unit in enumerate(inst.units):
            if unit.eligible[k]:
                where[u].add(kind)
    caps = list(kinds)

    # Merged units make one pod of two: the pod count is no reason two cannot share a node.
    checked = [r for r in range(len(inst.resources))
               if not (r == inst.pods_index and inst.merge_options)]

    def clash(a: int, b: int) -> bool:
        da, db = inst.units[a].demand, inst.units[b].demand
        return all(any(da[r] + db[r] > caps[kind][r] for r in checked)
                   for kind in where[a] & where[b])

    top = [max((c[r] for c in caps), default=1) or 1 for r in range(len(inst.resources))]
    order = sorted(range(len(inst.units)), key=lambda u: -max(
        (d / top[r] for r, d in enumerate(inst.units[u].demand)), default=0.0))
    clique: list[int] = []
    size = 0
    for u in order:
        if not where[u] or not all(clash(u, v) for v in clique):
            continue
        clique.append(u)
        alone = inst.spread != Spread.NONE or clash(u, u)
        size += inst.units[u].replicas if alone else 1
    return size


def missing_capacity(inst: Instance, unplaced: dict[int, int]) -> dict[str, int]:
    """Requests of the replicas that could not be placed, per resource (model units)."""
    out: dict[str, int] = {}
    for u, n in unplaced.items():
        for r, d in enumerate(inst.units[u].demand):
            if d > 0:
                out[inst.resources[r]] = out.get(inst.resources[r], 0) + n * d
    return out
