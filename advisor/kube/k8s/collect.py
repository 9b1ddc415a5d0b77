"""The input's objects sorted by what the import does with them: workloads (Pods of one
controller taken together, objects whose owner is in the input left to it), autoscalers,
Services and budgets to read against the workloads, claims, and what is skipped."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from advisor.kube.common import Document, ImportOptions
from advisor.kube.k8s.objects import (
    WORKLOAD_KINDS,
    Ctx,
    Key,
    Located,
    ObjectIndex,
    Objects,
    controller_of,
    finished,
    in_input,
    metadata,
    node_of,
    written_as,
)
from advisor.kube.k8s.parse import parse_workload
from advisor.kube.k8s.services import BUDGET, SERVICE
from advisor.kube.k8s.storage import ClaimModes, access_mode
from advisor.kube.k8s.workload import Workload
from models.problem import MAX_REPLICAS

AUTOSCALER = "HorizontalPodAutoscaler"
# Kinds a HorizontalPodAutoscaler may scale (a DaemonSet has no replica count).
SCALABLE_KINDS = frozenset({"Deployment", "StatefulSet", "ReplicaSet", "ReplicationController"})


@dataclass
class Collected:
    """The objects of the input by what becomes of them."""

    workloads: list[Workload] = field(default_factory=list)
    autoscalers: Objects = field(default_factory=list)
    # Read against the workloads once they are known: what they select.
    services: Objects = field(default_factory=list)
    budgets: Objects = field(default_factory=list)
    claim_modes: ClaimModes = field(default_factory=dict)
    skipped: Counter[str] = field(default_factory=Counter)  # kinds that are no workload
    owned: list[str] = field(default_factory=list)  # objects whose owner is in the input
    finished: int = 0  # Pods that ran to their end
    groups: dict[Key, Workload] = field(default_factory=dict)  # by the Pods' controller
    ran_on: dict[Key, list[str | None]] = field(default_factory=dict)  # owned Pods' nodes


def collect(objects: list[Located], index: ObjectIndex, options: ImportOptions,
            warnings: list[str]) -> Collected:
    """Sort the objects; every workload parsed, with the nodes its owned Pods run on."""
    reader = _Reader(index, options, warnings)
    for obj, doc, line in objects:
        reader.take(obj, doc, line)
    found = reader.found
    for work in found.workloads:
        work.pod_nodes.extend(found.ran_on.get(work.key, []))
    return found


class _Reader:
    """Takes the objects one by one into a Collected."""

    def __init__(self, index: ObjectIndex, options: ImportOptions,
                 warnings: list[str]) -> None:
        self.found = Collected()
        self.index, self.options, self.warnings = index, options, warnings

    def take(self, obj: dict[str, Any], doc: Document, line: int) -> None:
        kind = obj["kind"]
        found = self.found
        if kind == AUTOSCALER:
            found.autoscalers.append((obj, doc))
        elif kind == SERVICE:
            found.services.append((obj, doc))
        elif kind == BUDGET:
            found.budgets.append((obj, doc))
        elif kind == "PersistentVolumeClaim":
            claim_name, claim_namespace, _ = metadata(obj, Ctx(doc, kind))
            found.claim_modes[claim_namespace, claim_name] = access_mode(obj, Ctx(doc, kind))
        elif kind not in WORKLOAD_KINDS:
            found.skipped[kind] += 1
        else:
            self._workload(obj, doc, line)

    def _workload(self, obj: dict[str, Any], doc: Document, line: int) -> None:
        kind = obj["kind"]
        ctx = Ctx(doc, kind)
        name, namespace, meta = metadata(obj, ctx)
        if kind == "Pod" and finished(obj):
            self.found.finished += 1
            return
        # A ReplicaSet of a Deployment, a Pod of a ReplicaSet: the owner says it already.
        owner = self.index.owner_in_input((kind, name, namespace))
        if owner is not None:
            self.found.owned.append(f"{kind} {name}")
            if kind == "Pod":
                self._ran_on(owner, obj)
            return
        # Pods of a controller not in the input (`kubectl get pods`): one workload.
        controller = controller_of(meta, namespace) if kind == "Pod" else None
        written: tuple[str, str] | None = None
        if controller is not None:
            labels = ctx.strings(meta.get("labels"), "metadata.labels")
            written = written_as(controller, labels)
            if self._joins(obj, ctx, name, controller, written, labels):
                return
        work = parse_workload(obj, doc, line, self.options, self.warnings)
        if controller is not None and written is not None:
            work.kind, work.name = written
            work.key = controller
            self.found.groups[controller] = work
        self.found.workloads.append(work)

    def _ran_on(self, owner: Key, pod: dict[str, Any]) -> None:
        self.found.ran_on.setdefault(self.index.top(owner), []).append(node_of(pod))

    def _joins(self, pod: dict[str, Any], ctx: Ctx, name: str, controller: Key,
               written: tuple[str, str], labels: dict[str, str]) -> bool:
        """Whether a Pod of a controller counts with a workload already known: the one its
        controller's user wrote, when in the input (without the ReplicaSet between them),
        or the first Pod read of the same controller."""
        # A controller is in the namespace of its Pods.
        owner = in_input((*written, controller[2]), self.index.present)
        if owner is not None:
            self.found.owned.append(f"Pod {name}")
            self._ran_on(owner, pod)
            return True
        group = self.found.groups.get(controller)
        if group is None:
            return False
        if group.replicas >= MAX_REPLICAS:
            ctx.fail("", f"more Pods of {group.what} than this tool supports ({MAX_REPLICAS})")
        group.replicas += 1
        group.pod_nodes.append(node_of(pod))
        # What every Pod carries: the template's labels, not one Pod's own.
        group.labels = {k: v for k, v in group.labels.items() if labels.get(k) == v}
        return True


def autoscale(autoscalers: Objects, workloads: list[Workload], warnings: list[str]) -> None:
    """A HorizontalPodAutoscaler keeps its target at minReplicas or more: the layout is
    planned for at least that many (more run under load, as many as maxReplicas)."""
    for obj, doc in autoscalers:
        ctx = Ctx(doc, AUTOSCALER)
        name, namespace, _ = metadata(obj, ctx)
        ctx.what = f"{AUTOSCALER} {name}"
        spec = ctx.mapping(obj.get("spec"), "spec")
        ref = ctx.mapping(spec.get("scaleTargetRef"), "spec.scaleTargetRef")
        kind = ctx.text(ref.get("kind"), "spec.scaleTargetRef.kind")
        target = ctx.text(ref.get("name"), "spec.scaleTargetRef.name")
        least = ctx.count(spec.get("minReplicas"), "spec.minReplicas")
        most = spec.get("maxReplicas")
        work = next((w for w in workloads if w.kind == kind and w.name == target
                     and kind in SCALABLE_KINDS
                     and (namespace is None or w.namespace in (None, namespace))), None)
        if work is None:
            warnings.append(f"{ctx.what}: its target {kind} {target} is not a workload of the "
                            "input it can scale; it is left out")
            continue
        if work.replicas == 0:
            continue  # autoscaling is off while a workload is scaled to 0
        current = work.replicas
        work.replicas = max(current, least)
        span = f"between {least} and {most}" if isinstance(most, int) else f"to {least} or more"
        warnings.append(f"{ctx.what} scales {work.what} {span} replicas: modelled at "
                        f"{work.replicas}, the larger of its {current} replica(s) and "
                        "minReplicas")


def running(found: Collected, warnings: list[str]) -> list[Workload]:
    """The workloads with something running; what was skipped, and why, is warned."""
    idle = [w.what for w in found.workloads if w.replicas == 0]
    if found.skipped:
        listed = ", ".join(f"{k} ({n})" for k, n in sorted(found.skipped.items()))
        warnings.append(f"skipped {sum(found.skipped.values())} object(s) that are not "
                        f"workloads: {listed}")
    if found.owned:
        warnings.append("skipped objects whose owner is in the input too: "
                        + ", ".join(found.owned))
    if found.finished:
        warnings.append(f"skipped {found.finished} Pod(s) that have finished (Succeeded or "
                        "Failed): they hold no resources")
    if idle:
        warnings.append("skipped workloads scaled to 0 (nothing of them runs): "
                        + ", ".join(idle))
    return [w for w in found.workloads if w.replicas > 0]
