"""The layout the user runs today, as a LayoutView: given placements, the rest scheduled."""

from __future__ import annotations

from advisor import rules
from advisor.errors import FieldIssue, InputError
from advisor.layout import LayoutView, PodView, pod_demand, provisioned_for
from advisor.prepare import Instance


def current_view(inst: Instance) -> LayoutView:
    layout = inst.problem.layout
    if layout is None:
        raise InputError([FieldIssue("layout", "review needs the current `layout`")])
    index = {n: i for i, n in enumerate(inst.container_names)}
    pods = [
        PodView(name=p.name, containers=[index[c] for c in p.containers], replicas=p.replicas,
                demand=pod_demand(inst, [index[c] for c in p.containers]),
                reasons=["the current layout groups them so"])
        for p in layout.pods
    ]
    by_name = {c.name: c.index for c in inst.candidates}
    pod_index = {p.name: i for i, p in enumerate(pods)}
    placements: list[tuple[int, int, int]] = []
    for i, place in enumerate(layout.placements):
        if place.node not in by_name:
            raise InputError([FieldIssue(
                f"layout.placements[{i}].node",
                f"pool node {place.node!r} is beyond the {len(inst.candidates)} nodes considered",
            )])
        placements.append((pod_index[place.pod], place.replica, by_name[place.node]))
    view = LayoutView(pods=pods, placements=placements, unplaced=[], provisioned=[])
    schedule_like_kube(inst, view)  # the replicas the layout does not place
    used = {k for _, _, k in view.placements}
    view.provisioned = provisioned_for(inst, used)
    return view


# kube-scheduler's required rules for a layout: sameNode is a preference there (the
# partner's node first), and policy.spread keeps one replica per node without zone caps.
KUBE_RULES = (rules.admitted, rules.capacity, rules.spread, rules.separate_nodes,
              rules.one_node)


def schedule_like_kube(inst: Instance, view: LayoutView) -> None:
    """Place the replicas `view` does not place yet, as kube-scheduler's defaults would.

    One replica at a time. Filter (`KUBE_RULES`): fits and admitted (selectors, taints), no
    separateNodes partner on the node, one replica per node under hard spreading, and a
    ReadWriteOnce volume's node once it has one. A layout Kubernetes runs never breaks
    these. Score: a node with its sameNode partner first, then fewer replicas of the same
    pod on the node and in its zone (default topology spreading), then LeastAllocated
    (most free cpu and memory share). A pool node is added only when nothing fits, as an
    autoscaler would.
    """
    state = rules.Placement(inst, rules.layout_units(inst, view.pods))
    for p, _, k in view.placements:
        state.place(p, k)
    opened = {c.index for c in inst.candidates if c.pool is None}
    opened |= {k for _, _, k in view.placements}
    done = {(p, r) for p, r, _ in view.placements}
    together = rules.hint_partners(inst, view.pods, "sameNode")
    for p, pod in enumerate(view.pods):
        for replica in range(pod.replicas):
            if (p, replica) in done:
                continue
            node = _kube_choose(inst, state, p, opened, together.get(p, set()))
            if node is None:
                view.unplaced.append((p, replica, "no node has room for it"))
                continue
            opened.add(node)
            view.placements.append((p, replica, node))
            state.place(p, node)


def _kube_choose(inst: Instance, state: rules.Placement, p: int, opened: set[int],
                 partners: set[int]) -> int | None:
    """The node kube-scheduler would pick for one more replica of pod `p`, or None. Of the
    nodes not opened yet, only the first of each pool and zone is tried (they are alike)."""
    demand = state.units.demand[p]
    best: tuple[tuple[float, float, float, float], int] | None = None
    next_pool: set[tuple[str | None, str | None]] = set()
    for cand in inst.candidates:
        k = cand.index
        if k not in opened:
            if (cand.pool, cand.zone) in next_pool:
                continue
            next_pool.add((cand.pool, cand.zone))
        if not rules.feasible(inst, state, p, k, KUBE_RULES):
            continue
        partner = any(state.counts[q].get(k, 0) for q in partners)
        same = state.counts[p].get(k, 0) + (
            state.zone_load[p].get(cand.zone, 0) if cand.zone is not None else 0)
        free = sum((state.free[k][r] - demand[r]) / cand.capacity[r]
                   for r in (0, 1) if cand.capacity[r] > 0) / 2
        key = (float(not partner) if partners else 0.0, float(k not in opened),
               float(same), -free)
        if best is None or key < best[0]:
            best = (key, k)
    return None if best is None else best[1]
