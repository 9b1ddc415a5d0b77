"""A solver-free check that a plan obeys the problem's hard rules (independent of advisor/).

Checked: every container in exactly one pod; helpers and samePod sets share a
pod, separatePods sets do not; a pod's replicas match its containers' declared
ones; no port clash inside a pod; every replica placed once or listed as
unplaced; every node a fixed node or a pool node `POOL-k` with 1 <= k <=
maxCount; per-node requests within allocatable (pods: the node's pod limit),
pool nodes against their pool's; `spread: node` and `zone`: no two replicas of
a pod on one node; separateNodes pods never share a node; the pod of a sameNode
pair with fewer replicas only runs on nodes that also host the other (equal
counts: either way). Not checked: node selectors, taints, the per-zone cap of
`spread: zone`.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

from bench.baselines import DEFAULT_MAX_PODS, GreedyResult
from models import Container, GroupHint, HelperHint, Plan, Problem
from models.plan import PlacedReplica, PlannedPod, Unplaced


def port_clashes(pod: str, members: list[Container]) -> list[str]:
    """Two containers of one pod listening on the same port and protocol."""
    issues: list[str] = []
    seen: dict[tuple[int, str], str] = {}
    for c in members:
        for port in c.ports:
            key = (port.port, port.protocol)
            if key in seen:
                issues.append(f"pod {pod}: {seen[key]} and {c.name} both use {port.port}")
            seen[key] = c.name
    return issues


def plan_violations(problem: Problem, plan: Plan) -> list[str]:
    containers = {c.name: c for c in problem.containers}
    pod_of, issues = _membership(containers, plan)
    if set(containers) - set(pod_of):
        return issues  # nothing else can be checked
    pods = {p.name: p for p in plan.pods}
    for pod in plan.pods:
        declared = {containers[c].replicas for c in pod.containers} - {None}
        if declared and declared != {pod.replicas}:
            issues.append(f"pod {pod.name} has {pod.replicas} replicas, its containers ask "
                          f"for {sorted(x or 0 for x in declared)}")
        issues += port_clashes(pod.name, [containers[c] for c in pod.containers])
    hosts = _hosts(plan, pods, issues)
    issues += _spread(problem, hosts)
    unplaced: dict[str, int] = {}
    for u in plan.unplaced:
        unplaced[u.pod] = unplaced.get(u.pod, 0) + 1
    for name, nodes in hosts.items():
        if len(nodes) + unplaced.get(name, 0) != pods[name].replicas:
            issues.append(f"pod {name}: {len(nodes)} placed + {unplaced.get(name, 0)} unplaced "
                          f"!= {pods[name].replicas} replicas")
    for hint in problem.hints:
        if isinstance(hint, HelperHint):
            if pod_of[hint.container] != pod_of[hint.main]:
                issues.append(f"{hint.type} {hint.container} is not in {hint.main}'s pod")
        elif isinstance(hint, GroupHint):
            issues += _group_hint(hint, [pod_of[c] for c in hint.containers], pods, hosts)
    issues += _capacity(problem, plan, hosts)
    return issues


def _membership(containers: dict[str, Container], plan: Plan
                ) -> tuple[dict[str, str], list[str]]:
    """Each container's pod; a container in two pods or in none is an issue."""
    issues: list[str] = []
    pod_of: dict[str, str] = {}
    for pod in plan.pods:
        for name in pod.containers:
            if name in pod_of:
                issues.append(f"{name} is in pods {pod_of[name]} and {pod.name}")
            pod_of[name] = pod.name
    missing = sorted(set(containers) - set(pod_of))
    if missing:
        issues.append(f"containers in no pod: {', '.join(missing)}")
    return pod_of, issues


def _hosts(plan: Plan, pods: dict[str, PlannedPod], issues: list[str]) -> dict[str, list[str]]:
    """The nodes each pod's placed replicas run on; unknown or doubled replicas are issues."""
    hosts: dict[str, list[str]] = {p.name: [] for p in plan.pods}
    seen: set[tuple[str, int]] = set()
    for placed in plan.placements:
        if placed.pod not in pods or not 0 <= placed.replica < pods[placed.pod].replicas:
            issues.append(f"placement of unknown replica {placed.pod}/{placed.replica}")
            continue
        if (placed.pod, placed.replica) in seen:
            issues.append(f"replica {placed.pod}/{placed.replica} placed twice")
        seen.add((placed.pod, placed.replica))
        hosts[placed.pod].append(placed.node)
    return hosts


