"""Where the Pods read from a cluster run (spec.nodeName) as the layout's placements, so
that review scores today's placement rather than a simulated one."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from advisor.kube.common import ImportOptions
from advisor.kube.k8s.objects import listing
from advisor.kube.k8s.workload import Workload


def placements(workloads: list[Workload], options: ImportOptions,
               warnings: list[str]) -> list[dict[str, Any]]:
    """Where Pods read from a cluster run, for each pod whose replicas all run on nodes
    given: review then scores today's placement rather than a simulated one."""
    running = [w for w in workloads if any(w.pod_nodes)]
    if not running:
        return []
    if options.nodes is None:
        warnings.append("the Pods say which node they run on (spec.nodeName), but no node "
                        "list was given: pass --nodes for review to score that placement")
        return []
    known = {n.get("name") for n in options.nodes if isinstance(n, Mapping)}
    out: list[dict[str, Any]] = []
    unknown: list[str] = []
    for work in running:
        if len(work.pod_nodes) == work.replicas and all(n in known for n in work.pod_nodes):
            out.extend({"pod": work.pod_name, "replica": i, "node": node}
                       for i, node in enumerate(work.pod_nodes))
        else:
            unknown.append(work.pod_name)
    if unknown:
        warnings.append(f"not every replica of {listing(unknown)} runs on a node given (or "
                        "more replicas are modelled than Pods were read): review places them "
                        "as kube-scheduler would")
    return out
