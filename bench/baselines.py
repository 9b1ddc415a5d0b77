"""First-fit-decreasing baselines, written independently of the advisor's code.

The baseline keeps every *forced group* in a pod of its own: containers joined by
sidecar, ambassador, adapter or samePod hints (transitively). Every replica of
such a pod is one item. Items are taken by their cpu+memory share (of the
largest node) in decreasing order, the replicas of one pod one after another,
and each goes to the first node, largest node first, where every resource
(cpu, memory, any other, and the node's pod count) still fits.

Hard node hints are honoured so that the baseline stays a valid plan:
separateNodes keeps the pods off each other's nodes; a sameNode pair travels
as one item (a replica of each) for as many replicas as the smaller pod has, and
pods in longer sameNode chains are placed last, each replica next to a replica
of its partners. It ignores nodeSelectors and taints (the generated problems use
neither) and expands a node pool into `maxCount` identical nodes.

With `spread_replicas`, no node takes two replicas of one pod (a replica that
finds no such node stays unplaced): the packing a SPOF-aware plan competes with.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, TypeVar

import numpy as np  # OR-Tools' own dependency; the baselines vectorise with it
from numpy.typing import NDArray

from models import GroupHint, HelperHint, Problem
from models.quantity import to_units

DEFAULT_MAX_PODS = 110


@dataclass(frozen=True)
class Group:
    """Containers that hard hints force into one pod, with the pod's replicas and requests."""

    name: str
    containers: tuple[str, ...]
    replicas: int
    demand: dict[str, int]  # per replica, integer units per resource; "pods" is 1


@dataclass(frozen=True)
class Bin:
    name: str
    capacity: dict[str, int]


@dataclass
class FfdResult:
    nodes_used: int
    placed: int
    unplaced: int
    placement: dict[str, list[str]] = field(default_factory=dict)  # pod -> node of each replica

    @property
    def complete(self) -> bool:
        return self.unplaced == 0


def _resources(problem: Problem) -> list[str]:
    names: set[str] = {"cpu", "memory"}
    for c in problem.containers:
        names.update(c.requests)
    for n in problem.nodes:
        names.update(n.allocatable)
    for p in problem.pools:
        names.update(p.allocatable)
    names.discard("pods")
    return sorted(names)


def forced_groups(problem: Problem) -> list[Group]:
    """Union of containers over helper and samePod hints, in container order."""
    names = [c.name for c in problem.containers]
    parent = {n: n for n in names}

    def find(a: str) -> str:
        while parent[a] != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        return a

    def union(a: str, b: str) -> None:
        ra, rb = find(a), find(b)
        if ra != rb:
            first, second = sorted((ra, rb), key=names.index)
            parent[second] = first

    helpers: set[str] = set()
    for hint in problem.hints:
        if isinstance(hint, HelperHint):
            helpers.add(hint.container)
            union(hint.container, hint.main)
        elif isinstance(hint, GroupHint) and hint.type == "samePod":
            for other in hint.containers[1:]:
                union(hint.containers[0], other)

    members: dict[str, list[str]] = {}
    for n in names:
        members.setdefault(find(n), []).append(n)
    by_name = {c.name: c for c in problem.containers}
    resources = _resources(problem)
    groups: list[Group] = []
    for root_members in members.values():
        conts = [by_name[n] for n in root_members]
        mains = [c for c in conts if c.name not in helpers]
        replicas = max((c.replicas for c in conts if c.replicas is not None), default=1)
        demand = {
            r: sum(to_units(r, c.requests.get(r, Decimal(0)), round_up=True) for c in conts)
            for r in resources
        }
        demand["pods"] = 1
        groups.append(Group(name=(mains or conts)[0].name, containers=tuple(root_members),
                            replicas=replicas, demand=demand))
    return groups


def bins(problem: Problem) -> list[Bin]:
    """Fixed nodes, then every instance of every pool, with integer capacities."""
    resources = _resources(problem)

    def capacity(allocatable: dict[str, Decimal]) -> dict[str, int]:
        caps = {r: to_units(r, allocatable.get(r, Decimal(0)), round_up=False) for r in resources}
        pods = allocatable.get("pods")
        caps["pods"] = DEFAULT_MAX_PODS if pods is None else int(pods)
        return caps

    out = [Bin(n.name, capacity(n.allocatable)) for n in problem.nodes]
    for pool in problem.pools:
        out += [Bin(f"{pool.name}-{i + 1}", capacity(pool.allocatable))
                for i in range(pool.max_count)]
    return out


