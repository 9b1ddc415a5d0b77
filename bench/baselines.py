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

from dataclasses import dataclass, field
from decimal import Decimal

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

    apart: dict[str, set[str]] = {}
    follows: dict[str, set[str]] = {}  # sameNode: pod -> partners whose nodes it must share
    for hint in problem.hints:
        if not isinstance(hint, GroupHint) or hint.type not in ("sameNode", "separateNodes"):
            continue
        pods = [group_of[c] for c in hint.containers]
        for i, a in enumerate(pods):
            for b in pods[i + 1:]:
                if a == b:
                    continue
                if hint.type == "separateNodes":
                    apart.setdefault(a, set()).add(b)
                    apart.setdefault(b, set()).add(a)
                else:
                    small, big = sorted((a, b), key=lambda n: (by_name[n].replicas, n))
                    follows.setdefault(small, set()).add(big)

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
