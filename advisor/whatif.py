"""What-if failures: what one node or zone failure does to a given layout.

A simulation of the layout as it is, not a new optimisation: the failed domain's
replicas are evicted, the components that lose every replica (or fall below their
disruption budget, or below half without one) are named, and the evicted replicas are
placed again the way kube-scheduler's defaults would (with pool nodes added where a pool
may grow, as a cluster autoscaler would; how long that takes is not modelled).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Literal

from advisor.current import current_view, schedule_like_kube
from advisor.errors import InputError
from advisor.layout import LayoutView, PodView, pod_demand, provisioned_for
from advisor.prepare import Instance, prepare
from advisor.scoring import Component, critical_components, failure_domain
from models import FieldIssue, Plan, Problem
from models.plan import FailureDomain, FailureOutcome, Rescheduled, Unplaced, WhatIf

Kind = Literal["node", "zone"]
# Every zone is tried by default up to this many zones; beyond, the worst one only.
MAX_ZONES_BY_DEFAULT = 5


def view_of_plan(inst: Instance, plan: Plan) -> LayoutView:
    """A plan's layout as a view (the advised layout of a review, or any plan)."""
    index = {n: i for i, n in enumerate(inst.container_names)}
    pods = [PodView(name=p.name, containers=[index[c] for c in p.containers],
                    replicas=p.replicas, demand=pod_demand(inst, [index[c] for c in p.containers]))
            for p in plan.pods]
    pod_index = {p.name: i for i, p in enumerate(pods)}
    by_name = {c.name: c.index for c in inst.candidates}
    placements = [(pod_index[p.pod], p.replica, by_name[p.node]) for p in plan.placements
                  if p.node in by_name]
    used = {k for _, _, k in placements}
    return LayoutView(pods=pods, placements=placements, unplaced=[],
                      provisioned=provisioned_for(inst, used))


def default_failures(inst: Instance, view: LayoutView, worst: int = 1
                     ) -> list[tuple[Kind, str]]:
    """The `worst` nodes whose failure stops the most critical components (then host the
    most replicas), the worst zone, and every zone when there are few. A zone holding every
    node the layout could use (no fixed node and no pool node outside it) is left out: its
    failure is the whole cluster down (an explicit failure still simulates it)."""
    components = critical_components(inst, view)
    hosting = sorted({k for _, _, k in view.placements})
    if not hosting:
        return []

    def ranked(level: Kind) -> list[str]:
        lost: dict[str, int] = {}
        load: dict[str, int] = {}
        for comp in components:
            domains = {failure_domain(inst, k, level) for k in comp.placed_on(view)}
            if len(domains) == 1:
                d = next(iter(domains))
                lost[d] = lost.get(d, 0) + 1
        for _, _, k in view.placements:
            d = failure_domain(inst, k, level)
            load[d] = load.get(d, 0) + 1
        return sorted(load, key=lambda d: (-lost.get(d, 0), -load[d], d))

    out: list[tuple[Kind, str]] = [("node", n) for n in ranked("node")[:max(1, worst)]]
    zones = [z for z in ranked("zone") if z in set(inst.zones)
             and any(c.zone != z for c in inst.candidates)]
    if zones:
        chosen = sorted(zones) if len(zones) <= MAX_ZONES_BY_DEFAULT else zones[:1]
        out += [("zone", z) for z in chosen]
    return out


def _failed(inst: Instance, kind: Kind, name: str) -> set[int]:
    if kind == "node":
        failed = {c.index for c in inst.candidates if c.name == name}
    else:
        failed = {c.index for c in inst.candidates if c.zone == name}
    if not failed:
        known = sorted({c.name for c in inst.candidates if c.pool is None} if kind == "node"
                       else set(inst.zones))
        shown = ", ".join(known[:10]) + (" ..." if len(known) > 10 else "")
        raise InputError([FieldIssue(
            "--fail", f"no {kind} named {name!r} (the {kind}s are: {shown or 'none'})")])
    return failed


