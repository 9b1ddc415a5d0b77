"""Node selection as kube-scheduler applies it to the problem's nodes: which nodes admit a
workload's pods, selectors every Linux node meets, and the one spread policy that holds
for every pod."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping

from pydantic import ValidationError

from advisor.kube.common import ImportOptions
from advisor.kube.k8s.objects import listing
from advisor.kube.k8s.workload import SPREAD_RANK, Workload
from advisor.prepare import tolerates
from models.problem import Taint, Toleration

# Labels the kubelet puts on every node. A selector on them only says "a Linux (amd64)
# node": when the node list does not carry the label at all, it would exclude every node.
WELL_KNOWN_NODE_LABELS = {
    "kubernetes.io/os": "linux", "beta.kubernetes.io/os": "linux",
    "kubernetes.io/arch": "amd64", "beta.kubernetes.io/arch": "amd64",
}
# Taints the DaemonSet controller tolerates on its own.
DAEMONSET_TOLERATIONS = [Toleration(key=key, operator="Exists") for key in (
    "node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable",
    "node.kubernetes.io/disk-pressure", "node.kubernetes.io/memory-pressure",
    "node.kubernetes.io/pid-pressure", "node.kubernetes.io/unschedulable",
    "node.kubernetes.io/network-unavailable",
)]


def admits(node: object, work: Workload, *, daemon: bool = False) -> bool:
    """Whether a pod of `work` may run on a node (or pool) of the problem: its node
    selector, and its tolerations against the node's taints (a DaemonSet's pod also
    tolerates what its controller adds)."""
    if not isinstance(node, Mapping):
        return False
    labels = node.get("labels")
    labels = labels if isinstance(labels, Mapping) else {}
    if any(labels.get(k) != v for k, v in work.node_selector.items()):
        return False
    tolerations = [Toleration.model_validate(t) for t in work.tolerations]
    if daemon:
        tolerations += DAEMONSET_TOLERATIONS
    taints = node.get("taints")
    for raw in taints if isinstance(taints, list) else []:
        try:
            taint = Taint.model_validate(raw)
        except ValidationError:
            continue  # the problem's own validation names it
        if taint.effect != "PreferNoSchedule" and not tolerates(tolerations, taint):
            return False
    return True


def drop_well_known(workloads: list[Workload], options: ImportOptions,
                    warnings: list[str]) -> None:
    """Selectors on the OS/arch labels every Linux node has, when the node list does not
    speak of them: kept, they would leave no node at all."""
    keys: set[str] = set()
    for node in options.nodes or []:
        labels = node.get("labels") if isinstance(node, Mapping) else None
        if isinstance(labels, Mapping):
            keys.update(str(k) for k in labels)
    dropped: Counter[str] = Counter()
    for work in workloads:
        for key, value in list(work.node_selector.items()):
            if WELL_KNOWN_NODE_LABELS.get(key) == value and key not in keys:
                del work.node_selector[key]
                dropped[f"{key}={value}"] += 1
    if dropped:
        where = ("the nodes given carry" if options.nodes is not None
                 else "the assumed node pool carries")
        listed = ", ".join(f"{k} ({n} workload{'s' if n > 1 else ''})"
                           for k, n in sorted(dropped.items()))
        warnings.append(f"nodeSelector {listed} left out: {where} no such label, and "
                        "every Linux node has it")


def global_spread(workloads: list[Workload], options: ImportOptions,
                  warnings: list[str]) -> str:
    """The one global spread, which holds for every pod: the least every workload with 2+
    replicas asks for (zone spreading keeps one replica per node too), so that it makes
    none infeasible that did not ask; what it leaves out is said."""
    many = [w for w in workloads if w.replicas >= 2]
    level = min((w.spread for w in many or workloads), key=SPREAD_RANK.__getitem__,
                default="none")
    why = f"policy.spread is {level!r}, the most every replicated workload asks for"
    if level == "none":
        quiet = [w.what for w in many if w.spread == "none"]
        why = (f"policy.spread holds for every pod, and {listing(quiet)} did not ask for "
               "one replica per node")
    elif options.nodes is not None:
        crowded = []
        for work in many:
            room = sum(admits(node, work) for node in options.nodes)
            if work.replicas > room:
                crowded.append(f"{work.what} has {work.replicas} replicas and {room} node(s) "
                               "given admit it")
        if crowded:
            level = "none"
            why = (f"policy.spread would keep one replica per node, and {'; '.join(crowded)}: "
                   "they could not all run")
    unmet = [f"{w.what} ({w.spread_why})" for w in many
             if SPREAD_RANK[w.spread] > SPREAD_RANK[level]]
    unmet += [f"{w.what} ({rule})" for w in many for rule in w.loose]
    if unmet:
        warnings.append(f"required spreading not enforced: {'; '.join(unmet)}. {why}; "
                        "modelled as a preference: replicas of critical pods are spread by "
                        "the SPOF objective")
    return level
