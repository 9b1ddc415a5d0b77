"""Services and PodDisruptionBudgets of Kubernetes manifests, read against the imported
workloads.

A Service whose selector matches several workloads (v1, v2 and v3 of one service during a
canary rollout) makes them one component: their replicas serve the same requests, so they
count together for SPOF. A PodDisruptionBudget becomes a disruption budget over the main
containers of the workloads whose pod template labels it selects.
"""

from __future__ import annotations

import re
from typing import Any

from advisor.kube.common import dns_label
from advisor.kube.k8s.objects import Ctx, Objects, metadata, plain, selects
from advisor.kube.k8s.workload import Workload
from models.problem import MAX_REPLICAS

SERVICE = "Service"
BUDGET = "PodDisruptionBudget"
_PERCENT = re.compile(r"([0-9]+)%")
_COUNT = re.compile(r"[0-9]+")
_BUDGET_FIELDS = ("minAvailable", "maxUnavailable")


def _same_namespace(own: str | None, other: str | None) -> bool:
    # A Service or budget selects pods of its own namespace; a manifest without one is
    # applied to whichever namespace is current, so it matches any (as for affinity terms).
    return own is None or other is None or own == other


def _listing(workloads: list[Workload]) -> str:
    return ", ".join(w.name for w in workloads)


def components(workloads: list[Workload], services: Objects,
               warnings: list[str]) -> dict[str, str]:
    """The component of each main container a Service puts together with others (main
    container name -> component name); a container absent counts as its own component.

    Only Services selecting two or more workloads matter: one selecting a single workload
    says what that workload already is. A workload several of them select joins the one
    selecting the most workloads (ties: the first by name)."""
    selecting: list[tuple[str, str | None, list[Workload]]] = []
    for obj, doc in services:
        ctx = Ctx(doc, SERVICE)
        name, namespace, _ = metadata(obj, ctx)
        ctx.what = f"{SERVICE} {name}"
        spec = ctx.mapping(obj.get("spec"), "spec")
        if spec.get("type") == "ExternalName":
            continue  # a DNS alias: it selects no pod
        selector = ctx.strings(spec.get("selector"), "spec.selector")
        if not selector:
            continue  # no selector: its endpoints are managed by hand
        chosen = [w for w in workloads if _same_namespace(namespace, w.namespace)
                  and all(w.labels.get(k) == v for k, v in selector.items())]
        if len(chosen) >= 2:
            selecting.append((name, namespace, chosen))
    selecting.sort(key=lambda s: (-len(s[2]), s[0], s[1] or ""))

    members: dict[int, list[Workload]] = {i: [] for i in range(len(selecting))}
    for work in workloads:
        among = [i for i, (_, _, chosen) in enumerate(selecting)
                 if any(w is work for w in chosen)]
        if not among:
            continue
        members[among[0]].append(work)
        if len(among) > 1:
            others = ", ".join(selecting[i][0] for i in among[1:])
            warnings.append(
                f"{work.what} is selected by several Services that select more than one "
                f"workload: it counts in the component of Service {selecting[among[0]][0]} "
                f"(the one selecting the most workloads), not in that of {others}")

    out: dict[str, str] = {}
    names = {c.name for w in workloads for c in w.containers}
    used: set[str] = set()
    for i, (service, _, _) in enumerate(selecting):
        group = members[i]
        if len(group) < 2:
            continue  # the others took all but one: it counts alone, as it would anyway
        mains = {w.containers[0].name for w in group}
        # A component named like a container outside it would merge two services.
        taken = (names - mains) | used
        base = dns_label(service)
        component, n = base, 1
        while component in taken:
            suffix = "-service" if n == 1 else f"-service-{n}"
            component = dns_label(f"{base[:63 - len(suffix)]}{suffix}")
            n += 1
        used.add(component)
        out.update(dict.fromkeys(sorted(mains), component))
        why = ("a container outside it" if base in names - mains
               else "the component of another Service")
        named = f" (named {component}: {base} is {why})" if component != base else ""
        warnings.append(f"Service {service} selects {len(group)} workloads "
                        f"({_listing(group)}): they count as one component{named}")
    return out


def mark_components(containers: list[dict[str, Any]], component_of: dict[str, str]) -> None:
    """Set `component` on the container dicts, next to their replicas."""
    for i, cont in enumerate(containers):
        component = component_of.get(cont["name"])
        if component is None:
            continue
        items = list(cont.items())
        at = next((j + 1 for j, (key, _) in enumerate(items) if key == "replicas"), len(items))
        containers[i] = dict([*items[:at], ("component", component), *items[at:]])


