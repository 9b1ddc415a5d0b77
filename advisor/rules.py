"""The hard placement rules, written once for every engine that places replicas one by one.

In the style of kube-scheduler's filter plugins: each rule is a named predicate over
(instance, partial placement, unit, node) that says whether one more replica of the unit
may go on the node. The greedy, the vectorised packing, the kube-style scheduling of a
current layout, the N-1 refit and the findings filter with these rules; which of the
feasible nodes is best (the score) stays with each engine.

A *unit* here is whatever an engine places: a unit of the instance, or a pod of a given
layout (`Units` says what it asks for and how it relates to the others). The CP-SAT model
keeps its own encoding of each rule, in the method `LayoutModel.add_<rule name>`, or by
construction where `BY_CONSTRUCTION` says so.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from operator import le
from typing import Any, Protocol

import numpy as np
from numpy.typing import NDArray

from advisor.prepare import Candidate, Instance, node_admits
from models import Container, GroupHint
from models.problem import NODE_LOCAL_MODES, Spread

RULES = ("admitted", "capacity", "spread", "separate_nodes", "same_node", "one_node")
# Rules the model enforces by how it is built rather than by an `add_<rule>` method.
BY_CONSTRUCTION = {
    "admitted": "placement variables exist only for the nodes that admit the unit "
                "(Unit.eligible)",
}


class LayoutPod(Protocol):
    """A pod of a given layout, as the rules need it (advisor.layout.PodView)."""

    @property
    def containers(self) -> Sequence[int]: ...

    @property
    def demand(self) -> Sequence[int]: ...


@dataclass
class Units:
    """What the rules place: per unit its request per replica (the pod count included),
    where it is admitted, and its hard relations to the other units."""

    demand: Sequence[Sequence[int]]
    admits: Callable[[int, int], bool]  # (unit, candidate): selectors and taints allow it
    apart: dict[int, set[int]] = field(default_factory=dict)  # separateNodes partners
    # sameNode: the partners (with at least as many replicas, placed first) whose replica
    # count on a node bounds this unit's there.
    follows: dict[int, list[int]] = field(default_factory=dict)
    volumes: dict[int, list[int]] = field(default_factory=dict)  # unit -> its node-local volumes
    volume_count: int = 0
    zone_cap: Sequence[int | None] = ()  # spread: zone, per unit; empty: no zone caps


class Placement:
    """The partial assignment the rules read: free capacity per node, replicas per unit
    and node, replicas per unit and zone, and the nodes each node-local volume is on.
    Engines change it only through `place` (and `add_node`, to open a node the candidate
    list does not have)."""

    def __init__(self, inst: Instance, units: Units,
                 free: dict[int, list[int]] | None = None) -> None:
        self.inst = inst
        self.units = units
        self.free = free if free is not None else {c.index: list(c.capacity)
                                                   for c in inst.candidates}
        self.counts: list[dict[int, int]] = [{} for _ in units.demand]
        self.zone_load: list[dict[str | None, int]] = [{} for _ in units.demand]
        self.hosting: dict[int, int] = {}  # node -> replicas it runs
        self.attached: list[set[int]] = [set() for _ in range(units.volume_count)]
        # Nodes beyond the candidate list (the N-1 refit opens them) -> the candidate copied.
        self.clones: dict[int, int] = {}

    def candidate(self, k: int) -> Candidate:
        return self.inst.candidates[self.clones.get(k, k)]

    def place(self, u: int, k: int) -> None:
        """One replica of unit `u` goes on node `k`."""
        row = self.free[k]
        for r, d in enumerate(self.units.demand[u]):
            row[r] -= d
        self.counts[u][k] = self.counts[u].get(k, 0) + 1
        zone = self.candidate(k).zone
        self.zone_load[u][zone] = self.zone_load[u].get(zone, 0) + 1
        self.hosting[k] = self.hosting.get(k, 0) + 1
        for g in self.units.volumes.get(u, ()):
            self.attached[g].add(k)

    def add_node(self, template: int) -> int:
        """A new, empty copy of candidate `template` (a pool node opened); its key."""
        key = len(self.inst.candidates) + len(self.clones)
        self.clones[key] = template
        self.free[key] = list(self.inst.candidates[template].capacity)
        return key


Rule = Callable[[Instance, Placement, int, int], bool]


def admitted(inst: Instance, state: Placement, u: int, k: int) -> bool:
    """Node selectors and NoSchedule/NoExecute taints (kube's NodeAffinity and
    TaintToleration filters)."""
    return state.units.admits(u, state.clones.get(k, k))


def fits(demand: Sequence[int], free: Sequence[int]) -> bool:
    return all(map(le, demand, free))  # same lengths: one entry per resource


def capacity(inst: Instance, state: Placement, u: int, k: int) -> bool:
    """Every resource, the pod count included, fits in what the node has left
    (NodeResourcesFit)."""
    return fits(state.units.demand[u], state.free[k])


def one_per_node(inst: Instance) -> bool:
    """Whether policy.spread keeps a unit's replicas on different nodes."""
    return inst.spread != Spread.NONE


