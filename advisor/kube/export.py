"""Export an advised plan as Kubernetes manifests: one workload per advised pod, with the
affinity rules, spreading and disruption budgets that make the scheduler keep the plan."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml

from advisor.kube.common import dns_label
from models import Container, Plan, PlannedPod, Problem, Spread
from models.quantity import format_units, to_units

NAME_LABEL = "app.kubernetes.io/name"
PART_OF_LABEL = "app.kubernetes.io/part-of"
PART_OF = "podlayout-advised"
HOSTNAME = "kubernetes.io/hostname"
ZONE = "topology.kubernetes.io/zone"
MISSING_IMAGE = "REPLACE-ME"
DEFAULT_SCHEDULE = "@daily"
ANNOTATION = "podlayout.io/"


def export_k8s(problem: Problem, plan: Plan) -> list[dict[str, Any]]:
    """Manifests for the plan's pods: workloads, then their PodDisruptionBudgets."""
    if plan.status == "infeasible" or not plan.pods:
        raise ValueError("the plan has no pods to export (an infeasible problem has no layout)")
    by_name = {c.name: c for c in problem.containers}
    pod_of = {c: pod.name for pod in plan.pods for c in pod.containers}
    nodes: dict[str, list[str]] = {}
    for placed in sorted(plan.placements, key=lambda p: (p.pod, p.replica)):
        seen = nodes.setdefault(placed.pod, [])
        if placed.node not in seen:
            seen.append(placed.node)
    rules = _hint_rules(problem, plan, pod_of, nodes)
    workloads: list[dict[str, Any]] = []
    budgets: list[dict[str, Any]] = []
    for pod in plan.pods:
        members = [by_name[c] for c in _main_first(pod)]
        namespace = _namespace(members)
        workloads.append(_workload(problem, pod, members, namespace, nodes.get(pod.name, []),
                                   rules.get(pod.name, _Rules())))
        if pod.replicas >= 2 and any(c.critical for c in members):
            budgets.append(_budget(pod.name, namespace))
    return workloads + budgets


