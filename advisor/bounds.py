"""Lower bounds that hold for every plan placing all replicas.

`lower_bound` returns the best of them with the name of the one that decided:

- `volume-R`: per resource R, the fewest nodes, largest first, whose capacity covers the
  summed requests;
- `spread`: under hard spreading, the largest replica count;
- `conflict`: replicas that pairwise cannot share a node (a clique of the conflict graph);
- `dff-R` (`dff-R+S`, `dff-all`): on identical nodes, a dual-feasible function applied to
  resource R's shares (or to the mean share of several resources), after Alves, de
  Carvalho, Clautiaux and Rietz, "Multidimensional dual-feasible functions and fast lower
  bounds for the vector packing problem" (EJOR 2014).
"""

from __future__ import annotations

import itertools
import math

import numpy as np
from numpy.typing import NDArray

from advisor.prepare import Instance
from models.problem import Spread


def nodes_lower_bound(inst: Instance) -> int:
    """Fewest nodes any complete plan needs (`lower_bound` without the name)."""
    return lower_bound(inst)[0]


def lower_bound(inst: Instance) -> tuple[int, str]:
    """The best lower bound on the nodes of a complete plan and the name of the bound that
    decided it (the first of volume, spread, conflict, dff on a tie)."""
    found = [volume_bound(inst)]
    if inst.spread != Spread.NONE and inst.units:
        found.append((max(u.replicas for u in inst.units), "spread"))
    found.append((conflict_bound(inst), "conflict"))
    found.append(dff_bound(inst))
    best = max(value for value, _ in found)
    return best, next(name for value, name in found if value == best)


def _checked(inst: Instance) -> list[int]:
    """Resources every bound may count: all but the pod count when units may merge (a
    merged pod is one pod for two units)."""
    return [r for r in range(len(inst.resources))
            if not (r == inst.pods_index and inst.merge_options)]


def volume_bound(inst: Instance) -> tuple[int, str]:
    """Per resource: the fewest candidate nodes whose largest capacities add up to the
    total request."""
    best, name = 0, "volume"
    for r in _checked(inst):
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
        if count > best:
            best, name = count, f"volume-{inst.resources[r]}"
    return best, name


# Pairwise checks grow with units times the clique: past this many units the bound is skipped.
MAX_CLIQUE_UNITS = 3000
# The dense conflict matrix costs units^2 x node kinds: past this, the clique grows by size
# order against its members only.
MAX_DENSE_CELLS = 30_000_000


def conflict_bound(inst: Instance) -> int:
    """Replicas that pairwise cannot share a node need a node each.

    Two replicas conflict when, on every kind of node both may use, their requests
    together exceed some resource. A clique of that conflict graph is the bound that
    resource sums miss when many requests are over half a node (vector packing's "big
    items"). Nodes are grouped by capacity; being eligible somewhere in a group counts as
    sharing it, which can only weaken the bound. The clique grows by the most conflicts
    among the remaining candidates, then one member at a time is traded for two or more.
    """
    if len(inst.units) > MAX_CLIQUE_UNITS or not inst.candidates:
        return 0
    ok, caps = _node_kinds(inst)
    if len(inst.units) ** 2 * len(caps) > MAX_DENSE_CELLS:
        return _clique_by_size(inst, ok, caps)
    clash = _clash_matrix(inst, ok, np.array(caps, dtype=np.float64))
    alone = np.diagonal(clash).copy()
    if inst.spread != Spread.NONE:
        alone[:] = True  # the replicas of one pod never share a node
    weight = np.where(alone, [u.replicas for u in inst.units], 1).astype(np.float64)
    np.fill_diagonal(clash, False)
    placeable = np.asarray(ok.any(axis=1), dtype=np.bool_)
    clique = _grow_clique(clash, weight, placeable)
    clique = _trade_members(clash, weight, placeable, clique)
    return int(weight[clique].sum())


def size_order_clique(inst: Instance) -> int:
    """The clique grown largest first only (the conflict bound before the degree order and
    the trades), for comparison."""
    if len(inst.units) > MAX_CLIQUE_UNITS or not inst.candidates:
        return 0
    return _clique_by_size(inst, *_node_kinds(inst))


def _node_kinds(inst: Instance) -> tuple[NDArray[np.bool_], list[tuple[int, ...]]]:
    """Candidates grouped by capacity: unit x kind eligibility, and each kind's capacity."""
    kinds: dict[tuple[int, ...], int] = {}
    kind_of = np.array([kinds.setdefault(tuple(c.capacity), len(kinds))
                        for c in inst.candidates], dtype=np.int64)
    eligible = np.array([u.eligible for u in inst.units], dtype=np.bool_).reshape(
        len(inst.units), len(inst.candidates))
    ok = np.stack([eligible[:, kind_of == kind].any(axis=1) for kind in range(len(kinds))],
                  axis=1)
    return ok, list(kinds)


