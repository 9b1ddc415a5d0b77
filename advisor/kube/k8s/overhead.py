"""What pods reserve beyond their running containers: init containers larger than them,
and DaemonSets, whose pod runs on every node it admits and is no pod to place but a share
of each node's allocatable."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from advisor.kube.common import ImportOptions
from advisor.kube.k8s.main_container import choose_main
from advisor.kube.k8s.objects import WORKLOAD_KINDS, listing
from advisor.kube.k8s.scheduling import admits
from advisor.kube.k8s.sidecars import injected
from advisor.kube.k8s.workload import Cont, Workload
from models.quantity import QuantityError, format_quantity, parse_quantity


def init_overhead(work: Workload, warnings: list[str]) -> None:
    """The scheduler reserves, per resource, the larger of the running containers' sum and
    each init container's request (plus the native sidecars started before it); when an
    init container is larger, the main container carries the difference."""
    once = [amounts for _, amounts in work.inits if isinstance(amounts, dict)]
    if not once:
        return
    running = work.containers
    resources = sorted({r for amounts in once for r in amounts})
    main = running[0]  # the main container: choose_main put it first
    for resource in resources:
        steady = sum((c.amount(resource) for c in running), Decimal(0))
        peak, peak_name = _init_peak(work, resource)
        if peak <= steady:
            continue
        extra = peak - steady
        new = main.amount(resource) + extra
        main.requests[resource] = format_quantity(resource, new)
        note = ""
        if resource in main.limits and parse_quantity(main.limits[resource]) < new:
            main.limits[resource] = main.requests[resource]
            note = " (and its limit)"
        warnings.append(
            f"{work.what}: init container {peak_name} needs "
            f"{format_quantity(resource, peak)} {resource}, more than the running "
            f"containers' {format_quantity(resource, steady)}; the scheduler "
            f"reserves the larger, so {main.k8s_name}'s request{note} is raised by "
            f"{format_quantity(resource, extra)}")


def _init_peak(work: Workload, resource: str) -> tuple[Decimal, str]:
    """The most of `resource` an init container needs while it runs (the native sidecars
    started before it included), and its name."""
    before = Decimal(0)
    peak, peak_name = Decimal(0), ""
    for iname, init in work.inits:
        if isinstance(init, Cont):
            before += init.amount(resource)
            continue
        need = init.get(resource, Decimal(0)) + before
        if need > peak:
            peak, peak_name = need, iname
    return peak, peak_name


def split_daemons(workloads: list[Workload], warnings: list[str]
                  ) -> tuple[list[Workload], list[Workload]]:
    """(pods to place, DaemonSets): the latter are node overhead."""
    daemons = [w for w in workloads if w.kind == "DaemonSet"]
    workloads = [w for w in workloads if w.kind != "DaemonSet"]
    if not workloads:
        kinds = ", ".join(sorted(WORKLOAD_KINDS - {"DaemonSet"}))
        note = "; DaemonSets are node overhead" if daemons else ""
        warnings.append(f"no workload ({kinds}) in the input{note}")
    return workloads, daemons


def complete_daemons(daemons: list[Workload], istio_namespaces: set[str],
                     options: ImportOptions, warnings: list[str]) -> None:
    """A DaemonSet's whole pod, as each node runs it: its injected sidecars, and its init
    containers' peak. Its main container is chosen without a word: it is no pod to place."""
    for work in daemons:
        choose_main(work, None)
        work.containers.extend(injected(work, istio_namespaces, options))
        init_overhead(work, warnings)


def daemon_overhead(daemons: list[Workload], problem: dict[str, Any],
                    options: ImportOptions, warnings: list[str]) -> None:
    """Each DaemonSet's pod taken off the allocatable of every node it runs on: where its
    Pods were read, those nodes; else every node (or the pool's) it admits."""
    if not daemons:
        return
    given = options.nodes is not None
    section = "nodes" if given else "pools"
    # Copies: the caller's node list and DEFAULT_POOL stay as they were.
    targets = [{**t, "allocatable": dict(t.get("allocatable") or {})}
               for t in problem.get(section, [])]
    problem[section] = targets
    names = [str(t.get("name")) for t in targets]
    reserved: list[dict[str, Decimal]] = [{} for _ in targets]
    runs: list[list[str]] = [[] for _ in targets]
    nowhere: list[str] = []
    for work in daemons:
        need = [*work.pod_requests().items(), ("pods", Decimal(1))]
        hosts = _hosts(work, targets, names, given)
        if not hosts:
            nowhere.append(work.what)
        for i in hosts:
            runs[i].append(work.name)
            for resource, amount in need:
                # A resource the node does not list: there is nothing to take it from.
                if resource in targets[i]["allocatable"]:
                    reserved[i][resource] = reserved[i].get(resource, Decimal(0)) + amount
    clamped: list[str] = []
    shown: dict[tuple[tuple[str, ...], str], list[str]] = {}
    for i, target in enumerate(targets):
        if runs[i]:
            clamped += [f"{names[i]} ({r})" for r in _take_off(target, reserved[i])]
            amounts = ", ".join(f"{r} {format_quantity(r, a)}" for r, a in reserved[i].items())
            shown.setdefault((tuple(runs[i]), amounts), []).append(names[i])
    if shown:
        per = "; ".join(f"{listing(nodes)}{'' if given else ' (each node)'}: {amounts} "
                        f"({', '.join(ds)})" for (ds, amounts), nodes in shown.items())
        warnings.append("DaemonSets run one pod on every node they admit: modelled as "
                        f"per-node overhead, not as pods to place; reserved per node: {per}")
    if clamped:
        warnings.append("DaemonSet pods need more than these nodes offer: their allocatable "
                        f"is clamped at 0: {listing(clamped)}")
    if nowhere:
        where = "given" if given else "of the assumed pool"
        warnings.append(f"{listing(nowhere)}: no node {where} admits it; nothing reserved")


def _hosts(work: Workload, targets: list[dict[str, Any]], names: list[str], given: bool
           ) -> list[int]:
    """The nodes (indices) a DaemonSet runs on: where its Pods were read when all of
    those are nodes given, else every node it admits."""
    ran = set(work.pod_nodes) if given and work.pod_nodes and set(work.pod_nodes) <= set(
        names) else None
    return [i for i, target in enumerate(targets)
            if (names[i] in ran if ran is not None else admits(target, work, daemon=True))]


def _take_off(target: dict[str, Any], reserved: dict[str, Decimal]) -> list[str]:
    """Take what the DaemonSets reserve off a node's allocatable; the resources it runs
    short of, clamped at 0."""
    allocatable = target["allocatable"]
    clamped: list[str] = []
    for resource, amount in reserved.items():
        try:
            left = parse_quantity(allocatable[resource]) - amount
        except QuantityError:
            continue  # the problem's own validation names it
        if left < 0:
            clamped.append(resource)
            left = Decimal(0)
        allocatable[resource] = format_quantity(resource, left)
    return clamped
