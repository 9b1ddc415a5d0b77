"""An independent checker of plans: the test oracle.

It re-derives every hard rule from the Problem and the plan's wire form (the
camelCase JSON dict) alone, and never imports the solver (`advisor`), so that a
bug in the solver's own bookkeeping cannot hide itself. `validate` returns
human-readable violations; an empty list means the plan keeps every rule.

Each violation starts with a stable tag (``[coverage]``, ``[capacity]``, ...) so
that tests can ask for one kind of violation without matching whole sentences.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from models import Container, GroupHint, HelperHint, Node, Pool, Problem
from models.problem import Taint, Toleration
from models.quantity import QuantityError, parse_quantity, to_units

DEFAULT_MAX_PODS = 110
HELPER_TYPES = ("sidecar", "ambassador", "adapter")


@dataclass
class NodeInfo:
    """A node a plan may use: a fixed node or one instance of a pool."""

    name: str
    pool: str | None
    zone: str | None
    labels: dict[str, str]
    taints: list[Taint]
    allocatable: dict[str, Decimal]
    pods_cap: int = DEFAULT_MAX_PODS

    def capacity(self, resource: str) -> int:
        amount = self.allocatable.get(resource)
        return 0 if amount is None else to_units(resource, amount, round_up=False)


@dataclass
class PodInfo:
    name: str
    containers: list[str]
    replicas: int
    requests: dict[str, Any] = field(default_factory=dict)


# ---- small helpers ----------------------------------------------------------------------


def container_units(container: Container, resource: str) -> int:
    """A container's request of one resource in integer model units (rounded up)."""
    amount = container.requests.get(resource)
    return 0 if amount is None else to_units(resource, amount, round_up=True)


def requested_resources(problem: Problem) -> list[str]:
    names = {r for c in problem.containers for r in c.requests if r != "pods"}
    return sorted(names)


def tolerates(tolerations: list[Toleration], taint: Taint) -> bool:
    """Kubernetes toleration matching: effect (if set), then key/operator/value."""
    for tol in tolerations:
        if tol.effect is not None and tol.effect != taint.effect:
            continue
        if tol.operator == "Exists":
            if tol.key is None or tol.key == taint.key:
                return True
            continue
        if tol.key == taint.key and (tol.value or "") == (taint.value or ""):
            return True
    return False


def hosting_zones(problem: Problem, members: list[Container]) -> set[str]:
    """Zones with a node (fixed, or of a pool) that admits and can hold one replica."""
    selector = {k: v for c in members for k, v in c.node_selector.items()}
    tolerations = [t for c in members for t in c.tolerations]
    resources = {r for c in members for r in c.requests}
    zones: set[str] = set()
    sources: list[tuple[Node | Pool, list[str]]] = [
        (n, [n.zone] if n.zone else []) for n in problem.nodes
    ]
    # A pool's nodes alternate over its zones: with maxCount below the number of zones,
    # only the first maxCount zones can ever get a node.
    sources += [(p, list(p.zones)[: p.max_count]) for p in problem.pools if p.max_count > 0]
    for source, source_zones in sources:
        if any(source.labels.get(k) != v for k, v in selector.items()):
            continue
        if any(t.effect != "PreferNoSchedule" and not tolerates(tolerations, t)
               for t in source.taints):
            continue
        fits = all(
            sum(container_units(c, r) for c in members)
            <= (to_units(r, source.allocatable[r], round_up=False)
                if r in source.allocatable else 0)
            for r in resources
        )
        if fits:
            zones.update(source_zones)
    return zones


def _groups(problem: Problem) -> dict[str, str]:
    """Container -> representative of the set that helper and samePod hints force together."""
    parent = {c.name: c.name for c in problem.containers}

    def find(a: str) -> str:
        while parent[a] != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        return a

    for hint in problem.hints:
        pairs: list[tuple[str, str]] = []
        if isinstance(hint, HelperHint):
            pairs = [(hint.container, hint.main)]
        elif isinstance(hint, GroupHint) and hint.type == "samePod":
            pairs = [(hint.containers[0], other) for other in hint.containers[1:]]
        for a, b in pairs:
            ra, rb = find(a), find(b)
            if ra != rb:
                parent[rb] = ra
    return {name: find(name) for name in parent}


def container_replicas(problem: Problem) -> dict[str, int]:
    """Replicas each container must run with: declared, else its forced group's, else 1."""
    group = _groups(problem)
    declared: dict[str, int] = {}
    for c in problem.containers:
        if c.replicas is not None:
            root = group[c.name]
            declared[root] = max(declared.get(root, 0), c.replicas)
    return {c.name: declared.get(group[c.name], 1) for c in problem.containers}


def _fewest_nodes(need: int, capacities: list[int]) -> int:
    total, count = 0, 0
    for cap in sorted(capacities, reverse=True):
        if total >= need:
            break
        total += cap
        count += 1
    return count


