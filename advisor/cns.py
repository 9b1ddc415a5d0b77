"""Fewer nodes for plain vector packing: a local search at a fixed node count.

After Buljubašić and Vasquez, "Consistent neighborhood search for one-dimensional bin
packing and two-dimensional vector packing" (Computers & OR 76, 2016). From a complete
plan on K+1 nodes, three nodes are emptied (the least loaded first, random light ones on
later attempts): K-2 nodes stay packed and the replicas of the others are left unpacked.
The search keeps every node within its capacity (the "consistent" part) and lowers the
weight of the unpacked replicas:

- a tabu phase takes the best swap of up to `out` replicas of one node with up to `into`
  unpacked ones, weighed over all nodes at once (numpy broadcasting); a replica just
  packed stays packed for a few iterations unless unpacking it makes a new best;
- a descent phase re-packs nodes with the unpacked replicas exactly (every subset of the
  node's replicas and the heaviest unpacked ones that fits), keeping the heaviest set.

When the unpacked replicas fit on two nodes (checked exactly), the plan has K nodes, and
the search starts again for K-1. A replica weighs the sum of its shares of a node (a power
of it, `powers`): heavy replicas are the hard ones to place, so the search keeps them packed
and leaves light ones over. Between phases, a resource the unpacked set holds more of than
two nodes do counts more in every weight (`reweigh`), so that the search turns to the
resource that keeps the rest from fitting.

Only for `packing.pure_packing` problems (one elastic pool of identical nodes, no
node-level hints). Under `spread: node` two replicas of one pod never share a node, in
every move and every exact check. The solve runs it (advisor/packing_search.py) before the
exact model is built on 60 replicas or more, then beside CP-SAT, or alone when no model
fits in the time left.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from advisor.bounds import nodes_lower_bound
from advisor.greedy import Assignment
from advisor.packing import pure_packing
from advisor.prepare import Instance
from models.problem import Spread

Floats = NDArray[np.float64]
Ints = NDArray[np.int64]


@dataclass(frozen=True)
class Params:
    """Search settings (docs/benchmarks.md says how they were chosen)."""

    out: int = 2  # replicas a swap takes out of a node
    into: int = 2  # unpacked replicas a swap puts in
    tenure: int = 12  # iterations a replica just packed stays packed (plus up to as many again)
    # weight = (sum of a replica's shares of a node) ** power, attempt after attempt in turn
    powers: tuple[float, ...] = (1.0, 1.5)
    stall: int = 60  # tabu iterations without a lighter unpacked set before a descent
    patience: int = 12  # descents without a lighter unpacked set before a restart
    reweigh: float = 0.5  # scale step of a resource the unpacked set has too much of
    sample: float = 0.05  # share of the nodes a descent pass re-packs (at least 2)


DEFAULT = Params()

# Nodes emptied per attempt: from K+1 nodes, K-2 stay packed and the unpacked replicas must
# fit on the two others.
DELETED = 3
# Replicas a node's exact re-packing enumerates at most, and the unpacked replicas the
# exact two-node check enumerates at most (only the subsets that fit are kept).
REPACK_ITEMS = 16
SPLIT_ITEMS = 24
# Swaps weighed per iteration at most (out-sets x in-sets); past it pairs are sampled.
MAX_SWAPS = 150_000
_EPS = 1e-9


@dataclass
class _Items:
    """Every replica as an item; one pod per item for spreading. One more item, `count`,
    is empty (no size, no weight, a pod of its own): it pads the sets of fewer replicas."""

    count: int
    size: Floats  # item x resource, integer values (exact in float64 below 2^53)
    cap: Floats  # resource
    share: Floats  # item x resource: size / cap
    weight: Floats  # item: its shares' sum
    pod: Ints  # item -> pod index
    spread: bool
    pods: int


def improve(inst: Instance, start: Assignment, deadline: float, seed: int = 0,
            params: Params = DEFAULT, stop: Callable[[], bool] | None = None,
            lower: int | None = None) -> Assignment | None:
    """A complete, valid plan on fewer nodes than `start`, or None.

    None when the problem is not plain vector packing, `start` leaves replicas out, it is
    already at the lower bound, or no plan with fewer nodes is found by `deadline` (a
    `time.monotonic()` value) or before `stop` says so. The search is seeded: with the same
    seed it takes the same steps, so runs that reach the lower bound before the deadline
    return the same plan (a run the deadline stops returns the best plan found by then,
    which depends on how far the machine got)."""
    best = None
    for plan in plans(inst, start, deadline, seed, params, stop, lower):
        best = plan
    return best


def plans(inst: Instance, start: Assignment, deadline: float, seed: int = 0,
          params: Params = DEFAULT, stop: Callable[[], bool] | None = None,
          lower: int | None = None) -> Iterator[Assignment]:
    """Every plan `improve` finds on the way, one node fewer each, as it finds them.
    `lower`: the lower bound on nodes, when the caller knows it already."""
    until = Until(deadline, stop)
    if not pure_packing(inst) or not start.complete or until.over():
        return
    groups = _pod_groups(inst, start)
    items, bins = _items(inst, start, groups)
    lower = nodes_lower_bound(inst) if lower is None else lower
    rng = np.random.default_rng(seed)
    while len(bins) > lower and not until.over():
        fewer = _fewer(items, bins, until, rng, params)
        if fewer is None:
            return
        bins = fewer
        yield _assignment(inst, start, groups, items, bins)


class Until:
    """When the search stops: a deadline (time.monotonic()), or earlier when `stop` says so
    (another search proved the plan optimal, or the user asked)."""

    def __init__(self, deadline: float, stop: Callable[[], bool] | None = None) -> None:
        self.deadline = deadline
        self.stop = stop

    def over(self) -> bool:
        return time.monotonic() >= self.deadline or (self.stop is not None and self.stop())


NEVER = Until(float("inf"))


def _pod_groups(inst: Instance, start: Assignment) -> list[list[int]]:
    """Units per pod: a unit and those that join its pod (`leader`)."""
    leader = start.leader or list(range(len(inst.units)))

    def root(u: int) -> int:
        while leader[u] != u:
            u = leader[u]
        return u

    groups: dict[int, list[int]] = {}
    for u in range(len(inst.units)):
        r = root(u)
        groups.setdefault(r, [r])
        if u != r:
            groups[r].append(u)
    return [groups[r] for r in sorted(groups)]


def _items(inst: Instance, start: Assignment, groups: list[list[int]]
           ) -> tuple[_Items, list[list[int]]]:
    cap = np.array(inst.candidates[0].capacity, dtype=np.float64)
    sizes: list[Floats] = []
    pods: list[int] = []
    where: dict[int, list[int]] = {}
    for p, members in enumerate(groups):
        demand = np.sum([inst.units[u].demand for u in members], axis=0).astype(np.float64)
        demand[inst.pods_index] = 1.0  # one pod, however many units it holds
        for k, n in start.counts[members[0]].items():
            for _ in range(n):
                where.setdefault(k, []).append(len(sizes))
                sizes.append(demand)
                pods.append(p)
    size = np.array(sizes, dtype=np.float64).reshape(len(sizes), len(cap))
    # Only resources that can run out on some node matter (the pod count on nodes that hold
    # every replica, say): fewer columns in every check, and weights from those alone.
    total = size.sum(axis=0)
    binding = total > cap
    if not binding.any():
        binding[int(np.argmax(total / np.where(cap > 0, cap, 1.0)))] = True
    size, cap = size[:, binding], cap[binding]
    share = size / np.where(cap > 0, cap, 1.0)
    items = _Items(count=len(size), size=np.vstack([size, np.zeros(len(cap))]), cap=cap,
                   share=np.vstack([share, np.zeros(len(cap))]),
                   weight=np.append(share.sum(axis=1), 0.0),
                   pod=np.array([*pods, len(groups)], dtype=np.int64),
                   spread=inst.spread != Spread.NONE, pods=len(groups))
    return items, [where[k] for k in sorted(where)]


def _assignment(inst: Instance, start: Assignment, groups: list[list[int]], items: _Items,
                bins: list[list[int]]) -> Assignment:
    """Bins onto the pool's first nodes, in the pool's order."""
    nodes = sorted((c.index for c in inst.candidates),
                   key=lambda k: inst.candidates[k].pool_rank)
    counts: list[dict[int, int]] = [{} for _ in inst.units]
    for node, members in zip(nodes, (b for b in bins if b), strict=False):
        for i in members:
            for u in groups[int(items.pod[i])]:
                counts[u][node] = counts[u].get(node, 0) + 1
    leader = list(start.leader) if start.leader else list(range(len(inst.units)))
    return Assignment(counts=counts, unplaced={}, leader=leader)


# --- one node fewer -------------------------------------------------------------------------


def _fewer(items: _Items, bins: list[list[int]], until: Until, rng: np.random.Generator,
           params: Params) -> list[list[int]] | None:
    """A plan on one node fewer than `bins`, or None by the deadline. Each attempt empties
    other nodes: the least loaded first, then a random choice among the lighter half."""
    target = len(bins) - 1
    load = np.array([items.weight[b].sum() for b in bins])
    order = [int(k) for k in np.argsort(load, kind="stable")]
    attempt = 0
    while not until.over():
        if target <= 2 or len(bins) <= DELETED:
            every = [i for b in bins for i in b]
            return _split(items, every, target, until) if target >= 1 else None
        if attempt == 0:
            drop = order[:DELETED]
        else:
            light = order[:max(DELETED + 1, len(order) // 2)]
            drop = [int(k) for k in rng.choice(light, size=DELETED, replace=False)]
        kept = [list(b) for k, b in enumerate(bins) if k not in drop]
        unpacked = [i for k in drop for i in bins[k]]
        power = params.powers[attempt % len(params.powers)]
        found = _Search(items, kept, unpacked, rng, params, power).run(until)
        if found is not None:
            return [b for b in found if b]
        attempt += 1
    return None


class _Search:
    """K-2 packed nodes and the unpacked replicas; `run` lowers their weight until they fit
    on two nodes."""

    def __init__(self, items: _Items, bins: list[list[int]], unpacked: list[int],
                 rng: np.random.Generator, params: Params, power: float) -> None:
        self.items = items
        self.bins = bins
        self.unpacked = unpacked
        self.rng = rng
        self.params = params
        self.load = np.array([items.size[b].sum(axis=0) for b in bins]).reshape(
            len(bins), len(items.cap))
        # Pod replicas per node, for spreading (the empty item's pod stays at 0).
        self.on = np.zeros((len(bins), items.pods + 1), dtype=np.int64)
        for k, b in enumerate(bins):
            np.add.at(self.on[k], items.pod[b], 1)
        self.tabu = np.zeros(items.count + 1, dtype=np.int64)
        self.iteration = 0
        # Per resource, how much its shares count in a weight: raised for the resources the
        # unpacked set has too much of for two nodes.
        self.scale = np.ones(len(items.cap))
        self.power = power
        self.w = items.weight ** power
        self._splits: dict[frozenset[int], list[list[int]] | None] = {}
        self.until = NEVER
        self._pairs: dict[int, tuple[Ints, Ints]] = {}
        self._patterns: dict[int, Ints] = {}
        # Every node's out-sets in one table, a block of rows per node (members padded with
        # the empty item, room after taking them out, weight); unused rows have no room. An
        # iteration weighs all swaps in a few numpy calls; a move rewrites one block.
        self.block = 1
        self._layout()

    def _layout(self) -> None:
        self.block = max(len(self._pattern(len(b))) for b in self.bins) if self.bins else 1
        rows = self.block * len(self.bins)
        self.o_idx = np.full((rows, max(1, self.params.out)), self.items.count, dtype=np.int64)
        self.o_room = np.full((rows, len(self.items.cap)), -1.0)
        self.o_w = np.zeros(rows)
        for k in range(len(self.bins)):
            self._write_block(k)

    def _pattern(self, n: int) -> Ints:
        """Positions of the out-sets of a node with n replicas (n: the empty item)."""
        if n not in self._patterns:
            sets: list[tuple[int, ...]] = [()]
            for size in range(1, self.params.out + 1):
                if size > 1 and n > 12:
                    break  # pairs out of a crowded node: too many for what they add
                sets += itertools.combinations(range(n), size)
            width = max(1, self.params.out)
            self._patterns[n] = np.array([[*c, *[n] * (width - len(c))] for c in sets],
                                         dtype=np.int64)
        return self._patterns[n]

    def _write_block(self, k: int) -> None:
        members = np.array([*self.bins[k], self.items.count], dtype=np.int64)
        idx = members[self._pattern(len(self.bins[k]))]
        if len(idx) > self.block:
            self._layout()
            return
        lo, hi = k * self.block, k * self.block + len(idx)
        self.o_idx[lo:hi] = idx
        self.o_idx[hi:lo + self.block] = self.items.count
        self.o_room[lo:hi] = self.items.cap - self.load[k] + self.items.size[idx].sum(axis=1)
        self.o_room[hi:lo + self.block] = -1.0
        self.o_w[lo:lo + self.block] = self.w[self.o_idx[lo:lo + self.block]].sum(axis=1)

    def weight(self) -> float:
        return float(self.w[self.unpacked].sum())

    def run(self, until: Until) -> list[list[int]] | None:
        self.until = until
        best = self.progress()
        stalls = 0
        while not until.over() and stalls < self.params.patience:
            done = self._finish()
            if done is not None:
                return done
            self._tabu(until)
            self._descent(until)
            reached = self.progress()
            if reached < best:
                best, stalls = reached, 0
            else:
                stalls += 1
            self._reweigh()
        return self._finish()

    def progress(self) -> tuple[float, float]:
        """How far the unpacked set is from two nodes, whatever the scale: the shares over
        two nodes' worth, then the sum of their shares."""
        shares = self.items.share[self.unpacked].sum(axis=0)
        excess = float(np.maximum(shares - 2.0, 0.0).sum())
        return round(excess, 9), round(float(self.items.weight[self.unpacked].sum()), 9)

    def _reweigh(self) -> None:
        """Raise the scale of the resources the unpacked set has more of than two nodes
        hold."""
        if self.params.reweigh <= 0 or not self.unpacked:
            return
        over = self.items.share[self.unpacked].sum(axis=0) > 2.0
        if not over.any():
            return
        self.scale *= np.where(over, 1.0 + self.params.reweigh, 1.0)
        self.scale *= len(self.scale) / self.scale.sum()
        self.w = (self.items.share @ self.scale) ** self.power
        self.o_w = self.w[self.o_idx].sum(axis=1)

    def _finish(self) -> list[list[int]] | None:
        if not self.unpacked:
            return self.bins
        key = frozenset(self.unpacked)
        if key not in self._splits:
            self._splits[key] = _split(self.items, self.unpacked, 2, self.until)
        split = self._splits[key]
        return None if split is None else self.bins + split

    # --- tabu phase ---------------------------------------------------------------------

    def _tabu(self, until: Until) -> None:
        """Best swaps until `stall` iterations bring no unpacked set lighter than any
        before in this phase."""
        since = 0
        lightest = current = self.weight()
        while since < self.params.stall and not until.over():
            move = self._best_swap(current, lightest)
            if move is None:
                break
            self._apply(*move)
            self.iteration += 1
            current = self.weight()
            if current < lightest - _EPS:
                lightest, since = current, 0
                if self._finish() is not None:
                    break
            else:
                since += 1

    def _in_sets(self) -> Ints:
        """Sets of one to `into` unpacked replicas (padded with the empty item), two of one
        pod not together if spread."""
        left = np.array(self.unpacked, dtype=np.int64)
        width = max(1, self.params.into)
        idx = np.full((len(left), width), self.items.count, dtype=np.int64)
        idx[:, 0] = left
        if self.params.into < 2 or len(left) < 2:
            return idx
        if len(left) not in self._pairs:
            self._pairs[len(left)] = np.triu_indices(len(left), 1)
        a, b = self._pairs[len(left)]
        if self.items.spread:
            keep = self.items.pod[left[a]] != self.items.pod[left[b]]
            a, b = a[keep], b[keep]
        pairs = np.full((len(a), width), self.items.count, dtype=np.int64)
        pairs[:, 0], pairs[:, 1] = left[a], left[b]
        return np.vstack([idx, pairs])

    def _best_swap(self, current: float, best: float
                   ) -> tuple[int, Ints, Ints] | None:
        """The swap that leaves the lightest unpacked set: (node, out, in) or None. Dense
        over (out-set, in-set) pairs: fewer, larger numpy calls than gathering the pairs
        that fit."""
        if not self.unpacked:
            return None
        in_idx = self._in_sets()
        in_size = self.items.size[in_idx].sum(axis=1)
        # Only out-sets with room for the smallest in-set in every resource (padding rows
        # have none): most rows, since most nodes are nearly full.
        low_size = in_size.min(axis=0)
        rows = self.o_room[:, 0] >= low_size[0]
        for r in range(1, len(low_size)):
            rows &= self.o_room[:, r] >= low_size[r]
        rows = np.flatnonzero(rows)
        if not rows.size:
            return None
        if len(rows) * len(in_idx) > MAX_SWAPS:
            keep = self.rng.choice(len(in_idx), size=max(1, MAX_SWAPS // len(rows)),
                                   replace=False)
            in_idx, in_size = in_idx[keep], in_size[keep]
        room, out_idx = self.o_room[rows], self.o_idx[rows]
        # One resource at a time: a reduction over a short last axis is slow in numpy.
        fits = in_size[None, :, 0] <= room[:, None, 0]
        for r in range(1, room.shape[1]):
            fits &= in_size[None, :, r] <= room[:, None, r]
        if self.items.spread:
            fits &= self._spread_ok(rows, in_idx)
        delta = self.o_w[rows][:, None] - self.w[in_idx].sum(axis=1)[None, :]
        tabu = np.asarray((self.tabu[out_idx] > self.iteration).any(axis=1), dtype=np.bool_)
        if tabu.any():  # aspiration: a tabu swap that makes a new best is allowed
            fits &= ~tabu[:, None] | (current + delta < best - _EPS)
        score = np.where(fits, delta, np.inf)
        lowest = float(score.min())
        if not np.isfinite(lowest):
            return None
        ties = np.flatnonzero(score <= lowest + _EPS)
        pick = int(ties[int(self.rng.integers(ties.size))])
        row, col = divmod(pick, len(in_idx))
        return int(rows[row]) // self.block, out_idx[row], in_idx[col]

    def _spread_ok(self, rows: Ints, in_idx: Ints) -> NDArray[np.bool_]:
        """Per (out-set row, in-set): after the swap, no two replicas of one pod on the
        node."""
        pod = self.items.pod
        node_of = rows // self.block
        out_pod = pod[self.o_idx[rows]]
        ok = np.ones((len(rows), len(in_idx)), dtype=np.bool_)
        for j in range(in_idx.shape[1]):
            in_pod = pod[in_idx[:, j]]
            leaving = (out_pod[:, :, None] == in_pod[None, None, :]).sum(axis=1)
            empty = in_idx[:, j] == self.items.count
            ok &= empty[None, :] | (self.on[node_of[:, None], in_pod[None, :]] - leaving == 0)
        return ok

    def _apply(self, k: int, out: Ints, into: Ints) -> None:
        leaving = [int(i) for i in out if i != self.items.count]
        coming = [int(i) for i in into if i != self.items.count]
        self._move(k, leaving, coming)
        tenure = self.params.tenure
        for i in coming:
            self.tabu[i] = self.iteration + tenure + int(self.rng.integers(tenure + 1))

    def _move(self, k: int, leaving: list[int], coming: list[int]) -> None:
        gone = set(leaving)
        self.bins[k] = [i for i in self.bins[k] if i not in gone] + coming
        taken = set(coming)
        self.unpacked = [i for i in self.unpacked if i not in taken] + leaving
        self.load[k] += self.items.size[coming].sum(axis=0) - self.items.size[leaving].sum(axis=0)
        if self.items.spread:
            np.add.at(self.on[k], self.items.pod[coming], 1)
            np.add.at(self.on[k], self.items.pod[leaving], -1)
        self._write_block(k)

    # --- descent phase ------------------------------------------------------------------

    def _descent(self, until: Until) -> None:
        """Re-pack nodes (a random sample each pass) with the unpacked replicas, exactly,
        while that packs more weight. A pass over every node costs more than many tabu
        iterations and rarely pays off on most nodes."""
        if self.params.sample <= 0:
            return
        size = max(2, round(len(self.bins) * self.params.sample))
        improved = True
        while improved and not until.over():
            improved = False
            for k in self.rng.permutation(len(self.bins))[:size]:
                if until.over():
                    return
                if self._repack(int(k)):
                    improved = True
                    if self._finish() is not None:
                        return

    def _repack(self, k: int) -> bool:
        members = self.bins[k]
        if not self.unpacked or len(members) >= REPACK_ITEMS:
            return False
        # The heaviest unpacked replicas: a lighter one left out of the enumeration would
        # rarely make a heavier set.
        extra = sorted(self.unpacked, key=lambda i: -self.w[i])
        pool = members + extra[:REPACK_ITEMS - len(members)]
        chosen = _heaviest_fit(self.items, self.w, pool)
        if chosen is None:
            return False
        gain = self.w[chosen].sum() - self.w[members].sum()
        if gain <= _EPS:
            return False
        keep = set(chosen)
        self._move(k, [i for i in members if i not in keep],
                   [i for i in chosen if i not in set(members)])
        return True


# --- exact small packings -------------------------------------------------------------------

# Subsets an exact enumeration keeps at most (those that fit); past it the caller falls back:
# a node's re-packing is skipped, the two-node check takes first fit's answer.
REPACK_SUBSETS = 12_000
SPLIT_SUBSETS = 60_000


def _fitting_subsets(items: _Items, pool: list[int], weights: Floats, limit: int,
                     until: Until = NEVER) -> tuple[Ints, Floats, Floats] | None:
    """Every subset of `pool` that fits on a node, as bit
    masks over `pool`, summed sizes and weights; None past `limit` or the deadline. Built
    by doubling: a set that does not fit has no superset that does, so it is dropped at
    once."""
    masks = np.zeros(1, dtype=np.int64)
    sums = np.zeros((1, len(items.cap)))
    weight = np.zeros(1)
    for j, i in enumerate(pool):
        grown = sums + items.size[i]
        ok = grown[:, 0] <= items.cap[0]
        for r in range(1, len(items.cap)):  # column by column: faster than .all(axis=1)
            ok &= grown[:, r] <= items.cap[r]
        if items.spread:
            same = sum(1 << m for m in range(j) if items.pod[pool[m]] == items.pod[i])
            if same:
                ok &= (masks & same) == 0
        masks = np.concatenate([masks, masks[ok] | (1 << j)])
        sums = np.concatenate([sums, grown[ok]])
        weight = np.concatenate([weight, weight[ok] + weights[i]])
        if len(masks) > limit or until.over():
            return None
    return masks, sums, weight


def _members(pool: list[int], mask: int) -> list[int]:
    return [i for j, i in enumerate(pool) if mask >> j & 1]


def _heaviest_fit(items: _Items, weights: Floats, pool: list[int]) -> list[int] | None:
    """The heaviest subset of `pool` that fits on one node; None when too many fit to
    enumerate."""
    found = _fitting_subsets(items, pool, weights, REPACK_SUBSETS)
    if found is None:
        return None
    masks, _, weight = found
    return _members(pool, int(masks[int(np.argmax(weight))]))


def _split(items: _Items, members: list[int], nodes: int,
           until: Until = NEVER) -> list[list[int]] | None:
    """`members` on `nodes` nodes (at most two): first fit decreasing, then, where it fails,
    exactly while the subsets that fit on one node can be enumerated; None when neither
    finds a way."""
    if not members:
        return []
    total = items.size[members].sum(axis=0)
    if (total > nodes * items.cap).any():
        return None
    if nodes == 1:
        return [list(members)] if _fits_one(items, members) else None
    quick = _first_fit(items, members, nodes)
    if quick is not None or nodes > 2 or len(members) > SPLIT_ITEMS:
        return quick
    # Node A holds the first replica (the two nodes are alike): A's sets that fit, then
    # whether the rest fits on B.
    found = _fitting_subsets(items, members, items.weight, SPLIT_SUBSETS, until)
    if found is None:
        return None
    masks, sums, _ = found
    ok = ((masks & 1) == 1) & (total - sums <= items.cap).all(axis=1)
    if items.spread:  # two replicas of one pod: A has one of them (never both), B the other
        for a, b in itertools.combinations(range(len(members)), 2):
            if items.pod[members[a]] == items.pod[members[b]]:
                ok &= (masks & ((1 << a) | (1 << b))) != 0
    hit = np.flatnonzero(ok)
    if not hit.size:
        return None
    side = _members(members, int(masks[int(hit[0])]))
    other = [i for i in members if i not in set(side)]
    return [side, other] if other else [side]


def _fits_one(items: _Items, members: list[int]) -> bool:
    if not (items.size[members].sum(axis=0) <= items.cap).all():
        return False
    return not items.spread or len(set(items.pod[members].tolist())) == len(members)


def _first_fit(items: _Items, members: list[int], nodes: int) -> list[list[int]] | None:
    order = sorted(members, key=lambda i: -items.weight[i])
    bins: list[list[int]] = [[] for _ in range(nodes)]
    load = np.zeros((nodes, len(items.cap)))
    for i in order:
        for k in range(nodes):
            clash = items.spread and any(items.pod[j] == items.pod[i] for j in bins[k])
            if not clash and (load[k] + items.size[i] <= items.cap).all():
                bins[k].append(i)
                load[k] += items.size[i]
                break
        else:
            return None
    return [b for b in bins if b]