def spread(inst: Instance, state: Placement, u: int, k: int) -> bool:
    """policy.spread: one replica of a unit per node; with a zone cap, at most that many
    of its replicas per zone (ceil(replicas / zones that can host it))."""
    if not one_per_node(inst):
        return True
    if state.counts[u].get(k, 0):
        return False
    cap = state.units.zone_cap[u] if state.units.zone_cap else None
    return cap is None or state.zone_load[u].get(state.candidate(k).zone, 0) < cap


def separate_nodes(inst: Instance, state: Placement, u: int, k: int) -> bool:
    """separateNodes: no replica of a partner on the node."""
    return not any(state.counts[v].get(k, 0) for v in state.units.apart.get(u, ()))


def same_node(inst: Instance, state: Placement, u: int, k: int) -> bool:
    """sameNode: a unit following partners (placed before it, with at least as many
    replicas) never has more replicas on a node than each of them has there, so every node
    hosting it hosts them too."""
    leaders = state.units.follows.get(u)
    if not leaders:
        return True
    mine = state.counts[u].get(k, 0)
    return all(mine < state.counts[p].get(k, 0) for p in leaders)


def one_node(inst: Instance, state: Placement, u: int, k: int) -> bool:
    """ReadWriteOnce volumes: once a replica mounting one runs, the others go where it is
    attached."""
    return all(not state.attached[g] or k in state.attached[g]
               for g in state.units.volumes.get(u, ()))


FILTERS: dict[str, Rule] = {
    "admitted": admitted, "capacity": capacity, "spread": spread,
    "separate_nodes": separate_nodes, "same_node": same_node, "one_node": one_node,
}
ALL: tuple[Rule, ...] = tuple(FILTERS[name] for name in RULES)
# What the N-1 refit and the findings ask: may a replica go there at all.
FIT: tuple[Rule, ...] = (admitted, capacity)


def could_host(inst: Instance, units: Units, u: int, k: int) -> bool:
    """`admitted` and `capacity` on candidate `k` while it is empty: whether it can hold a
    replica of `u` on its own (a node about to be opened, a possible host)."""
    return units.admits(u, k) and fits(units.demand[u], inst.candidates[k].capacity)


# Like kube-scheduler's PreFilter returning Skip: per unit, the rules that cannot reject any
# node right now are not asked node by node.
_IDLE: dict[Rule, Callable[[Instance, Placement, int], bool]] = {
    spread: lambda inst, state, u: not one_per_node(inst),
    separate_nodes: lambda inst, state, u: not state.units.apart.get(u),
    same_node: lambda inst, state, u: not state.units.follows.get(u),
    one_node: lambda inst, state, u: not any(state.attached[g]
                                             for g in state.units.volumes.get(u, ())),
}


def active(inst: Instance, state: Placement, u: int,
           rules: Sequence[Rule] = ALL) -> tuple[Rule, ...]:
    """The rules that may reject a node for one more replica of `u` in this state."""
    return tuple(rule for rule in rules
                 if rule not in _IDLE or not _IDLE[rule](inst, state, u))


def feasible(inst: Instance, state: Placement, u: int, k: int,
             rules: Sequence[Rule] = ALL) -> bool:
    # A plain loop, not all() over a generator: three times faster, and this runs per node
    # and replica.
    for rule in rules:  # noqa: SIM110
        if not rule(inst, state, u, k):
            return False
    return True


def feasible_nodes(inst: Instance, state: Placement, u: int, nodes: Iterable[int],
                   rules: Sequence[Rule] = ALL) -> list[int]:
    """The nodes, in their order, where one more replica of `u` breaks no rule."""
    kept = list(nodes)
    for rule in active(inst, state, u, rules):
        kept = [k for k in kept if rule(inst, state, u, k)]
    return kept


# ---- units ---------------------------------------------------------------------------