def _share(amounts: dict[str, int], largest: dict[str, int]) -> float:
    return sum(amounts.get(r, 0) / largest[r] for r in ("cpu", "memory") if largest.get(r))


@dataclass(frozen=True)
class _Item:
    """Replicas placed as one: a pod, or a sameNode pair (one replica of each per node)."""

    pods: tuple[str, ...]
    demand: dict[str, int]
    count: int


def _add(a: dict[str, int], b: dict[str, int]) -> dict[str, int]:
    return {r: a.get(r, 0) + b.get(r, 0) for r in a.keys() | b.keys()}


K = TypeVar("K", str, int)


def node_relations(problem: Problem, pod_of: Callable[[str], K], replicas: Callable[[K], int]
                   ) -> tuple[dict[K, set[K]], dict[K, set[K]]]:
    """Between pods: separateNodes pairs (both ways), and for sameNode the pod with fewer
    replicas -> the partners whose nodes it must share."""
    apart: dict[K, set[K]] = {}
    follows: dict[K, set[K]] = {}
    for hint in problem.hints:
        if not isinstance(hint, GroupHint) or hint.type not in ("sameNode", "separateNodes"):
            continue
        pods = [pod_of(c) for c in hint.containers]
        for i, a in enumerate(pods):
            for b in pods[i + 1:]:
                if a == b:
                    continue
                if hint.type == "separateNodes":
                    apart.setdefault(a, set()).add(b)
                    apart.setdefault(b, set()).add(a)
                else:
                    small, big = sorted((a, b), key=lambda n: (replicas(n), n))
                    follows.setdefault(small, set()).add(big)
    return apart, follows


def first_fit_decreasing(problem: Problem, *, spread_replicas: bool = False) -> FfdResult:
    groups = forced_groups(problem)
    nodes = bins(problem)
    if not nodes:
        total = sum(g.replicas for g in groups)
        return FfdResult(nodes_used=0, placed=0, unplaced=total)
    largest = {r: max(b.capacity.get(r, 0) for b in nodes) for r in nodes[0].capacity}
    order_nodes = sorted(range(len(nodes)),
                         key=lambda k: (-_share(nodes[k].capacity, largest), k))
    group_of = {c: g.name for g in groups for c in g.containers}
    by_name = {g.name: g for g in groups}

    apart, follows = node_relations(problem, lambda c: group_of[c],
                                    lambda n: by_name[n].replicas)

    # A plain sameNode pair travels as one item for the smaller pod's replicas; pods in
    # longer sameNode chains are placed last, each replica next to its partners'.
    items: list[_Item] = []
    paired: set[str] = set()
    leaders = {big for bigs in follows.values() for big in bigs}
    for small, bigs in sorted(follows.items()):
        big = next(iter(bigs))
        if (len(bigs) > 1 or small in leaders or big in follows or big in paired
                or sum(big in others for others in follows.values()) > 1):
            continue
        lo, hi = by_name[small], by_name[big]
        items.append(_Item((small, big), _add(lo.demand, hi.demand), lo.replicas))
        if hi.replicas > lo.replicas:
            items.append(_Item((big,), hi.demand, hi.replicas - lo.replicas))
        paired.update((small, big))
    deferred = {g for g in follows if g not in paired}
    items += [_Item((g.name,), g.demand, g.replicas) for g in groups if g.name not in paired]
    items.sort(key=lambda it: (it.pods[0] in deferred, -_share(it.demand, largest),
                               -it.count, it.pods))

    # Nodes in the order they are tried: row j of `free`, column j of `counts`.
    resources = [*_resources(problem), "pods"]
    free = np.array([[nodes[k].capacity.get(r, 0) for r in resources] for k in order_nodes],
                    dtype=np.int64).reshape(len(order_nodes), len(resources))
    gidx = {g.name: i for i, g in enumerate(groups)}
    counts = np.zeros((len(groups), len(nodes)), dtype=np.int64)
    apart_i = {gidx[p]: {gidx[q] for q in qs} for p, qs in apart.items()}
    waits = {gidx[p]: {gidx[q] for q in follows[p]} for p in deferred}
    placement: dict[str, list[str]] = {g.name: [] for g in groups}
    unplaced = 0
    for item in items:
        pods = [gidx[p] for p in item.pods]
        need = np.array([item.demand.get(r, 0) for r in resources], dtype=np.int64)
        for _ in range(item.count):
            mask = _placeable(free, need, counts, pods, apart_i, waits, spread_replicas)
            if not mask.any():
                unplaced += len(item.pods)
                continue
            j = int(mask.argmax())  # the first node that fits
            free[j] -= need
            for p in pods:
                counts[p, j] += 1
                placement[groups[p].name].append(nodes[order_nodes[j]].name)
    used = int((counts.sum(axis=0) > 0).sum())
    placed = sum(len(v) for v in placement.values())
    return FfdResult(nodes_used=used, placed=placed, unplaced=unplaced, placement=placement)


