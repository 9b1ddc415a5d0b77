"""Each workload as a pod of the problem: unique pod and container names, its injected
sidecars, the hints that tie its helpers to its main container, and one port space."""

from __future__ import annotations

from typing import Any

from advisor.kube.common import ImportOptions, container_names, dns_label
from advisor.kube.k8s.main_container import helper_type
from advisor.kube.k8s.overhead import init_overhead
from advisor.kube.k8s.sidecars import injected
from advisor.kube.k8s.storage import couple_empty_dirs
from advisor.kube.k8s.workload import Cont, Workload


def unique_pod_names(workloads: list[Workload]) -> None:
    """Workload names as pod names, made unique across kinds and namespaces."""
    used: set[str] = set()
    for work in workloads:
        base = dns_label(work.name)
        candidates = [base]
        if work.namespace:
            candidates.append(dns_label(f"{work.name}-{work.namespace}"))
        candidates.append(dns_label(f"{work.name}-{work.kind}"))
        name = next((c for c in candidates if c not in used), "")
        n = 2
        while not name:
            name = dns_label(f"{base}-{n}") if dns_label(f"{base}-{n}") not in used else ""
            n += 1
        used.add(name)
        work.pod_name = name


def pod_containers(workloads: list[Workload], istio_namespaces: set[str],
                   options: ImportOptions, warnings: list[str]) -> list[dict[str, Any]]:
    """Name every container, add the sidecars webhooks inject, and return the hints that
    keep each pod's containers together (helpers with their main, emptyDir sharers)."""
    # Injected sidecars are named after their main container, whether the Pods read
    # already carry them or the webhook is still to add them.
    own = [[c for c in w.containers if c.injected_by is None] or w.containers
           for w in workloads]
    entries = [(w.pod_name, c.k8s_name, len(mine) == 1)
               for w, mine in zip(workloads, own, strict=True) for c in mine]
    names = iter(container_names(entries))
    for mine in own:
        for cont in mine:
            cont.name = next(names)
    used = {c.name for mine in own for c in mine}
    hints: list[dict[str, Any]] = []
    for work, mine in zip(workloads, own, strict=True):
        work.containers.extend(injected(work, istio_namespaces, options))
        _name_injected(work, mine, used)
        main = work.containers[0]
        for cont in work.containers[1:]:
            kind = helper_type(cont) if cont.role == "app" else "sidecar"
            hints.append({"type": kind, "container": cont.name, "main": main.name})
        couple_empty_dirs(work, hints)
        _port_clashes(work, warnings)
        init_overhead(work, warnings)
    return hints


def _name_injected(work: Workload, mine: list[Cont], used: set[str]) -> None:
    """Names for the containers a webhook injects: `<main>-<sidecar>`, unique."""
    main = work.containers[0]
    for cont in work.containers:
        if any(cont is named for named in mine):
            continue
        base = dns_label(f"{main.name}-{cont.k8s_name}")
        cont.name, n = base, 2
        while cont.name in used:
            cont.name, n = dns_label(f"{base}-{n}"), n + 1
        used.add(cont.name)


def _port_clashes(work: Workload, warnings: list[str]) -> None:
    """Pod-mates share one port space: a port declared twice in a pod is kept once."""
    taken: dict[tuple[int, str], str] = {}
    for cont in work.containers:
        kept = []
        for port in cont.ports:
            if port in taken:
                warnings.append(f"{work.what}: {cont.k8s_name} declares port {port[0]}/"
                                f"{port[1]} that {taken[port]} declares too; kept on "
                                f"{taken[port]} only")
                continue
            taken[port] = cont.k8s_name
            kept.append(port)
        cont.ports = kept
