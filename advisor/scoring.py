"""Waste and SPOF scores of any layout, independent of the solver.

Waste (0-100): the share of provisioned allocatable capacity that no pod requests,
split into idle (nodes hosting no pod), stranded (free capacity on a node where no
pod of the layout fits any more because another resource ran out) and slack.

SPOF (0-100): the mean exposure of critical components (critical containers that
are not helpers) to one failure: 1 when one container crash or one node failure
removes every replica, 0.5 when one zone failure does (clusters with two or more
zones), plus 0.25 for sharing a pod with another critical component and 0.25
when the replicas lost with the worst node cannot be placed on what remains, and 0.25
when the worst node holds more of a disruption budget's replicas than it allows down;
capped at 1 per component. A component is one container, or the containers that name one
`component` (a Service over several workloads): their replicas count together.

Blast radius (0-100, beside the SPOF score): the largest share of critical components that
one node (one zone) failure leaves with no running replica: correlated failure, which the
per-component mean cannot see (a node hosting the only replica of 19 services and one
hosting one such service count each service the same).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from advisor import rules
from advisor.layout import LayoutView, PodView, container_demand
from advisor.prepare import Instance
from models import Scores, SpofScore, WasteScore
from models.plan import BlastRadius


@dataclass
class Exposure:
    component: str
    pod: str  # the pod's name; the component's for a component over several pods
    pods: list[str] = field(default_factory=list)  # the pods holding the component
    value: float = 0.0
    causes: list[tuple[str, str]] = field(default_factory=list)  # (code, failure that triggers)

    def add(self, amount: float, code: str, why: str) -> None:
        self.value = min(1.0, self.value + amount)
        self.causes.append((code, why))


@dataclass
class WasteDetail:
    idle_nodes: list[int]
    stranded_nodes: list[int]
    overcommitted: list[tuple[int, str]]
    by_resource: dict[str, float]
    stranded_by_resource: dict[str, float]
    blockers: dict[str, int] = field(default_factory=dict)  # resource -> closed nodes it blocks


def _pct(part: float, whole: float) -> float:
    return round(100.0 * part / whole, 2) if whole > 0 else 0.0


def waste(inst: Instance, view: LayoutView) -> tuple[WasteScore, WasteDetail]:
    load = view.load(inst)
    shapes = {tuple(p.demand) for p in view.pods}
    resources = [r for r in range(len(inst.resources))
                 if r != inst.pods_index and sum(inst.candidates[k].capacity[r] for k in load) > 0]
    sums = _WasteSums(resources)
    node_share: dict[int, tuple[float, float, float, float]] = {}
    detail = WasteDetail([], [], [], {}, {})
    for k, row in load.items():
        node_share[k] = _node_waste(inst, k, row, shapes, sums, detail)
    total = sums.total
    requested = {r: sum(min(load[k][r], inst.candidates[k].capacity[r]) for k in load)
                 for r in resources}
    by_resource = {inst.resources[r]: _pct(total[r] - requested[r], total[r]) for r in resources}
    detail.by_resource = by_resource
    detail.stranded_by_resource = {
        inst.resources[r]: _pct(sums.stranded[r], total[r]) for r in resources
    }
    costs = {k: _node_cost(inst, k) for k in load}
    priced = {k: c for k, c in costs.items() if c is not None}
    if load and len(priced) == len(costs) and sum(priced.values()) > 0:
        weight = sum(priced.values())
        combined = [round(100 * sum(priced[k] * node_share[k][i] for k in load) / weight, 2)
                    for i in range(4)]
    else:
        main = [r for r in resources if r in (0, 1)] or resources
        combined = [
            round(sum(_pct(m[r], total[r]) for r in main) / len(main), 2) if main else 0.0
            for m in ({r: total[r] - requested[r] for r in resources}, sums.idle, sums.stranded,
                      sums.slack)
        ]
    return WasteScore(
        score=combined[0], by_resource=by_resource, idle=combined[1], stranded=combined[2],
        slack=combined[3], duplication=duplication(inst, view),
    ), detail


class _WasteSums:
    """Per resource: capacity, and free capacity by kind (idle, stranded, slack)."""

    def __init__(self, resources: list[int]) -> None:
        self.resources = resources
        self.total = dict.fromkeys(resources, 0)
        self.idle = dict.fromkeys(resources, 0)
        self.stranded = dict.fromkeys(resources, 0)
        self.slack = dict.fromkeys(resources, 0)


def _node_waste(inst: Instance, k: int, row: list[int], shapes: set[tuple[int, ...]],
                sums: _WasteSums, detail: WasteDetail) -> tuple[float, float, float, float]:
    """One node's part: its free capacity added to `sums` by kind, what closes it noted in
    `detail`; returns its waste, idle, stranded and slack shares (mean over cpu and memory)."""
    cap = inst.candidates[k].capacity
    free = [max(0, cap[r] - row[r]) for r in range(len(cap))]
    detail.overcommitted.extend((k, inst.resources[r]) for r in range(len(cap))
                                if row[r] > cap[r])
    hosts = row[inst.pods_index] > 0
    closed = hosts and not any(all(s[r] <= free[r] for r in range(len(cap))) for s in shapes)
    if not hosts:
        detail.idle_nodes.append(k)
    elif closed:
        detail.stranded_nodes.append(k)
        for r, name in enumerate(inst.resources):
            if any(sh[r] > free[r] for sh in shapes):
                detail.blockers[name] = detail.blockers.get(name, 0) + 1
    parts = [0.0, 0.0, 0.0, 0.0]
    for r in sums.resources:
        sums.total[r] += cap[r]
        if not hosts:
            sums.idle[r] += cap[r]
            kind = 1
        elif closed and any(s[r] <= free[r] for s in shapes):
            sums.stranded[r] += free[r]
            kind = 2
        else:
            sums.slack[r] += free[r]
            kind = 3
        if r in (0, 1) and cap[r] > 0:
            # Mean over the cpu and memory the node actually has.
            has = sum(1 for q in (0, 1) if cap[q] > 0)
            share = (cap[r] if not hosts else free[r]) / cap[r] / has
            parts[0] += share
            parts[kind] += share
    return parts[0], parts[1], parts[2], parts[3]


def _node_cost(inst: Instance, k: int) -> float | None:
    """The `cost` the input gives for a node (its pool's, for a pool node), if any."""
    cand = inst.candidates[k]
    if cand.pool is None:
        return inst.problem.nodes[k].cost
    return next(p.cost for p in inst.problem.pools if p.name == cand.pool)


def own_replicas(inst: Instance, c: int, pod_replicas: int, pod: PodView | None = None) -> int:
    """Replicas a container would have in a pod of its own; helpers follow their main."""
    cont = inst.problem.containers[c]
    if cont.name in inst.helper_main:
        return pod_replicas
    if pod is not None and sum(
        1 for m in pod.containers if inst.container_names[m] not in inst.helper_main
    ) == 1:
        return pod_replicas  # alone in its pod: its count is the pod's, not the grouping's
    return cont.replicas if cont.replicas is not None else 1


def duplication(inst: Instance, view: LayoutView) -> float:
    """Share of all requests (mean over cpu, memory) spent on copies that only grouping causes."""
    extra = [0, 0]
    requested = [0, 0]
    for pod in view.pods:
        for c in pod.containers:
            d = container_demand(inst, c)
            copies = pod.replicas - own_replicas(inst, c, pod.replicas, pod)
            for r in (0, 1):
                requested[r] += d[r] * pod.replicas
                if copies > 0:
                    extra[r] += d[r] * copies
    shares = [_pct(extra[r], requested[r]) for r in (0, 1) if requested[r] > 0]
    return round(sum(shares) / len(shares), 2) if shares else 0.0


@dataclass(frozen=True)
class Component:
    """A critical component of a layout: its name (a container's, or the `component` several
    containers share) and the pods holding its main containers."""

    name: str
    pods: tuple[int, ...]

    def where(self, view: LayoutView) -> str:
        """`pod web`, or `pods reviews-v1, reviews-v2` for a component over several pods."""
        names = [view.pods[p].name for p in self.pods]
        return f"pod{'s' if len(names) > 1 else ''} {', '.join(names)}"

    def placed_on(self, view: LayoutView) -> dict[int, int]:
        """Node -> replicas of the component it runs, over all its pods."""
        out: dict[int, int] = {}
        for p in self.pods:
            for k, n in view.replicas_on(p).items():
                if n > 0:
                    out[k] = out.get(k, 0) + n
        return out


def critical_components(inst: Instance, view: LayoutView) -> list[Component]:
    """Critical components (of critical containers that are not helpers), in pod order."""
    pods: dict[str, list[int]] = {}
    for p, pod in enumerate(view.pods):
        for c in pod.containers:
            cont = inst.problem.containers[c]
            if cont.critical and cont.name not in inst.helper_main:
                held = pods.setdefault(cont.component or cont.name, [])
                if p not in held:
                    held.append(p)
    return [Component(name, tuple(ps)) for name, ps in pods.items()]


def spof(inst: Instance, view: LayoutView) -> tuple[SpofScore, list[Exposure]]:
    components = critical_components(inst, view)
    per_pod: dict[int, list[str]] = {}
    for comp in components:
        for p in comp.pods:
            per_pod.setdefault(p, []).append(comp.name)
    # Zones the cluster has or can provision (pool zones too): a plan that leaves a zone
    # it could use empty is exposed to the one it uses.
    zoned = set(inst.zones)
    # The N-1 check re-places every node's replicas in turn (nodes squared): only worth it
    # when some exposure can use it.
    stranded_pods = n1_unplaceable(inst, view) if components else {}
    budgets = budget_breaches(inst, view)
    exposures: list[Exposure] = []
    for comp in components:
        # A component over several pods is spoken of by its own name.
        where = comp.where(view)
        pods = [view.pods[p].name for p in comp.pods]
        e = Exposure(component=comp.name, pod=pods[0] if len(pods) == 1 else comp.name,
                     pods=pods)
        on = comp.placed_on(view)
        total = sum(view.pods[p].replicas for p in comp.pods)
        nodes = list(on)
        if not nodes:
            e.add(1.0, "NOT_RUNNING", f"no replica of its {where} is placed")
        elif total == 1:
            e.add(1.0, "SINGLE_REPLICA",
                  f"one replica: a crash of {where} or of node "
                  f"{inst.candidates[nodes[0]].name} stops it")
        elif len(nodes) == 1:
            placed = on[nodes[0]]
            which = (f"all {placed} replicas" if placed == total
                     else f"the {placed} placed replica(s) (of {total})")
            of = "" if len(comp.pods) == 1 else f" ({where})"
            e.add(1.0, "REPLICAS_ON_ONE_NODE",
                  f"{which}{of} run on node {inst.candidates[nodes[0]].name}")
        elif len(zoned) >= 2:
            zones = {inst.candidates[k].zone for k in nodes}
            if len(zones) == 1 and None not in zones:
                e.add(0.5, "REPLICAS_IN_ONE_ZONE",
                      f"all replicas run in zone {next(iter(zones))}")
        mates = sorted({m for p in comp.pods for m in per_pod.get(p, []) if m != comp.name})
        if mates:
            e.add(0.25, "CRITICAL_COMPONENTS_BUNDLED",
                  f"shares {where} with {', '.join(mates)}: one pod failure takes all")
        stranded = next((stranded_pods[p] for p in comp.pods if p in stranded_pods), None)
        if stranded is not None:
            e.add(0.25, "NO_N1_HEADROOM", stranded)
        breach = next((budgets[p] for p in comp.pods if p in budgets), None)
        if breach is not None and e.value < 1.0:
            e.add(0.25, "N1_BREAKS_BUDGET", breach)
        exposures.append(e)
    score = round(100 * sum(e.value for e in exposures) / len(exposures), 2) if exposures else 0.0
    return SpofScore(
        score=score, components=len(exposures),
        exposed={e.component: round(e.value, 2) for e in exposures if e.value > 0},
        blast_radius=blast_radius(inst, view, components),
    ), exposures


def budget_breaches(inst: Instance, view: LayoutView) -> dict[int, str]:
    """Pods of a disruption budget that one node failure takes below it: the node holds more
    of the budget's replicas than the budget allows down at once. A budget that allows
    nothing down is a finding of its own (it blocks every drain), not an exposure."""
    out: dict[int, str] = {}
    for budget in inst.problem.disruption_budgets:
        names = set(budget.containers)
        pods = [p for p, pod in enumerate(view.pods)
                if any(inst.container_names[c] in names for c in pod.containers)]
        total = sum(view.pods[p].replicas for p in pods)
        allowed = budget.allowed_down(total)
        on = Component(budget.name, tuple(pods)).placed_on(view)
        if total < 2 or allowed < 1 or not on:
            continue
        node = max(sorted(on, key=lambda k: inst.candidates[k].name), key=lambda k: on[k])
        if on[node] > allowed:
            why = (f"losing node {inst.candidates[node].name} stops {on[node]} of its {total} "
                   f"replicas; disruption budget {budget.name} allows {allowed} down at once")
            for p in pods:
                out[p] = why
    return out


def failure_domain(inst: Instance, k: int, level: str) -> str:
    """The node's name, or its zone (a node without a zone is a zone of its own)."""
    cand = inst.candidates[k]
    return cand.name if level == "node" or cand.zone is None else cand.zone


def worst_failure(inst: Instance, view: LayoutView, components: list[Component],
                  level: str) -> tuple[str | None, list[str]]:
    """The failure domain whose failure leaves the most critical components with no running
    replica, and those components (ones with no replica placed at all are down already,
    not lost with a domain). Ties go to the first domain by name."""
    lost: dict[str, list[str]] = {}
    for comp in components:
        domains = {failure_domain(inst, k, level) for k in comp.placed_on(view)}
        if len(domains) == 1:
            lost.setdefault(next(iter(domains)), []).append(comp.name)
    worst = max(sorted(lost), key=lambda d: len(lost[d]), default=None)
    return worst, sorted(lost[worst]) if worst is not None else []


def blast_radius(inst: Instance, view: LayoutView,
                 components: list[Component]) -> BlastRadius:
    node, on_node = worst_failure(inst, view, components, "node")
    zone, in_zone = worst_failure(inst, view, components, "zone")
    return BlastRadius(node=_pct(len(on_node), len(components)), worst_node=node,
                       zone=_pct(len(in_zone), len(components)), worst_zone=zone)


def n1_unplaceable(inst: Instance, view: LayoutView) -> dict[int, str]:
    """Pods with a replica that cannot be re-placed after the loss of the worst single node.

    Evicted replicas go first-fit-decreasing onto the remaining free capacity of the
    provisioned nodes, then onto new nodes of pools that still have room to grow.
    """
    load = view.load(inst)
    hosting = [k for k, row in load.items() if row[inst.pods_index] > 0]
    if len(hosting) < 2:
        return {}
    spare_pool: dict[str, int] = {}
    for pool in inst.problem.pools:
        used = sum(1 for k in load if inst.candidates[k].pool == pool.name)
        spare_pool[pool.name] = pool.max_count - used
    units = rules.layout_units(inst, view.pods, relations=False)
    worst: dict[int, str] = {}
    for lost in hosting:
        evicted = [p for p, _, k in view.placements if k == lost]
        evicted.sort(key=lambda p: -sum(view.pods[p].demand[:2]))
        refit = _Refit(inst, units, {k: [inst.candidates[k].capacity[r] - load[k][r]
                                         for r in range(len(load[k]))]
                                     for k in load if k != lost}, dict(spare_pool))
        failed: dict[int, str] = {}
        for p in evicted:
            if not refit.place(p):
                failed[p] = (f"after losing node {inst.candidates[lost].name}, no remaining "
                             f"node has room for a replica of pod {view.pods[p].name}")
        if len(failed) > len(worst):
            worst = failed
    return worst


class _Refit:
    """First fit of evicted replicas onto free capacity, opening pool nodes while they last."""

    def __init__(self, inst: Instance, units: rules.Units, free: dict[int, list[int]],
                 spare: dict[str, int]) -> None:
        self.inst = inst
        self.state = rules.Placement(inst, units, free)
        self.spare = spare  # pool -> nodes it may still add

    def place(self, p: int) -> bool:
        """One replica of pod `p` placed, on a node it fits or a new pool node; False when
        neither can take it."""
        inst, state = self.inst, self.state
        for k in state.free:
            if rules.feasible(inst, state, p, k, rules.FIT):
                state.place(p, k)
                return True
        for ks in inst.pool_candidates.values():
            cand = inst.candidates[ks[0]] if ks else None
            if cand is None or cand.pool is None or self.spare.get(cand.pool, 0) <= 0:
                continue
            if rules.could_host(inst, state.units, p, cand.index):
                self.spare[cand.pool] -= 1
                state.place(p, state.add_node(cand.index))
                return True
        return False


def score(inst: Instance, view: LayoutView) -> tuple[Scores, WasteDetail, list[Exposure]]:
    w, detail = waste(inst, view)
    s, exposures = spof(inst, view)
    return Scores(waste=w, spof=s), detail, exposures
