"""Findings: what is wrong with a layout, how bad, and the concrete fix."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from advisor import rules
from advisor.layout import LayoutView
from advisor.prepare import Instance, _UnionFind, node_admits
from advisor.scoring import (
    Exposure,
    WasteDetail,
    critical_components,
    failure_domain,
    own_replicas,
    worst_failure,
)
from models import Finding, GroupHint, HelperHint, Scores
from models.problem import NODE_LOCAL_MODES, Spread
from models.quantity import format_quantity


def findings(inst: Instance, view: LayoutView, scores: Scores, detail: WasteDetail,
             exposures: list[Exposure]) -> list[Finding]:
    out: list[Finding] = []
    out += list(_spof_findings(inst, view, exposures))
    out += list(_blast_findings(inst, view))
    out += list(_budget_findings(inst, view))
    out += list(_grouping_findings(inst, view))
    out += list(_hint_findings(inst, view))
    out += list(_admission_findings(inst, view))
    out += list(_capacity_findings(inst, view, scores, detail))
    out += list(_request_findings(inst))
    order = {"high": 0, "medium": 1, "low": 2, "info": 3}
    return sorted(out, key=lambda f: (order[f.severity], f.code, f.subjects))


@dataclass(frozen=True)
class _Cause:
    """One exposure cause of one pod (or component over several pods), in words."""

    code: str
    pod: str
    subjects: list[str]  # the components it exposes
    why: str
    pods: list[str]  # the pods holding them

    @property
    def who(self) -> str:
        return ", ".join(self.subjects)

    @property
    def first(self) -> str:
        """The pod to look at: a component over several pods is named, not its pods."""
        return self.pods[0]


# Causes whose finding is the cause itself, with its severity and the fix.
_PLAIN_CAUSES = {
    "NO_N1_HEADROOM": ("medium", "keep spare capacity of one node, or let a pool grow"),
    "N1_BREAKS_BUDGET": ("medium", "spread the replicas so that no node holds more than the "
                                   "budget allows down (a topology spread constraint on "
                                   "kubernetes.io/hostname with maxSkew 1), or add replicas"),
    "NOT_RUNNING": ("high", "add capacity or lower requests so that it can be placed"),
}


def _spof_findings(inst: Instance, view: LayoutView,
                   exposures: list[Exposure]) -> Iterator[Finding]:
    """One finding per pod and cause, naming every component it exposes."""
    by_cause: dict[tuple[str, str], list[Exposure]] = {}
    whys: dict[tuple[str, str], str] = {}
    pods_of: dict[str, list[str]] = {}
    for e in exposures:
        pods_of[e.pod] = e.pods
        for code, why in e.causes:
            by_cause.setdefault((code, e.pod), []).append(e)
            whys.setdefault((code, e.pod), why)
    bundled_pods = {pod for code, pod in by_cause if code == "CRITICAL_COMPONENTS_BUNDLED"}
    pod_reasons = {p.name: p.reasons for p in view.pods}
    claims = _node_local_claims(inst, view)
    for (code, pod), group in by_cause.items():
        cause = _Cause(code, pod, sorted(e.component for e in group), whys[(code, pod)],
                       pods_of.get(pod, [pod]))
        claimed = [claims[p] for p in cause.pods if p in claims]
        if code in ("SINGLE_REPLICA", "REPLICAS_ON_ONE_NODE") and claimed:
            yield _claimed_finding(cause, claimed[0])
        elif code == "SINGLE_REPLICA":
            yield _single_replica_finding(cause, pod in bundled_pods)
        elif code == "REPLICAS_ON_ONE_NODE":
            yield _one_node_finding(cause, len(_hosts(inst, view, cause.first)))
        elif code == "REPLICAS_IN_ONE_ZONE":
            zones = {inst.candidates[k].zone for k in _hosts(inst, view, cause.first)} - {None}
            yield _one_zone_finding(cause, len(zones))
        elif code == "CRITICAL_COMPONENTS_BUNDLED":
            yield _bundled_finding(cause, pod_reasons.get(pod, []))
        elif code in _PLAIN_CAUSES:
            severity, suggestion = _PLAIN_CAUSES[code]
            yield Finding(severity=severity, code=code, subjects=cause.subjects,
                          message=f"{cause.who}: {cause.why}", suggestion=suggestion)


def _claimed_finding(cause: _Cause, claim: str) -> Finding:
    # More replicas of this pod would share its claim, so its node: redundancy has to come
    # from a claim per replica.
    return Finding(
        severity="high", code=cause.code, subjects=cause.subjects,
        message=f"{cause.who}: critical, {cause.why}; it mounts {claim}, which ties every "
                "replica that shares it to one node",
        suggestion="make it redundant with a claim per replica: a StatefulSet with "
                   "volumeClaimTemplates, replicas on different nodes, and the "
                   "application's own replication (a database's replicas or "
                   "cluster); more replicas sharing the one claim stay on one node",
    )


def _single_replica_finding(cause: _Cause, bundled: bool) -> Finding:
    return Finding(
        severity="high", code=cause.code, subjects=cause.subjects,
        message=f"{cause.who}: critical, {cause.why}",
        suggestion=(f"split pod {cause.pod} into one pod per component, then run at least 2 "
                    "replicas of each on different nodes") if bundled
        else f"run at least 2 replicas of pod {cause.pod} on different nodes",
    )


def _one_node_finding(cause: _Cause, hosts: int) -> Finding:
    if hosts <= 1:
        return Finding(
            severity="high", code=cause.code, subjects=cause.subjects,
            message=f"{cause.who}: {cause.why}; one node failure stops it, and only that node "
                    "can host the pod (selectors, taints or size)",
            suggestion="add a second node that matches its nodeSelector and "
                       "tolerations, with room for it",
        )
    return Finding(
        severity="high", code=cause.code, subjects=cause.subjects,
        message=f"{cause.who}: {cause.why}; one node failure stops it",
        suggestion="spread the replicas with podAntiAffinity or a topology spread "
                   "constraint on kubernetes.io/hostname",
    )


def _one_zone_finding(cause: _Cause, zones: int) -> Finding:
    return Finding(
        severity="medium", code=cause.code, subjects=cause.subjects,
        message=f"{cause.who}: {cause.why}; one zone failure stops it"
                + ("" if zones > 1 else ", and no node elsewhere can host the pod"),
        suggestion="spread the replicas over zones (topology.kubernetes.io/zone)"
        if zones > 1 else
        "add a node in another zone that matches its nodeSelector and tolerations",
    )


def _bundled_finding(cause: _Cause, reasons: list[str]) -> Finding:
    grouped = [r for r in reasons
               if "the current layout" not in r and "a pod of its own" not in r]
    because = f" (grouped because: {'; '.join(grouped)})" if grouped else ""
    return Finding(
        severity="high", code=cause.code, subjects=cause.subjects,
        message=f"pod {cause.pod} bundles critical components {cause.who}: they cannot scale "
                f"apart and one failure takes them all{because}",
        suggestion="give each component a pod of its own, keeping only its "
                   "sidecars, ambassadors and adapters beside it",
    )


def _node_local_claims(inst: Instance, view: LayoutView) -> dict[str, str]:
    """Pod name -> the ReadWriteOnce(Pod) volumes its containers mount, in words."""
    modes = {v.name: v.access_mode for v in inst.problem.volumes}
    out: dict[str, str] = {}
    for pod in view.pods:
        vols = sorted({v for c in pod.containers for v in inst.problem.containers[c].volumes
                       if modes.get(v) in NODE_LOCAL_MODES})
        if vols:
            out[pod.name] = ", ".join(f"{modes[v]} volume {v}" for v in vols)
    return out


# One failure that stops this many critical components at once is a finding of its own.
BLAST_MIN_COMPONENTS = 2


def _blast_findings(inst: Instance, view: LayoutView) -> Iterator[Finding]:
    """The worst node (and, with zones, the worst zone) whose one failure stops several
    critical components at once: correlated failure, beyond each component's own SPOF."""
    components = critical_components(inst, view)
    zoned = len(inst.zones) >= 2
    for level in ("node", "zone") if zoned else ("node",):
        domain, names = worst_failure(inst, view, components, level)
        if domain is None or len(names) < BLAST_MIN_COMPONENTS:
            continue
        share = 100 * len(names) / len(components)
        hosting = {failure_domain(inst, k, level) for _, _, k in view.placements}
        shown = ", ".join(names[:12]) + (f" and {len(names) - 12} more" if len(names) > 12
                                         else "")
        yield Finding(
            severity="high" if share >= 50 else "medium", code="BLAST_RADIUS",
            subjects=[f"{level}/{domain}", *names],
            message=f"one failure of {level} {domain} stops {len(names)} of {len(components)} "
                    f"critical components at once ({share:.0f} %): {shown}",
            suggestion=("run at least 2 replicas of these components, spread over "
                        f"{'zones' if level == 'zone' else 'nodes'}"
                        + ("" if len(hosting) > 1 else
                           f", and use more than one {level}")
                        + "; do not consolidate them onto fewer nodes unless that frees a "
                          "node you pay for"),
        )


