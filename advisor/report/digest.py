"""What every human-readable report says, computed once from the JSON result: the two sides
of a review, findings grouped by code and matched between current and advised, which
containers change pods, and which replicas move. Works on the wire dicts (what the CLI
prints and the API stores), so a stored job renders like a fresh one."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any, Literal

from models import Problem

SEVERITY_ORDER = {"high": 0, "medium": 1, "low": 2, "info": 3}
Status = Literal["fixed", "open", "new"]


@dataclass(frozen=True)
class Item:
    """One finding; in a review, whether the advice fixes it, leaves it open or brings it."""

    severity: str
    code: str
    subjects: list[str]
    message: str
    suggestion: str
    status: Status | None


@dataclass(frozen=True)
class FindingGroup:
    code: str
    severity: str  # the most severe of its items
    items: list[Item]


@dataclass(frozen=True)
class PodChange:
    """Containers that were in pod `before` (None: not in the current layout) and are in pod
    `after` of the advised layout (None: not placed by it)."""

    containers: list[str]
    before: str | None
    after: str | None


@dataclass(frozen=True)
class Move:
    """A replica created on `target` and one deleted from `source`; a move has both."""

    pod: str
    replica: int
    source: str | None
    target: str | None


@dataclass(frozen=True)
class Side:
    label: str  # "current" or "advised" (a plan alone: "plan")
    status: str | None
    waste: dict[str, Any]
    spof: dict[str, Any]
    nodes_used: int
    pods: int
    replicas: int
    cost: float | None  # in the input's own units, when every node in use has a cost
    layout: dict[str, Any]  # the plan-shaped wire dict of this side


@dataclass(frozen=True)
class Digest:
    kind: Literal["plan", "review"]
    title: str
    current: Side | None
    advised: Side
    findings: list[FindingGroup]
    changes: list[PodChange]
    moves: list[Move]
    summary: str | None
    conflicts: list[dict[str, Any]]
    unplaced: list[dict[str, Any]]
    solver: dict[str, Any]


def is_review(result: dict[str, Any]) -> bool:
    return "advised" in result and "current" in result


def digest(result: dict[str, Any], problem: Problem | None = None,
           source: str | None = None) -> Digest:
    title = source or "pod layout"
    if not is_review(result):
        side = _side("plan", result, problem)
        return Digest(
            kind="plan", title=title, current=None, advised=side,
            findings=_groups([_item(f, None) for f in result.get("findings", [])]),
            changes=[], moves=[], summary=None, conflicts=list(result.get("conflicts", [])),
            unplaced=list(result.get("unplaced", [])), solver=dict(result.get("solver", {})),
        )
    current, advised = result["current"], result["advised"]
    return Digest(
        kind="review", title=title, current=_side("current", current, problem),
        advised=_side("advised", advised, problem),
        findings=_groups(_matched(current.get("findings", []), advised.get("findings", []))),
        changes=grouping_changes(current, advised) if advised.get("pods") else [],
        moves=moves(current, advised) if advised.get("pods") else [],
        summary=(result.get("comparison") or {}).get("summary"),
        conflicts=list(advised.get("conflicts", [])),
        unplaced=list(advised.get("unplaced", [])), solver=dict(advised.get("solver", {})),
    )


def _side(label: str, layout: dict[str, Any], problem: Problem | None) -> Side:
    scores = layout.get("scores") or {}
    nodes = layout.get("nodes", [])
    used = [n for n in nodes if n.get("pods", 0) > 0]
    return Side(
        label=label, status=layout.get("status"), waste=scores.get("waste") or {},
        spof=scores.get("spof") or {}, nodes_used=len(used), pods=len(layout.get("pods", [])),
        replicas=len(layout.get("placements", [])), cost=_cost(used, problem), layout=layout,
    )


def _cost(used: list[dict[str, Any]], problem: Problem | None) -> float | None:
    """What the nodes in use cost, in the units of the input's `cost`; None unless every one
    of them has a cost."""
    if problem is None or not used:
        return None
    fixed = {n.name: n.cost for n in problem.nodes}
    pools = {p.name: p.cost for p in problem.pools}
    total = 0.0
    for node in used:
        cost = pools.get(node["pool"]) if node.get("pool") else fixed.get(node["name"])
        if cost is None:
            return None
        total += cost
    return round(total, 6)


def _item(finding: dict[str, Any], status: Status | None) -> Item:
    return Item(severity=finding["severity"], code=finding["code"],
                subjects=list(finding.get("subjects", [])), message=finding["message"],
                suggestion=finding.get("suggestion", ""), status=status)


def _key(finding: dict[str, Any]) -> tuple[str, tuple[str, ...]]:
    return finding["code"], tuple(sorted(finding.get("subjects", [])))


def _matched(current: list[dict[str, Any]], advised: list[dict[str, Any]]) -> list[Item]:
    """Current and advised findings as one list: the same code on the same subjects is one
    finding, still open (told as the advised layout has it); the others are fixed or new."""
    left = Counter(_key(f) for f in advised)
    items: list[Item] = []
    for f in current:
        if left[_key(f)] > 0:
            left[_key(f)] -= 1
        else:
            items.append(_item(f, "fixed"))
    seen = Counter(_key(f) for f in current)
    for f in advised:
        if seen[_key(f)] > 0:
            seen[_key(f)] -= 1
            items.append(_item(f, "open"))
        else:
            items.append(_item(f, "new"))
    return items


def _groups(items: list[Item]) -> list[FindingGroup]:
    by_code: dict[str, list[Item]] = {}
    for item in items:
        by_code.setdefault(item.code, []).append(item)
    groups = [
        FindingGroup(code=code, items=sorted(its, key=lambda i: (
            SEVERITY_ORDER.get(i.severity, 9), i.subjects)),
            severity=min((i.severity for i in its), key=lambda s: SEVERITY_ORDER.get(s, 9)))
        for code, its in by_code.items()
    ]
    return sorted(groups, key=lambda g: (SEVERITY_ORDER.get(g.severity, 9), g.code))


def grouping_changes(current: dict[str, Any], advised: dict[str, Any]) -> list[PodChange]:
    """Which containers change pods: one entry per (current pod, advised pod) pair that
    shares containers, for every advised pod that is not a current pod unchanged."""
    before = {c: p["name"] for p in current.get("pods", []) for c in p["containers"]}
    kept = {frozenset(p["containers"]) for p in current.get("pods", [])}
    out: list[PodChange] = []
    placed: set[str] = set()
    for pod in advised.get("pods", []):
        placed.update(pod["containers"])
        if frozenset(pod["containers"]) in kept:
            continue
        parts: dict[str | None, list[str]] = {}
        for c in pod["containers"]:
            parts.setdefault(before.get(c), []).append(c)
        out += [PodChange(containers=cs, before=b, after=pod["name"]) for b, cs in parts.items()]
    gone: dict[str, list[str]] = {}
    for c, pod_name in before.items():
        if c not in placed:
            gone.setdefault(pod_name, []).append(c)
    out += [PodChange(containers=cs, before=b, after=None) for b, cs in gone.items()]
    return out


def moves(current: dict[str, Any], advised: dict[str, Any]) -> list[Move]:
    """Replicas that change node. A pod kept as it is moves only the replicas whose node
    changes (replicas are interchangeable, so the nodes are matched as multisets); a pod
    the advice regroups is created anew, and a current pod it replaces is deleted."""
    def nodes_of(layout: dict[str, Any]) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for p in sorted(layout.get("placements", []), key=lambda p: (p["pod"], p["replica"])):
            out.setdefault(p["pod"], []).append(p["node"])
        return out

    cur_pods = {frozenset(p["containers"]): p["name"] for p in current.get("pods", [])}
    adv_pods = {frozenset(p["containers"]): p["name"] for p in advised.get("pods", [])}
    cur_nodes, adv_nodes = nodes_of(current), nodes_of(advised)
    out: list[Move] = []
    for members, name in adv_pods.items():
        old = cur_pods.get(members)
        targets = adv_nodes.get(name, [])
        if old is None:
            out += [Move(pod=name, replica=i, source=None, target=k)
                    for i, k in enumerate(targets)]
            continue
        sources = Counter(cur_nodes.get(old, []))
        arriving = Counter(targets) - sources
        leaving = list((sources - Counter(targets)).elements())
        created = list(arriving.elements())
        for i in range(max(len(created), len(leaving))):
            out.append(Move(pod=name, replica=i, source=leaving[i] if i < len(leaving) else None,
                            target=created[i] if i < len(created) else None))
    for members, name in cur_pods.items():
        if members not in adv_pods:
            out += [Move(pod=name, replica=i, source=k, target=None)
                    for i, k in enumerate(cur_nodes.get(name, []))]
    return out