def nodes_lower_bound(problem: Problem) -> int:
    """Fewest nodes any plan placing every replica must use.

    Per resource: the fewest nodes whose largest capacities add up to the total
    request (each container's request times its replicas, whatever the grouping).
    Pods: at least the largest replica count must run somewhere. Under hard
    spreading, every replica of one pod needs a node of its own.
    """
    replicas = container_replicas(problem)
    total_replicas = sum(replicas.values())
    nodes = [fixed_node(n) for n in problem.nodes]
    for pool in problem.pools:
        nodes += [_pool_info(pool, f"{pool.name}-1", None)] * min(pool.max_count, total_replicas)
    best = 0
    for resource in requested_resources(problem):
        need = sum(container_units(c, resource) * replicas[c.name] for c in problem.containers)
        if need > 0:
            best = max(best, _fewest_nodes(need, [n.capacity(resource) for n in nodes]))
    most = max(replicas.values())
    best = max(best, _fewest_nodes(most, [n.pods_cap for n in nodes]))
    if problem.policy.spread.value != "none":
        best = max(best, most)
    return best


def fixed_node(node: Node) -> NodeInfo:
    pods = node.allocatable.get("pods")
    return NodeInfo(
        name=node.name, pool=None, zone=node.zone, labels=dict(node.labels),
        taints=list(node.taints), allocatable=dict(node.allocatable),
        pods_cap=DEFAULT_MAX_PODS if pods is None else to_units("pods", pods, round_up=False),
    )


def pool_node(problem: Problem, name: str, zone: str | None) -> NodeInfo | None:
    """The pool node `<pool>-<n>` with 1 <= n <= maxCount, or None if no such node exists."""
    pool_name, _, index = name.rpartition("-")
    for pool in problem.pools:
        if pool.name == pool_name and index.isdigit() and 1 <= int(index) <= pool.max_count:
            return _pool_info(pool, name, zone)
    return None


def _pool_info(pool: Pool, name: str, zone: str | None) -> NodeInfo:
    pods = pool.allocatable.get("pods")
    return NodeInfo(
        name=name, pool=pool.name, zone=zone, labels=dict(pool.labels),
        taints=list(pool.taints), allocatable=dict(pool.allocatable),
        pods_cap=DEFAULT_MAX_PODS if pods is None else to_units("pods", pods, round_up=False),
    )


# ---- the validator ----------------------------------------------------------------------