def _budget_findings(inst: Instance, view: LayoutView) -> Iterator[Finding]:
    """A disruption budget that allows no replica down blocks every drain of the nodes its
    pods run on (kubectl drain and cluster upgrades wait for ever)."""
    for budget in inst.problem.disruption_budgets:
        names = set(budget.containers)
        pods = [pod for pod in view.pods
                if any(inst.container_names[c] in names for c in pod.containers)]
        total = sum(pod.replicas for pod in pods)
        if not pods or budget.allowed_down(total) > 0:
            continue
        rule = (f"minAvailable {budget.min_available}" if budget.min_available is not None
                else f"maxUnavailable {budget.max_unavailable}")
        where = ", ".join(pod.name for pod in pods)
        yield Finding(
            severity="medium", code="BUDGET_BLOCKS_DRAIN", subjects=[budget.name, *sorted(names)],
            message=f"disruption budget {budget.name} ({rule}) allows none of the {total} "
                    f"replica(s) of {where} down: draining a node that runs one waits for "
                    "ever, so node upgrades and consolidation stall",
            suggestion=("run at least 2 replicas and allow 1 down (maxUnavailable: 1)"
                        if total < 2 else
                        f"allow at least 1 down: maxUnavailable: 1, or minAvailable at most "
                        f"{total - 1}"),
        )