def simulate(inst: Instance, view: LayoutView, kind: Kind, name: str) -> FailureOutcome:
    failed = _failed(inst, kind, name)
    evicted = [(p, r, k) for p, r, k in view.placements if k in failed]
    kept = [(p, r, k) for p, r, k in view.placements if k not in failed]
    lost, degraded = _harm(inst, view, critical_components(inst, view), failed)
    # The failed nodes are gone: nothing fits on them (the pod count included).
    down = replace(inst, candidates=[
        replace(c, capacity=[0] * len(c.capacity)) if c.index in failed else c
        for c in inst.candidates])
    after = LayoutView(pods=view.pods, placements=list(kept), unplaced=[],
                       provisioned=list(view.provisioned))
    # Replicas that had no room before the failure have none after it either (the layout
    # was completed the same way); only the evicted ones are reported.
    schedule_like_kube(down, after)
    old_node = {(p, r): k for p, r, k in evicted}
    moved = {(p, r): k for p, r, k in after.placements if (p, r) in old_node}
    pending = [Unplaced(pod=view.pods[p].name, replica=r, reason=reason)
               for p, r, reason in after.unplaced if (p, r) in old_node]
    used_before = {k for _, _, k in view.placements}
    added = sorted({inst.candidates[k].name for k in moved.values()
                    if inst.candidates[k].pool is not None and k not in used_before})
    outcome = FailureOutcome(
        failure=FailureDomain(kind=kind, name=name), lost_components=lost,
        degraded_components=degraded, pending_replicas=pending, recovers=not pending,
        evicted=len(evicted),
        rescheduled=[Rescheduled(pod=view.pods[p].name, replica=r,
                                 from_node=inst.candidates[old_node[(p, r)]].name,
                                 node=inst.candidates[k].name)
                     for (p, r), k in sorted(moved.items())],
        added_nodes=added,
    )
    outcome.summary = _words(outcome)
    return outcome


def _harm(inst: Instance, view: LayoutView, components: list[Component], failed: set[int]
          ) -> tuple[list[str], list[str]]:
    """Components the failure leaves with no running replica, and those it leaves below
    their disruption budget's minimum (below half, without a budget)."""
    lost: list[str] = []
    degraded: list[str] = []
    for comp in components:
        on = comp.placed_on(view)
        running = sum(on.values())
        gone = sum(n for k, n in on.items() if k in failed)
        if running == 0 or gone == 0:
            continue
        if gone == running:
            lost.append(comp.name)
            continue
        total = sum(view.pods[p].replicas for p in comp.pods)
        names = {inst.container_names[c] for p in comp.pods for c in view.pods[p].containers}
        budget = next((b for b in inst.problem.disruption_budgets
                       if names & set(b.containers)), None)
        if budget is not None:
            if gone > budget.allowed_down(total):
                degraded.append(comp.name)
        elif 2 * (running - gone) < total:
            degraded.append(comp.name)
    return sorted(lost), sorted(degraded)


def _words(o: FailureOutcome) -> str:
    head = f"{o.failure.kind} {o.failure.name} down: {o.evicted} replica(s) evicted"
    parts = [head]
    if o.lost_components:
        parts.append(f"stops {', '.join(o.lost_components)} until rescheduled")
    if o.degraded_components:
        parts.append(f"degrades {', '.join(o.degraded_components)}")
    if o.recovers:
        parts.append("every evicted replica runs again"
                     + (f" (adds {', '.join(o.added_nodes)})" if o.added_nodes else ""))
    else:
        parts.append(f"{len(o.pending_replicas)} replica(s) stay Pending: the application "
                     "does not fully recover")
    return "; ".join(parts)


def what_if(inst: Instance, view: LayoutView, failures: list[tuple[Kind, str]] | None = None,
            worst: int = 1) -> WhatIf:
    chosen = failures if failures else default_failures(inst, view, worst)
    return WhatIf(failures=[simulate(inst, view, kind, name) for kind, name in chosen])


def parse_failure(text: str, where: str = "--fail") -> tuple[Kind, str]:
    """`node=NAME` or `zone=NAME`."""
    kind, sep, name = text.partition("=")
    if not sep or kind not in ("node", "zone") or not name:
        raise InputError([FieldIssue(where, f"{text!r}: write node=NAME or zone=NAME")])
    return ("node" if kind == "node" else "zone"), name


def run_whatif(problem: Problem, failures: list[tuple[Kind, str]] | None = None,
               worst: int = 1) -> WhatIf:
    """What the given failures (default: the worst node, the worst zone, every zone of few)
    do to the problem's current layout."""
    if problem.layout is None:
        raise InputError([FieldIssue("layout", "whatif simulates the current `layout`: give "
                                     "one (manifests and Compose files bring theirs)")])
    inst = prepare(problem)
    return what_if(inst, current_view(inst), failures, worst)