def _spread(problem: Problem, hosts: dict[str, list[str]]) -> list[str]:
    if problem.policy.spread.value not in ("node", "zone"):
        return []
    issues: list[str] = []
    for name, nodes in hosts.items():
        doubled = sorted({n for n in nodes if nodes.count(n) > 1}) if len(
            set(nodes)) < len(nodes) else []
        if doubled:
            issues.append(f"spread {problem.policy.spread.value}: pod {name} has two "
                          f"or more replicas on {doubled[:5]}")
    return issues


def _group_hint(hint: GroupHint, hinted: list[str], pods: dict[str, PlannedPod],
                hosts: dict[str, list[str]]) -> list[str]:
    """A samePod, separatePods, separateNodes or sameNode hint over the pods `hinted`."""
    issues: list[str] = []
    if hint.type == "samePod" and len(set(hinted)) > 1:
        issues.append(f"samePod {hint.containers} split over pods {sorted(set(hinted))}")
    elif hint.type == "separatePods" and len(set(hinted)) < len(hinted):
        issues.append(f"separatePods {hint.containers} share a pod")
    elif hint.type == "separateNodes":
        if len(set(hinted)) < len(hinted):
            issues.append(f"separateNodes {hint.containers} share a pod")
        for i, a in enumerate(hinted):
            for b in hinted[i + 1:]:
                if a != b and set(hosts[a]) & set(hosts[b]):
                    issues.append(f"separateNodes {hint.containers}: {a} and {b} share "
                                  f"{sorted(set(hosts[a]) & set(hosts[b]))}")
    elif hint.type == "sameNode":
        issues += _same_node(hint, hinted, pods, hosts)
    return issues


def _same_node(hint: GroupHint, hinted: list[str], pods: dict[str, PlannedPod],
               hosts: dict[str, list[str]]) -> list[str]:
    """The pod with fewer replicas runs only where the other does (equal: either way)."""
    issues: list[str] = []
    for i, a in enumerate(hinted):
        for b in hinted[i + 1:]:
            if a == b:
                continue
            small, big = sorted((a, b), key=lambda p: pods[p].replicas)
            stray = set(hosts[small]) - set(hosts[big])
            if pods[a].replicas == pods[b].replicas:  # either may follow the other
                stray = stray and set(hosts[big]) - set(hosts[small])
            if stray:
                issues.append(f"sameNode {hint.containers}: {small} runs on "
                              f"{sorted(stray)} without {big}")
    return issues


def allocatable_of(problem: Problem) -> Callable[[str], dict[str, Decimal] | None]:
    """A node name's allocatable: a fixed node's, or its pool's for `POOL-k`; else None."""
    fixed = {n.name: n.allocatable for n in problem.nodes}
    pools = {p.name: p for p in problem.pools}

    def lookup(node: str) -> dict[str, Decimal] | None:
        if node in fixed:
            return fixed[node]
        pool, _, k = node.rpartition("-")
        if pool in pools and k.isdigit() and 1 <= int(k) <= pools[pool].max_count:
            return pools[pool].allocatable
        return None

    return lookup


def _capacity(problem: Problem, plan: Plan, hosts: dict[str, list[str]]) -> list[str]:
    containers = {c.name: c for c in problem.containers}
    allocatable = allocatable_of(problem)
    load: dict[str, dict[str, Decimal]] = {}
    for pod in plan.pods:
        for node in hosts[pod.name]:
            per = load.setdefault(node, {})
            per["pods"] = per.get("pods", Decimal(0)) + 1
            for c in pod.containers:
                for r, amount in containers[c].requests.items():
                    per[r] = per.get(r, Decimal(0)) + amount
    issues = []
    for node, per in sorted(load.items()):
        alloc = allocatable(node)
        if alloc is None:
            issues.append(f"node {node} is neither a fixed node nor a pool node")
            continue
        for r, amount in sorted(per.items()):
            cap = alloc.get(r, Decimal(DEFAULT_MAX_PODS) if r == "pods" else Decimal(0))
            if amount > cap:
                issues.append(f"node {node}: {r} requested {amount} > allocatable {cap}")
    return issues


def greedy_plan(result: GreedyResult) -> Plan:
    """A baseline's placement as a Plan (one pod per forced group), for `plan_violations`."""
    pods, placements, unplaced = [], [], []
    for g in result.groups:
        nodes = result.placement.get(g.name, [])
        pods.append(PlannedPod(name=g.name, containers=list(g.containers), replicas=g.replicas,
                               requests={}))
        placements += [PlacedReplica(pod=g.name, replica=i, node=n) for i, n in enumerate(nodes)]
        unplaced += [Unplaced(pod=g.name, replica=i, reason="fits nowhere")
                     for i in range(len(nodes), g.replicas)]
    return Plan(status="heuristic", pods=pods, placements=placements, unplaced=unplaced)