class _NoAliasDumper(yaml.SafeDumper):
    """SafeDumper that writes a repeated object out again instead of an anchor and alias:
    manifests are read by tools that do not all resolve aliases."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def dump_manifests(docs: list[dict[str, Any]]) -> str:
    """Multi-document YAML, block style, keys in the order they were built."""
    text: str = yaml.dump_all(docs, Dumper=_NoAliasDumper, default_flow_style=False,
                              sort_keys=False, explicit_start=True, allow_unicode=True,
                              width=4096)  # long annotations stay on one line
    return text


@dataclass
class _Rules:
    """Pod-to-pod rules coming from sameNode / separateNodes hints."""

    with_pods: list[str] = field(default_factory=list)  # required podAffinity
    apart_from: list[str] = field(default_factory=list)  # required podAntiAffinity


def _hint_rules(problem: Problem, plan: Plan, pod_of: dict[str, str],
                nodes: dict[str, list[str]]) -> dict[str, _Rules]:
    replicas = {pod.name: pod.replicas for pod in plan.pods}
    rules: dict[str, _Rules] = {}
    for hint in problem.hints:
        if hint.type not in ("sameNode", "separateNodes"):
            continue
        pods = list(dict.fromkeys(pod_of[c] for c in hint.containers if c in pod_of))
        for i, one in enumerate(pods):
            for two in pods[i + 1:]:
                if hint.type == "separateNodes":
                    _add(rules.setdefault(one, _Rules()).apart_from, two)
                    _add(rules.setdefault(two, _Rules()).apart_from, one)
                    continue
                # Required affinity in both directions would deadlock (neither can start
                # first): the pod with fewer replicas follows the other, as in the model.
                follower, leader = _follower(one, two, replicas, nodes)
                _add(rules.setdefault(follower, _Rules()).with_pods, leader)
    return rules


def _follower(one: str, two: str, replicas: dict[str, int], nodes: dict[str, list[str]]
              ) -> tuple[str, str]:
    if replicas[one] != replicas[two]:
        return (one, two) if replicas[one] < replicas[two] else (two, one)
    # Equal counts: follow whichever the plan put on a subset of the other's nodes.
    if set(nodes.get(two, [])) <= set(nodes.get(one, [])):
        return two, one
    return one, two


def _add(items: list[str], item: str) -> None:
    if item not in items:
        items.append(item)


def _main_first(pod: PlannedPod) -> list[str]:
    # A pod is named after its main container; helpers may precede it in problem order.
    main = pod.name if pod.name in pod.containers else pod.containers[0]
    return [main, *(c for c in pod.containers if c != main)]


def _namespace(members: list[Container]) -> str | None:
    spaces = {c.source.namespace if c.source else None for c in members}
    return spaces.pop() if len(spaces) == 1 else None


def _metadata(name: str, namespace: str | None, annotations: dict[str, str] | None = None
              ) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name}
    if namespace:
        meta["namespace"] = namespace
    meta["labels"] = {NAME_LABEL: name, PART_OF_LABEL: PART_OF}
    if annotations:
        meta["annotations"] = annotations
    return meta


def _workload(problem: Problem, pod: PlannedPod, members: list[Container],
              namespace: str | None, nodes: list[str], rules: _Rules) -> dict[str, Any]:
    main = members[0]
    kind = main.source.kind if main.source else "Deployment"
    annotations: dict[str, str] = {f"{ANNOTATION}advised-nodes": ",".join(nodes)}
    missing = [c.name for c in members if not c.image]
    if missing:
        # Listed so a script can find what to fill in; the image reads REPLACE-ME meanwhile.
        annotations[f"{ANNOTATION}missing-images"] = ",".join(missing)
    assumed = [f"{c.name} ({', '.join(c.defaulted_requests)})"
               for c in members if c.defaulted_requests]
    if assumed:
        annotations[f"{ANNOTATION}assumed-requests"] = (
            "requests assumed by the import, check them: " + "; ".join(assumed))
    shared = _shared_elsewhere(problem, pod)
    if shared:
        annotations[f"{ANNOTATION}unshared-volumes"] = (
            f"{', '.join(shared)} also mounted by other pods; an emptyDir is per pod: "
            "use a shared PersistentVolumeClaim if the data must be shared")
    if kind == "DaemonSet":
        annotations[f"{ANNOTATION}source-kind"] = (
            "DaemonSet: exported as a Deployment with the advised replica count, since the "
            "plan places a fixed number of replicas rather than one per node")
    if kind == "CronJob":
        annotations[f"{ANNOTATION}schedule"] = (
            f"the schedule is not part of the problem: replace {DEFAULT_SCHEDULE} with yours")
    template = {"metadata": {"labels": {NAME_LABEL: pod.name, PART_OF_LABEL: PART_OF}},
                "spec": _pod_spec(problem, pod, members, nodes, rules,
                                  batch=kind in ("Job", "CronJob"))}
    selector = {"matchLabels": {NAME_LABEL: pod.name}}
    meta = _metadata(pod.name, namespace, annotations)
    if kind == "StatefulSet":
        return {"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": meta,
                "spec": {"replicas": pod.replicas, "serviceName": pod.name,
                         "selector": selector, "template": template}}
    if kind == "Job":
        # Jobs generate their own selector; setting one needs manualSelector.
        return {"apiVersion": "batch/v1", "kind": "Job", "metadata": meta,
                "spec": {"parallelism": pod.replicas, "template": template}}
    if kind == "CronJob":
        return {"apiVersion": "batch/v1", "kind": "CronJob", "metadata": meta,
                "spec": {"schedule": DEFAULT_SCHEDULE,
                         "jobTemplate": {"spec": {"parallelism": pod.replicas,
                                                  "template": template}}}}
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": meta,
            "spec": {"replicas": pod.replicas, "selector": selector, "template": template}}


def _pod_spec(problem: Problem, pod: PlannedPod, members: list[Container], nodes: list[str],
              rules: _Rules, *, batch: bool) -> dict[str, Any]:
    volumes = _volume_names(members)
    spec: dict[str, Any] = {"containers": [_container(c, volumes) for c in members]}
    if volumes:
        spec["volumes"] = [_volume(original, name) for original, name in volumes.items()]
    selector: dict[str, str] = {}
    for c in members:
        for key, value in c.node_selector.items():
            selector.setdefault(key, value)
    if selector:
        spec["nodeSelector"] = selector
    tolerations: list[dict[str, Any]] = []
    for c in members:
        for tol in c.tolerations:
            wire = tol.model_dump(mode="json", by_alias=True, exclude_none=True)
            if wire not in tolerations:
                tolerations.append(wire)
    if tolerations:
        spec["tolerations"] = tolerations
    affinity = _affinity(problem, pod, members, nodes, rules)
    if affinity:
        spec["affinity"] = affinity
    if problem.policy.spread == Spread.ZONE:
        spec["topologySpreadConstraints"] = [{
            "maxSkew": 1, "topologyKey": ZONE, "whenUnsatisfiable": "DoNotSchedule",
            "labelSelector": {"matchLabels": {NAME_LABEL: pod.name}},
        }]
    if batch:
        spec["restartPolicy"] = "OnFailure"  # Always is not allowed in a Job's pods
    return spec


def _term(pod: str) -> dict[str, Any]:
    return {"labelSelector": {"matchLabels": {NAME_LABEL: pod}}, "topologyKey": HOSTNAME}


def _affinity(problem: Problem, pod: PlannedPod, members: list[Container], nodes: list[str],
              rules: _Rules) -> dict[str, Any]:
    affinity: dict[str, Any] = {}
    if rules.with_pods:
        affinity["podAffinity"] = {
            "requiredDuringSchedulingIgnoredDuringExecution": [_term(p) for p in rules.with_pods]}
    required = [_term(p) for p in rules.apart_from]
    # Zone spreading in the model also keeps one replica per node.
    if problem.policy.spread != Spread.NONE:
        required.insert(0, _term(pod.name))
    anti: dict[str, Any] = {}
    if required:
        anti["requiredDuringSchedulingIgnoredDuringExecution"] = required
    if (problem.policy.spread == Spread.NONE and pod.replicas >= 2 and len(nodes) >= 2
            and any(c.critical for c in members)):
        # No hard policy, but the plan spread a critical pod: ask the scheduler to keep that.
        anti["preferredDuringSchedulingIgnoredDuringExecution"] = [
            {"weight": 100, "podAffinityTerm": _term(pod.name)}]
    if anti:
        affinity["podAntiAffinity"] = anti
    return affinity


def _volume_names(members: list[Container]) -> dict[str, str]:
    """Problem volume -> pod volume name (a DNS label, unique in the pod)."""
    names: dict[str, str] = {}
    for c in members:
        for volume in c.volumes:
            if volume in names:
                continue
            base = name = dns_label(volume)
            n = 2
            while name in names.values():
                name = dns_label(f"{base}-{n}")
                n += 1
            names[volume] = name
    return names


def _volume(original: str, name: str) -> dict[str, Any]:
    # The importers name claim-backed volumes `pvc-<claim>`; anything else is pod-local.
    claim = original.removeprefix("pvc-")
    if original.startswith("pvc-") and claim:
        return {"name": name, "persistentVolumeClaim": {"claimName": claim}}
    return {"name": name, "emptyDir": {}}


def _shared_elsewhere(problem: Problem, pod: PlannedPod) -> list[str]:
    """Pod-local volumes of this pod that containers of other pods mount too."""
    inside = set(pod.containers)
    mine = {v for c in problem.containers if c.name in inside for v in c.volumes
            if not v.startswith("pvc-")}
    others = {v for c in problem.containers if c.name not in inside for v in c.volumes}
    return sorted(mine & others)


def _quantities(values: dict[str, Any]) -> dict[str, str]:
    # `pods` is a node limit, never a container resource.
    return {key: format_units(key, to_units(key, amount, round_up=True))
            for key, amount in values.items() if key != "pods"}


def _container(c: Container, volumes: dict[str, str]) -> dict[str, Any]:
    out: dict[str, Any] = {"name": c.name, "image": c.image or MISSING_IMAGE}
    if c.ports:
        out["ports"] = [{"containerPort": p.port, "protocol": p.protocol} for p in c.ports]
    resources: dict[str, Any] = {}
    requests, limits = _quantities(c.requests), _quantities(c.limits)
    if requests:
        resources["requests"] = requests
    if limits:
        resources["limits"] = limits
    if resources:
        out["resources"] = resources
    if c.volumes:
        out["volumeMounts"] = [{"name": volumes[v], "mountPath": f"/mnt/{volumes[v]}"}
                               for v in dict.fromkeys(c.volumes)]
    return out


def _budget(pod: str, namespace: str | None) -> dict[str, Any]:
    return {"apiVersion": "policy/v1", "kind": "PodDisruptionBudget",
            "metadata": _metadata(pod, namespace),
            "spec": {"maxUnavailable": 1, "selector": {"matchLabels": {NAME_LABEL: pod}}}}