def _amount(value: object, path: str, ctx: Ctx) -> int | str:
    """minAvailable or maxUnavailable: a count, or a percentage of the replicas."""
    if isinstance(value, str) and _COUNT.fullmatch(value):
        value = int(value)  # "2": a count written as a string, as templates often do
    if isinstance(value, int) and not isinstance(value, bool):
        if value < 0:
            ctx.fail(path, f"expected a whole number >= 0, got {value}")
        if value > MAX_REPLICAS:
            ctx.fail(path, f"{value} is more than this tool supports ({MAX_REPLICAS})")
        return value
    match = _PERCENT.fullmatch(value) if isinstance(value, str) else None
    if match is None:
        ctx.fail(path, f"expected a whole number >= 0 or a percentage such as '25%', "
                 f"got {value!r}")
    percent = int(match[1])
    if percent > 100:
        ctx.fail(path, f"{value!r} is more than 100%")
    return f"{percent}%"


def _budget_name(name: str, namespace: str | None, used: set[str]) -> str:
    # Budgets of one name in two namespaces are two budgets of the problem.
    candidates = [name] + ([f"{name}-{namespace}"[:253]] if namespace else [])
    out = next((c for c in candidates if c not in used), "")
    n = 2
    while not out:
        numbered = f"{name[:240]}-{n}"
        out = numbered if numbered not in used else ""
        n += 1
    used.add(out)
    return out


def budgets(workloads: list[Workload], pdbs: Objects,
            warnings: list[str]) -> list[dict[str, Any]]:
    """The problem's `disruptionBudgets`: one per PodDisruptionBudget that selects the pods
    of a workload, over their main containers; taken in name order, as a pod two budgets
    select is the later one's no more."""
    # name, namespace, minAvailable or maxUnavailable and its value, containers, source
    parsed: list[tuple[str, str | None, str, int | str, list[str], dict[str, Any]]] = []
    for obj, doc in pdbs:
        ctx = Ctx(doc, BUDGET)
        name, namespace, meta = metadata(obj, ctx)
        ctx.what = f"{BUDGET} {name}"
        spec = ctx.mapping(obj.get("spec"), "spec")
        given = [f for f in _BUDGET_FIELDS if spec.get(f) is not None]
        if len(given) == 2:
            ctx.fail("spec", "sets both minAvailable and maxUnavailable; the API server "
                     "refuses a budget with both: give one")
        if given:
            key = given[0]
            amount = _amount(spec[key], f"spec.{key}", ctx)
        else:
            # An incomplete budget should not stop the review of a whole application.
            warnings.append(f"{ctx.what} sets neither minAvailable nor maxUnavailable: taken "
                            "as minAvailable: 1")
            key, amount = "minAvailable", 1
        raw = spec.get("selector")
        selector = ctx.mapping(raw, "spec.selector")
        # A null selector selects no pod; an empty one every pod of the namespace in
        # policy/v1, none in policy/v1beta1.
        empty_selects = obj.get("apiVersion") != "policy/v1beta1"
        chosen = [] if raw is None or (not selector and not empty_selects) else [
            w for w in workloads
            if _same_namespace(namespace, w.namespace) and selects(selector, w.labels)]
        if not chosen:
            warnings.append(f"{ctx.what} selects the pods of no workload in the input: it is "
                            "left out")
            continue
        source: dict[str, Any] = {"name": name}
        if namespace:
            source["namespace"] = namespace
        source["selector"] = plain(selector)
        labels = ctx.strings(meta.get("labels"), "metadata.labels")
        if labels:
            source["labels"] = labels
        parsed.append((name, namespace, key, amount, [w.containers[0].name for w in chosen],
                       source))

    out: list[dict[str, Any]] = []
    covered: dict[str, str] = {}
    used: set[str] = set()
    for name, namespace, key, amount, selected, source in sorted(
            parsed, key=lambda p: (p[0], p[1] or "")):
        shared: dict[str, list[str]] = {}
        for cont in selected:
            if cont in covered:
                shared.setdefault(covered[cont], []).append(cont)
        if shared:
            held = "; ".join(f"{', '.join(conts)} (by {earlier})"
                             for earlier, conts in shared.items())
            warnings.append(
                f"{BUDGET} {name} selects pods an earlier budget already covers: {held}; "
                "Kubernetes refuses to evict a pod that two budgets select, so they keep the "
                "earlier budget only")
        containers = [c for c in selected if c not in covered]
        if not containers:
            warnings.append(f"{BUDGET} {name} covers no pod of its own: it is left out")
            continue
        final = _budget_name(name, namespace, used)
        covered.update(dict.fromkeys(containers, final))
        out.append({"name": final, "containers": containers, key: amount, "source": source})
    return out
