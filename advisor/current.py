"""The layout the user runs today, as a LayoutView: given placements, the rest scheduled."""

from __future__ import annotations

from advisor.errors import FieldIssue, InputError
from advisor.layout import LayoutView, PodView, pod_demand, provisioned_for
from advisor.prepare import Instance, node_admits
from models import GroupHint
from models.problem import NODE_LOCAL_MODES, Spread


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


def schedule_like_kube(inst: Instance, view: LayoutView) -> None:
    """Place the replicas `view` does not place yet, as kube-scheduler's defaults would.

    One replica at a time. Filter: fits and admitted (selectors, taints), no
    separateNodes partner on the node, one replica per node under hard spreading.
    Score: a node with its sameNode partner first, then fewer replicas of the same pod
    on the node and in its zone (default topology spreading), then LeastAllocated (most
    free cpu and memory share). A pool node is added only when nothing fits, as an
    autoscaler would.
    """
    load = {c.index: [0] * len(inst.resources) for c in inst.candidates}
    for p, _, k in view.placements:
        for r, d in enumerate(view.pods[p].demand):
            load[k][r] += d
    opened = {c.index for c in inst.candidates if c.pool is None}
    opened |= {k for _, _, k in view.placements}
    done = {(p, r) for p, r, _ in view.placements}
    # Required (anti-)affinity as kube-scheduler enforces it: separateNodes pods never
    # share a node; a sameNode pod goes where its partner runs when it can; hard spreading
    # keeps one replica per node. A layout Kubernetes runs never breaks these.
    pod_of = {c: q for q, pod in enumerate(view.pods) for c in pod.containers}
    index = {name: i for i, name in enumerate(inst.container_names)}
    nodes_of: dict[int, set[int]] = {}  # pod -> the nodes hosting one of its replicas
    hosts: dict[int, list[int]] = {}  # pod -> the node of each placed replica
    for q, _, k in view.placements:
        nodes_of.setdefault(q, set()).add(k)
        hosts.setdefault(q, []).append(k)
    apart: dict[int, set[int]] = {}
    together: dict[int, set[int]] = {}
    for hint in inst.problem.hints:
        if isinstance(hint, GroupHint) and hint.type in ("separateNodes", "sameNode"):
            pods = {pod_of[index[c]] for c in hint.containers if index.get(c) in pod_of}
            for q in pods:
                rel = apart if hint.type == "separateNodes" else together
                rel.setdefault(q, set()).update(pods - {q})
    # A ReadWriteOnce volume is attached to one node: pods mounting it go where it is.
    modes = {v.name: v.access_mode for v in inst.problem.volumes}
    claim_mates: dict[int, set[int]] = {}
    by_volume: dict[str, set[int]] = {}
    for q, pod in enumerate(view.pods):
        for c in pod.containers:
            for vol in inst.problem.containers[c].volumes:
                if modes.get(vol) in NODE_LOCAL_MODES:
                    by_volume.setdefault(vol, set()).add(q)
    for pods in by_volume.values():
        for q in pods:
            claim_mates.setdefault(q, set()).update(pods)
    one_per_node = inst.spread != Spread.NONE
    for p, pod in enumerate(view.pods):
        members = [inst.problem.containers[c] for c in pod.containers]
        selector = {k: v for c in members for k, v in c.node_selector.items()}
        for replica in range(pod.replicas):
            if (p, replica) in done:
                continue
            mine = hosts.get(p, [])
            best: tuple[tuple[float, float, float, float], int] | None = None
            next_pool: set[tuple[str | None, str | None]] = set()
            for cand in inst.candidates:
                k = cand.index
                if k not in opened:
                    if (cand.pool, cand.zone) in next_pool:
                        continue
                    next_pool.add((cand.pool, cand.zone))
                fits = all(load[k][r] + pod.demand[r] <= cand.capacity[r]
                           for r in range(len(inst.resources)))
                if not fits or not node_admits(members, selector, cand):
                    continue
                if one_per_node and k in mine:
                    continue
                if any(k in nodes_of.get(q, ()) for q in apart.get(p, ())):
                    continue
                attached = set().union(*(nodes_of.get(q, set()) for q in claim_mates.get(p, ())))
                if attached and k not in attached:
                    continue
                partner = any(k in nodes_of.get(q, ()) for q in together.get(p, ()))
                same = sum(1 for n in mine if n == k) + sum(
                    1 for n in mine
                    if cand.zone is not None and inst.candidates[n].zone == cand.zone
                )
                free = sum((cand.capacity[r] - load[k][r] - pod.demand[r]) / cand.capacity[r]
                           for r in (0, 1) if cand.capacity[r] > 0) / 2
                key = (float(not partner) if together.get(p) else 0.0,
                       float(k not in opened), float(same), -free)
                if best is None or key < best[0]:
                    best = (key, k)
            if best is None:
                view.unplaced.append((p, replica, "no node has room for it"))
                continue
            k = best[1]
            opened.add(k)
            view.placements.append((p, replica, k))
            nodes_of.setdefault(p, set()).add(k)
            hosts.setdefault(p, []).append(k)
            for r in range(len(inst.resources)):
                load[k][r] += pod.demand[r]
