"""The move budget (`policy.maxMoves`): the current layout pod by pod in model terms, how
many replicas a plan moves, and the plan that moves none.

A replica moves when the advised layout does not run a pod of the same containers on its
node (as the migration counts it: per node and container set, as many as both layouts
run there stay). A re-grouped pod therefore moves all its replicas, and replicas the
problem no longer asks for are moves too.
"""

from __future__ import annotations

from dataclasses import replace

from advisor import rules
from advisor.current import current_view, schedule_like_kube
from advisor.errors import FieldIssue, InputError
from advisor.greedy import Assignment
from advisor.layout import LayoutView
from advisor.model import Current, CurrentPod
from advisor.prepare import Instance

# The rules a plan keeping today's layout must hold; sameNode is checked on its own.
KEPT_RULES = (rules.admitted, rules.capacity, rules.spread, rules.separate_nodes,
              rules.one_node)


def move_budget(inst: Instance) -> int | None:
    """policy.maxMoves, which needs a current layout to count moves against."""
    budget = inst.problem.policy.max_moves
    if budget is not None and inst.problem.layout is None:
        raise InputError([FieldIssue(
            "policy.maxMoves", "a move budget needs the current `layout` to count moves "
                               "against")])
    return budget


def pods_today(inst: Instance, view: LayoutView) -> list[CurrentPod]:
    """Each pod of the current layout: the units it is exactly made of (leader first;
    none when its containers are not a union of units, so it cannot stay as it is) and its
    replicas per node."""
    unit_of = {c: u for u, unit in enumerate(inst.units) for c in unit.containers}
    out = []
    for p, pod in enumerate(view.pods):
        units = sorted({unit_of[c] for c in pod.containers})
        exact = sorted(c for u in units for c in inst.units[u].containers) == sorted(
            pod.containers)
        out.append(CurrentPod(units=tuple(units) if exact else (), counts=view.replicas_on(p)))
    return out


def moves_of(today: Current, plan: Assignment) -> int:
    """Replicas of the current layout that `plan` does not keep on their node."""
    moved = 0
    for pod in today.pods:
        total = sum(pod.counts.values())
        if not pod.units or not _intact(pod.units, plan.leader):
            moved += total
            continue
        lead = pod.units[0]
        moved += total - sum(min(n, plan.counts[lead].get(k, 0)) for k, n in pod.counts.items())
    return moved


def _intact(units: tuple[int, ...], leader: list[int]) -> bool:
    """The plan groups exactly these units into one pod."""
    lead = units[0]
    members = {u for u, s in enumerate(leader) if s == lead}
    return leader[lead] == lead and members == set(units)


def stay_put(inst: Instance, view: LayoutView, today: Current) -> Assignment | None:
    """Today's layout with the replicas it lacks scheduled as kube-scheduler would (and those
    the problem no longer asks for left out): the plan that moves the fewest replicas. None
    when today's layout is no valid plan (a pod the units cannot form, a broken rule)."""
    if any(not pod.units for pod in today.pods):
        return None
    if any(len({inst.units[u].replicas for u in pod.units}) > 1 for pod in today.pods):
        return None
    if not _groupable(inst, today):
        return None
    wanted = [inst.units[pod.units[0]].replicas for pod in today.pods]
    pods = [replace(pod, replicas=n) for pod, n in zip(view.pods, wanted, strict=True)]
    kept = [(p, r, k) for p, r, k in view.placements if r < wanted[p]]
    full = LayoutView(pods=pods, placements=kept, unplaced=[], provisioned=[])
    schedule_like_kube(inst, full)
    if not _holds(inst, full):
        return None
    counts: list[dict[int, int]] = [{} for _ in inst.units]
    leader = list(range(len(inst.units)))
    unplaced: dict[int, int] = {}
    for p, pod in enumerate(today.pods):
        per_node = full.replicas_on(p)
        missing = wanted[p] - sum(per_node.values())
        for u in pod.units:
            counts[u] = dict(per_node)
            leader[u] = pod.units[0]
            if missing:
                unplaced[u] = missing
    return Assignment(counts=counts, unplaced=unplaced, leader=leader)


def _groupable(inst: Instance, today: Current) -> bool:
    """Every pod's units may share one pod: no two of them are incompatible (ports,
    separatePods, replica counts); under a move budget the model may keep such a pod."""
    return not any((a, b) in inst.incompatible for pod in today.pods
                   for a in pod.units for b in pod.units if a < b)


def _holds(inst: Instance, view: LayoutView) -> bool:
    """The layout keeps every placement rule: replayed replica by replica through the
    shared rules, sameNode checked on the result."""
    pod_of = {c: p for p, pod in enumerate(view.pods) for c in pod.containers}
    unit_pod = {u: pod_of[unit.containers[0]] for u, unit in enumerate(inst.units)}
    units = rules.layout_units(inst, view.pods)
    if rules.one_per_node(inst):
        caps: list[int | None] = [None] * len(view.pods)
        for u, p in unit_pod.items():
            caps[p] = inst.zone_cap(u)  # a pod's units share its replica count
        units.zone_cap = caps
    state = rules.Placement(inst, units)
    for p, _, k in sorted(view.placements):
        if not rules.feasible(inst, state, p, k, KEPT_RULES):
            return False
        state.place(p, k)
    for small, big, _ in inst.same_node:
        a, b = state.counts[unit_pod[small]], state.counts[unit_pod[big]]
        follows = all(b.get(k, 0) for k in a)
        equal = inst.units[small].replicas == inst.units[big].replicas
        if not follows and not (equal and all(a.get(k, 0) for k in b)):
            return False
    return True


def within_budget(inst: Instance, first: Assignment, today: Current | None
                  ) -> Assignment | None:
    """A first plan that keeps the move budget: `first` when it does, else today's layout
    (`stay_put`); None when neither does."""
    if today is None or today.max_moves is None or moves_of(today, first) <= today.max_moves:
        return first
    kept = stay_put(inst, current_view(inst), today)
    if kept is None or moves_of(today, kept) > today.max_moves:
        return None
    return kept
