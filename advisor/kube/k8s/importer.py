"""import_k8s: the import as a sequence of named stages."""

from __future__ import annotations

from advisor.kube.common import Document, ImportOptions, ImportResult, attach_nodes
from advisor.kube.k8s.affinity import affinity_hints
from advisor.kube.k8s.collect import autoscale, collect, running
from advisor.kube.k8s.main_container import choose_main
from advisor.kube.k8s.objects import ObjectIndex, located
from advisor.kube.k8s.overhead import complete_daemons, daemon_overhead, split_daemons
from advisor.kube.k8s.pods import pod_containers, unique_pod_names
from advisor.kube.k8s.problem import container_dict, layout, problem_dict
from advisor.kube.k8s.scheduling import drop_well_known, global_spread
from advisor.kube.k8s.services import budgets, components, mark_components
from advisor.kube.k8s.storage import claim_volumes


def import_k8s(documents: list[Document], options: ImportOptions) -> ImportResult:
    """Kubernetes manifests as a problem (wire format) whose layout is what runs today."""
    warnings: list[str] = []
    # Read: every object, then the workloads (with their owners' and autoscalers' say).
    objects = located(documents)
    index = ObjectIndex.of(objects)
    found = collect(objects, index, options, warnings)
    autoscale(found.autoscalers, found.workloads, warnings)
    workloads = running(found, warnings)
    drop_well_known(workloads, options, warnings)
    workloads, daemons = split_daemons(workloads, warnings)
    # Pods: main containers first, names, injected sidecars and the hints between them.
    for work in workloads:
        choose_main(work, warnings)
    complete_daemons(daemons, index.istio_namespaces, options, warnings)
    unique_pod_names(workloads)
    hints = pod_containers(workloads, index.istio_namespaces, options, warnings)
    affinity_hints(workloads, daemons, hints, warnings)
    spread = global_spread(workloads, options, warnings)
    # The problem: containers, components and budgets, volumes, today's layout, nodes.
    containers = [container_dict(w, c, i == 0) for w in workloads
                  for i, c in enumerate(w.containers)]
    mark_components(containers, components(workloads, found.services, warnings))
    disruption = budgets(workloads, found.budgets, warnings)
    problem = problem_dict(containers, hints, spread, options)
    volumes = claim_volumes(workloads, found.claim_modes, warnings)
    if volumes:
        problem["volumes"] = volumes
    if disruption:
        problem["disruptionBudgets"] = disruption
    if workloads:
        problem["layout"] = layout(workloads, options, warnings)
    attach_nodes(problem, options, warnings)
    daemon_overhead(daemons, problem, options, warnings)
    return ImportResult(problem, warnings)
