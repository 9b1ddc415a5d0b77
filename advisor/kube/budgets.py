"""PodDisruptionBudgets for an exported plan: the problem's budgets, kept as they were where
the advice leaves their pods alone and rewritten per advised pod where it does not, then a
default one for each replicated critical pod that has none.

A budget is written again unchanged (its own name, namespace, labels and selector) when its
source is known, each advised pod holding its containers holds exactly the containers of
one source workload, its selector still selects those pods' labels and no other exported
pod's, and no other budget covers them. Otherwise each such pod gets a budget of its own
that selects on the workload's own selector, with the same minAvailable or maxUnavailable:
named after the budget when it is written for one pod, `<budget>-<workload>` when for
several. Kubernetes refuses to evict a pod that two budgets select, so a pod several
budgets cover gets one, that of the budget allowing the fewest of its replicas down; and a
source budget whose name no rewritten one takes back is marked for deletion
(`podlayout.io/replaces`).
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field
from typing import Any

from advisor.kube.k8s.objects import selects
from models import DisruptionBudget

REPLACES = "podlayout.io/replaces"
SPLIT = "podlayout.io/split-budget"
NEW = "a new PodDisruptionBudget"
MAX_NAME = 253
_NOT_NAME = re.compile(r"[^a-z0-9-]+")

Where = tuple[str | None, str]  # namespace, name


@dataclass(frozen=True, eq=False)
class BudgetPod:
    """An exported workload, as the budgets that select its pods need it."""

    key: str  # the advised pod's name in the plan
    name: str  # the workload's name
    namespace: str | None
    containers: frozenset[str]
    replicas: int
    labels: dict[str, str]  # its pods' labels once applied
    selector: dict[str, Any]  # the workload's selector (the rules' one for Jobs)
    match: dict[str, Any]  # what the rules between pods select it by
    meta_labels: dict[str, str]  # the export's own labels for objects about it
    regrouped: bool  # it holds other containers than exactly one source workload's
    default: bool  # replicated and critical: a budget even if the problem gives none


@dataclass
class BudgetDoc:
    """A PodDisruptionBudget to write, and whether applying it changes anything."""

    doc: dict[str, Any]
    kept: bool  # the source's own, unchanged: a patch export leaves it out
    reason: str = NEW  # why it is a new or changed object
    notes: list[str] = field(default_factory=list)  # for stderr: budgets changed or to delete


def budget_docs(budgets: list[DisruptionBudget], pods: list[BudgetPod]) -> list[BudgetDoc]:
    """The budgets in problem order, then the default ones in pod order."""
    held = {b.name: [p for p in pods if p.containers & set(b.containers)] for b in budgets}
    covering = {p.key: [b for b in budgets if p in held[b.name]] for p in pods}
    why_not = {b.name: _why_not_kept(b, held[b.name], covering, pods) for b in budgets}
    # Each pod one budget: the strictest of those that are not kept as they were.
    owner: dict[str, DisruptionBudget] = {}
    for p in pods:
        rest = [b for b in covering[p.key] if why_not[b.name]]
        if rest:
            owner[p.key] = min(rest, key=lambda b: b.allowed_down(p.replicas))
    # Budget names stay theirs: a new budget named like one would overwrite it.
    reserved = {_where_of(b) for b in budgets if b.source}
    taken: set[Where] = set()
    out: list[BudgetDoc] = []
    written: dict[str, list[tuple[BudgetPod, BudgetDoc]]] = {}
    for b in budgets:
        if not held[b.name]:
            continue
        if not why_not[b.name]:
            taken.add(_where_of(b))
            out.append(BudgetDoc(_kept(b), kept=True))
            continue
        mine = [p for p in held[b.name] if owner[p.key] is b]
        for p in mine:
            base = _subdomain(b.name) if len(mine) == 1 else _joined(b.name, p.name)
            name = _free(base, p.namespace, taken, reserved, own=_where_of(b))
            doc = BudgetDoc(_per_pod(b, p, name, several=len(held[b.name]) > 1), kept=False)
            written.setdefault(b.name, []).append((p, doc))
            out.append(doc)
    _explain(budgets, held, why_not, written)
    for p in pods:
        if p.default and not covering[p.key]:
            name = _free(p.name, p.namespace, taken, reserved)
            out.append(BudgetDoc(_default(p, name), kept=False))
    return out


def _where_of(b: DisruptionBudget) -> Where:
    return (b.source.namespace, b.source.name) if b.source else (None, b.name)


def _text(where: Where) -> str:
    namespace, name = where
    return f"PodDisruptionBudget {namespace}/{name}" if namespace else f"PodDisruptionBudget {name}"


def _why_not_kept(b: DisruptionBudget, held: list[BudgetPod],
                  covering: dict[str, list[DisruptionBudget]], pods: list[BudgetPod]
                  ) -> str | None:
    """None when the budget can be written as it was; else why it is rewritten per pod."""
    source = b.source
    if source is None:
        return "it was not imported"
    for p in held:
        if p.regrouped:
            return f"the pods of {p.name} hold other containers now"
        others = [o.name for o in covering[p.key] if o is not b]
        if others:
            return f"{p.name} is also covered by {', '.join(others)}"
        if not _same_namespace(p.namespace, source.namespace):
            return f"{p.name} is not in its namespace"
        if not selects(source.selector, p.labels):
            return f"its selector no longer selects the pods of {p.name}"
    for p in pods:
        if (p not in held and _same_namespace(p.namespace, source.namespace)
                and selects(source.selector, p.labels)):
            return f"its selector would select the pods of {p.name} too"
    return None


def _same_namespace(one: str | None, two: str | None) -> bool:
    # An object without a namespace goes to whichever is current: it may be either.
    return one is None or two is None or one == two


def _explain(budgets: list[DisruptionBudget], held: dict[str, list[BudgetPod]],
             why_not: dict[str, str | None],
             written: dict[str, list[tuple[BudgetPod, BudgetDoc]]]) -> None:
    """Say what becomes of each source budget that is not kept: one written for its pods
    takes its name and changes it in place, else those written for its pods replace it and
    it is to be deleted (else both would select the pods, and evicting them would fail)."""
    pairs = [pair for found in written.values() for pair in found]
    by_where = {(d.doc["metadata"].get("namespace"), d.doc["metadata"]["name"]): d
                for _, d in pairs}
    replaced: dict[int, list[str]] = {}
    for b in budgets:
        why = why_not[b.name]
        if b.source is None or why is None or not held[b.name]:
            continue
        old = _text(_where_of(b))
        same = by_where.get(_where_of(b))
        if same is not None:
            same.reason = f"changes {old}: {why}"
            same.notes.append(f"{old}: full manifest, not a patch: {why}")
            continue
        # Every pod a budget is not kept for has a budget written: the list is not empty.
        takers = [d for p, d in pairs if p in held[b.name]]
        for doc in takers:
            replaced.setdefault(id(doc), []).append(old)
        names = ", ".join(d.doc["metadata"]["name"] for d in takers)
        takers[0].notes.append(f"{old}: replaced by {names} ({why}); delete it once they "
                               "are applied")
    for _, doc in pairs:
        olds = replaced.get(id(doc))
        if olds:
            doc.reason = f"replaces {', '.join(olds)}"
            doc.doc["metadata"].setdefault("annotations", {})[REPLACES] = (
                f"{', '.join(olds)}: delete once this is applied (it selects these pods too)")


def _kept(b: DisruptionBudget) -> dict[str, Any]:
    """The source budget exactly as it was."""
    source = b.source
    assert source is not None
    meta: dict[str, Any] = {"name": source.name}
    if source.namespace:
        meta["namespace"] = source.namespace
    if source.labels:
        meta["labels"] = dict(source.labels)
    return {"apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": meta,
            "spec": {**_amount(b), "selector": copy.deepcopy(source.selector)}}


def _amount(b: DisruptionBudget) -> dict[str, int | str]:
    if b.min_available is not None:
        return {"minAvailable": b.min_available}
    assert b.max_unavailable is not None
    return {"maxUnavailable": b.max_unavailable}


def _per_pod(b: DisruptionBudget, p: BudgetPod, name: str, *, several: bool
             ) -> dict[str, Any]:
    labels = dict(b.source.labels) if b.source else {}
    for key, label in p.meta_labels.items():
        labels.setdefault(key, label)  # a source label is never overwritten
    meta: dict[str, Any] = {"name": name}
    if p.namespace:
        meta["namespace"] = p.namespace
    meta["labels"] = labels
    amount = _amount(b)
    ((kind, value),) = amount.items()
    if several and isinstance(value, int):
        # A count was for all the budget's pods together; each now has its own.
        meta["annotations"] = {SPLIT: (
            f"{kind} {value} was for all the pods of budget {b.name} together; here it is "
            f"for the {p.replicas} replicas of {p.name} alone: check it")}
    return {"apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": meta,
            "spec": {**amount, "selector": copy.deepcopy(p.selector)}}


def _default(p: BudgetPod, name: str) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name}
    if p.namespace:
        meta["namespace"] = p.namespace
    meta["labels"] = dict(p.meta_labels)
    return {"apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": meta,
            "spec": {"maxUnavailable": 1, "selector": copy.deepcopy(p.match)}}


def _subdomain(text: str) -> str:
    """A DNS-1123 subdomain from any name: lower case, other characters to '-'."""
    parts = (_NOT_NAME.sub("-", part).strip("-") for part in text.lower().split("."))
    name = ".".join(part for part in parts if part)[:MAX_NAME].strip("-.")
    return name or "budget"


def _joined(head: str, tail: str) -> str:
    """`<head>-<tail>`, the head shortened to keep it within 253 characters."""
    tail = _subdomain(tail)
    room = MAX_NAME - len(tail) - 1
    head = _subdomain(head)[:room].strip("-.") if room > 0 else ""
    return f"{head}-{tail}" if head else tail


def _free(base: str, namespace: str | None, taken: set[Where], reserved: set[Where],
          own: Where | None = None) -> str:
    """The base name, else the first free `<base>-N`, in the namespace; marked taken.
    Source budgets' names are reserved: a budget may take back its own source's name, in
    the source's namespace only (else the source, to delete, might be the same object)."""
    def clash(name: str) -> bool:
        if any(n == name and _same_namespace(ns, namespace) for ns, n in taken):
            return True
        return any(n == name and _same_namespace(ns, namespace)
                   and not ((ns, n) == own and ns == namespace) for ns, n in reserved)

    name, n = base, 2
    while clash(name):
        name = _joined(base, str(n))
        n += 1
    taken.add((namespace, name))
    return name