def _placeable(free: NDArray[np.int64], need: NDArray[np.int64], counts: NDArray[Any],
               pods: Iterable[int], apart: dict[int, set[int]], follows: dict[int, set[int]],
               spread: bool) -> NDArray[np.bool_]:
    """The nodes (rows of `free`, columns of `counts`) that may take one replica of each of
    `pods`: every resource and the pod count fit; with `spread`, none of them runs there
    yet; no separateNodes partner runs there; a pod following sameNode partners stays
    below each partner's count there."""
    mask = np.asarray((free >= need).all(axis=1), dtype=np.bool_)
    for p in pods:
        if spread:
            mask &= counts[p] == 0
        for q in apart.get(p, ()):
            mask &= counts[q] == 0
        for q in follows.get(p, ()):
            mask &= counts[p] < counts[q]
    return mask


# --- Scale baselines: Karpenter-style FFD and kube-scheduler-style greedies -------------
#
# `python -m bench scale` compares the advisor with three greedy placements of one pod
# per forced group (see `forced_groups`), all written here without the advisor's code:
#
# - `ffd`: first fit decreasing as Karpenter and cluster-autoscaler's bin-packing
#   estimator order pods: by cpu + memory descending, each normalised by the largest
#   node's (or pool node's) capacity (cluster-autoscaler's score), ties by cpu then
#   memory; the replicas of one pod one after another. Each replica goes to the first
#   open node that fits: fixed nodes largest first (by the same share), then pool
#   nodes in the order they were opened; when none fits, a new node of the first pool
#   whose node can hold it is opened (what the autoscaler would provision).
# - `kube-least` / `kube-most`: kube-scheduler's default loop, one replica at a time in
#   arrival order (the input order: containers as listed, replicas one after another;
#   for openb the trace's creation_time). Filter: every resource and the pod count
#   fit (NodeResourcesFit), `spread: node` (no second replica of a pod on a node, as a
#   required anti-affinity on the hostname would), separateNodes (anti-affinity) and
#   sameNode (affinity: the pod with fewer replicas only joins a node where its partner
#   has more replicas than it does; such pods are queued after the others). Score:
#   NodeResourcesFit's LeastAllocated (default) or MostAllocated on cpu and memory with
#   equal weights: mean over the two of (allocatable - requested incl. this pod) /
#   allocatable, resp. requested / allocatable, as floats (kube truncates to integers
#   0-100 and picks randomly among tied nodes; here the first node in input order
#   wins). BalancedAllocation, the default soft topology spreading and image locality
#   are not modelled. kube-scheduler cannot create nodes: when no open node passes the
#   filter, the pod would stay Pending and cluster-autoscaler would add a node, so one
#   new node of the first pool that can hold the pod is opened and the pod goes there
#   (pool nodes are opened one at a time, only when nothing open fits).
#
# Node selectors and taints are ignored (none of the scale suites uses them), and so
# is `spread: zone` beyond `node`. A replica that fits nowhere is counted unplaced.


@dataclass
class GreedyResult:
    method: str
    nodes_used: int
    placed: int
    unplaced: int
    placement: dict[str, list[str]]  # pod (forced group) -> node of each placed replica
    groups: list[Group]
    seconds: float = 0.0


