"""A layout seen the same way whoever made it: the solver, the greedy, or the user.

Scores and findings are computed on this view only, so the user's current layout
and the advised one are judged by the same code.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from advisor.greedy import Assignment
from advisor.prepare import Instance
from models import NodeUsage, PlacedReplica, PlannedPod, Unplaced
from models.quantity import to_units


@dataclass
class PodView:
    name: str
    containers: list[int]  # container indices
    replicas: int
    demand: list[int]  # per resource, one replica
    reasons: list[str] = field(default_factory=list)


@dataclass
class LayoutView:
    pods: list[PodView]
    placements: list[tuple[int, int, int]]  # (pod, replica, candidate)
    unplaced: list[tuple[int, int, str]]  # (pod, replica, reason)
    provisioned: list[int]  # candidate indices whose capacity counts as provisioned

    def replicas_on(self, pod: int) -> dict[int, int]:
        out: dict[int, int] = {}
        for p, _, k in self.placements:
            if p == pod:
                out[k] = out.get(k, 0) + 1
        return out

    def load(self, inst: Instance) -> dict[int, list[int]]:
        load: dict[int, list[int]] = {k: [0] * len(inst.resources) for k in self.provisioned}
        for p, _, k in self.placements:
            row = load.setdefault(k, [0] * len(inst.resources))
            for r, d in enumerate(self.pods[p].demand):
                row[r] += d
        return load


def pod_demand(inst: Instance, containers: list[int]) -> list[int]:
    rows = [container_demand(inst, c) for c in containers]
    demand = [sum(row[r] for row in rows) for r in range(len(inst.resources))]
    demand[inst.pods_index] = 1
    return demand


def container_demand(inst: Instance, c: int) -> list[int]:
    cont = inst.problem.containers[c]
    return [
        1 if res == "pods" else (to_units(res, cont.requests[res], round_up=True)
                                 if res in cont.requests else 0)
        for res in inst.resources
    ]


def provisioned_for(inst: Instance, used: set[int]) -> list[int]:
    """Fixed nodes are always provisioned; pool nodes only when the layout uses them."""
    return [c.index for c in inst.candidates if c.pool is None or c.index in used]


def view_from_assignment(inst: Instance, a: Assignment, unplaced_reason: str) -> LayoutView:
    pods: list[PodView] = []
    pod_of_unit: dict[int, int] = {}
    for u, unit in enumerate(inst.units):
        if a.leader[u] != u:
            continue
        pod_of_unit[u] = len(pods)
        pods.append(PodView(name=unit.name, containers=list(unit.containers),
                            replicas=unit.replicas, demand=list(unit.demand),
                            reasons=list(unit.reasons)))
    for u, unit in enumerate(inst.units):
        s = a.leader[u]
        if s == u:
            continue
        pod = pods[pod_of_unit[s]]
        pod.containers += unit.containers
        pod.demand = [x + y for x, y in zip(pod.demand, unit.demand, strict=True)]
        pod.demand[inst.pods_index] = 1
        pod.reasons += unit.reasons
        why = [label for a_, b_, _, label in inst.traffic if {a_, b_} == {u, s}]
        pod.reasons.append(
            f"{unit.name} joins {inst.units[s].name}: " + ("; ".join(why) or "a coupling hint")
            + " (kept on localhost)"
        )
    placements: list[tuple[int, int, int]] = []
    unplaced: list[tuple[int, int, str]] = []
    for u, p in pod_of_unit.items():
        replica = 0
        for k in sorted(a.counts[u]):
            for _ in range(a.counts[u][k]):
                placements.append((p, replica, k))
                replica += 1
        while replica < inst.units[u].replicas:
            unplaced.append((p, replica, unplaced_reason))
            replica += 1
    for u, p in pod_of_unit.items():
        if pods[p].reasons:
            continue
        near = [f"{label} kept at node level" for a_, b_, label in inst.same_node if u in (a_, b_)]
        near += [f"{label} kept at node level where it fits"
                 for a_, b_, _, label in inst.traffic if u in (a_, b_)]
        pods[p].reasons.append(
            "a pod of its own" + (": " + "; ".join(near) if near
                                  else ": no hint couples it to another container")
        )
    return LayoutView(pods=pods, placements=placements, unplaced=unplaced,
                      provisioned=provisioned_for(inst, a.used_nodes()))



def wire_pods(inst: Instance, view: LayoutView) -> list[PlannedPod]:
    names = inst.container_names
    return [
        PlannedPod(
            name=pod.name, containers=[names[c] for c in pod.containers], replicas=pod.replicas,
            requests={inst.resources[r]: inst.fmt(r, d) for r, d in enumerate(pod.demand)
                      if d > 0 and r != inst.pods_index},
            reasons=pod.reasons,
        )
        for pod in view.pods
    ]


def wire_placements(inst: Instance, view: LayoutView) -> list[PlacedReplica]:
    return [
        PlacedReplica(pod=view.pods[p].name, replica=r, node=inst.candidates[k].name)
        for p, r, k in sorted(view.placements, key=lambda t: (view.pods[t[0]].name, t[1]))
    ]


def wire_unplaced(view: LayoutView) -> list[Unplaced]:
    return [Unplaced(pod=view.pods[p].name, replica=r, reason=why) for p, r, why in view.unplaced]


def wire_nodes(inst: Instance, view: LayoutView) -> list[NodeUsage]:
    load = view.load(inst)
    out = []
    for k in sorted(load):
        cand = inst.candidates[k]
        out.append(NodeUsage(
            name=cand.name, pool=cand.pool, zone=cand.zone,
            allocatable={inst.resources[r]: inst.fmt(r, v) for r, v in enumerate(cand.capacity)
                         if v > 0},
            requested={inst.resources[r]: inst.fmt(r, v) for r, v in enumerate(load[k])
                       if v > 0 and r != inst.pods_index},
            pods=load[k][inst.pods_index],
        ))
    return out
