"""Required pod affinity and anti-affinity: on the workload's own pods, spreading; on
other workloads, node-level hints between their main containers."""

from __future__ import annotations

from typing import Any

from advisor.kube.common import HOSTNAME_LABEL, ZONE_LABELS
from advisor.kube.k8s.objects import listing, namespaces_match, selects
from advisor.kube.k8s.workload import Workload


def affinity_hints(workloads: list[Workload], daemons: list[Workload],
                   hints: list[dict[str, Any]], warnings: list[str]) -> None:
    """Every workload's required terms as hints (each pair once) and spreading."""
    seen: set[tuple[str, frozenset[str]]] = set()
    for work in workloads:
        for anti, terms in ((True, work.anti_affinity), (False, work.affinity)):
            for term in terms:
                for kind, other in _term_hints(work, anti, term, workloads, daemons, warnings):
                    pair = frozenset((work.containers[0].name, other.containers[0].name))
                    if (kind, pair) not in seen:
                        seen.add((kind, pair))
                        hints.append({"type": kind, "containers": sorted(pair)})


def _term_hints(work: Workload, anti: bool, term: dict[str, Any], workloads: list[Workload],
                daemons: list[Workload], warnings: list[str]) -> list[tuple[str, Workload]]:
    """The hints one term makes (type, other workload); what it cannot say is warned."""
    rule = "podAntiAffinity" if anti else "podAffinity"
    key = term.get("topologyKey")
    selector = term.get("labelSelector")
    self_match = selects(selector, work.labels)
    others, nodal = ([o for o in group if o is not work
                      and namespaces_match(term, work.namespace, o.namespace)
                      and selects(selector, o.labels)]
                     for group in (workloads, daemons))
    if nodal:
        warnings.append(f"{work.what}: required {rule} on "
                        f"{listing([d.what for d in nodal])}, which runs on every "
                        "node it admits (node overhead here), is left out")
    if not self_match and not others:
        if not nodal:
            warnings.append(f"{work.what}: required {rule} selects no workload of "
                            "the input; it is left out")
        return []
    if key == HOSTNAME_LABEL:
        return _on_nodes(work, anti, self_match, others, warnings)
    if key in ZONE_LABELS and anti and self_match:
        work.ask_spread("zone", "podAntiAffinity on zones")
        if others:
            warnings.append(f"{work.what}: required {rule} over zones against "
                            "other workloads is not modelled; it is left out")
        return []
    warnings.append(f"{work.what}: required {rule} on {key!r} is not "
                    "modelled (only kubernetes.io/hostname is); it is left out")
    return []


def _on_nodes(work: Workload, anti: bool, self_match: bool, others: list[Workload],
              warnings: list[str]) -> list[tuple[str, Workload]]:
    """A term over kubernetes.io/hostname: separateNodes or sameNode with each other
    workload it selects; anti-affinity with its own pods spreads them over nodes."""
    if anti and self_match:
        work.ask_spread("node", "podAntiAffinity on kubernetes.io/hostname")
    if not anti:
        for other in others:
            if work.replicas > other.replicas:
                # sameNode makes the pod with fewer replicas follow the other.
                warnings.append(
                    f"{work.what}: required podAffinity on {other.what} becomes "
                    f"sameNode, which keeps the {other.replicas} replica(s) of "
                    f"{other.pod_name} beside {work.pod_name}; it does not hold "
                    f"for every one of the {work.replicas} replicas of "
                    f"{work.pod_name}")
        if self_match and not others:
            warnings.append(f"{work.what}: podAffinity on its own pods (all replicas "
                            "on one node) is not modelled; it is left out")
    return [("separateNodes" if anti else "sameNode", other) for other in others]