class _Check:
    def __init__(self, problem: Problem, plan: dict[str, Any]) -> None:
        self.problem = problem
        self.plan = plan
        self.out: list[str] = []
        self.containers = {c.name: c for c in problem.containers}
        self.pods: dict[str, PodInfo] = {}
        self.pod_of: dict[str, str] = {}  # container -> pod name
        # pod -> node -> replicas there
        self.on_node: dict[str, Counter[str]] = defaultdict(Counter)
        self.nodes: dict[str, NodeInfo] = {}
        self.placed: set[tuple[str, int]] = set()

    def fail(self, tag: str, message: str) -> None:
        self.out.append(f"[{tag}] {message}")

    # -- grouping ------------------------------------------------------------------------
    def grouping(self) -> None:
        seen_in: dict[str, list[str]] = defaultdict(list)
        for raw in self.plan.get("pods") or []:
            pod = PodInfo(name=str(raw.get("name")), containers=list(raw.get("containers") or []),
                          replicas=int(raw.get("replicas", 0)),
                          requests=dict(raw.get("requests") or {}))
            if pod.name in self.pods:
                self.fail("pods", f"pod name {pod.name!r} is used twice")
            self.pods[pod.name] = pod
            if pod.replicas < 1:
                self.fail("replicas", f"pod {pod.name} has replicas {pod.replicas} (< 1)")
            if not pod.containers:
                self.fail("pods", f"pod {pod.name} holds no container")
            for name in pod.containers:
                if name not in self.containers:
                    self.fail("pods", f"pod {pod.name} lists unknown container {name!r}")
                    continue
                seen_in[name].append(pod.name)
        for name in self.containers:
            homes = seen_in.get(name, [])
            if not homes:
                self.fail("coverage", f"container {name} appears in no pod")
            elif len(homes) > 1:
                self.fail("coverage", f"container {name} appears {len(homes)} times "
                                      f"(pods {', '.join(homes)})")
            if homes:
                self.pod_of[name] = homes[0]

    def replicas(self) -> None:
        # Undeclared containers take the count declared in their forced group (a helper
        # follows its main, a samePod member its pod-mates), else the default 1.
        expected = container_replicas(self.problem)
        for pod in self.pods.values():
            for name in pod.containers:
                c = self.containers.get(name)
                if c is None:
                    continue
                if c.replicas is not None and c.replicas != pod.replicas:
                    self.fail("replicas", f"pod {pod.name} has {pod.replicas} replicas but "
                                          f"container {name} declares {c.replicas}")
                elif c.replicas is None and expected[name] != pod.replicas:
                    self.fail("replicas", f"pod {pod.name} has {pod.replicas} replicas but "
                                          f"container {name} declares none and its forced "
                                          f"group asks for {expected[name]}")

    def hints(self) -> None:
        for i, hint in enumerate(self.problem.hints):
            if isinstance(hint, HelperHint):
                a, b = self.pod_of.get(hint.container), self.pod_of.get(hint.main)
                if a is not None and b is not None and a != b:
                    article = "an" if hint.type[0] in "aeiou" else "a"
                    self.fail(hint.type, f"hints[{i}]: {hint.container} is {article} {hint.type} "
                                         f"of {hint.main} but runs in pod {a}, not {b}")
                continue
            if not isinstance(hint, GroupHint):
                continue  # traffic is soft
            members = hint.containers
            for x, ca in enumerate(members):
                for cb in members[x + 1:]:
                    pa, pb = self.pod_of.get(ca), self.pod_of.get(cb)
                    if pa is None or pb is None:
                        continue
                    self._group_pair(i, hint.type, ca, cb, pa, pb)

    def _group_pair(self, i: int, kind: str, ca: str, cb: str, pa: str, pb: str) -> None:
        if kind == "samePod" and pa != pb:
            self.fail("samePod", f"hints[{i}]: {ca} (pod {pa}) and {cb} (pod {pb}) must share "
                                 "a pod")
        elif kind in ("separatePods", "separateNodes") and pa == pb:
            self.fail(kind, f"hints[{i}]: {ca} and {cb} must not share a pod but both are in {pa}")
        elif kind == "separateNodes":
            for node in sorted(set(self.on_node[pa]) & set(self.on_node[pb])):
                self.fail(kind, f"hints[{i}]: node {node} hosts both {ca} (pod {pa}) and "
                                f"{cb} (pod {pb})")
        elif kind == "sameNode" and pa != pb:
            # Every node hosting the pod with fewer replicas also hosts the other. With equal
            # counts either may lead.
            ra, rb = self.pods[pa].replicas, self.pods[pb].replicas
            ways = [(pa, pb)] if ra < rb else [(pb, pa)] if rb < ra else [(pa, pb), (pb, pa)]
            broken = [self._not_following(small, big) for small, big in ways]
            if all(broken):
                node, small, big = broken[0][0]
                self.fail(kind, f"hints[{i}]: node {node} hosts {small} but not {big} "
                                f"({ca}, {cb} must share nodes)")

    def _not_following(self, small: str, big: str) -> list[tuple[str, str, str]]:
        nodes = set(self.on_node[small]) | set(self.on_node[big])
        return [(node, small, big) for node in sorted(nodes)
                if self.on_node[small][node] > 0 and self.on_node[big][node] == 0]

    def ports(self) -> None:
        for pod in self.pods.values():
            owner: dict[tuple[int, str], str] = {}
            for name in pod.containers:
                c = self.containers.get(name)
                if c is None:
                    continue
                for p in c.ports:
                    key = (p.port, p.protocol)
                    if key in owner and owner[key] != name:
                        self.fail("ports", f"pod {pod.name}: {owner[key]} and {name} both listen "
                                           f"on {p.port}/{p.protocol}")
                    owner.setdefault(key, name)

    def requests(self) -> None:
        for pod in self.pods.values():
            members = [self.containers[n] for n in pod.containers if n in self.containers]
            names = {r for c in members for r in c.requests} | set(pod.requests)
            for resource in sorted(names - {"pods"}):
                expected = sum(container_units(c, resource) for c in members)
                raw = pod.requests.get(resource)
                if raw is None:
                    got = 0
                else:
                    try:
                        got = to_units(resource, parse_quantity(raw), round_up=True)
                    except QuantityError:
                        self.fail("requests", f"pod {pod.name}: {resource} {raw!r} is not a "
                                              "quantity")
                        continue
                if got != expected:
                    self.fail("requests", f"pod {pod.name}: requests {resource}={raw!r} "
                                          f"({got} units) but its containers sum to {expected} "
                                          "units")

    # -- placement -----------------------------------------------------------------------
    def _resolve_node(self, name: str) -> NodeInfo | None:
        if name in self.nodes:
            return self.nodes[name]
        for node in self.problem.nodes:
            if node.name == name:
                self.nodes[name] = fixed_node(node)
                return self.nodes[name]
        listed = {str(n.get("name")): n for n in self.plan.get("nodes") or []}
        zone = listed[name].get("zone") if name in listed else None
        info = pool_node(self.problem, name, zone)
        if info is None:
            return None
        pool = next(p for p in self.problem.pools if p.name == info.pool)
        if name not in listed:
            self.fail("nodes", f"pool node {name} hosts replicas but is missing from plan.nodes")
        elif pool.zones and zone not in pool.zones:
            self.fail("nodes", f"pool node {name} is in zone {zone!r}, not one of pool "
                               f"{pool.name}'s zones {pool.zones}")
        elif not pool.zones and zone is not None:
            self.fail("nodes", f"pool node {name} claims zone {zone!r}; pool {pool.name} has none")
        self.nodes[name] = info
        return info

    def placements(self) -> None:
        for raw in self.plan.get("placements") or []:
            pod_name, replica, node = str(raw.get("pod")), int(raw.get("replica", -1)), \
                str(raw.get("node"))
            pod = self.pods.get(pod_name)
            if pod is None:
                self.fail("placement", f"placement of unknown pod {pod_name!r}")
                continue
            if not 0 <= replica < pod.replicas:
                self.fail("placement", f"pod {pod_name} replica {replica} is outside "
                                       f"0..{pod.replicas - 1}")
            elif (pod_name, replica) in self.placed:
                self.fail("placement", f"pod {pod_name} replica {replica} is placed more than "
                                       "once")
            self.placed.add((pod_name, replica))
            if self._resolve_node(node) is None:
                self.fail("node", f"pod {pod_name} replica {replica} is placed on unknown node "
                                  f"{node!r}")
                continue
            self.on_node[pod_name][node] += 1
        unplaced: set[tuple[str, int]] = set()
        for raw in self.plan.get("unplaced") or []:
            key = (str(raw.get("pod")), int(raw.get("replica", -1)))
            pod = self.pods.get(key[0])
            if pod is None or not 0 <= key[1] < pod.replicas:
                self.fail("unplaced", f"unplaced entry {key[0]} replica {key[1]} names no replica")
            elif key in unplaced:
                self.fail("unplaced", f"pod {key[0]} replica {key[1]} is listed unplaced twice")
            elif key in self.placed:
                self.fail("unplaced", f"pod {key[0]} replica {key[1]} is both placed and "
                                      "unplaced")
            unplaced.add(key)
        for pod in self.pods.values():
            for r in range(pod.replicas):
                if (pod.name, r) not in self.placed and (pod.name, r) not in unplaced:
                    self.fail("coverage", f"pod {pod.name} replica {r} is neither placed nor "
                                          "unplaced")

    def capacity(self) -> None:
        resources = requested_resources(self.problem)
        per_node: dict[str, list[str]] = defaultdict(list)  # node -> pod per replica
        for pod, counts in self.on_node.items():
            for node, n in counts.items():
                per_node[node] += [pod] * n
        for node_name, pods in sorted(per_node.items()):
            info = self.nodes[node_name]
            for resource in resources:
                load = sum(container_units(self.containers[c], resource)
                           for p in pods for c in self.pods[p].containers if c in self.containers)
                cap = info.capacity(resource)
                if load > cap:
                    self.fail("capacity", f"node {node_name}: {resource} requested {load} units "
                                          f"> allocatable {cap}")
            if len(pods) > info.pods_cap:
                self.fail("capacity", f"node {node_name}: {len(pods)} pods > allocatable pods "
                                      f"{info.pods_cap}")

    def admission(self) -> None:
        for pod_name, counts in self.on_node.items():
            members = [self.containers[c] for c in self.pods[pod_name].containers
                       if c in self.containers]
            tolerations = [t for c in members for t in c.tolerations]
            for node_name in sorted(counts):
                node = self.nodes[node_name]
                for c in members:
                    for key, value in sorted(c.node_selector.items()):
                        if node.labels.get(key) != value:
                            self.fail("nodeSelector", f"pod {pod_name} on node {node_name}: "
                                      f"{c.name} selects {key}={value}, node has "
                                      f"{key}={node.labels.get(key)!r}")
                for taint in node.taints:
                    if taint.effect != "PreferNoSchedule" and not tolerates(tolerations, taint):
                        self.fail("taints", f"pod {pod_name} on node {node_name} does not "
                                  f"tolerate taint {taint.key}={taint.value or ''}:{taint.effect}")

    def spread(self) -> None:
        spread = self.problem.policy.spread.value
        if spread == "none":
            return
        for pod_name, counts in self.on_node.items():
            members = [self.containers[c] for c in self.pods[pod_name].containers
                       if c in self.containers]
            zones = hosting_zones(self.problem, members)
            for node, n in sorted(counts.items()):
                if n > 1:
                    self.fail("spread", f"pod {pod_name} has {n} replicas on node {node} "
                                        f"(policy.spread={spread})")
            if spread == "zone" and zones:
                cap = math.ceil(self.pods[pod_name].replicas / len(zones))
                per_zone: Counter[str] = Counter()
                for node, n in counts.items():
                    zone = self.nodes[node].zone
                    if zone is not None:
                        per_zone[zone] += n
                for zone, n in sorted(per_zone.items()):
                    if n > cap:
                        self.fail("spread", f"pod {pod_name} has {n} replicas in zone {zone}, "
                                            f"more than ceil({self.pods[pod_name].replicas}/"
                                            f"{len(zones)}) = {cap}")

    def pools(self) -> None:
        used: dict[str, set[str]] = defaultdict(set)
        for counts in self.on_node.values():
            for node in counts:
                info = self.nodes[node]
                if info.pool is not None:
                    used[info.pool].add(node)
        for pool in self.problem.pools:
            if len(used[pool.name]) > pool.max_count:
                self.fail("pool", f"pool {pool.name} uses {len(used[pool.name])} nodes > "
                                  f"maxCount {pool.max_count}")

    # -- solver summary and scores -------------------------------------------------------
    def solver(self) -> None:
        solver = self.plan.get("solver") or {}
        used = {node for counts in self.on_node.values() for node, n in counts.items() if n}
        nodes_used = solver.get("nodesUsed")
        if nodes_used is not None and self.pods and nodes_used != len(used):
            self.fail("solver", f"solver.nodesUsed={nodes_used} but placements use {len(used)} "
                                "node(s)")
        complete = self.pods and not self.plan.get("unplaced") and all(
            (p.name, r) in self.placed for p in self.pods.values() for r in range(p.replicas))
        claimed = solver.get("nodesLowerBound")
        if complete and nodes_used is not None and claimed is not None and nodes_used < claimed:
            self.fail("solver", f"solver.nodesUsed={nodes_used} is below the plan's own "
                                f"nodesLowerBound={claimed}: the bound is wrong")
        if complete and nodes_used is not None:
            lower = nodes_lower_bound(self.problem)
            if nodes_used < lower:
                self.fail("solver", f"solver.nodesUsed={nodes_used} is below the lower bound "
                                    f"{lower}")
        objective, bound, gap = solver.get("objective"), solver.get("bound"), solver.get("gap")
        for label, value in (("objective", objective), ("bound", bound)):
            if value is not None and value < 0:
                self.fail("solver", f"solver.{label}={value} is negative: reported on a scale "
                                    "where both are non-negative, so that the gap means "
                                    "something")
        if objective is not None and bound is not None and bound > objective + 1e-6:
            self.fail("solver", f"solver.bound={bound} exceeds solver.objective={objective}")
        if gap is not None and gap < 0:
            self.fail("solver", f"solver.gap={gap} is negative")

    def scores(self) -> None:
        scores = self.plan.get("scores")
        if not scores:
            return
        waste = scores.get("waste") or {}
        values: list[tuple[str, Any]] = [
            (f"waste.{k}", waste.get(k)) for k in ("score", "idle", "stranded", "slack",
                                                   "duplication")
        ]
        values += [(f"waste.byResource.{r}", v) for r, v in (waste.get("byResource") or {}).items()]
        values.append(("spof.score", (scores.get("spof") or {}).get("score")))
        for label, value in values:
            if value is not None and not 0 <= value <= 100:
                self.fail("scores", f"{label}={value} is outside 0..100")
        self.blast_radius((scores.get("spof") or {}).get("blastRadius"))

    def _domain(self, node: str, level: str) -> str:
        zone = self.nodes[node].zone if level == "zone" and node in self.nodes else None
        return zone if zone is not None else node

    def blast_radius(self, claimed: dict[str, Any] | None) -> None:
        """Recount the largest share of critical components one node (zone) failure leaves
        with no replica, from the placements alone."""
        if claimed is None:
            return
        helpers = {h.container for h in self.problem.hints if isinstance(h, HelperHint)}
        # A component is a container, or all containers naming one `component`: the pods
        # of any of them run its replicas.
        pods_of: dict[str, set[str]] = {}
        for c in self.problem.containers:
            if c.critical and c.name not in helpers and c.name in self.pod_of:
                pods_of.setdefault(c.component or c.name, set()).add(self.pod_of[c.name])
        critical = sorted(pods_of)
        for level in ("node", "zone"):
            lost: Counter[str] = Counter()
            for name in critical:
                hosts = [n for pod in pods_of[name]
                         for n, count in self.on_node[pod].items() if count]
                domains = {self._domain(n, level) for n in hosts}
                if len(domains) == 1:
                    lost[next(iter(domains))] += 1
            worst = max(lost.values(), default=0)
            expected = round(100 * worst / len(critical), 2) if critical else 0.0
            if abs(float(claimed.get(level, -1)) - expected) > 0.011:
                self.fail("scores", f"spof.blastRadius.{level}={claimed.get(level)} but one "
                                    f"{level} failure stops at most {worst} of {len(critical)} "
                                    f"critical components ({expected})")

    def volumes(self) -> None:
        """A ReadWriteOnce volume is mounted on one node: every replica of every pod
        mounting it runs there; ReadWriteOncePod: one replica in all."""
        for volume in self.problem.volumes:
            if volume.access_mode not in ("ReadWriteOnce", "ReadWriteOncePod"):
                continue
            pods = sorted({self.pod_of[c.name] for c in self.problem.containers
                           if volume.name in c.volumes and c.name in self.pod_of})
            nodes = {node for pod in pods for node, n in self.on_node[pod].items() if n}
            if len(nodes) > 1:
                self.fail("volume", f"{volume.access_mode} volume {volume.name} is mounted on "
                                    f"nodes {', '.join(sorted(nodes))} (pods {', '.join(pods)})")
            replicas = sum(self.pods[p].replicas for p in pods if p in self.pods)
            if volume.access_mode == "ReadWriteOncePod" and replicas > 1:
                self.fail("volume", f"ReadWriteOncePod volume {volume.name} is mounted by "
                                    f"{replicas} replicas")

    def run(self) -> list[str]:
        self.grouping()
        self.replicas()
        self.ports()
        self.requests()
        self.placements()
        self.volumes()
        self.hints()
        self.capacity()
        self.admission()
        self.spread()
        self.pools()
        self.solver()
        self.scores()
        return self.out


