"""The problem's wire form of the imported workloads: containers with the source they
came from (for export), the policy, and the layout that runs today."""

from __future__ import annotations

from typing import Any

from advisor.kube.common import ImportOptions
from advisor.kube.k8s.objects import metadata, plain, walk
from advisor.kube.k8s.placements import placements
from advisor.kube.k8s.storage import volume_name
from advisor.kube.k8s.workload import Cont, Workload

# What controllers and injectors write on the Pods they create, not on the template:
# carried into exported manifests they would be stale (or, for Istio's status, stop the
# injection the export relies on).
POD_ONLY_LABELS = frozenset({
    "pod-template-hash", "controller-revision-hash", "pod-template-generation",
    "statefulset.kubernetes.io/pod-name", "apps.kubernetes.io/pod-index", "controller-uid",
    "batch.kubernetes.io/controller-uid", "job-name", "batch.kubernetes.io/job-name",
    "security.istio.io/tlsMode", "service.istio.io/canonical-name",
    "service.istio.io/canonical-revision",
})
POD_ONLY_ANNOTATIONS = ("sidecar.istio.io/status", "kubectl.kubernetes.io/last-applied-",
                        "cni.projectcalico.org/", "k8s.v1.cni.cncf.io/", "kubernetes.io/config.")
# Kinds whose selector cannot change once applied: export writes it as it is.
_FIXED_SELECTOR_KINDS = ("Deployment", "StatefulSet", "ReplicaSet")


def container_dict(work: Workload, cont: Cont, main: bool) -> dict[str, Any]:
    """One container of the problem (`main`: its workload's main container, which carries
    the replicas and, once per workload, the template's metadata)."""
    out: dict[str, Any] = {"name": cont.name}
    if cont.image:
        out["image"] = cont.image
    out["requests"] = dict(cont.requests)
    if cont.limits:
        out["limits"] = dict(cont.limits)
    if cont.ports:
        out["ports"] = [p if proto == "TCP" else {"port": p, "protocol": proto}
                        for p, proto in cont.ports]
    if cont.mounts:
        out["volumes"] = [volume_name(work, m) for m in cont.mounts]
    if main:
        out["replicas"] = work.replicas
    if work.kind in ("Job", "CronJob"):
        out["critical"] = False  # a batch run failing stops no service
    if work.node_selector:
        out["nodeSelector"] = dict(work.node_selector)
    if work.tolerations:
        out["tolerations"] = [dict(t) for t in work.tolerations]
    out["source"] = _source(work, cont, main)
    if cont.defaulted:
        out["defaultedRequests"] = list(cont.defaulted)
    return out


def _source(work: Workload, cont: Cont, main: bool) -> dict[str, Any]:
    """Where a container comes from: what export needs to write its workload again."""
    source: dict[str, Any] = {"kind": work.kind, "workload": work.name,
                              "container": cont.k8s_name}
    if work.namespace:
        source["namespace"] = work.namespace
    if cont.injected_by:
        source["injectedBy"] = cont.injected_by
    source["file"], source["line"] = work.ctx.doc.source, work.line
    if cont.line is not None:
        source["containerLine"] = cont.line
    if not main:  # the rest once per workload: the problem stays small
        return source
    labels, annotations = _template_metadata(work)
    if labels:
        source["labels"] = labels
    if annotations:
        source["annotations"] = annotations
    selector = _selector(work)
    if selector:
        source["selector"] = selector
    return source


def _template_metadata(work: Workload) -> tuple[dict[str, str], dict[str, str]]:
    """The labels and annotations an export should give the pod template again."""
    if not work.from_pods:
        return dict(work.labels), dict(work.annotations)
    labels = {k: v for k, v in work.labels.items() if k not in POD_ONLY_LABELS}
    annotations = {k: v for k, v in work.annotations.items()
                   if not k.startswith(POD_ONLY_ANNOTATIONS)}
    return labels, annotations


def _selector(work: Workload) -> dict[str, Any] | None:
    """The workload's own selector, found again in its document (a List may hold several
    workloads); None for kinds whose selector export may write anew."""
    if work.from_pods or work.kind not in _FIXED_SELECTOR_KINDS:
        return None
    for obj in walk(work.ctx.doc):
        if obj["kind"] != work.kind:
            continue
        name, namespace, _ = metadata(obj, work.ctx)
        spec = obj.get("spec")
        if (name, namespace) == (work.name, work.namespace) and isinstance(spec, dict):
            selector = spec.get("selector")
            return plain(selector) if isinstance(selector, dict) and selector else None
    return None


def problem_dict(containers: list[dict[str, Any]], hints: list[dict[str, Any]], spread: str,
                 options: ImportOptions) -> dict[str, Any]:
    """The problem's containers, hints and policy; the other sections follow."""
    policy: dict[str, Any] = {"spread": spread}
    if options.time_limit_seconds is not None:
        policy["timeLimitSeconds"] = float(options.time_limit_seconds)
    return {"containers": containers, "hints": hints, "policy": policy}


def layout(workloads: list[Workload], options: ImportOptions,
           warnings: list[str]) -> dict[str, Any]:
    """Today's layout: one pod per workload, and where its Pods run when they were read."""
    out: dict[str, Any] = {"pods": [
        {"name": w.pod_name, "containers": [c.name for c in w.containers],
         "replicas": w.replicas} for w in workloads]}
    placed = placements(workloads, options, warnings)
    if placed:
        out["placements"] = placed
    return out
