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
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TypeVar

import numpy as np  # OR-Tools' own dependency; the scale baselines vectorise with it

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

    free = {b.name: dict(b.capacity) for b in nodes}
    count: dict[str, dict[str, int]] = {g.name: {} for g in groups}
    placement: dict[str, list[str]] = {g.name: [] for g in groups}
    unplaced = 0
    for item in items:
        for _ in range(item.count):
            chosen = None
            for k in order_nodes:
                node = nodes[k].name
                if spread_replicas and any(count[p].get(node, 0) for p in item.pods):
                    continue
                if any(count[q].get(node, 0) for p in item.pods for q in apart.get(p, ())):
                    continue
                if any(count[p].get(node, 0) >= count[q].get(node, 0)
                       for p in item.pods if p in deferred for q in follows[p]):
                    continue
                if all(free[node].get(r, 0) >= need for r, need in item.demand.items()):
                    chosen = node
                    break
            if chosen is None:
                unplaced += len(item.pods)
                continue
            for r, need in item.demand.items():
                free[chosen][r] = free[chosen].get(r, 0) - need
            for p in item.pods:
                count[p][chosen] = count[p].get(chosen, 0) + 1
                placement[p].append(chosen)
    used = {node for per_pod in count.values() for node, n in per_pod.items() if n > 0}
    placed = sum(len(v) for v in placement.values())
    return FfdResult(nodes_used=len(used), placed=placed, unplaced=unplaced, placement=placement)


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


def _greedy(problem: Problem, method: str, arrival: list[str] | None) -> GreedyResult:
    started = time.monotonic()
    groups = forced_groups(problem)
    resources = [*_resources(problem), "pods"]
    index = {r: k for k, r in enumerate(resources)}
    group_of = {c: g.name for g in groups for c in g.containers}
    gidx = {g.name: k for k, g in enumerate(groups)}

    def capacity(allocatable: dict[str, Decimal]) -> list[int]:
        row = [to_units(r, allocatable.get(r, Decimal(0)), round_up=False)
               for r in resources[:-1]]
        pods = allocatable.get("pods")
        return [*row, DEFAULT_MAX_PODS if pods is None else int(pods)]

    fixed = [(n.name, capacity(n.allocatable)) for n in problem.nodes]
    pool_caps = [capacity(p.allocatable) for p in problem.pools]
    all_caps = [c for _, c in fixed] + pool_caps
    largest = {r: max((c[index[r]] for c in all_caps), default=0) for r in _SCORE_RESOURCES}

    def share(vec: list[int] | dict[str, int]) -> float:
        amounts = {r: vec[index[r]] for r in _SCORE_RESOURCES} if isinstance(vec, list) else vec
        return sum(amounts.get(r, 0) / largest[r] for r in _SCORE_RESOURCES if largest[r])

    if method == "ffd":  # fixed nodes largest first; kube: input order
        fixed = [fixed[k] for k in sorted(range(len(fixed)),
                                          key=lambda k: (-share(fixed[k][1]), k))]
    names = [name for name, _ in fixed]
    rows = [cap for _, cap in fixed]
    blocks: list[tuple[int, int]] = []  # per pool: [start, end) rows
    for pool, cap in zip(problem.pools, pool_caps, strict=True):
        start = len(rows)
        names += [f"{pool.name}-{i + 1}" for i in range(pool.max_count)]
        rows += [cap] * pool.max_count
        blocks.append((start, len(rows)))
    cap_arr = np.array(rows, dtype=np.int64).reshape(len(rows), len(resources))
    free = cap_arr.copy()
    active = np.zeros(len(rows), dtype=bool)
    active[:len(fixed)] = True
    opened = [start for start, _ in blocks]
    counts = np.zeros((len(groups), len(rows)), dtype=np.int32)

    apart, follows = node_relations(problem, lambda c: gidx[group_of[c]],
                                    lambda k: groups[k].replicas)
    spread = problem.policy.spread.value in ("node", "zone")

    demand = np.array([[g.demand.get(r, 0) for r in resources] for g in groups],
                      dtype=np.int64).reshape(len(groups), len(resources))
    score_cols = [index[r] for r in _SCORE_RESOURCES if r in index]
    safe_cap = np.where(cap_arr[:, score_cols] > 0, cap_arr[:, score_cols], 1)

    if method == "ffd":
        order = sorted(range(len(groups)), key=lambda k: (
            k in follows, -share(groups[k].demand), -groups[k].demand.get("cpu", 0),
            -groups[k].demand.get("memory", 0), k))
        queue = [k for k in order for _ in range(groups[k].replicas)]
    else:
        if arrival is None:
            queue = [k for k in range(len(groups)) for _ in range(groups[k].replicas)]
        else:
            seen: dict[int, int] = {}
            queue = []
            for c in arrival:
                k = gidx[group_of[c]]
                if seen.get(k, 0) < groups[k].replicas:  # a forced group arrives once per replica
                    queue.append(k)
                    seen[k] = seen.get(k, 0) + 1
        queue = [k for k in queue if k not in follows] + [k for k in queue if k in follows]

    placement: dict[str, list[str]] = {g.name: [] for g in groups}
    unplaced = 0
    for k in queue:
        d = demand[k]
        mask = active & (free >= d).all(axis=1)
        if spread:
            mask &= counts[k] == 0
        for q in apart.get(k, ()):
            mask &= counts[q] == 0
        for q in follows.get(k, ()):
            mask &= counts[k] < counts[q]
        chosen = -1
        if mask.any():
            if method == "ffd":
                chosen = int(mask.argmax())
            else:
                after = (free[:, score_cols] - d[score_cols]) / safe_cap
                score = after.mean(axis=1) if method == "kube-least" else 1 - after.mean(axis=1)
                chosen = int(np.where(mask, score, -np.inf).argmax())
        elif k not in follows:  # the autoscaler adds a node of the first pool that holds it
            for p, (_, end) in enumerate(blocks):
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
        placement[groups[k].name].append(names[chosen])
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