def validate(problem: Problem, plan_wire: dict[str, Any]) -> list[str]:
    """Every hard rule the plan breaks, as human-readable lines; [] when it keeps them all."""
    return _Check(problem, plan_wire).run()


# ---- migration sequences ----------------------------------------------------------------
#
# A migration is replayed step by step from the current layout (the review's `current`
# wire form): every step must be possible (a node to create on, a replica to delete, an
# empty node to remove), keep every node within its allocatable (or within what it starts
# with, for a node the current layout overcommits), and keep every critical component at or
# above its disruption budget's minimum available (one ready replica without a budget; a
# component that starts lower may not go lower). The end must be the advised layout.

MIGRATION_ACTIONS = ("addNode", "create", "delete", "removeNode")


@dataclass
class _Running:
    origin: str  # "current", "advised" or "temporary"
    pod: str
    replica: int
    containers: frozenset[str]


def _wire_node(problem: Problem, raw: dict[str, Any]) -> NodeInfo:
    """A node of a wire `nodes` list: its allocatable as listed, its labels and taints from
    the problem (a fixed node, or a pool's)."""
    name = str(raw.get("name"))
    fixed = next((n for n in problem.nodes if n.name == name), None)
    base = fixed_node(fixed) if fixed is not None else pool_node(problem, name, raw.get("zone"))
    allocatable = {str(r): parse_quantity(v) for r, v in (raw.get("allocatable") or {}).items()}
    pods = allocatable.get("pods")
    return NodeInfo(name=name, pool=base.pool if base else None, zone=raw.get("zone"),
                    labels=dict(base.labels) if base else {},
                    taints=list(base.taints) if base else [], allocatable=allocatable,
                    pods_cap=DEFAULT_MAX_PODS if pods is None
                    else to_units("pods", pods, round_up=False))


