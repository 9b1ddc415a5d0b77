"""Normalise a Problem into integer arrays, and prove cheap infeasibilities with a named cause.

A *unit* is a set of containers that hard hints (sidecar, ambassador, adapter,
samePod) force into one pod. The solver decides which units merge into one pod
(only where a soft coupling justifies it) and where every replica runs.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from models import Conflict, Container, GroupHint, HelperHint, Node, Pool, Problem, TrafficHint
from models.problem import NODE_LOCAL_MODES, DisruptionBudget, Spread, Taint, Toleration
from models.quantity import format_units, to_units

DEFAULT_MAX_PODS = 110
# Pool nodes considered at most per pool, whatever maxCount says: keeps the model bounded.
MAX_POOL_CANDIDATES = 1000


@dataclass
class Unit:
    name: str  # the pod's name: its first main container
    containers: list[int]
    replicas: int
    demand: list[int]  # per resource index, model units, per replica
    critical_components: list[str]  # components of the critical main containers inside
    reasons: list[str]
    selector: dict[str, str]
    ports: set[tuple[int, str]]
    eligible: list[bool] = field(default_factory=list)  # per candidate node


@dataclass
class Candidate:
    """A node the plan may use: a fixed node, or one instance of a pool."""

    index: int
    name: str
    pool: str | None
    zone: str | None
    capacity: list[int]
    cost_weight: int  # objective units; an average node is about 1000
    labels: dict[str, str]
    taints: list[Taint]
    pool_rank: int = 0  # order among identical instances of one pool and zone
    # Emptying it saves something: a pool node, or a fixed node the user may give back.
    releasable: bool = True


@dataclass
class Instance:
    problem: Problem
    resources: list[str]  # the last one is always "pods"
    container_names: list[str]
    helper_main: dict[str, str]  # helper container -> its main
    units: list[Unit]
    unit_of: list[int]  # container index -> unit index
    candidates: list[Candidate]
    pool_candidates: dict[str, list[int]]
    merge_options: dict[int, list[int]]  # unit -> earlier units it may join
    incompatible: set[tuple[int, int]]  # unit pairs that may never share a pod
    traffic: list[tuple[int, int, float, str]]  # units u < v, weight, label
    same_node: list[tuple[int, int, str]]  # (fewer replicas, more replicas, hint label)
    separate_nodes: list[tuple[int, int, str]]
    spread: Spread
    conflicts: list[Conflict]
    zones: list[str]
    truncated: list[str]  # pools with more possible nodes than the model considers
    # Units that share a ReadWriteOnce(Pod) volume: every replica of all of them on one
    # node (the volume's label names them in conflicts and reasons).
    one_node: list[tuple[list[int], str]] = field(default_factory=list)
    # Critical component -> the units holding it (several when a Service spans workloads).
    components: dict[str, list[int]] = field(default_factory=dict)
    # Disruption budgets -> the units whose replicas they cover.
    budgets: list[tuple[DisruptionBudget, list[int]]] = field(default_factory=list)

    def fmt(self, resource_index: int, units: int) -> str:
        return format_units(self.resources[resource_index], units)

    @property
    def pods_index(self) -> int:
        return len(self.resources) - 1

    def zones_for(self, u: int) -> list[str]:
        """Zones with a node that can host the unit: what `spread: zone` divides by."""
        unit = self.units[u]
        return sorted({c.zone for c in self.candidates
                       if c.zone is not None and unit.eligible[c.index]})

    def zone_cap(self, u: int) -> int | None:
        zones = self.zones_for(u)
        if self.spread != Spread.ZONE or not zones:
            return None
        return -(-self.units[u].replicas // len(zones))


def hint_label(index: int, hint: HelperHint | GroupHint | TrafficHint) -> str:
    if isinstance(hint, HelperHint):
        return f"hints[{index}] ({hint.container} is a {hint.type} of {hint.main})"
    return f"hints[{index}] ({hint.type} {', '.join(hint.containers)})"


class _UnionFind:
    def __init__(self, n: int) -> None:
        self.parent = list(range(n))

    def find(self, a: int) -> int:
        while self.parent[a] != a:
            self.parent[a] = self.parent[self.parent[a]]
            a = self.parent[a]
        return a

    def union(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)


def tolerates(tolerations: list[Toleration], taint: Taint) -> bool:
    for tol in tolerations:
        if tol.effect is not None and tol.effect != taint.effect:
            continue
        if tol.key is None and tol.operator == "Exists":
            return True
        if tol.key != taint.key:
            continue
        if tol.operator == "Exists" or (tol.value or "") == (taint.value or ""):
            return True
    return False


def node_admits(containers: list[Container], selector: dict[str, str], cand: Candidate) -> bool:
    """Node selectors and NoSchedule/NoExecute taints, as kube-scheduler filters them."""
    if any(cand.labels.get(k) != v for k, v in selector.items()):
        return False
    # Each container's own selector too: merged selectors hide a clash (ssd vs hdd).
    if any(cand.labels.get(k) != v for c in containers for k, v in c.node_selector.items()):
        return False
    tolerations = [t for c in containers for t in c.tolerations]
    return all(
        tolerates(list(tolerations), taint)
        for taint in cand.taints
        if taint.effect != "PreferNoSchedule"
    )


def _resources(problem: Problem) -> list[str]:
    names: set[str] = {"cpu", "memory"}
    for c in problem.containers:
        names.update(c.requests)
    for n in problem.nodes:
        names.update(n.allocatable)
    for p in problem.pools:
        names.update(p.allocatable)
    names.discard("pods")
    return ["cpu", "memory", *sorted(names - {"cpu", "memory"}), "pods"]


def _capacity(resources: list[str], source: Node | Pool) -> list[int]:
    caps = []
    for r in resources:
        if r == "pods":
            amount = source.allocatable.get("pods")
            caps.append(DEFAULT_MAX_PODS if amount is None else to_units(r, amount, round_up=False))
        else:
            amount = source.allocatable.get(r)
            caps.append(0 if amount is None else to_units(r, amount, round_up=False))
    return caps


def _cost_weights(caps: list[list[int]], costs: list[float | None],
                  fixed: list[bool]) -> list[int]:
    """Objective weight of using a node, an average node about 1000.

    A node's `cost` where given; else its size (mean share of the largest cpu and memory),
    priced at the mean cost per size of the nodes that do have a cost. When pools exist,
    fixed nodes weigh a hundredth: they are paid for already, a pool node costs when opened.
    """
    max_cpu = max((c[0] for c in caps), default=1) or 1
    max_mem = max((c[1] for c in caps), default=1) or 1
    sizes = [max(1e-6, (c[0] / max_cpu + c[1] / max_mem) / 2) for c in caps]
    priced = [(c, s) for c, s in zip(costs, sizes, strict=True) if c is not None]
    per_size = sum(c / s for c, s in priced) / len(priced) if priced else 1.0
    raw = [c if c is not None else s * per_size for c, s in zip(costs, sizes, strict=True)]
    if not all(fixed):
        raw = [r / 100 if f else r for r, f in zip(raw, fixed, strict=True)]
    # Normalise over distinct node types (each fixed node, one per pool), so that how many
    # pool nodes are offered does not shift the weights against SPOF and traffic terms.
    kinds = {(f, i if f else None, caps[i][0], caps[i][1], costs[i]): raw[i]
             for i, f in enumerate(fixed)}
    mean = sum(kinds.values()) / len(kinds) if kinds else 1.0
    return [max(1, round(1000 * r / (mean or 1.0))) for r in raw]


def prepare(problem: Problem) -> Instance:
    """The problem as units, candidate nodes and their relations; every infeasibility that
    is cheap to prove becomes a named conflict (`CHECKS`, in order)."""
    resources = _resources(problem)
    names = [c.name for c in problem.containers]
    forced = _forced(problem, names)
    units = [_make_unit(problem, resources, members, forced.helper_main)
             for members in forced.groups]
    unit_of = [0] * len(names)
    for u, members in enumerate(forced.groups):
        for c in members:
            unit_of[c] = u
    for c, reason in forced.reasons:
        units[unit_of[c]].reasons.append(reason)
    links = _links(problem, names, unit_of, units)
    candidates, pool_candidates, truncated = _candidates(problem, resources, units)
    _mark_eligible(problem, units, candidates)
    _mark_incompatible(problem, units, candidates, links.incompatible)
    index = {n: i for i, n in enumerate(names)}
    inst = Instance(
        problem=problem, resources=resources, container_names=names,
        helper_main=forced.helper_main, units=units, unit_of=unit_of, candidates=candidates,
        pool_candidates=pool_candidates,
        merge_options=_merge_options(len(units), links), incompatible=links.incompatible,
        traffic=links.traffic, same_node=links.same_node, separate_nodes=links.separate_nodes,
        spread=problem.policy.spread, conflicts=[],
        zones=sorted({c.zone for c in candidates if c.zone is not None}), truncated=truncated,
        components=_components(units),
        budgets=[(b, sorted({unit_of[index[n]] for n in b.containers}))
                 for b in problem.disruption_budgets],
    )
    inst.one_node = [(group, label) for group, label, clash in _volumes(inst) if clash is None]
    inst.conflicts = [conflict for check in CHECKS for conflict in check(inst)]
    return inst


@dataclass
class _Forced:
    """Containers that hard hints force into one pod."""

    groups: list[list[int]]  # container indices per unit, units ordered by first container
    helper_main: dict[str, str]  # helper container -> its main
    reasons: list[tuple[int, str]]  # (a container of the unit, why the unit holds together)


def _forced(problem: Problem, names: list[str]) -> _Forced:
    """Helpers with their main, samePod sets: the units."""
    index = {n: i for i, n in enumerate(names)}
    uf = _UnionFind(len(names))
    helper_main: dict[str, str] = {}
    reasons: list[tuple[int, str]] = []
    for i, hint in enumerate(problem.hints):
        if isinstance(hint, HelperHint):
            helper_main.setdefault(hint.container, hint.main)
            uf.union(index[hint.container], index[hint.main])
            article = "an" if hint.type[0] in "aeiou" else "a"
            reasons.append(
                (index[hint.main], f"{hint.container} is {article} {hint.type} of {hint.main}"))
        elif isinstance(hint, GroupHint) and hint.type == "samePod":
            first = index[hint.containers[0]]
            for other in hint.containers[1:]:
                uf.union(first, index[other])
            reasons.append(
                (first, f"{', '.join(hint.containers)} must share a pod ({hint_label(i, hint)})"))
    roots: dict[int, list[int]] = {}
    for i in range(len(names)):
        roots.setdefault(uf.find(i), []).append(i)
    return _Forced(groups=sorted(roots.values(), key=lambda g: g[0]),
                   helper_main=helper_main, reasons=reasons)


def _forcing_hints(inst: Instance) -> list[tuple[str, int]]:
    """(hint label, unit) of every hint that forces containers into one pod."""
    index = {n: i for i, n in enumerate(inst.container_names)}
    out: list[tuple[str, int]] = []
    for i, hint in enumerate(inst.problem.hints):
        if isinstance(hint, HelperHint):
            out.append((hint_label(i, hint), inst.unit_of[index[hint.main]]))
        elif isinstance(hint, GroupHint) and hint.type == "samePod":
            out.append((hint_label(i, hint), inst.unit_of[index[hint.containers[0]]]))
    return out


@dataclass
class _Links:
    """Pairwise relations between units, from the hints and shared volumes."""

    incompatible: set[tuple[int, int]] = field(default_factory=set)
    traffic: list[tuple[int, int, float, str]] = field(default_factory=list)
    same_node: list[tuple[int, int, str]] = field(default_factory=list)
    separate_nodes: list[tuple[int, int, str]] = field(default_factory=list)
    soft: set[tuple[int, int]] = field(default_factory=set)  # couplings that justify a merge


def _hint_pairs(problem: Problem, names: list[str], unit_of: list[int]
                ) -> Iterator[tuple[int, GroupHint | TrafficHint, int, int, int, int]]:
    """(hint index, hint, container a, container b, unit a, unit b) for every pair of
    containers a node-level or pairwise hint names, units in increasing order."""
    index = {n: i for i, n in enumerate(names)}
    for i, hint in enumerate(problem.hints):
        if isinstance(hint, HelperHint) or hint.type == "samePod":
            continue
        members = [index[n] for n in hint.containers]
        for x in range(len(members)):
            for y in range(x + 1, len(members)):
                a, b = members[x], members[y]
                ua, ub = sorted((unit_of[a], unit_of[b]))
                yield i, hint, a, b, ua, ub


def _links(problem: Problem, names: list[str], unit_of: list[int], units: list[Unit]) -> _Links:
    links = _Links()
    for i, hint, _, _, ua, ub in _hint_pairs(problem, names, unit_of):
        label = hint_label(i, hint)
        if hint.type in ("separatePods", "separateNodes"):
            links.incompatible.add((ua, ub))
            if hint.type == "separateNodes":
                links.separate_nodes.append((ua, ub, label))
        elif ua == ub:
            continue  # sameNode / traffic inside one pod: satisfied by construction
        elif hint.type == "sameNode":
            small, big = sorted((ua, ub), key=lambda q: units[q].replicas)
            links.same_node.append((small, big, label))
            links.soft.add((ua, ub))
        else:
            assert isinstance(hint, TrafficHint)
            links.traffic.append((ua, ub, hint.weight, label))
            links.soft.add((ua, ub))
    # Shared named volumes couple containers softly (an emptyDir is shared only inside a pod).
    volume_users: dict[str, set[int]] = {}
    for c, cont in enumerate(problem.containers):
        for vol in cont.volumes:
            volume_users.setdefault(vol, set()).add(unit_of[c])
    for vol, users in sorted(volume_users.items()):
        ordered = sorted(users)
        for x in range(len(ordered)):
            for y in range(x + 1, len(ordered)):
                links.traffic.append((ordered[x], ordered[y], 1.0, f"shared volume {vol}"))
                links.soft.add((ordered[x], ordered[y]))
    return links


def _mark_eligible(problem: Problem, units: list[Unit], candidates: list[Candidate]) -> None:
    """unit.eligible per candidate: admitted by selectors and taints, and large enough.

    Admission is decided once per distinct unit and node signature (labels and taints;
    every node of a pool shares one), the size check for all nodes at once."""
    kinds: dict[tuple[object, ...], int] = {}
    kind_of = [kinds.setdefault(_node_signature(c), len(kinds)) for c in candidates]
    example = {kind: candidates[k] for k, kind in reversed(list(enumerate(kind_of)))}
    capacity = np.array([c.capacity for c in candidates], dtype=np.int64)
    kind_index = np.array(kind_of, dtype=np.int64)
    admitted: dict[tuple[object, ...], NDArray[np.bool_]] = {}
    for unit in units:
        conts = [problem.containers[c] for c in unit.containers]
        key = _unit_signature(conts, unit.selector)
        if key not in admitted:
            admitted[key] = np.array([node_admits(conts, unit.selector, example[kind])
                                      for kind in range(len(kinds))], dtype=np.bool_)
        if not candidates:
            unit.eligible = []
            continue
        fits = (np.array(unit.demand, dtype=np.int64) <= capacity).all(axis=1)
        unit.eligible = (admitted[key][kind_index] & fits).tolist()


def _node_signature(cand: Candidate) -> tuple[object, ...]:
    return (tuple(sorted(cand.labels.items())),
            tuple((t.key, t.value, t.effect) for t in cand.taints))


def _unit_signature(conts: list[Container], selector: dict[str, str]) -> tuple[object, ...]:
    return (tuple(sorted(selector.items())),
            tuple(tuple(sorted(c.node_selector.items())) for c in conts),
            tuple((t.key, t.operator, t.value, t.effect) for c in conts for t in c.tolerations))


def _mark_incompatible(problem: Problem, units: list[Unit], candidates: list[Candidate],
                       incompatible: set[tuple[int, int]]) -> None:
    """Unit pairs that can never share a pod: different replica counts, a port clash,
    clashing selectors, or (under zone spreading) different zones able to host them.
    Decided for all pairs at once (numpy): 2,000 units make 2 million pairs."""
    n = len(units)
    if n < 2:
        return
    clash = np.zeros((n, n), dtype=np.bool_)
    replicas = np.array([u.replicas for u in units], dtype=np.int64)
    clash |= replicas[:, None] != replicas[None, :]
    by_port: dict[tuple[int, str], list[int]] = {}
    by_label: dict[str, dict[str, list[int]]] = {}
    for u, unit in enumerate(units):
        for port in unit.ports:
            by_port.setdefault(port, []).append(u)
        for key, value in unit.selector.items():
            by_label.setdefault(key, {}).setdefault(value, []).append(u)
    for members in by_port.values():
        if len(members) > 1:
            clash[np.ix_(members, members)] = True
    for values in by_label.values():
        if len(values) > 1:  # units selecting different values of one label
            value_of = np.full(n, -1, dtype=np.int64)
            for i, members in enumerate(values.values()):
                value_of[members] = i
            chosen = value_of >= 0
            clash |= chosen[:, None] & chosen[None, :] & (value_of[:, None] != value_of[None, :])
    if problem.policy.spread == Spread.ZONE:
        # Zone spreading divides by the zones that can host a pod: keep it per unit.
        kinds: dict[frozenset[str], int] = {}
        kind = np.array([kinds.setdefault(frozenset(_zones_of(candidates, unit)), len(kinds))
                         for unit in units], dtype=np.int64)
        clash |= kind[:, None] != kind[None, :]
    incompatible.update((a, b) for a, b in np.argwhere(np.triu(clash, 1)).tolist())


def _merge_options(n_units: int, links: _Links) -> dict[int, list[int]]:
    """Units linked by a soft coupling, compatible, joining an earlier unit."""
    adjacency: dict[int, set[int]] = {}
    for a, b in links.soft:
        if (a, b) not in links.incompatible:
            adjacency.setdefault(a, set()).add(b)
            adjacency.setdefault(b, set()).add(a)
    merge_options: dict[int, list[int]] = {}
    for v in range(n_units):
        # Only direct partners: isolation by default, merges need a reason of their own.
        options = sorted(s for s in adjacency.get(v, set()) if s < v)
        if options:
            merge_options[v] = options
    return merge_options


def _components(units: list[Unit]) -> dict[str, list[int]]:
    out: dict[str, list[int]] = {}
    for u, unit in enumerate(units):
        for name in unit.critical_components:
            out.setdefault(name, []).append(u)
    return out


# ---- the checks: each names one kind of infeasibility, in the order they are reported ----

def check_replicas(inst: Instance) -> list[Conflict]:
    """Containers forced into one pod that ask for different replica counts."""
    out = []
    for unit in inst.units:
        conts = [inst.problem.containers[c] for c in unit.containers]
        declared = {c.name: c.replicas for c in conts if c.replicas is not None}
        if len(set(declared.values())) > 1:
            out.append(Conflict(
                kind="replicas", subjects=sorted(declared),
                message="containers forced into one pod ask for different replica counts: "
                        + ", ".join(f"{n}={r}" for n, r in sorted(declared.items()))
                        + "; a pod is replicated as a whole",
            ))
    return out


def check_ports(inst: Instance) -> list[Conflict]:
    """Containers forced into one pod that listen on the same port and protocol."""
    out = []
    for unit in inst.units:
        ports: dict[tuple[int, str], str] = {}
        for c in (inst.problem.containers[c] for c in unit.containers):
            for p in c.ports:
                key = (p.port, p.protocol)
                if key in ports and ports[key] != c.name:
                    out.append(Conflict(
                        kind="port", subjects=[ports[key], c.name, f"{p.port}/{p.protocol}"],
                        message=f"{ports[key]} and {c.name} must share a pod but both listen "
                                f"on port {p.port}/{p.protocol}; containers of a pod share one "
                                "network namespace",
                    ))
                ports.setdefault(key, c.name)
    return out


def check_selectors(inst: Instance) -> list[Conflict]:
    """Containers forced into one pod that select different values of one node label."""
    out = []
    for unit in inst.units:
        selector: dict[str, str] = {}
        for c in (inst.problem.containers[c] for c in unit.containers):
            for k, v in c.node_selector.items():
                if selector.get(k, v) != v:
                    out.append(Conflict(
                        kind="selector", subjects=[c.name, k],
                        message=f"containers forced into pod {unit.name} select different "
                                f"values of node label {k!r} ({selector[k]!r} and {v!r})",
                    ))
                selector.setdefault(k, v)
    return out


def check_apart_in_one_pod(inst: Instance) -> list[Conflict]:
    """separatePods or separateNodes between containers other hints force into one pod."""
    names = inst.container_names
    forcing = _forcing_hints(inst)
    out = []
    for i, hint, a, b, ua, ub in _hint_pairs(inst.problem, names, inst.unit_of):
        if hint.type in ("separatePods", "separateNodes") and ua == ub:
            label = hint_label(i, hint)
            forced = [f for f, u in forcing if u == ua]
            out.append(Conflict(
                kind="hint", subjects=[names[a], names[b], label, *forced],
                message=f"{label} keeps {names[a]} and {names[b]} apart, but other hints "
                        f"force them into one pod ({'; '.join(inst.units[ua].reasons)})",
            ))
    return out


def check_same_node_apart(inst: Instance) -> list[Conflict]:
    """sameNode and separateNodes over the same two pods."""
    units = inst.units
    apart_label = {(min(a, b), max(a, b)): lab for a, b, lab in inst.separate_nodes}
    out = []
    for ua, ub, label in inst.same_node:
        clash = apart_label.get((min(ua, ub), max(ua, ub)))
        if clash is not None:
            out.append(Conflict(
                kind="hint", subjects=[units[ua].name, units[ub].name, label, clash],
                message=f"{label} wants {units[ua].name} and {units[ub].name} on one node, "
                        f"{clash} wants them on different nodes",
            ))
    return out


def check_unit_fits(inst: Instance) -> list[Conflict]:
    """A pod that no node admits (selectors, taints) or holds (size)."""
    return [c for unit in inst.units for c in _unit_fit_conflicts(
        inst.problem, inst.resources, unit, inst.candidates)]


def check_same_node_fits(inst: Instance) -> list[Conflict]:
    """sameNode pods whose requests together exceed every node that admits both."""
    out = []
    for small, big, label in inst.same_node:
        one, two = inst.units[small], inst.units[big]
        # If the two may share a pod, they take one pod slot, not two.
        mergeable = (min(small, big), max(small, big)) not in inst.incompatible
        need = [x + y - (1 if r == inst.pods_index and mergeable else 0)
                for r, (x, y) in enumerate(zip(one.demand, two.demand, strict=True))]
        together = [k for k, c in enumerate(inst.candidates)
                    if one.eligible[k] and two.eligible[k]
                    and all(n <= cap for n, cap in zip(need, c.capacity, strict=True))]
        if any(one.eligible) and any(two.eligible) and not together:
            out.append(Conflict(
                kind="hint", subjects=[one.name, two.name, label],
                message=f"{label}: no node can hold {one.name} and {two.name} together "
                        "(their requests add up to more than any node that admits both)",
            ))
    return out


def check_spread_hosts(inst: Instance) -> list[Conflict]:
    """Hard spreading with more replicas of a pod than nodes that can host it."""
    spread = inst.spread
    if spread == Spread.NONE:
        return []
    out = []
    for unit in inst.units:
        hosts = sum(unit.eligible)
        capped = any(unit.eligible[k] for name in inst.truncated
                     for k in inst.pool_candidates[name])
        if 0 < hosts < unit.replicas and not capped:
            out.append(Conflict(
                kind="spread", subjects=[unit.name],
                message=f"pod {unit.name} has {unit.replicas} replicas but only {hosts} "
                        f"node(s) can host it, and policy.spread={spread.value} allows one "
                        "replica per node",
            ))
    return out


def check_volumes(inst: Instance) -> list[Conflict]:
    """ReadWriteOnce(Pod) volumes whose pods cannot all run on one node."""
    return [clash for _, _, clash in _volumes(inst) if clash is not None]


Check = Callable[[Instance], list[Conflict]]
CHECKS: list[Check] = [check_replicas, check_ports, check_selectors, check_apart_in_one_pod,
                       check_same_node_apart, check_unit_fits, check_same_node_fits,
                       check_spread_hosts, check_volumes]


def _volumes(inst: Instance) -> list[tuple[list[int], str, Conflict | None]]:
    """Units sharing a ReadWriteOnce (or ReadWriteOncePod) volume, which Kubernetes mounts
    on one node at a time: all their replicas must run there. Each group with its label,
    and the conflict that makes it impossible, if any."""
    problem, units, candidates = inst.problem, inst.units, inst.candidates
    modes = {v.name: v.access_mode for v in problem.volumes}
    users: dict[str, set[int]] = {}
    for c, cont in enumerate(problem.containers):
        for vol in cont.volumes:
            if modes.get(vol) in NODE_LOCAL_MODES:
                users.setdefault(vol, set()).add(inst.unit_of[c])
    out: list[tuple[list[int], str, Conflict | None]] = []
    apart = {(min(a, b), max(a, b)): label for a, b, label in inst.separate_nodes}
    for vol, members in sorted(users.items()):
        group = sorted(members)
        label = f"{modes[vol]} volume {vol}"
        names = [units[u].name for u in group]
        replicas = sum(units[u].replicas for u in group)
        clash: Conflict | None = None
        if modes[vol] == "ReadWriteOncePod" and replicas > 1:
            clash = Conflict(
                kind="volume", subjects=[vol, *names],
                message=f"{label} can be mounted by one pod replica only, but pod(s) "
                        f"{', '.join(names)} run {replicas} replicas that mount it "
                        "(give each replica a claim of its own, e.g. a StatefulSet's "
                        "volumeClaimTemplates)")
        elif problem.policy.spread != Spread.NONE and any(units[u].replicas > 1 for u in group):
            clash = Conflict(
                kind="volume", subjects=[vol, *names, "policy.spread"],
                message=f"policy.spread={problem.policy.spread.value} puts the replicas of "
                        f"{', '.join(names)} on different nodes, but they mount {label}, "
                        "which ties them to one node")
        elif (apart_label := next((apart[(a, b)] for a in group for b in group
                                   if a < b and (a, b) in apart), None)) is not None:
            clash = Conflict(
                kind="volume", subjects=[vol, *names, apart_label],
                message=f"{apart_label} keeps apart pods that mount {label}, which ties them "
                        "to one node")
        elif candidates and all(any(units[u].eligible) for u in group) and not any(
                _holds_group(inst, group, k) for k in range(len(candidates))):
            clash = Conflict(
                kind="volume", subjects=[vol, *names],
                message=f"{label} ties the {replicas} replica(s) of {', '.join(names)} to one "
                        "node, and no node that admits them has room for all of them")
        out.append((group, label, clash))
    return out


def _holds_group(inst: Instance, group: list[int], k: int) -> bool:
    """Node k admits every unit of the group and has room for all their replicas."""
    need = [sum(inst.units[u].demand[r] * inst.units[u].replicas for u in group)
            for r in range(len(inst.resources))]
    return all(inst.units[u].eligible[k] for u in group) and all(
        n <= cap for n, cap in zip(need, inst.candidates[k].capacity, strict=True))


def _zones_of(candidates: list[Candidate], unit: Unit) -> set[str]:
    return {c.zone for c in candidates if c.zone is not None and unit.eligible[c.index]}


def _make_unit(problem: Problem, resources: list[str], members: list[int],
               helper_main: dict[str, str]) -> Unit:
    """One unit's replicas, summed requests, ports and merged selector (clashes among its
    containers are reported by check_replicas, check_ports and check_selectors)."""
    conts = [problem.containers[c] for c in members]
    mains = [c for c in conts if c.name not in helper_main]
    name = (mains or conts)[0].name
    replicas = max((c.replicas for c in conts if c.replicas is not None), default=1)
    demand = []
    for r in resources:
        if r == "pods":
            demand.append(1)
        else:
            demand.append(sum(
                to_units(r, c.requests[r], round_up=True) for c in conts if r in c.requests
            ))
    ports: set[tuple[int, str]] = {(p.port, p.protocol) for c in conts for p in c.ports}
    selector: dict[str, str] = {}
    for c in conts:
        for k, v in c.node_selector.items():
            selector.setdefault(k, v)
    # Components, not containers: v1 and v2 of one service in one pod are one component.
    critical = list(dict.fromkeys(c.component or c.name for c in (mains or conts[:1])
                                  if c.critical))
    return Unit(name=name, containers=members, replicas=replicas, demand=demand,
                critical_components=critical, reasons=[], selector=selector, ports=ports)


def _candidates(problem: Problem, resources: list[str], units: list[Unit]
                ) -> tuple[list[Candidate], dict[str, list[int]], list[str]]:
    caps: list[list[int]] = []
    costs: list[float | None] = []
    rows: list[tuple[str, str | None, str | None, Node | Pool, int]] = []
    for node in problem.nodes:
        rows.append((node.name, None, node.zone, node, 0))
        caps.append(_capacity(resources, node))
        costs.append(node.cost)
    total_replicas = sum(u.replicas for u in units)
    truncated: list[str] = []
    referenced: dict[str, int] = {}  # pool -> highest node index the current layout names
    for place in problem.layout.placements if problem.layout else []:
        named_pool, _, number = place.node.rpartition("-")
        if number.isdigit():
            referenced[named_pool] = max(referenced.get(named_pool, 0), int(number))
    for pool in problem.pools:
        wanted = min(pool.max_count, max(total_replicas, referenced.get(pool.name, 0)))
        count = min(wanted, MAX_POOL_CANDIDATES)
        if count < wanted:
            truncated.append(pool.name)
        cap = _capacity(resources, pool)
        for i in range(count):
            zone = pool.zones[i % len(pool.zones)] if pool.zones else None
            rank = i // len(pool.zones) if pool.zones else i
            rows.append((f"{pool.name}-{i + 1}", pool.name, zone, pool, rank))
            caps.append(cap)
            costs.append(pool.cost)
    weights = _cost_weights(caps, costs, [row[1] is None for row in rows])
    candidates: list[Candidate] = []
    pool_candidates: dict[str, list[int]] = {p.name: [] for p in problem.pools}
    for k, ((name, pool_name, zone, src, rank), cap, w) in enumerate(
        zip(rows, caps, weights, strict=True)
    ):
        candidates.append(Candidate(index=k, name=name, pool=pool_name, zone=zone, capacity=cap,
                                    cost_weight=w, labels=dict(src.labels), taints=list(src.taints),
                                    pool_rank=rank,
                                    releasable=not isinstance(src, Node) or src.releasable))
        if pool_name is not None:
            pool_candidates[pool_name].append(k)
    return candidates, pool_candidates, truncated


def _unit_fit_conflicts(problem: Problem, resources: list[str], unit: Unit,
                        candidates: list[Candidate]) -> list[Conflict]:
    if any(unit.eligible):
        return []
    members = [problem.containers[c] for c in unit.containers]
    admitting = [c for c in candidates if node_admits(members, unit.selector, c)]
    member_names = ", ".join(problem.containers[c].name for c in unit.containers)
    what = (f"container {unit.name}" if len(unit.containers) == 1
            else f"pod {unit.name} ({member_names})")
    if not admitting:
        labelled = [c for c in candidates
                    if all(c.labels.get(k) == v for k, v in unit.selector.items())]
        selector = ", ".join(f"{k}={v}" for k, v in sorted(unit.selector.items()))
        if not labelled:
            why = f"its nodeSelector {selector} matches no node"
        else:
            names = sorted({c.pool or c.name for c in labelled})
            why = (f"the nodes {'matching its nodeSelector ' + selector if selector else ''} "
                   f"({', '.join(names[:5])}) have taints it does not tolerate").replace("  ", " ")
        return [Conflict(kind="selector", subjects=[unit.name],
                         message=f"no node admits {what}: {why}")]
    # Name the resource that overflows the most, and the largest node for it.
    worst_r, worst_ratio = 0, -1.0
    for r, need in enumerate(unit.demand):
        best = max(c.capacity[r] for c in admitting)
        ratio = need / best if best else float("inf")
        if need > best and ratio > worst_ratio:
            worst_r, worst_ratio = r, ratio
    if worst_ratio < 0:
        # Each resource fits somewhere, but no single node has room for all of them.
        worst_r = max(range(len(unit.demand)),
                      key=lambda r: unit.demand[r] / max(1, *(c.capacity[r] for c in admitting)))
    largest = max(admitting, key=lambda c: c.capacity[worst_r])
    res = resources[worst_r]
    return [Conflict(
        kind="capacity", subjects=[unit.name, largest.name],
        message=f"{what} requests {res} {format_units(res, unit.demand[worst_r])}, more than "
                f"the largest node {largest.name} allocates "
                f"({format_units(res, largest.capacity[worst_r])})"
                + ("" if worst_ratio >= 0 else " together with its other requests"),
    )]