def instance_units(inst: Instance, order: Sequence[int] | None = None) -> Units:
    """The instance's units. `order`: the order they are placed in; a sameNode partner
    with at least as many replicas placed before a unit bounds it (without an order,
    sameNode is not filtered)."""
    apart: dict[int, set[int]] = {}
    for a, b, _ in inst.separate_nodes:
        apart.setdefault(a, set()).add(b)
        apart.setdefault(b, set()).add(a)
    follows: dict[int, list[int]] = {}
    if order is not None:
        position = {u: i for i, u in enumerate(order)}
        for small, big, _ in inst.same_node:
            for u, p in ((small, big), (big, small)):
                if position[p] < position[u] and \
                        inst.units[p].replicas >= inst.units[u].replicas:
                    follows.setdefault(u, []).append(p)
    volumes: dict[int, list[int]] = {}
    for g, (group, _) in enumerate(inst.one_node):
        for u in group:
            volumes.setdefault(u, []).append(g)
    units = inst.units
    zoned = inst.spread == Spread.ZONE
    return Units(demand=[unit.demand for unit in units],
                 admits=lambda u, k: units[u].eligible[k], apart=apart, follows=follows,
                 volumes=volumes, volume_count=len(inst.one_node),
                 zone_cap=[inst.zone_cap(u) for u in range(len(units))] if zoned else ())


def pod_admission(inst: Instance, pods: Sequence[Sequence[int]]) -> Callable[[int, int], bool]:
    """`admits` for pods given by their containers: node_admits once per pod and fixed node
    or pool (a pool's nodes share labels and taints)."""
    members = [[inst.problem.containers[c] for c in pod] for pod in pods]
    cache: dict[tuple[int, object], bool] = {}

    def admits(p: int, k: int) -> bool:
        cand = inst.candidates[k]
        key = (p, cand.pool if cand.pool is not None else k)
        if key not in cache:
            cache[key] = node_admits(members[p], _selector(members[p]), cand)
        return cache[key]

    return admits


def _selector(members: list[Container]) -> dict[str, str]:
    return {key: v for c in members for key, v in c.node_selector.items()}


def hint_partners(inst: Instance, pods: Sequence[LayoutPod], kind: str) -> dict[int, set[int]]:
    """Pod of a layout -> the other pods that a `kind` hint (separateNodes, sameNode)
    names together with it."""
    pod_of = {c: q for q, pod in enumerate(pods) for c in pod.containers}
    index = {name: i for i, name in enumerate(inst.container_names)}
    partners: dict[int, set[int]] = {}
    for hint in inst.problem.hints:
        if isinstance(hint, GroupHint) and hint.type == kind:
            group = {pod_of[index[c]] for c in hint.containers if index.get(c) in pod_of}
            for q in group:
                partners.setdefault(q, set()).update(group - {q})
    return partners


def layout_units(inst: Instance, pods: Sequence[LayoutPod], relations: bool = True) -> Units:
    """Pods of a layout (`containers` and `demand` each), with the separateNodes and
    node-local volume relations the hints and volumes give them when `relations`. sameNode
    is not filtered (kube-scheduler's scheduling of a layout prefers the partner's node)."""
    demand = [pod.demand for pod in pods]
    admits = pod_admission(inst, [pod.containers for pod in pods])
    if not relations:
        return Units(demand=demand, admits=admits)
    apart = hint_partners(inst, pods, "separateNodes")
    modes = {v.name: v.access_mode for v in inst.problem.volumes}
    by_volume: dict[str, set[int]] = {}
    for q, pod in enumerate(pods):
        for c in pod.containers:
            for vol in inst.problem.containers[c].volumes:
                if modes.get(vol) in NODE_LOCAL_MODES:
                    by_volume.setdefault(vol, set()).add(q)
    volumes: dict[int, list[int]] = {}
    for g, group in enumerate(by_volume.values()):
        for q in group:
            volumes.setdefault(q, []).append(g)
    return Units(demand=demand, admits=admits, apart=apart, volumes=volumes,
                 volume_count=len(by_volume))


# ---- the same rules over many nodes at once (numpy) ----------------------------------


def admitted_mask(inst: Instance) -> NDArray[np.bool_]:
    """`admitted` for every unit (rows) and node (columns) of the instance."""
    return np.array([u.eligible for u in inst.units], dtype=np.bool_)


def capacity_mask(demand: NDArray[Any], free: NDArray[Any]) -> NDArray[np.bool_]:
    """`capacity` by broadcasting: one request against many nodes' free rows, or many
    requests against one node's."""
    return np.asarray((demand <= free).all(axis=-1))