_SCORE_RESOURCES = ("cpu", "memory")


@dataclass
class _Inventory:
    """Every node a scale baseline may use, one row each: fixed nodes (open from the start),
    then each pool's `maxCount` nodes (opened one at a time)."""

    names: list[str]
    capacity: NDArray[np.int64]  # node x resource
    fixed: int  # rows [0, fixed) are the fixed nodes
    blocks: list[tuple[int, int]]  # per pool: its [start, end) rows
    largest: dict[str, int]  # per scored resource, the largest node's

    def share(self, amounts: dict[str, int]) -> float:
        """cpu + memory, each a share of the largest node's (cluster-autoscaler's size)."""
        return sum(amounts.get(r, 0) / self.largest[r] for r in _SCORE_RESOURCES
                   if self.largest[r])


def _inventory(problem: Problem, resources: list[str], method: str) -> _Inventory:
    def capacity(allocatable: dict[str, Decimal]) -> list[int]:
        row = [to_units(r, allocatable.get(r, Decimal(0)), round_up=False)
               for r in resources[:-1]]
        pods = allocatable.get("pods")
        return [*row, DEFAULT_MAX_PODS if pods is None else int(pods)]

    fixed = [(n.name, capacity(n.allocatable)) for n in problem.nodes]
    pool_caps = [capacity(p.allocatable) for p in problem.pools]
    all_caps = [c for _, c in fixed] + pool_caps
    index = {r: k for k, r in enumerate(resources)}
    largest = {r: max((c[index[r]] for c in all_caps), default=0) for r in _SCORE_RESOURCES}
    inv = _Inventory([], np.zeros((0, len(resources)), dtype=np.int64), len(fixed), [], largest)
    if method == "ffd":  # fixed nodes largest first; kube: input order
        size = [inv.share({r: cap[index[r]] for r in _SCORE_RESOURCES}) for _, cap in fixed]
        fixed = [fixed[k] for k in sorted(range(len(fixed)), key=lambda k: (-size[k], k))]
    inv.names = [name for name, _ in fixed]
    rows = [cap for _, cap in fixed]
    for pool, cap in zip(problem.pools, pool_caps, strict=True):
        start = len(rows)
        inv.names += [f"{pool.name}-{i + 1}" for i in range(pool.max_count)]
        rows += [cap] * pool.max_count
        inv.blocks.append((start, len(rows)))
    inv.capacity = np.array(rows, dtype=np.int64).reshape(len(rows), len(resources))
    return inv


def _queue(groups: list[Group], follows: dict[int, set[int]], method: str,
           arrival: list[str] | None, inv: _Inventory) -> list[int]:
    """The forced groups, once per replica, in the order the baseline places them."""
    group_of = {c: k for k, g in enumerate(groups) for c in g.containers}
    if method == "ffd":
        order = sorted(range(len(groups)), key=lambda k: (
            k in follows, -inv.share(groups[k].demand), -groups[k].demand.get("cpu", 0),
            -groups[k].demand.get("memory", 0), k))
        return [k for k in order for _ in range(groups[k].replicas)]
    if arrival is None:
        queue = [k for k in range(len(groups)) for _ in range(groups[k].replicas)]
    else:
        seen: dict[int, int] = {}
        queue = []
        for c in arrival:
            k = group_of[c]
            if seen.get(k, 0) < groups[k].replicas:  # a forced group arrives once per replica
                queue.append(k)
                seen[k] = seen.get(k, 0) + 1
    return [k for k in queue if k not in follows] + [k for k in queue if k in follows]