class _Replay:
    def __init__(self, problem: Problem, current: dict[str, Any], advised: dict[str, Any]
                 ) -> None:
        self.problem = problem
        self.out: list[str] = []
        self.step = 0
        self.containers = {c.name: c for c in problem.containers}
        self.resources = requested_resources(problem)
        self.cur_pods = {str(p["name"]): (frozenset(p["containers"]), int(p["replicas"]))
                         for p in current.get("pods") or []}
        self.adv_pods = {str(p["name"]): (frozenset(p["containers"]), int(p["replicas"]))
                         for p in advised.get("pods") or []}
        self.nodes = {str(n["name"]): _wire_node(problem, n) for n in current.get("nodes") or []}
        self.running: dict[str, list[_Running]] = defaultdict(list)
        for raw in current.get("placements") or []:
            pod = str(raw["pod"])
            self.running[str(raw["node"])].append(
                _Running("current", pod, int(raw["replica"]), self.cur_pods[pod][0]))
        self.surge: set[str] = set()
        self.added: set[str] = set()
        self.created: set[tuple[str, int]] = set()
        self.deleted = 0
        self.start = {n: self._load(n) for n in self.running}
        self.start_nodes = len(self._in_use())
        self.peak = self.start_nodes
        helpers = {h.container for h in problem.hints if isinstance(h, HelperHint)}
        self.component = {c.name: c.component or c.name for c in problem.containers
                          if c.critical and c.name not in helpers}
        self.ready = self._ready()
        self.need = self._needs(current, advised)

    def fail(self, tag: str, message: str) -> None:
        where = f"step {self.step}: " if self.step else ""
        self.out.append(f"[{tag}] {where}{message}")

    # -- counting ------------------------------------------------------------------------
    def _load(self, node: str) -> dict[str, int]:
        load = {r: 0 for r in self.resources}
        for rep in self.running.get(node, []):
            for name in rep.containers:
                for r in self.resources:
                    load[r] += container_units(self.containers[name], r)
        load["pods"] = len(self.running.get(node, []))
        return load

    def _in_use(self) -> set[str]:
        return {n for n in self.nodes if self.running.get(n) or n in self.added}

    def _holds(self, containers: frozenset[str]) -> set[str]:
        return {self.component[c] for c in containers if c in self.component}

    def _ready(self) -> Counter[str]:
        ready: Counter[str] = Counter({c: 0 for c in self.component.values()})
        for reps in self.running.values():
            for rep in reps:
                ready.update(self._holds(rep.containers))
        return ready

    def _needs(self, current: dict[str, Any], advised: dict[str, Any]) -> dict[str, int]:
        """Per critical component, the fewest ready replicas any step may leave it."""
        final: Counter[str] = Counter()
        for raw in advised.get("placements") or []:
            final.update(self._holds(self.adv_pods[str(raw["pod"])][0]))
        need: dict[str, int] = {}
        for comp in set(self.component.values()):
            names = {c for c, k in self.component.items() if k == comp}
            budgets = [b for b in self.problem.disruption_budgets if names & set(b.containers)]
            least = []
            for pods in (self.cur_pods, self.adv_pods):
                total = sum(n for cs, n in pods.values() if cs & names)
                least.append(max((total - b.allowed_down(total) for b in budgets),
                                 default=min(1, total)))
            need[comp] = min(*least, self.ready[comp], final[comp])
        return need

    # -- steps ---------------------------------------------------------------------------
    def apply(self, raw: dict[str, Any]) -> None:
        action, node = raw.get("action"), str(raw.get("node"))
        if action not in MIGRATION_ACTIONS:
            self.fail("migration", f"unknown action {action!r}")
        elif action == "addNode":
            self.add_node(node, raw)
        elif action == "removeNode":
            self.remove_node(node)
        elif not isinstance(raw.get("pod"), str) or not isinstance(raw.get("replica"), int):
            self.fail("migration", f"{action} on node {node} names no pod and replica")
        elif node not in self.nodes:
            self.fail("migration", f"{action} on node {node}, which does not exist (now)")
        elif action == "create":
            self.create(node, str(raw["pod"]), int(raw["replica"]), bool(raw.get("temporary")))
        else:
            self.delete(node, str(raw["pod"]), int(raw["replica"]), bool(raw.get("temporary")))
        self.peak = max(self.peak, len(self._in_use()))

    def add_node(self, node: str, raw: dict[str, Any]) -> None:
        if node in self.nodes:
            self.fail("migration", f"addNode {node}: the node exists already")
            return
        if any(n.name == node for n in self.problem.nodes):
            self.fail("migration", f"addNode {node}: a fixed node cannot be added")
            return
        info = pool_node(self.problem, node, None)
        if info is None:
            given = raw.get("allocatable")
            if not given:
                self.fail("migration", f"addNode {node}: neither a pool node nor given an "
                                       "allocatable")
                return
            allocatable = {str(r): parse_quantity(v) for r, v in given.items()}
            pods = allocatable.get("pods")
            info = NodeInfo(name=node, pool=None, zone=None, labels={}, taints=[],
                            allocatable=allocatable,
                            pods_cap=DEFAULT_MAX_PODS if pods is None
                            else to_units("pods", pods, round_up=False))
            self.surge.add(node)
        self.nodes[node] = info
        self.added.add(node)
        if info.pool is not None:
            pool = next(p for p in self.problem.pools if p.name == info.pool)
            present = sum(1 for n in self.nodes.values() if n.pool == pool.name)
            if present > pool.max_count:
                self.fail("migration", f"addNode {node}: pool {pool.name} now has {present} "
                                       f"nodes > maxCount {pool.max_count}")

    def remove_node(self, node: str) -> None:
        if node not in self.nodes:
            self.fail("migration", f"removeNode {node}: no such node (now)")
            return
        if self.running.get(node):
            self.fail("migration", f"removeNode {node}: it still runs "
                                   f"{len(self.running[node])} replica(s)")
        fixed = next((n for n in self.problem.nodes if n.name == node), None)
        if fixed is not None and not fixed.releasable:
            self.fail("migration", f"removeNode {node}: a fixed node that is not releasable")
        del self.nodes[node]
        self.added.discard(node)
        self.running.pop(node, None)

    def create(self, node: str, pod: str, replica: int, temporary: bool) -> None:
        if pod not in self.adv_pods or not 0 <= replica < self.adv_pods[pod][1]:
            self.fail("migration", f"create {pod} replica {replica}: no such replica in the "
                                   "advised layout")
            return
        if not temporary:
            if (pod, replica) in self.created:
                self.fail("migration", f"create {pod} replica {replica}: created twice")
            self.created.add((pod, replica))
        containers = self.adv_pods[pod][0]
        self.running[node].append(_Running("temporary" if temporary else "advised", pod,
                                           replica, containers))
        self.ready.update(self._holds(containers))
        if node not in self.surge:
            self._admission(node, pod, containers)
        self._capacity(node)

    def delete(self, node: str, pod: str, replica: int, temporary: bool) -> None:
        origin = "temporary" if temporary else "current"
        reps = self.running.get(node, [])
        match = next((rep for rep in reps if (rep.origin, rep.pod, rep.replica)
                      == (origin, pod, replica)), None)
        if match is None:
            self.fail("migration", f"delete {pod} replica {replica} on node {node}: no such "
                                   f"{origin} replica runs there")
            return
        reps.remove(match)
        self.deleted += origin == "current"
        for comp in sorted(self._holds(match.containers)):
            self.ready[comp] -= 1
            if self.ready[comp] < self.need[comp]:
                self.fail("migration-budget", f"deleting {pod} replica {replica} leaves "
                                              f"component {comp} {self.ready[comp]} ready "
                                              f"replica(s), below {self.need[comp]}")

    def _capacity(self, node: str) -> None:
        info, load = self.nodes[node], self._load(node)
        start = self.start.get(node, {})
        for r in [*self.resources, "pods"]:
            cap = info.pods_cap if r == "pods" else info.capacity(r)
            if load[r] > max(cap, start.get(r, 0)):
                self.fail("migration-capacity", f"node {node}: {r} requested {load[r]} units > "
                                                f"allocatable {cap}")

    def _admission(self, node: str, pod: str, containers: frozenset[str]) -> None:
        info = self.nodes[node]
        members = [self.containers[c] for c in sorted(containers) if c in self.containers]
        tolerations = [t for c in members for t in c.tolerations]
        for c in members:
            for key, value in sorted(c.node_selector.items()):
                if info.labels.get(key) != value:
                    self.fail("migration", f"create {pod} on node {node}: {c.name} selects "
                                           f"{key}={value}")
        for taint in info.taints:
            if taint.effect != "PreferNoSchedule" and not tolerates(tolerations, taint):
                self.fail("migration", f"create {pod} on node {node}: taint {taint.key} is "
                                       "not tolerated")

    # -- the end -------------------------------------------------------------------------
    def finish(self, current: dict[str, Any], advised: dict[str, Any],
               migration: dict[str, Any]) -> None:
        self.step = 0
        want: dict[str, Counter[frozenset[str]]] = defaultdict(Counter)
        for raw in advised.get("placements") or []:
            want[str(raw["node"])][self.adv_pods[str(raw["pod"])][0]] += 1
        have: dict[str, Counter[frozenset[str]]] = defaultdict(Counter)
        for node, reps in self.running.items():
            for rep in reps:
                have[node][rep.containers] += 1
        for node in sorted(set(want) | set(have)):
            if want[node] != have[node]:
                self.fail("migration-end", f"node {node} ends with "
                                           f"{_sets(have[node])}, the advised layout runs "
                                           f"{_sets(want[node])}")
        for node in sorted(self.added & set(self.nodes)):
            if not sum(want[node].values()):
                self.fail("migration-end", f"node {node} is added for the migration and never "
                                           "removed")
        self._counts(current, want, migration)

    def _counts(self, current: dict[str, Any], want: dict[str, Counter[frozenset[str]]],
                migration: dict[str, Any]) -> None:
        before: dict[str, Counter[frozenset[str]]] = defaultdict(Counter)
        for raw in current.get("placements") or []:
            before[str(raw["node"])][self.cur_pods[str(raw["pod"])][0]] += 1
        stay = sum(min(n, want[node][cs]) for node, sets in before.items()
                   for cs, n in sets.items())
        least = sum(sum(sets.values()) for sets in before.values()) - stay
        if self.deleted > least:
            self.fail("migration-count", f"{self.deleted} current replicas are deleted, but "
                                         f"only {least} do not stay where they run")
        advised_nodes = sum(1 for sets in want.values() if sum(sets.values()))
        expected = {"moves": self.deleted, "peakNodes": self.peak,
                    "extraNodes": self.peak - max(self.start_nodes, advised_nodes)}
        for key, value in expected.items():
            if migration.get(key) != value:
                self.fail("migration-count", f"{key}={migration.get(key)} but the steps give "
                                             f"{value}")


def _sets(counts: Counter[frozenset[str]]) -> str:
    shown = [f"{n}x[{', '.join(sorted(cs))}]" for cs, n in sorted(
        counts.items(), key=lambda kv: sorted(kv[0])) if n]
    return ", ".join(shown) or "nothing"


def validate_migration(problem: Problem, current_wire: dict[str, Any],
                       advised_wire: dict[str, Any], migration_wire: dict[str, Any]
                       ) -> list[str]:
    """Every rule a migration breaks, replaying its steps from `current_wire` (a review's
    `current`) to `advised_wire` (its `advised`); [] when every step keeps them all."""
    replay = _Replay(problem, current_wire, advised_wire)
    for i, raw in enumerate(migration_wire.get("steps") or []):
        replay.step = i + 1
        replay.apply(raw)
    replay.finish(current_wire, advised_wire, migration_wire)
    return replay.out