def _hosts(inst: Instance, view: LayoutView, pod_name: str) -> list[int]:
    """Candidate nodes that admit the pod and could hold one replica on their own."""
    pod = next(p for p in view.pods if p.name == pod_name)
    units = rules.layout_units(inst, [pod], relations=False)
    return [c.index for c in inst.candidates if rules.could_host(inst, units, 0, c.index)]


def _coupled(inst: Instance) -> _UnionFind:
    uf = _UnionFind(len(inst.container_names))
    index = {n: i for i, n in enumerate(inst.container_names)}
    for hint in inst.problem.hints:
        if isinstance(hint, HelperHint):
            uf.union(index[hint.container], index[hint.main])
        elif hint.type in ("samePod", "sameNode", "traffic"):
            for n in hint.containers[1:]:
                uf.union(index[hint.containers[0]], index[n])
    vols: dict[str, int] = {}
    for c, cont in enumerate(inst.problem.containers):
        for v in cont.volumes:
            if v in vols:
                uf.union(vols[v], c)
            vols.setdefault(v, c)
    return uf


def _grouping_findings(inst: Instance, view: LayoutView) -> Iterator[Finding]:
    names = inst.container_names
    coupled = _coupled(inst)
    for pod in view.pods:
        groups: dict[int, list[str]] = {}
        for c in pod.containers:
            groups.setdefault(coupled.find(c), []).append(names[c])
        if len(groups) > 1:
            parts = [" + ".join(g) for g in groups.values()]
            yield Finding(
                severity="medium", code="UNRELATED_CONTAINERS_IN_POD",
                subjects=[pod.name, *(names[c] for c in pod.containers)],
                message=f"pod {pod.name} holds containers no hint relates: {'; '.join(parts)}",
                suggestion="split them into separate pods; one pod is one component",
            )
        mains = [c for c in pod.containers if names[c] not in inst.helper_main]
        differ = {names[c]: inst.problem.containers[c].replicas for c in pod.containers
                  if inst.problem.containers[c].replicas not in (None, pod.replicas)}
        declared_counts = {inst.problem.containers[c].replicas for c in mains} - {None}
        if differ and len(mains) > 1 and len(declared_counts) > 1:
            asks = ", ".join(f"{n} asks for {r}" for n, r in sorted(differ.items()))
            yield Finding(
                severity="medium", code="SCALE_MISMATCH", subjects=[pod.name, *sorted(differ)],
                message=f"pod {pod.name} runs {pod.replicas} replicas but {asks}: "
                        "containers that must scale differently cannot share a pod",
                suggestion="give each of them a pod that scales on its own",
            )
        elif differ:
            asks = ", ".join(f"{n} asks for {r}" for n, r in sorted(differ.items()))
            fewer = any(r is not None and r > pod.replicas for r in differ.values())
            yield Finding(
                severity="medium" if fewer else "info", code="REPLICA_COUNT_DIFFERS",
                subjects=[pod.name, *sorted(differ)],
                message=f"pod {pod.name} runs {pod.replicas} replicas, the problem says {asks}; "
                        "the advised plan follows the problem",
                suggestion=f"set the replica count of pod {pod.name} to what it needs",
            )
        for c in pod.containers:
            own = own_replicas(inst, c, pod.replicas, pod)
            declared = inst.problem.containers[c].replicas
            if declared is None and own < pod.replicas:
                yield Finding(
                    severity="low", code="DUPLICATED_CONTAINER", subjects=[names[c], pod.name],
                    message=f"{names[c]} runs {pod.replicas} times only because pod "
                            f"{pod.name} has {pod.replicas} replicas",
                    suggestion=f"give {names[c]} its own pod, or mark it a helper of the main",
                )
        ports: dict[tuple[int, str], str] = {}
        for c in pod.containers:
            for p in inst.problem.containers[c].ports:
                key = (p.port, p.protocol)
                if key in ports:
                    yield Finding(
                        severity="high", code="PORT_CLASH",
                        subjects=[ports[key], names[c], f"{p.port}/{p.protocol}"],
                        message=f"{ports[key]} and {names[c]} in pod {pod.name} both listen on "
                                f"{p.port}/{p.protocol}: the second cannot start",
                        suggestion="change one port or move one container to another pod",
                    )
                ports.setdefault(key, names[c])