def _greedy(problem: Problem, method: str, arrival: list[str] | None) -> GreedyResult:
    started = time.monotonic()
    groups = forced_groups(problem)
    resources = [*_resources(problem), "pods"]
    gidx = {g.name: k for k, g in enumerate(groups)}
    group_of = {c: g.name for g in groups for c in g.containers}
    inv = _inventory(problem, resources, method)
    cap_arr = inv.capacity
    free = cap_arr.copy()
    active = np.zeros(len(inv.names), dtype=bool)
    active[:inv.fixed] = True
    opened = [start for start, _ in inv.blocks]
    counts = np.zeros((len(groups), len(inv.names)), dtype=np.int32)
    apart, follows = node_relations(problem, lambda c: gidx[group_of[c]],
                                    lambda k: groups[k].replicas)
    spread = problem.policy.spread.value in ("node", "zone")
    demand = np.array([[g.demand.get(r, 0) for r in resources] for g in groups],
                      dtype=np.int64).reshape(len(groups), len(resources))
    score_cols = [resources.index(r) for r in _SCORE_RESOURCES if r in resources]
    safe_cap = np.where(cap_arr[:, score_cols] > 0, cap_arr[:, score_cols], 1)

    placement: dict[str, list[str]] = {g.name: [] for g in groups}
    unplaced = 0
    for k in _queue(groups, follows, method, arrival, inv):
        d = demand[k]
        mask = active & _placeable(free, d, counts, (k,), apart, follows, spread)
        chosen = -1
        if mask.any():
            if method == "ffd":
                chosen = int(mask.argmax())
            else:
                after = (free[:, score_cols] - d[score_cols]) / safe_cap
                score = after.mean(axis=1) if method == "kube-least" else 1 - after.mean(axis=1)
                chosen = int(np.where(mask, score, -np.inf).argmax())
        elif k not in follows:  # the autoscaler adds a node of the first pool that holds it
            for p, (_, end) in enumerate(inv.blocks):
                row = opened[p]
                if row < end and bool((cap_arr[row] >= d).all()):
                    active[row] = True
                    opened[p] += 1
                    chosen = row
                    break
        if chosen < 0:
            unplaced += 1
            continue
        free[chosen] -= d
        counts[k, chosen] += 1
        placement[groups[k].name].append(inv.names[chosen])
    used = int((counts.sum(axis=0) > 0).sum())
    placed = sum(len(v) for v in placement.values())
    return GreedyResult(method=method, nodes_used=used, placed=placed, unplaced=unplaced,
                        placement=placement, groups=groups,
                        seconds=round(time.monotonic() - started, 3))


def ffd_autoscaler(problem: Problem) -> GreedyResult:
    """First fit decreasing, pods ordered as Karpenter / cluster-autoscaler do.

    With sameNode hints (the core problems), `first_fit_decreasing` above is used
    instead: it orders and places the same way but moves a sameNode pair as one item,
    which places far more of those tight problems than queueing the follower last.
    """
    if any(isinstance(h, GroupHint) and h.type == "sameNode" for h in problem.hints):
        started = time.monotonic()
        old = first_fit_decreasing(
            problem, spread_replicas=problem.policy.spread.value in ("node", "zone"))
        return GreedyResult(method="ffd", nodes_used=old.nodes_used, placed=old.placed,
                            unplaced=old.unplaced, placement=old.placement,
                            groups=forced_groups(problem),
                            seconds=round(time.monotonic() - started, 3))
    return _greedy(problem, "ffd", None)


def kube_least_allocated(problem: Problem, arrival: list[str] | None = None) -> GreedyResult:
    """kube-scheduler's default scoring (LeastAllocated), one replica at a time."""
    return _greedy(problem, "kube-least", arrival)


def kube_most_allocated(problem: Problem, arrival: list[str] | None = None) -> GreedyResult:
    """kube-scheduler with the MostAllocated (bin-packing) scoring strategy."""
    return _greedy(problem, "kube-most", arrival)


def blast_radius_node(problem: Problem, placement: dict[str, list[str]]) -> float:
    """The largest share (0-100) of critical components one node failure leaves with no
    replica, for a baseline's placement (pod -> node of each replica), counted here from
    the groups, not by the advisor's scoring."""
    helpers = {h.container for h in problem.hints if isinstance(h, HelperHint)}
    critical = {c.name for c in problem.containers if c.critical and c.name not in helpers}
    lost: dict[str, int] = {}
    total = 0
    for group in forced_groups(problem):
        count = sum(1 for c in group.containers if c in critical)
        total += count
        nodes = set(placement.get(group.name, []))
        if count and len(nodes) == 1:
            node = next(iter(nodes))
            lost[node] = lost.get(node, 0) + count
    return round(100 * max(lost.values(), default=0) / total, 2) if total else 0.0

