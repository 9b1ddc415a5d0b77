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
    return best


def missing_capacity(inst: Instance, unplaced: dict[int, int]) -> dict[str, int]:
    """Requests of the replicas that could not be placed, per resource (model units)."""
    out: dict[str, int] = {}
    for u, n in unplaced.items():
        for r, d in enumerate(inst.units[u].demand):
            if d > 0:
                out[inst.resources[r]] = out.get(inst.resources[r], 0) + n * d
    return out