def _hint_findings(inst: Instance, view: LayoutView) -> Iterator[Finding]:
    pod_of: dict[int, int] = {c: p for p, pod in enumerate(view.pods) for c in pod.containers}
    nodes_of: dict[int, set[int]] = {}
    for p, _, k in view.placements:
        nodes_of.setdefault(p, set()).add(k)
    index = {n: i for i, n in enumerate(inst.container_names)}
    for i, hint in enumerate(inst.problem.hints):
        if isinstance(hint, HelperHint):
            if pod_of[index[hint.container]] != pod_of[index[hint.main]]:
                yield Finding(
                    severity="high", code="HELPER_SEPARATED", subjects=[hint.container, hint.main],
                    message=f"{hint.container} is a {hint.type} of {hint.main} but runs in "
                            "another pod: it cannot reach it on localhost or share its volumes",
                    suggestion=f"put {hint.container} in the pod of {hint.main}",
                )
            continue
        if not isinstance(hint, GroupHint):
            continue
        pods = [pod_of[index[n]] for n in hint.containers]
        broken = False
        if hint.type == "samePod":
            broken = len(set(pods)) > 1
        elif hint.type == "separatePods":
            broken = len(set(pods)) < len(pods)
        elif hint.type == "separateNodes":
            sets = [nodes_of.get(p, set()) for p in pods]
            broken = any(sets[a] & sets[b] for a in range(len(sets))
                         for b in range(a + 1, len(sets)))
        elif hint.type == "sameNode":
            sets = [nodes_of.get(p, set()) for p in pods]
            broken = any(not (a <= b or b <= a) for a in sets for b in sets)
        if broken:
            yield Finding(
                severity="high", code="HINT_VIOLATED", subjects=list(hint.containers),
                message=f"hints[{i}] ({hint.type} {', '.join(hint.containers)}) is not honoured",
                suggestion=f"regroup or re-place so that {hint.type} holds",
            )


def _admission_findings(inst: Instance, view: LayoutView) -> Iterator[Finding]:
    """Current layouts may place pods where the scheduler never would."""
    seen: set[tuple[int, int]] = set()
    for p, _, k in view.placements:
        if (p, k) in seen:
            continue
        seen.add((p, k))
        pod = view.pods[p]
        members = [inst.problem.containers[c] for c in pod.containers]
        selector = {key: v for c in members for key, v in c.node_selector.items()}
        cand = inst.candidates[k]
        if not node_admits(members, selector, cand):
            yield Finding(
                severity="high", code="NODE_NOT_ADMITTED", subjects=[pod.name, cand.name],
                message=f"pod {pod.name} runs on node {cand.name}, whose labels or taints its "
                        "nodeSelector and tolerations do not admit",
                suggestion="move it to a node it selects and tolerates, or fix the selector",
            )