def _clash_matrix(inst: Instance, ok: NDArray[np.bool_], caps: NDArray[np.float64]
                  ) -> NDArray[np.bool_]:
    """unit x unit: True where no node kind both may use holds one replica of each."""
    demand = np.array([u.demand for u in inst.units], dtype=np.float64)
    checked = _checked(inst)
    n = len(inst.units)
    share = np.zeros((n, n), dtype=np.bool_)
    rows = max(1, 4_000_000 // max(1, n))  # row blocks keep the temporaries small
    for kind, cap in enumerate(caps):
        both = ok[:, kind]
        for lo in range(0, n, rows):
            hi = min(n, lo + rows)
            fits = (both[lo:hi, None] & both[None, :]).copy()
            for r in checked:
                fits &= demand[lo:hi, r, None] + demand[None, :, r] <= cap[r]
            share[lo:hi] |= fits
    return ~share


def _grow_clique(clash: NDArray[np.bool_], weight: NDArray[np.float64],
                 allowed: NDArray[np.bool_]) -> list[int]:
    """Greedy clique among `allowed`: each step takes the candidate with the most
    conflicting weight among the remaining candidates (ties: its own weight)."""
    left = allowed.copy()
    degree = clash[:, left].astype(np.float64) @ weight[left]
    clique: list[int] = []
    while left.any():
        cand = np.flatnonzero(left)
        v = int(cand[int(np.argmax(degree[cand] + 1e-6 * weight[cand]))])
        clique.append(v)
        dropped = left & ~clash[v]
        left &= clash[v]
        if dropped.any():
            degree -= clash[:, dropped].astype(np.float64) @ weight[dropped]
    return clique


# Trades tried at most: each costs a greedy clique over the candidates it frees.
MAX_TRADES = 200


def _trade_members(clash: NDArray[np.bool_], weight: NDArray[np.float64],
                   allowed: NDArray[np.bool_], clique: list[int]) -> list[int]:
    """Drop one member when the units conflicting with all the others hold a heavier
    clique than it: a (1, 2)-swap local search, first improvement."""
    trades = 0
    improved = True
    while improved and trades < MAX_TRADES:
        improved = False
        inside = np.zeros(len(weight), dtype=np.bool_)
        inside[clique] = True
        # Candidates outside missing exactly one member: dropping that member frees them.
        missing = (~clash[:, clique]).sum(axis=1)
        outside = allowed & ~inside & (missing == 1)
        for i, v in enumerate(clique):
            free = outside & ~clash[:, v]
            if not free.any():
                continue
            trades += 1
            sub = _grow_clique(clash, weight, free)
            if weight[sub].sum() > weight[v] + 1e-9:
                clique, improved = clique[:i] + clique[i + 1:] + sub, True
                break
            if trades >= MAX_TRADES:
                break
    return clique


def _clique_by_size(inst: Instance, ok: NDArray[np.bool_],
                    caps: list[tuple[int, ...]]) -> int:
    """The clique grown largest first, each candidate checked against the members only:
    for many units on many node kinds, where the dense matrix would not pay."""
    checked = _checked(inst)

    def clash(a: int, b: int) -> bool:
        da, db = inst.units[a].demand, inst.units[b].demand
        return all(any(da[r] + db[r] > caps[kind][r] for r in checked)
                   for kind in np.flatnonzero(ok[a] & ok[b]))

    top = [max((c[r] for c in caps), default=1) or 1 for r in range(len(inst.resources))]
    order = sorted(range(len(inst.units)), key=lambda u: -max(
        (d / top[r] for r, d in enumerate(inst.units[u].demand)), default=0.0))
    clique: list[int] = []
    size = 0
    for u in order:
        if not ok[u].any() or not all(clash(u, v) for v in clique):
            continue
        clique.append(u)
        alone = inst.spread != Spread.NONE or clash(u, u)
        size += inst.units[u].replicas if alone else 1
    return size


# Thresholds of the f_0 family tried at most, and the largest k of Fekete and Schepers'.
MAX_F0_THRESHOLDS = 200
MAX_FS_K = 20
# Resources combined pairwise into surrogate shares at most (then only all together).
MAX_PAIRED_RESOURCES = 6
# Surrogate shares are floats: within this of a step of a function, the lower side is
# taken (every function used only grows with the share), and sums lose this before
# rounding up, so float noise can only weaken the bound.
_STEP_SLACK = 1e-12
_SUM_SLACK = 1e-6
# f_0 thresholds sit this far below an item's share, so that the item itself counts.
_THRESHOLD_OFFSET = 1e-9


def dff_bound(inst: Instance) -> tuple[int, str]:
    """Dual-feasible functions on identical nodes (one capacity for every candidate).

    A set of replicas fits on a node only if, per resource, their shares of it add up to
    at most 1, and so do the means of several resources' shares (a surrogate resource).
    A dual-feasible function f keeps that property (shares adding up to at most 1 map to
    values adding up to at most 1), so the rounded-up sum of f over all replicas bounds the
    node count. Per resource and per surrogate (pairs of resources, and all of them), the
    best of f_0^k (shares above 1-k count 1, below k nothing) over thresholds k and of
    Fekete and Schepers' u^(k) (floor((k+1)x)/k) over k = 1..20."""
    if not inst.units or len({tuple(c.capacity) for c in inst.candidates}) != 1:
        return 0, "dff"
    cap = inst.candidates[0].capacity
    demand = np.array([u.demand for u in inst.units], dtype=np.int64)
    dims = [r for r in _checked(inst) if demand[:, r].any()]
    if not dims or any(cap[r] <= 0 for r in dims):
        return 0, "dff"  # nothing to count, or a request no node holds (a named conflict)
    copies = np.array([u.replicas for u in inst.units], dtype=np.float64)
    best, name = 0, "dff"
    for r in dims:  # one resource: exact in integers
        value = dff_exact(demand[:, r], cap[r], copies)
        if value > best:
            best, name = value, f"dff-{inst.resources[r]}"
    shares = demand[:, dims] / np.array([cap[r] for r in dims], dtype=np.float64)
    groups: list[tuple[int, ...]] = []
    if len(dims) <= MAX_PAIRED_RESOURCES:
        groups += list(itertools.combinations(range(len(dims)), 2))
    if len(dims) > 2:
        groups.append(tuple(range(len(dims))))
    for group in groups:
        value = dff_surrogate(shares[:, list(group)].mean(axis=1), copies)
        if value > best:
            label = ("all" if len(group) == len(dims) > 2
                     else "+".join(inst.resources[dims[g]] for g in group))
            best, name = value, f"dff-{label}"
    return best, name


def _ceil(total: float) -> int:
    return math.ceil(total - _SUM_SLACK)


def dff_exact(size: NDArray[np.int64], cap: int, copies: NDArray[np.float64]) -> int:
    """The best bin packing bound of f_0^k and u^(k) on integer sizes and a bin of `cap`,
    every step decided in integers."""
    x = size / cap
    best = _ceil(float(x @ copies))
    ks = np.unique(size[(size > 0) & (2 * size <= cap)])
    if ks.size > MAX_F0_THRESHOLDS:
        ks = ks[np.linspace(0, ks.size - 1, MAX_F0_THRESHOLDS).astype(np.int64)]
    if ks.size:
        k = ks[:, None]
        f0 = np.where(size[None, :] > cap - k, 1.0, np.where(size[None, :] < k, 0.0, x[None, :]))
        best = max(best, _ceil(float((f0 @ copies).max())))
    fk = np.arange(1, MAX_FS_K + 1, dtype=np.int64)[:, None]
    scaled = (fk + 1) * size[None, :]
    fs = np.where(scaled % cap == 0, x[None, :], (scaled // cap) / fk)
    return max(best, _ceil(float((fs @ copies).max())))


def dff_surrogate(x: NDArray[np.float64], copies: NDArray[np.float64]) -> int:
    """The same functions on float shares of a bin of 1, the lower side taken at steps."""
    x = np.clip(x, 0.0, 1.0)
    best = _ceil(float(x @ copies))
    ks = np.unique(x[(x > _THRESHOLD_OFFSET) & (x <= 0.5)]) - _THRESHOLD_OFFSET
    if ks.size > MAX_F0_THRESHOLDS:
        ks = ks[np.linspace(0, ks.size - 1, MAX_F0_THRESHOLDS).astype(np.int64)]
    if ks.size:
        k = ks[:, None]
        f0 = np.where(x[None, :] > 1.0 - k + _STEP_SLACK, 1.0,
                      np.where(x[None, :] < k + _STEP_SLACK, 0.0, x[None, :]))
        best = max(best, _ceil(float((f0 @ copies).max())))
    fk = np.arange(1, MAX_FS_K + 1, dtype=np.float64)[:, None]
    fs = np.floor((fk + 1.0) * x[None, :] - _STEP_SLACK) / fk
    return max(best, _ceil(float((fs @ copies).max())))


def missing_capacity(inst: Instance, unplaced: dict[int, int]) -> dict[str, int]:
    """Requests of the replicas that could not be placed, per resource (model units)."""
    out: dict[str, int] = {}
    for u, n in unplaced.items():
        for r, d in enumerate(inst.units[u].demand):
            if d > 0:
                out[inst.resources[r]] = out.get(inst.resources[r], 0) + n * d
    return out