def _capacity_findings(inst: Instance, view: LayoutView, scores: Scores,
                       detail: WasteDetail) -> Iterator[Finding]:
    cands = inst.candidates
    for k, res in detail.overcommitted:
        yield Finding(
            severity="high", code="NODE_OVERCOMMITTED", subjects=[cands[k].name, res],
            message=f"node {cands[k].name}: pods request more {res} than it allocates",
            suggestion="move pods off this node; the scheduler would not place them",
        )
    if detail.idle_nodes:
        names = [cands[k].name for k in detail.idle_nodes]
        yield Finding(
            severity="medium", code="IDLE_NODES", subjects=names,
            message=f"{len(names)} provisioned node(s) host no pod: {', '.join(names)} "
                    f"(idle waste {scores.waste.idle:.1f})",
            suggestion="release them, or let pods that can run there spread onto them",
        )
    if detail.stranded_nodes and scores.waste.stranded >= 5:
        names = [cands[k].name for k in detail.stranded_nodes]
        stuck = ", ".join(f"{r} {v:.1f}%" for r, v in detail.stranded_by_resource.items() if v)
        blocker = max(detail.blockers, key=lambda r: detail.blockers[r], default="")
        ran_out = "the pod limit (allocatable pods)" if blocker == "pods" else blocker
        yield Finding(
            severity="low", code="STRANDED_CAPACITY", subjects=names,
            message=f"free capacity no pod can use because {ran_out or 'another resource'} "
                    f"ran out first ({stuck})",
            suggestion=("raise the nodes' pod limit (kubelet maxPods)" if blocker == "pods"
                        else "mix pods with complementary shapes on these nodes, or pick node "
                             f"shapes with more {blocker or 'of the scarce resource'} per core"),
        )
    if view.unplaced:
        pods = sorted({view.pods[p].name for p, _, _ in view.unplaced})
        yield Finding(
            severity="high", code="UNPLACED_REPLICAS", subjects=pods,
            message=f"{len(view.unplaced)} replica(s) fit on no node: {', '.join(pods)}",
            suggestion="add nodes, raise a pool's maxCount, or lower requests",
        )
    if scores.waste.duplication > 0:
        yield Finding(
            severity="low", code="DUPLICATION_OVERHEAD", subjects=[],
            message=f"{scores.waste.duplication:.1f}% of requests go to containers repeated only "
                    "because of how they are grouped",
            suggestion="give containers that scale differently pods of their own",
        )
    if len(inst.zones) < 2 and any(p.replicas > 1 for p in view.pods):
        yield Finding(
            severity="info", code="SINGLE_ZONE", subjects=inst.zones,
            message="all nodes are in one zone (or none is given): a zone failure stops "
                    "everything, whatever the layout",
            suggestion="add nodes in a second zone"
                       + ("" if inst.spread == Spread.ZONE else " and set policy.spread=zone"),
        )


def _request_findings(inst: Instance) -> Iterator[Finding]:
    for cont in inst.problem.containers:
        memory = cont.requests.get("memory")
        if memory is not None and 0 < memory < 2**20:
            yield Finding(
                severity="low", code="TINY_MEMORY_REQUEST", subjects=[cont.name],
                message=f"{cont.name} requests {memory} bytes of memory: plain numbers are "
                        "bytes",
                suggestion=f"write a unit, e.g. {memory}Mi or {memory}Gi",
            )
        assumed = [r for r in cont.defaulted_requests if r in cont.requests]
        missing = [r for r in ("cpu", "memory") if r not in cont.requests]
        if not assumed and not missing:
            continue
        said: list[str] = []  # one finding per container, whatever the mix
        if assumed:
            amounts = ", ".join(
                f"{r} {format_quantity(r, cont.requests[r])}"
                for r in assumed)
            said.append(f"sets no {' and no '.join(assumed)} request in its source (this "
                        f"layout assumes {amounts})")
        if missing:
            said.append(f"requests no {' and no '.join(missing)}")
        unset = assumed + [r for r in missing if r not in assumed]  # every one, in order
        yield Finding(
            severity="medium", code="NO_REQUESTS", subjects=[cont.name],
            message=f"{cont.name} {' and '.join(said)}: the scheduler packs it blindly and it "
                    "is evicted first under pressure",
            suggestion=f"set {' and '.join(f'resources.requests.{r}' for r in unset)} from "
                       "observed usage",
        )
