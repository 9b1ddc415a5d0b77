"""Kubernetes manifests (or `kubectl get pods|all -o json`) as a layout problem.

Every workload (Deployment, StatefulSet, ReplicaSet, ReplicationController, Job, CronJob,
Pod) becomes one pod of the problem's `layout`, so that review scores what runs today; its
containers, requests, ports, volumes, scheduling rules and injected sidecars become the
problem's containers and hints, so that advise may regroup them. Pods whose controller is
not in the input are grouped by it into one workload, and where they run (spec.nodeName on
a node given) becomes `layout.placements`. A DaemonSet runs on every node it admits: it is
no pod to place but per-node overhead, taken off each node's allocatable. A
HorizontalPodAutoscaler raises its target to its minReplicas. Services that select several
workloads and PodDisruptionBudgets are read against the workloads in `services.py`.

Required spreading becomes `policy.spread` only when every replicated workload asks for it,
as that one setting holds for every pod; otherwise it is left to the SPOF objective.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, NoReturn

from pydantic import ValidationError

from advisor.kube.common import (
    CLAIM_PREFIX,
    HOSTNAME_LABEL,
    ZONE_LABELS,
    Document,
    ImportOptions,
    ImportResult,
    ManifestError,
    attach_nodes,
    container_names,
    describe,
    dns_label,
    list_items,
)
from advisor.prepare import tolerates
from models.problem import KNOWN_RESOURCES, MAX_REPLICAS, Taint, Toleration
from models.quantity import QuantityError, format_quantity, parse_quantity

WORKLOAD_KINDS: frozenset[str] = frozenset({
    "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "ReplicationController", "Job",
    "CronJob", "Pod",
})
AUTOSCALER = "HorizontalPodAutoscaler"
# Kinds a HorizontalPodAutoscaler may scale (a DaemonSet has no replica count).
SCALABLE_KINDS = frozenset({"Deployment", "StatefulSet", "ReplicaSet", "ReplicationController"})

# Labels the kubelet puts on every node. A selector on them only says "a Linux (amd64)
# node": when the node list does not carry the label at all, it would exclude every node.
WELL_KNOWN_NODE_LABELS = {
    "kubernetes.io/os": "linux", "beta.kubernetes.io/os": "linux",
    "kubernetes.io/arch": "amd64", "beta.kubernetes.io/arch": "amd64",
}
# Taints the DaemonSet controller tolerates on its own.
DAEMONSET_TOLERATIONS = [Toleration(key=key, operator="Exists") for key in (
    "node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable",
    "node.kubernetes.io/disk-pressure", "node.kubernetes.io/memory-pressure",
    "node.kubernetes.io/pid-pressure", "node.kubernetes.io/unschedulable",
    "node.kubernetes.io/network-unavailable",
)]
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
ISTIO_STATUS = "sidecar.istio.io/status"
DAPR_PORTS = (3500, 50001)
DEFAULT_CONTAINER = "kubectl.kubernetes.io/default-container"
# Containers that serve another one of their pod, known by their name or their image's:
# never the main container just because they are listed first.
_HELPERS: dict[str, str] = {
    **dict.fromkeys(("envoy", "istio-proxy", "proxyv2", "linkerd-proxy", "linkerd2-proxy",
                     "proxy", "oauth2-proxy", "kube-rbac-proxy", "nginx-proxy",
                     "cloud-sql-proxy", "cloudsql-proxy", "gce-proxy", "esp", "esp-v2",
                     "ambassador"), "a proxy"),
    **dict.fromkeys(("fluent-bit", "fluentbit", "fluentd", "filebeat", "promtail", "vector",
                     "logrotate", "log-shipper", "logshipper"), "a log shipper"),
    **dict.fromkeys(("configmap-reload", "config-reload", "config-reloader",
                     "prometheus-config-reloader", "k8s-sidecar", "reloader", "git-sync",
                     "consul-template"), "a config reloader"),
    **dict.fromkeys(("vault-agent", "vault-agent-init", "secrets-store", "secrets-agent"),
                    "a secrets agent"),
    **dict.fromkeys(("jaeger-agent", "otel-agent", "otel-collector",
                     "opentelemetry-collector", "opentelemetry-collector-contrib"),
                    "a telemetry agent"),
    **dict.fromkeys(("exporter", "metrics-exporter"), "a metrics exporter"),
}
_HELPER_SUFFIXES: tuple[tuple[str, str], ...] = (
    ("-exporter", "a metrics exporter"), ("_exporter", "a metrics exporter"),
    ("-proxy", "a proxy"), ("-sidecar", "a sidecar"), ("-reloader", "a config reloader"),
    ("-reload", "a config reloader"), ("-shipper", "a log shipper"),
)
_ADAPTER = re.compile(r"exporter|metrics|prometheus")
_AMBASSADOR = re.compile(r"proxy|envoy|ambassador")
# A ReplicaSet a Deployment made: `<deployment>-<pod-template-hash>` (safe alphabet).
_REPLICASET_OF_DEPLOYMENT = re.compile(r"(?P<owner>.+)-[bcdfghjklmnpqrstvwxz2456789]{5,10}")
_SPREAD_RANK = {"none": 0, "node": 1, "zone": 2}
_FINISHED = ("Succeeded", "Failed")
_LISTED = 6  # nodes named in a warning before "and N more"

Key = tuple[str, str, str | None]  # kind, name, namespace


def is_k8s(data: object) -> bool:
    """Kubernetes objects: a mapping with apiVersion and kind, or a List (or list) of them."""
    if isinstance(data, Mapping):
        if isinstance(data.get("apiVersion"), str) and isinstance(data.get("kind"), str):
            return True
        items = data.get("items")
        return isinstance(items, list) and bool(items) and all(is_k8s(i) for i in items)
    if isinstance(data, list):
        return bool(data) and all(is_k8s(i) for i in data)
    return False


class _Ctx:
    """Where in the input a value comes from, to raise errors that name it."""

    def __init__(self, doc: Document, what: str) -> None:
        self.doc, self.what = doc, what

    def fail(self, path: str, message: str) -> NoReturn:
        where = f"{self.what}: {path}" if path else self.what
        raise ManifestError(self.doc.source, f"{where}: {message}", self.doc.line)

    def mapping(self, value: object, path: str) -> dict[str, Any]:
        if value is None:
            return {}
        if not isinstance(value, Mapping):
            self.fail(path, f"expected a mapping, got {describe(value)}")
        return {str(k): v for k, v in value.items()}

    def seq(self, value: object, path: str) -> list[Any]:
        if value is None:
            return []
        if not isinstance(value, list):
            self.fail(path, f"expected a list, got {describe(value)}")
        return value

    def entries(self, value: object, path: str) -> Iterator[tuple[str, dict[str, Any]]]:
        """The mappings of a list, each with its path."""
        for i, item in enumerate(self.seq(value, path)):
            yield f"{path}[{i}]", self.mapping(item, f"{path}[{i}]")

    def text(self, value: object, path: str) -> str:
        if not isinstance(value, str) or not value:
            self.fail(path, f"expected a non-empty string, got {describe(value)}")
        return value

    def strings(self, value: object, path: str) -> dict[str, str]:
        """Labels, annotations, selectors: string values (scalars written bare are taken
        as their text, as `kubectl` would reject them only at apply time)."""
        out: dict[str, str] = {}
        for key, item in self.mapping(value, path).items():
            if isinstance(item, bool):
                out[key] = "true" if item else "false"
            elif isinstance(item, str | int | float):
                out[key] = str(item)
            elif item is None:
                out[key] = ""
            else:
                self.fail(f"{path}.{key}", f"expected a string, got {describe(item)}")
        return out

    def count(self, value: object, path: str) -> int:
        if value is None:
            return 1
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            self.fail(path, f"expected a whole number >= 0, got {value!r}")
        if value > MAX_REPLICAS:
            self.fail(path, f"{value} replicas is more than this tool supports ({MAX_REPLICAS})")
        return value

    def quantity(self, value: object, path: str) -> Decimal:
        try:
            amount = parse_quantity(value)
        except QuantityError as exc:
            self.fail(path, str(exc))
        if amount < 0:
            self.fail(path, f"quantity {value!r} is negative")
        return amount


def _quantity_text(resource: str, value: object, amount: Decimal) -> str:
    # Keep the manifest's own spelling; numbers become strings, as the wire format writes them.
    return value if isinstance(value, str) else format_quantity(resource, amount)


@dataclass
class _Cont:
    """One container of a workload, as the problem will carry it."""

    k8s_name: str
    role: str  # app | native (sidecar init container) | istio | daprd
    image: str | None = None
    requests: dict[str, str] = field(default_factory=dict)
    limits: dict[str, str] = field(default_factory=dict)
    defaulted: list[str] = field(default_factory=list)
    ports: list[tuple[int, str]] = field(default_factory=list)
    mounts: list[str] = field(default_factory=list)
    name: str = ""  # the problem's name, given once every workload is known
    injected_by: str | None = None  # istio | dapr: an admission webhook adds it
    line: int | None = None  # of its entry in the pod template, when the input tells

    def amount(self, resource: str) -> Decimal:
        return parse_quantity(self.requests[resource]) if resource in self.requests else Decimal(0)


@dataclass
class _Workload:
    kind: str
    name: str
    namespace: str | None
    ctx: _Ctx
    labels: dict[str, str]
    annotations: dict[str, str]
    replicas: int
    containers: list[_Cont]
    # Init containers in order: a native sidecar (running), or another one's requests.
    inits: list[tuple[str, _Cont | dict[str, Decimal]]] = field(default_factory=list)
    node_selector: dict[str, str] = field(default_factory=dict)
    tolerations: list[dict[str, Any]] = field(default_factory=list)
    claims: dict[str, str] = field(default_factory=dict)  # pod volume -> PVC claim name
    empty_dirs: set[str] = field(default_factory=set)
    anti_affinity: list[dict[str, Any]] = field(default_factory=list)  # required terms
    affinity: list[dict[str, Any]] = field(default_factory=list)
    spread: str = "none"
    spread_why: str = ""
    loose: list[str] = field(default_factory=list)  # required spreading weaker than a node's
    pod_name: str = ""
    key: Key = ("", "", None)  # the object (or Pods' controller) it stands for
    pod_nodes: list[str | None] = field(default_factory=list)  # where its Pods run, if read
    from_pods: bool = False  # read from Pods of a cluster, not from a template
    line: int = 1  # where its object starts in ctx.doc

    @property
    def what(self) -> str:
        return f"{self.kind} {self.name}"


def _walk(doc: Document) -> Iterator[dict[str, Any]]:
    """The objects of a document: itself, or the items of a List (nested Lists too)."""
    for obj, _ in _walk_located(doc):
        yield obj


def _walk_located(doc: Document) -> Iterator[tuple[dict[str, Any], int]]:
    """The objects of a document, each with the line where it starts (the document's own
    for a single object or input read without lines)."""
    ctx = _Ctx(doc, "document")
    for value in list_items(doc.data, doc,
                            "a Kubernetes object (a mapping with apiVersion and kind)"):
        kind = value.get("kind")
        if not isinstance(kind, str) or not kind:
            ctx.fail("kind", "not a Kubernetes object: no kind")
        yield {str(k): v for k, v in value.items()}, doc.line_of(value) or doc.line


def _metadata(obj: dict[str, Any], ctx: _Ctx) -> tuple[str, str | None, dict[str, Any]]:
    meta = ctx.mapping(obj.get("metadata"), "metadata")
    name = meta.get("name") or meta.get("generateName")
    name = ctx.text(name, "metadata.name").rstrip("-")
    namespace = meta.get("namespace")
    if namespace is not None:
        namespace = ctx.text(namespace, "metadata.namespace")
    return name, namespace, meta


def _owners(meta: dict[str, Any]) -> list[Mapping[Any, Any]]:
    owners = meta.get("ownerReferences")
    if not isinstance(owners, list):
        return []
    return [o for o in owners if isinstance(o, Mapping) and isinstance(o.get("kind"), str)
            and isinstance(o.get("name"), str)]


def _owner_keys(meta: dict[str, Any], namespace: str | None) -> list[Key]:
    return [(o["kind"], o["name"], namespace) for o in _owners(meta)]


def _controller(meta: dict[str, Any], namespace: str | None) -> Key | None:
    """The controller that made a Pod, when its Pods are alike: a static Pod's mirror is
    owned by its Node, and every one of those is a different Pod."""
    return next(((o["kind"], o["name"], namespace) for o in _owners(meta)
                 if o.get("controller") is True and o["kind"] != "Node"), None)


def _in(key: Key, present: set[Key]) -> Key | None:
    """The object of the input a reference names: a manifest without a namespace is
    applied to its dependants' namespace too."""
    for candidate in (key, (key[0], key[1], None)):
        if candidate in present:
            return candidate
    return None


def _pod_template(obj: dict[str, Any], kind: str, ctx: _Ctx
                  ) -> tuple[dict[str, Any], dict[str, Any], str, str]:
    """(template metadata, pod spec, metadata path, spec path) of a workload."""
    spec = ctx.mapping(obj.get("spec"), "spec")
    if kind == "Pod":
        return ctx.mapping(obj.get("metadata"), "metadata"), spec, "metadata", "spec"
    base = "spec"
    if kind == "CronJob":
        job = ctx.mapping(spec.get("jobTemplate"), "spec.jobTemplate")
        spec = ctx.mapping(job.get("spec"), "spec.jobTemplate.spec")
        base = "spec.jobTemplate.spec"
    template = ctx.mapping(spec.get("template"), f"{base}.template")
    if not template:
        ctx.fail(f"{base}.template", "missing: a workload needs a pod template")
    return (ctx.mapping(template.get("metadata"), f"{base}.template.metadata"),
            ctx.mapping(template.get("spec"), f"{base}.template.spec"),
            f"{base}.template.metadata", f"{base}.template.spec")


def _resources(entry: dict[str, Any], path: str, ctx: _Ctx
               ) -> tuple[dict[str, str], dict[str, str]]:
    """Requests and limits as strings, a limit without a request also being the request."""
    res = ctx.mapping(entry.get("resources"), f"{path}.resources")
    out: list[dict[str, str]] = []
    amounts: list[dict[str, Decimal]] = []
    for part in ("requests", "limits"):
        texts: dict[str, str] = {}
        values: dict[str, Decimal] = {}
        for key, value in ctx.mapping(res.get(part), f"{path}.resources.{part}").items():
            where = f"{path}.resources.{part}.{key}"
            if "/" not in key and key not in KNOWN_RESOURCES and not key.startswith(
                    "hugepages-"):
                ctx.fail(where, f"unknown resource {key!r}")
            amount = ctx.quantity(value, where)
            texts[key], values[key] = _quantity_text(key, value, amount), amount
        out.append(texts)
        amounts.append(values)
    requests, limits = out
    for key, limit in amounts[1].items():
        if key in amounts[0] and amounts[0][key] > limit:
            ctx.fail(f"{path}.resources.requests.{key}",
                     f"{requests[key]} is above its limit {limits[key]}")
        requests.setdefault(key, limits[key])
    return requests, limits


def _ports(entry: dict[str, Any], path: str, ctx: _Ctx) -> list[tuple[int, str]]:
    ports: list[tuple[int, str]] = []
    for where, item in ctx.entries(entry.get("ports"), f"{path}.ports"):
        port = item.get("containerPort")
        if isinstance(port, str) and port.isdigit():
            port = int(port)
        if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
            ctx.fail(f"{where}.containerPort", f"expected a port number 1-65535, got {port!r}")
        protocol = item.get("protocol") or "TCP"
        if protocol not in ("TCP", "UDP", "SCTP"):
            ctx.fail(f"{where}.protocol", f"expected TCP, UDP or SCTP, got {protocol!r}")
        if (port, protocol) not in ports:
            ports.append((port, protocol))
    return ports


def _container(entry: object, path: str, role: str, ctx: _Ctx) -> _Cont:
    item = ctx.mapping(entry, path)  # a copy: the entry itself says where it is written
    name = ctx.text(item.get("name"), f"{path}.name")
    image = item.get("image")
    requests, limits = _resources(item, path, ctx)
    mounts: list[str] = []
    for where, mount in ctx.entries(item.get("volumeMounts"), f"{path}.volumeMounts"):
        volume = ctx.text(mount.get("name"), f"{where}.name")
        if volume not in mounts:
            mounts.append(volume)
    return _Cont(name, role, image if isinstance(image, str) and image else None, requests,
                 limits, [], _ports(item, path, ctx), mounts, line=ctx.doc.line_of(entry))


def _fill_defaults(cont: _Cont, defaults: dict[str, str]) -> None:
    """A container without cpu or memory request gets the import's assumed amount, named
    in `defaultedRequests` so that the advisor reports it (NO_REQUESTS)."""
    for resource in ("cpu", "memory"):
        if resource not in cont.requests and resource in defaults:
            cont.requests[resource] = defaults[resource]
            cont.defaulted.append(resource)


def _tolerations(spec: dict[str, Any], path: str, ctx: _Ctx) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for where, item in ctx.entries(spec.get("tolerations"), f"{path}.tolerations"):
        toleration: dict[str, Any] = {}
        key = item.get("key")
        if key not in (None, ""):
            toleration["key"] = ctx.text(key, f"{where}.key")
        operator = item.get("operator") or "Equal"
        if operator not in ("Equal", "Exists"):
            ctx.fail(f"{where}.operator", f"expected Equal or Exists, got {operator!r}")
        toleration["operator"] = operator
        value = item.get("value")
        if value not in (None, ""):
            toleration["value"] = str(value)
        effect = item.get("effect")
        if effect not in (None, ""):
            if effect not in ("NoSchedule", "PreferNoSchedule", "NoExecute"):
                ctx.fail(f"{where}.effect",
                         f"expected NoSchedule, PreferNoSchedule or NoExecute, got {effect!r}")
            toleration["effect"] = effect
        seconds = item.get("tolerationSeconds")
        if isinstance(seconds, int) and not isinstance(seconds, bool):
            toleration["tolerationSeconds"] = seconds
        out.append(toleration)
    return out


def _node_affinity(spec: dict[str, Any], path: str, ctx: _Ctx, warnings: list[str]
                   ) -> dict[str, str]:
    """Required node affinity that is a plain selector (one term, `In` with one value per
    expression) as a nodeSelector; anything richer is left out with a warning."""
    affinity = ctx.mapping(spec.get("affinity"), f"{path}.affinity")
    node = ctx.mapping(affinity.get("nodeAffinity"), f"{path}.affinity.nodeAffinity")
    required = node.get("requiredDuringSchedulingIgnoredDuringExecution")
    if required is None:
        return {}
    where = f"{path}.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution"
    terms = ctx.seq(ctx.mapping(required, where).get("nodeSelectorTerms"),
                    f"{where}.nodeSelectorTerms")
    selector: dict[str, str] = {}
    plain = len(terms) == 1
    if plain:
        term = ctx.mapping(terms[0], f"{where}.nodeSelectorTerms[0]")
        expressions = ctx.seq(term.get("matchExpressions"),
                              f"{where}.nodeSelectorTerms[0].matchExpressions")
        plain = bool(expressions) and not term.get("matchFields")
        for _, expr in ctx.entries(expressions, f"{where}.nodeSelectorTerms[0].matchExpressions"):
            values, key = expr.get("values"), expr.get("key")
            if (expr.get("operator") == "In" and isinstance(key, str)
                    and isinstance(values, list) and len(values) == 1
                    and isinstance(values[0], str | int | float)):
                selector[key] = str(values[0])
            else:
                plain = False
    if not plain:
        warnings.append(f"{ctx.what}: required nodeAffinity other than one `In` term with "
                        "one value per key is not modelled; it is left out")
        return {}
    return selector


def _parse_workload(obj: dict[str, Any], doc: Document, line: int, options: ImportOptions,
                    warnings: list[str]) -> _Workload:
    kind = obj["kind"]
    ctx = _Ctx(doc, kind)
    name, namespace, _ = _metadata(obj, ctx)
    ctx.what = f"{kind} {name}"
    meta, spec, meta_path, path = _pod_template(obj, kind, ctx)
    top = ctx.mapping(obj.get("spec"), "spec")
    if kind in ("Job", "CronJob"):
        job = top if kind == "Job" else ctx.mapping(
            ctx.mapping(top.get("jobTemplate"), "spec.jobTemplate").get("spec"),
            "spec.jobTemplate.spec")
        prefix = "spec" if kind == "Job" else "spec.jobTemplate.spec"
        replicas = ctx.count(job.get("parallelism"), f"{prefix}.parallelism")
        if job.get("completions") is not None:
            # Never more pods at once than completions still to make.
            replicas = min(replicas, ctx.count(job.get("completions"), f"{prefix}.completions"))
    elif kind in ("Pod", "DaemonSet"):
        replicas = 1  # a DaemonSet is per-node overhead, not replicas to place
    else:
        replicas = ctx.count(top.get("replicas"), "spec.replicas")
    labels = ctx.strings(meta.get("labels"), f"{meta_path}.labels")
    annotations = ctx.strings(meta.get("annotations"), f"{meta_path}.annotations")
    entries = ctx.seq(spec.get("containers"), f"{path}.containers")
    if not entries:
        ctx.fail(f"{path}.containers", "a workload needs at least one container")
    apps = [_container(e, f"{path}.containers[{i}]", "app", ctx) for i, e in enumerate(entries)]
    work = _Workload(kind, name, namespace, ctx, labels, annotations, replicas, apps,
                     key=(kind, name, namespace), from_pods=kind == "Pod", line=line)
    if kind == "Pod":
        work.pod_nodes.append(_node_of(obj))
    for i, entry in enumerate(ctx.seq(spec.get("initContainers"), f"{path}.initContainers")):
        where = f"{path}.initContainers[{i}]"
        init = _container(entry, where, "native", ctx)
        if ctx.mapping(entry, where).get("restartPolicy") == "Always":
            work.containers.append(init)
            work.inits.append((init.k8s_name, init))
        else:
            work.inits.append((init.k8s_name,
                               {k: parse_quantity(v) for k, v in init.requests.items()}))
    _mark_injected(work)
    names = Counter(c.k8s_name for c in work.containers)
    for cname, n in names.items():
        if n > 1:
            ctx.fail(f"{path}.containers", f"container name {cname!r} is used {n} times")
    for cont in work.containers:
        _fill_defaults(cont, options.default_requests)
    for where, volume in ctx.entries(spec.get("volumes"), f"{path}.volumes"):
        vname = ctx.text(volume.get("name"), f"{where}.name")
        claim = volume.get("persistentVolumeClaim")
        if claim is not None:
            claim_name = ctx.mapping(claim, f"{where}.persistentVolumeClaim").get("claimName")
            work.claims[vname] = ctx.text(claim_name, f"{where}.persistentVolumeClaim.claimName")
        elif "emptyDir" in volume:
            work.empty_dirs.add(vname)
    work.node_selector = ctx.strings(spec.get("nodeSelector"), f"{path}.nodeSelector")
    work.node_selector.update(_node_affinity(spec, path, ctx, warnings))
    work.tolerations = _tolerations(spec, path, ctx)
    affinity = ctx.mapping(spec.get("affinity"), f"{path}.affinity")
    for key, bucket in (("podAntiAffinity", work.anti_affinity), ("podAffinity", work.affinity)):
        section = ctx.mapping(affinity.get(key), f"{path}.affinity.{key}")
        where = f"{path}.affinity.{key}.requiredDuringSchedulingIgnoredDuringExecution"
        bucket.extend(term for _, term in ctx.entries(
            section.get("requiredDuringSchedulingIgnoredDuringExecution"), where))
    for _, item in ctx.entries(spec.get("topologySpreadConstraints"),
                               f"{path}.topologySpreadConstraints"):
        if item.get("whenUnsatisfiable") != "DoNotSchedule":
            continue  # a soft rule: the advisor's objective spreads anyway
        topology = item.get("topologyKey")
        selector = item.get("labelSelector")
        skew = item.get("maxSkew", 1)
        over = ("zones" if topology in ZONE_LABELS
                else "nodes" if topology == HOSTNAME_LABEL else None)
        if selector is not None and not _selects(selector, labels):
            warnings.append(f"{work.what}: a topology spread constraint over other pods' "
                            "labels is not modelled; it is left out")
        elif over is not None and skew != 1:
            # Looser than the advisor's spreading, which keeps one replica per node.
            work.loose.append(f"a topology spread constraint over {over} with maxSkew {skew}")
        elif over is not None:
            _ask_spread(work, "zone" if over == "zones" else "node",
                        f"a topology spread constraint over {over}")
        else:
            warnings.append(f"{work.what}: a topology spread constraint over {topology!r} is not "
                            "modelled (only zones and nodes are); it is left out")
    return work


def _mark_injected(work: _Workload) -> None:
    """Sidecars a webhook added to Pods read from a cluster: they run, and an export
    leaves them to the webhook again. They follow the workload's own containers."""
    for cont in work.containers:
        if cont.k8s_name == "istio-proxy" and ISTIO_STATUS in work.annotations:
            cont.role, cont.injected_by = "istio", "istio"
        elif (cont.k8s_name == "daprd"
              and work.annotations.get("dapr.io/enabled", "").lower() == "true"):
            cont.role, cont.injected_by = "daprd", "dapr"
    own = [c for c in work.containers if c.injected_by is None]
    if own:
        work.containers = own + [c for c in work.containers if c.injected_by is not None]


def _ask_spread(work: _Workload, level: str, why: str) -> None:
    if _SPREAD_RANK[level] > _SPREAD_RANK[work.spread]:
        work.spread, work.spread_why = level, why


def _selects(selector: object, labels: dict[str, str]) -> bool:
    """A label selector (matchLabels and matchExpressions) against pod labels; a malformed
    selector selects nothing, as the API server would have refused it."""
    if not isinstance(selector, Mapping):
        return False
    match = selector.get("matchLabels")
    if match is not None:
        if not isinstance(match, Mapping):
            return False
        if any(labels.get(str(k)) != str(v) for k, v in match.items()):
            return False
    expressions = selector.get("matchExpressions")
    if expressions is None:
        return True
    if not isinstance(expressions, list):
        return False
    for expr in expressions:
        if not isinstance(expr, Mapping):
            return False
        key, op = expr.get("key"), expr.get("operator")
        raw = expr.get("values")
        values = [str(v) for v in raw] if isinstance(raw, list) else []
        if not isinstance(key, str):
            return False
        if op == "In" and labels.get(key) not in values:
            return False
        if op == "NotIn" and key in labels and labels[key] in values:
            return False
        if op == "Exists" and key not in labels:
            return False
        if op == "DoesNotExist" and key in labels:
            return False
        if op not in ("In", "NotIn", "Exists", "DoesNotExist"):
            return False
    return True


def _namespaces_match(term: dict[str, Any], own: str | None, other: str | None) -> bool:
    """Whether an affinity term of a pod in `own` looks at pods in `other`. A workload
    without a namespace is applied to whichever namespace is current: it matches any."""
    if own is None or other is None or term.get("namespaceSelector") is not None:
        return True
    listed = term.get("namespaces")
    if isinstance(listed, list) and listed:
        return other in [str(n) for n in listed]
    return own == other


def _unique_pod_names(workloads: list[_Workload]) -> None:
    """Workload names as pod names, made unique across kinds and namespaces."""
    used: set[str] = set()
    for work in workloads:
        base = dns_label(work.name)
        candidates = [base]
        if work.namespace:
            candidates.append(dns_label(f"{work.name}-{work.namespace}"))
        candidates.append(dns_label(f"{work.name}-{work.kind}"))
        name = next((c for c in candidates if c not in used), "")
        n = 2
        while not name:
            name = dns_label(f"{base}-{n}") if dns_label(f"{base}-{n}") not in used else ""
            n += 1
        used.add(name)
        work.pod_name = name


def _image_name(image: str | None) -> str:
    """An image's own name: `quay.io/org/config-reloader:v1@sha256:..` -> config-reloader."""
    if not image:
        return ""
    name = image.split("@", 1)[0].rsplit("/", 1)[-1]
    return name.split(":", 1)[0].lower()


def _helper_kind(cont: _Cont) -> str | None:
    """What helper a container is by its name or its image's ("a proxy"), or None."""
    for text in (cont.k8s_name.lower(), _image_name(cont.image)):
        if not text:
            continue
        if text in _HELPERS:
            return _HELPERS[text]
        for suffix, kind in _HELPER_SUFFIXES:
            if text.endswith(suffix) and len(text) > len(suffix):
                return kind
    return None


def _named_like(container: str, workload: str) -> bool:
    """Whether a container's name says it is its workload's (`payment` in `payment-service`,
    `grafana` in `my-grafana`, `web-app` in `web`), on whole `-`/`_`/`.` parts only."""
    a, b = container.lower(), workload.lower()
    if a == b:
        return True
    short, long = sorted((a, b), key=len)
    return any(long.startswith(short + sep) or long.endswith(sep + short) for sep in "-_.")


def _choose_main(work: _Workload, warnings: list[str] | None) -> None:
    """Put the pod's main container first, which every later step takes as the main.

    In order: the template's kubectl.kubernetes.io/default-container annotation (when it
    names one of the pod's containers), a container named like its workload (its exact
    name first), the first one that is not a known helper (proxy, log shipper, config
    reloader, exporter, ...), the first one. Native sidecars and injected ones are helpers
    by definition. When the annotation did not decide among several containers, a warning
    says what did (None: say nothing, for DaemonSets, which are node overhead)."""
    apps = [c for c in work.containers if c.role == "app" and c.injected_by is None]
    if not apps:
        return
    named = work.annotations.get(DEFAULT_CONTAINER)
    chosen = next((c for c in apps if c.k8s_name == named), None) if named else None
    if chosen is None:
        exact = [c for c in apps if c.k8s_name.lower() == work.name.lower()]
        alike = [c for c in apps if _named_like(c.k8s_name, work.name)
                 and _helper_kind(c) is None]
        plain = [c for c in apps if _helper_kind(c) is None]
        if exact or alike:
            chosen = (exact or alike)[0]
            why = "it is named like its workload"
        elif plain and plain[0] is not apps[0]:
            chosen = plain[0]
            skipped = ", ".join(f"`{c.k8s_name}` is {_helper_kind(c)}"
                                for c in apps[:apps.index(chosen)])
            why = f"it is the first that is not a known helper: {skipped}"
        else:
            chosen = apps[0]
            why = ("it is listed first: every container looks like a helper and none is "
                   "named like its workload" if not plain else
                   "it is listed first: none is named like its workload, and it is no known "
                   "helper")
        if warnings is not None and len(apps) > 1:
            if not named:
                said = "no kubectl.kubernetes.io/default-container annotation"
            elif any(c.k8s_name == named for c in work.containers):
                said = (f"kubectl.kubernetes.io/default-container names `{named}`, a sidecar "
                        "(an init container that keeps running, or an injected one)")
            else:
                said = (f"kubectl.kubernetes.io/default-container names `{named}`, which is no "
                        "container of the pod")
            warnings.append(f"{work.what}: main container `{chosen.k8s_name}` chosen because "
                            f"{why} ({said}); the others are its helpers")
    work.containers.remove(chosen)
    work.containers.insert(0, chosen)


def _helper_type(cont: _Cont) -> str:
    known = _helper_kind(cont)  # a known helper by what it is (a config reloader of
    if known not in (None, "a sidecar"):  # Prometheus is no metrics adapter)
        return ("adapter" if known == "a metrics exporter"
                else "ambassador" if known == "a proxy" else "sidecar")
    text = f"{cont.k8s_name} {cont.image or ''}".lower()
    if _ADAPTER.search(text):
        return "adapter"
    if _AMBASSADOR.search(text):
        return "ambassador"
    return "sidecar"


def _injected(work: _Workload, istio_namespaces: set[str], options: ImportOptions
              ) -> list[_Cont]:
    """Sidecars an admission webhook adds to the pod (Istio's proxy, Dapr's daprd)."""
    out: list[_Cont] = []
    present = {c.k8s_name for c in work.containers}
    flag = work.labels.get("sidecar.istio.io/inject",
                           work.annotations.get("sidecar.istio.io/inject"))
    istio = (flag.lower() == "true" if flag is not None
             else work.namespace is not None and work.namespace in istio_namespaces)
    if istio and "istio-proxy" not in present:
        # Istio reads the proxy's requests from these annotations when they are set.
        out.append(_sidecar(work, "istio-proxy", options, "sidecar.istio.io/proxyCPU",
                            "sidecar.istio.io/proxyMemory", "sidecar.istio.io/proxyCPULimit",
                            "sidecar.istio.io/proxyMemoryLimit"))
    if work.annotations.get("dapr.io/enabled", "").lower() == "true" and "daprd" not in present:
        dapr = _sidecar(work, "daprd", options, "dapr.io/sidecar-cpu-request",
                        "dapr.io/sidecar-memory-request", "dapr.io/sidecar-cpu-limit",
                        "dapr.io/sidecar-memory-limit")
        dapr.ports = [(p, "TCP") for p in DAPR_PORTS]
        out.append(dapr)
    return out


def _sidecar(work: _Workload, name: str, options: ImportOptions, cpu: str, memory: str,
             cpu_limit: str, memory_limit: str) -> _Cont:
    istio = name == "istio-proxy"
    cont = _Cont(name, "istio" if istio else "daprd", injected_by="istio" if istio else "dapr")
    defaults = options.injected_requests.get(name, options.default_requests)
    for resource, request_key, limit_key in (("cpu", cpu, cpu_limit),
                                             ("memory", memory, memory_limit)):
        where = 'metadata.annotations["{}"]'
        if limit_key in work.annotations:
            value = work.annotations[limit_key]
            work.ctx.quantity(value, where.format(limit_key))
            cont.limits[resource] = value
        if request_key in work.annotations:
            value = work.annotations[request_key]
            work.ctx.quantity(value, where.format(request_key))
            cont.requests[resource] = value
        elif resource in cont.limits:
            cont.requests[resource] = cont.limits[resource]
        elif resource in defaults:
            cont.requests[resource] = defaults[resource]
            cont.defaulted.append(resource)
    return cont


def _init_overhead(work: _Workload, warnings: list[str]) -> None:
    """The scheduler reserves, per resource, the larger of the running containers' sum and
    each init container's request (plus the native sidecars started before it); when an
    init container is larger, the main container carries the difference."""
    once = [amounts for _, amounts in work.inits if isinstance(amounts, dict)]
    if not once:
        return
    running = work.containers
    resources = sorted({r for amounts in once for r in amounts})
    main = running[0]  # the main container: _choose_main put it first
    for resource in resources:
        steady = sum((c.amount(resource) for c in running), Decimal(0))
        before = Decimal(0)
        peak, peak_name = Decimal(0), ""
        for iname, init in work.inits:
            if isinstance(init, _Cont):
                before += init.amount(resource)
                continue
            need = init.get(resource, Decimal(0)) + before
            if need > peak:
                peak, peak_name = need, iname
        if peak <= steady:
            continue
        extra = peak - steady
        new = main.amount(resource) + extra
        main.requests[resource] = format_quantity(resource, new)
        note = ""
        if resource in main.limits and parse_quantity(main.limits[resource]) < new:
            main.limits[resource] = main.requests[resource]
            note = " (and its limit)"
        warnings.append(
            f"{work.what}: init container {peak_name} needs "
            f"{format_quantity(resource, peak)} {resource}, more than the running "
            f"containers' {format_quantity(resource, steady)}; the scheduler "
            f"reserves the larger, so {main.k8s_name}'s request{note} is raised by "
            f"{format_quantity(resource, extra)}")


def _admits(node: object, work: _Workload, *, daemon: bool = False) -> bool:
    """Whether a pod of `work` may run on a node (or pool) of the problem: its node
    selector, and its tolerations against the node's taints (a DaemonSet's pod also
    tolerates what its controller adds)."""
    if not isinstance(node, Mapping):
        return False
    labels = node.get("labels")
    labels = labels if isinstance(labels, Mapping) else {}
    if any(labels.get(k) != v for k, v in work.node_selector.items()):
        return False
    tolerations = [Toleration.model_validate(t) for t in work.tolerations]
    if daemon:
        tolerations += DAEMONSET_TOLERATIONS
    taints = node.get("taints")
    for raw in taints if isinstance(taints, list) else []:
        try:
            taint = Taint.model_validate(raw)
        except ValidationError:
            continue  # the problem's own validation names it
        if taint.effect != "PreferNoSchedule" and not tolerates(tolerations, taint):
            return False
    return True


def _listing(names: list[str]) -> str:
    """Names for a warning, the first few only when there are many."""
    if len(names) <= _LISTED:
        return ", ".join(names)
    return ", ".join(names[:_LISTED]) + f" and {len(names) - _LISTED} more"


def _drop_well_known(workloads: list[_Workload], options: ImportOptions,
                     warnings: list[str]) -> None:
    """Selectors on the OS/arch labels every Linux node has, when the node list does not
    speak of them: kept, they would leave no node at all."""
    keys: set[str] = set()
    for node in options.nodes or []:
        labels = node.get("labels") if isinstance(node, Mapping) else None
        if isinstance(labels, Mapping):
            keys.update(str(k) for k in labels)
    dropped: Counter[str] = Counter()
    for work in workloads:
        for key, value in list(work.node_selector.items()):
            if WELL_KNOWN_NODE_LABELS.get(key) == value and key not in keys:
                del work.node_selector[key]
                dropped[f"{key}={value}"] += 1
    if dropped:
        where = ("the nodes given carry" if options.nodes is not None
                 else "the assumed node pool carries")
        listed = ", ".join(f"{k} ({n} workload{'s' if n > 1 else ''})"
                           for k, n in sorted(dropped.items()))
        warnings.append(f"nodeSelector {listed} left out: {where} no such label, and "
                        "every Linux node has it")


def _autoscale(autoscalers: list[tuple[dict[str, Any], Document]],
               workloads: list[_Workload], warnings: list[str]) -> None:
    """A HorizontalPodAutoscaler keeps its target at minReplicas or more: the layout is
    planned for at least that many (more run under load, as many as maxReplicas)."""
    for obj, doc in autoscalers:
        ctx = _Ctx(doc, AUTOSCALER)
        name, namespace, _ = _metadata(obj, ctx)
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


def _requests(work: _Workload) -> dict[str, Decimal]:
    """What one pod of `work` reserves (init containers are already in the main's)."""
    total: dict[str, Decimal] = {}
    for cont in work.containers:
        for resource in cont.requests:
            total[resource] = total.get(resource, Decimal(0)) + cont.amount(resource)
    return total


def _daemon_overhead(daemons: list[_Workload], problem: dict[str, Any],
                     options: ImportOptions, warnings: list[str]) -> None:
    """Each DaemonSet's pod taken off the allocatable of every node it runs on: where its
    Pods were read, those nodes; else every node (or the pool's) it admits."""
    if not daemons:
        return
    given = options.nodes is not None
    section = "nodes" if given else "pools"
    # Copies: the caller's node list and DEFAULT_POOL stay as they were.
    targets = [{**t, "allocatable": dict(t.get("allocatable") or {})}
               for t in problem.get(section, [])]
    problem[section] = targets
    names = [str(t.get("name")) for t in targets]
    reserved: list[dict[str, Decimal]] = [{} for _ in targets]
    runs: list[list[str]] = [[] for _ in targets]
    nowhere: list[str] = []
    for work in daemons:
        need = [*_requests(work).items(), ("pods", Decimal(1))]
        ran = set(work.pod_nodes) if given and work.pod_nodes and set(work.pod_nodes) <= set(
            names) else None
        hosts = [i for i, target in enumerate(targets)
                 if (names[i] in ran if ran is not None else _admits(target, work, daemon=True))]
        if not hosts:
            nowhere.append(work.what)
        for i in hosts:
            runs[i].append(work.name)
            for resource, amount in need:
                # A resource the node does not list: there is nothing to take it from.
                if resource in targets[i]["allocatable"]:
                    reserved[i][resource] = reserved[i].get(resource, Decimal(0)) + amount
    clamped: list[str] = []
    shown: dict[tuple[tuple[str, ...], str], list[str]] = {}
    for i, target in enumerate(targets):
        if not runs[i]:
            continue
        allocatable = target["allocatable"]
        for resource, amount in reserved[i].items():
            try:
                left = parse_quantity(allocatable[resource]) - amount
            except QuantityError:
                continue  # the problem's own validation names it
            if left < 0:
                clamped.append(f"{names[i]} ({resource})")
                left = Decimal(0)
            allocatable[resource] = format_quantity(resource, left)
        amounts = ", ".join(f"{r} {format_quantity(r, a)}" for r, a in reserved[i].items())
        shown.setdefault((tuple(runs[i]), amounts), []).append(names[i])
    if shown:
        per = "; ".join(f"{_listing(nodes)}{'' if given else ' (each node)'}: {amounts} "
                        f"({', '.join(ds)})" for (ds, amounts), nodes in shown.items())
        warnings.append("DaemonSets run one pod on every node they admit: modelled as "
                        f"per-node overhead, not as pods to place; reserved per node: {per}")
    if clamped:
        warnings.append("DaemonSet pods need more than these nodes offer: their allocatable "
                        f"is clamped at 0: {_listing(clamped)}")
    if nowhere:
        where = "given" if given else "of the assumed pool"
        warnings.append(f"{_listing(nowhere)}: no node {where} admits it; nothing reserved")


def _affinity_hints(workloads: list[_Workload], daemons: list[_Workload],
                    hints: list[dict[str, Any]], warnings: list[str]) -> None:
    """Required pod (anti-)affinity: on itself, spreading; on others, node-level hints
    between the main containers."""
    seen: set[tuple[str, frozenset[str]]] = set()

    def add(kind: str, a: _Workload, b: _Workload) -> None:
        pair = frozenset((a.containers[0].name, b.containers[0].name))
        if (kind, pair) not in seen:
            seen.add((kind, pair))
            hints.append({"type": kind, "containers": sorted(pair)})

    for work in workloads:
        for anti, terms in ((True, work.anti_affinity), (False, work.affinity)):
            rule = "podAntiAffinity" if anti else "podAffinity"
            for term in terms:
                key = term.get("topologyKey")
                selector = term.get("labelSelector")
                self_match = _selects(selector, work.labels)
                others, nodal = ([o for o in group if o is not work
                                  and _namespaces_match(term, work.namespace, o.namespace)
                                  and _selects(selector, o.labels)]
                                 for group in (workloads, daemons))
                if nodal:
                    warnings.append(f"{work.what}: required {rule} on "
                                    f"{_listing([d.what for d in nodal])}, which runs on every "
                                    "node it admits (node overhead here), is left out")
                if not self_match and not others:
                    if not nodal:
                        warnings.append(f"{work.what}: required {rule} selects no workload of "
                                        "the input; it is left out")
                elif key == HOSTNAME_LABEL:
                    if anti and self_match:
                        _ask_spread(work, "node", "podAntiAffinity on kubernetes.io/hostname")
                    for other in others:
                        add("separateNodes" if anti else "sameNode", work, other)
                        if not anti and work.replicas > other.replicas:
                            # sameNode makes the pod with fewer replicas follow the other.
                            warnings.append(
                                f"{work.what}: required podAffinity on {other.what} becomes "
                                f"sameNode, which keeps the {other.replicas} replica(s) of "
                                f"{other.pod_name} beside {work.pod_name}; it does not hold "
                                f"for every one of the {work.replicas} replicas of "
                                f"{work.pod_name}")
                    if not anti and self_match and not others:
                        warnings.append(f"{work.what}: {rule} on its own pods (all replicas "
                                        "on one node) is not modelled; it is left out")
                elif key in ZONE_LABELS and anti and self_match:
                    _ask_spread(work, "zone", "podAntiAffinity on zones")
                    if others:
                        warnings.append(f"{work.what}: required {rule} over zones against "
                                        "other workloads is not modelled; it is left out")
                else:
                    warnings.append(f"{work.what}: required {rule} on {key!r} is not "
                                    "modelled (only kubernetes.io/hostname is); it is left out")


def _spread(workloads: list[_Workload], options: ImportOptions, warnings: list[str]) -> str:
    """The one global spread, which holds for every pod: the least every workload with 2+
    replicas asks for (zone spreading keeps one replica per node too), so that it makes
    none infeasible that did not ask; what it leaves out is said."""
    many = [w for w in workloads if w.replicas >= 2]
    level = min((w.spread for w in many or workloads), key=_SPREAD_RANK.__getitem__,
                default="none")
    why = f"policy.spread is {level!r}, the most every replicated workload asks for"
    if level == "none":
        quiet = [w.what for w in many if w.spread == "none"]
        why = (f"policy.spread holds for every pod, and {_listing(quiet)} did not ask for "
               "one replica per node")
    elif options.nodes is not None:
        crowded = []
        for work in many:
            room = sum(_admits(node, work) for node in options.nodes)
            if work.replicas > room:
                crowded.append(f"{work.what} has {work.replicas} replicas and {room} node(s) "
                               "given admit it")
        if crowded:
            level = "none"
            why = (f"policy.spread would keep one replica per node, and {'; '.join(crowded)}: "
                   "they could not all run")
    unmet = [f"{w.what} ({w.spread_why})" for w in many
             if _SPREAD_RANK[w.spread] > _SPREAD_RANK[level]]
    unmet += [f"{w.what} ({rule})" for w in many for rule in w.loose]
    if unmet:
        warnings.append(f"required spreading not enforced: {'; '.join(unmet)}. {why}; "
                        "modelled as a preference: replicas of critical pods are spread by "
                        "the SPOF objective")
    return level


def _couple_empty_dirs(work: _Workload, hints: list[dict[str, Any]]) -> None:
    """Containers sharing an emptyDir must share the pod: a samePod hint, unless helper
    hints already tie every pair of them."""
    coupled = {frozenset((h["container"], h["main"])) for h in hints if "main" in h}
    seen: set[tuple[str, ...]] = set()
    for volume in sorted(work.empty_dirs):
        users = tuple(sorted(c.name for c in work.containers if volume in c.mounts))
        if len(users) < 2 or users in seen:
            continue
        seen.add(users)
        pairs = [frozenset((a, b)) for i, a in enumerate(users) for b in users[i + 1:]]
        if not all(p in coupled for p in pairs):
            hints.append({"type": "samePod", "containers": list(users)})


def _port_clashes(work: _Workload, warnings: list[str]) -> None:
    """Pod-mates share one port space: a port declared twice in a pod is kept once."""
    taken: dict[tuple[int, str], str] = {}
    for cont in work.containers:
        kept = []
        for port in cont.ports:
            if port in taken:
                warnings.append(f"{work.what}: {cont.k8s_name} declares port {port[0]}/"
                                f"{port[1]} that {taken[port]} declares too; kept on "
                                f"{taken[port]} only")
                continue
            taken[port] = cont.k8s_name
            kept.append(port)
        cont.ports = kept


# From the most to the least shareable: a claim that allows several modes is mounted with
# the most permissive one it has.
_ACCESS_MODES = ("ReadWriteMany", "ReadOnlyMany", "ReadWriteOnce", "ReadWriteOncePod")


def _access_mode(obj: dict[str, Any], ctx: _Ctx) -> str:
    spec = ctx.mapping(obj.get("spec") or {}, "spec")
    modes = [ctx.text(m, "spec.accessModes[]") for m in ctx.seq(spec.get("accessModes") or [],
                                                                "spec.accessModes")]
    unknown = [m for m in modes if m not in _ACCESS_MODES]
    if unknown:
        ctx.fail("spec.accessModes", f"unknown access mode {unknown[0]!r}; Kubernetes knows "
                 + ", ".join(_ACCESS_MODES))
    return next((m for m in _ACCESS_MODES if m in modes), "ReadWriteOnce")


def _claim_volumes(workloads: list[_Workload], modes: dict[tuple[str | None, str], str],
                   warnings: list[str]) -> list[dict[str, str]]:
    """The claims the workloads mount, each with its PersistentVolumeClaim's access mode; a
    claim whose PVC is not in the input is taken as ReadWriteOnce, the common default."""
    out: dict[str, str] = {}
    assumed: list[str] = []
    for work in workloads:
        for mount, claim in work.claims.items():
            name = _volume_name(work, mount)
            if name in out:
                continue
            mode = modes.get((work.namespace, claim)) or modes.get((None, claim))
            if mode is None:
                assumed.append(name.removeprefix(CLAIM_PREFIX))
                mode = "ReadWriteOnce"
            out[name] = mode
    if assumed:
        warnings.append("PersistentVolumeClaim(s) not in the input, taken as ReadWriteOnce "
                        "(the pods mounting one run on one node): " + ", ".join(sorted(assumed)))
    return [{"name": name, "accessMode": mode} for name, mode in sorted(out.items())]


def _volume_name(work: _Workload, mount: str) -> str:
    # A claim is the same storage whichever workload mounts it; other volumes are the pod's.
    # The colon cannot appear in a Kubernetes volume name: no pod-local one reads as a claim.
    if mount in work.claims:
        claim = work.claims[mount]
        return (f"{CLAIM_PREFIX}{work.namespace}/{claim}" if work.namespace
                else f"{CLAIM_PREFIX}{claim}")
    return f"{work.pod_name}-{mount}"


def _template_metadata(work: _Workload) -> tuple[dict[str, str], dict[str, str]]:
    """The labels and annotations an export should give the pod template again."""
    if not work.from_pods:
        return dict(work.labels), dict(work.annotations)
    labels = {k: v for k, v in work.labels.items() if k not in POD_ONLY_LABELS}
    annotations = {k: v for k, v in work.annotations.items()
                   if not k.startswith(POD_ONLY_ANNOTATIONS)}
    return labels, annotations


def _container_dict(work: _Workload, cont: _Cont, main: bool) -> dict[str, Any]:
    def plain(value: Any) -> Any:
        # A copy: the problem shares no object with the documents (nor, dumped, aliases).
        if isinstance(value, dict):
            return {str(k): plain(v) for k, v in value.items()}
        if isinstance(value, list):
            return [plain(v) for v in value]
        return value

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
        out["volumes"] = [_volume_name(work, m) for m in cont.mounts]
    if main:
        out["replicas"] = work.replicas
    if work.kind in ("Job", "CronJob"):
        out["critical"] = False  # a batch run failing stops no service
    if work.node_selector:
        out["nodeSelector"] = dict(work.node_selector)
    if work.tolerations:
        out["tolerations"] = [dict(t) for t in work.tolerations]
    source: dict[str, Any] = {"kind": work.kind, "workload": work.name,
                              "container": cont.k8s_name}
    if work.namespace:
        source["namespace"] = work.namespace
    if cont.injected_by:
        source["injectedBy"] = cont.injected_by
    source["file"], source["line"] = work.ctx.doc.source, work.line
    if cont.line is not None:
        source["containerLine"] = cont.line
    if main:  # once per workload: the problem stays small
        labels, annotations = _template_metadata(work)
        if labels:
            source["labels"] = labels
        if annotations:
            source["annotations"] = annotations
        if not work.from_pods and work.kind in ("Deployment", "StatefulSet", "ReplicaSet"):
            # The selector cannot change once applied: export must write it as it is. Found
            # again in the workload's document (a List may hold several workloads).
            for obj in _walk(work.ctx.doc):
                if obj["kind"] != work.kind:
                    continue
                name, namespace, _ = _metadata(obj, work.ctx)
                spec = obj.get("spec")
                if (name, namespace) == (work.name, work.namespace) and isinstance(spec, dict):
                    selector = spec.get("selector")
                    if isinstance(selector, dict) and selector:
                        source["selector"] = plain(selector)
                    break
    out["source"] = source
    if cont.defaulted:
        out["defaultedRequests"] = list(cont.defaulted)
    return out


def _node_of(pod: dict[str, Any]) -> str | None:
    spec = pod.get("spec")
    name = spec.get("nodeName") if isinstance(spec, Mapping) else None
    return name if isinstance(name, str) and name else None


def _finished(pod: dict[str, Any]) -> bool:
    """A Pod that ran to its end (a Job's, say): it holds no resources any more."""
    status = pod.get("status")
    return isinstance(status, Mapping) and status.get("phase") in _FINISHED


def _written_as(controller: Key, labels: dict[str, str]) -> tuple[str, str]:
    """The workload a user wrote for a Pod's controller: a Deployment, for a ReplicaSet
    named `<deployment>-<pod-template-hash>`; else the controller itself."""
    kind, name, _ = controller
    if kind == "ReplicaSet":
        digest = labels.get("pod-template-hash")
        match = _REPLICASET_OF_DEPLOYMENT.fullmatch(name)
        if digest and name.endswith(f"-{digest}") and len(name) > len(digest) + 1:
            return "Deployment", name[:-len(digest) - 1]
        if match is not None:
            return "Deployment", match["owner"]
    return kind, name


def _placements(workloads: list[_Workload], options: ImportOptions,
                warnings: list[str]) -> list[dict[str, Any]]:
    """Where Pods read from a cluster run, for each pod whose replicas all run on nodes
    given: review then scores today's placement rather than a simulated one."""
    running = [w for w in workloads if any(w.pod_nodes)]
    if not running:
        return []
    if options.nodes is None:
        warnings.append("the Pods say which node they run on (spec.nodeName), but no node "
                        "list was given: pass --nodes for review to score that placement")
        return []
    known = {n.get("name") for n in options.nodes if isinstance(n, Mapping)}
    out: list[dict[str, Any]] = []
    unknown: list[str] = []
    for work in running:
        if len(work.pod_nodes) == work.replicas and all(n in known for n in work.pod_nodes):
            out.extend({"pod": work.pod_name, "replica": i, "node": node}
                       for i, node in enumerate(work.pod_nodes))
        else:
            unknown.append(work.pod_name)
    if unknown:
        warnings.append(f"not every replica of {_listing(unknown)} runs on a node given (or "
                        "more replicas are modelled than Pods were read): review places them "
                        "as kube-scheduler would")
    return out


def import_k8s(documents: list[Document], options: ImportOptions) -> ImportResult:
    """Kubernetes manifests as a problem (wire format) whose layout is what runs today."""
    # Imported here, not at the top: services.py imports this module's workloads and helpers.
    from advisor.kube import services as kube_services  # noqa: PLC0415

    warnings: list[str] = []
    objects = [(obj, doc, line) for doc in documents for obj, line in _walk_located(doc)]
    istio_namespaces: set[str] = set()
    present: set[Key] = set()
    owners: dict[Key, list[Key]] = {}
    for obj, doc, _ in objects:
        ctx = _Ctx(doc, str(obj["kind"]))
        if obj["kind"] == "Namespace":
            name, _, meta = _metadata(obj, ctx)
            labels = ctx.strings(meta.get("labels"), "metadata.labels")
            if labels.get("istio-injection") == "enabled":
                istio_namespaces.add(name)
        elif obj["kind"] in WORKLOAD_KINDS:
            name, namespace, meta = _metadata(obj, ctx)
            key = (obj["kind"], name, namespace)
            present.add(key)
            owners[key] = _owner_keys(meta, namespace)

    def owner_in_input(key: Key) -> Key | None:
        return next((found for o in owners.get(key, []) if (found := _in(o, present))), None)

    def top(key: Key) -> Key:
        # The workload a chain of owners in the input ends at (a Pod's ReplicaSet's
        # Deployment); a cycle, which no cluster has, ends where it closes.
        seen = {key}
        while (up := owner_in_input(key)) is not None and up not in seen:
            seen.add(up)
            key = up
        return key

    skipped: Counter[str] = Counter()
    owned: list[str] = []
    finished = 0
    workloads: list[_Workload] = []
    autoscalers: list[tuple[dict[str, Any], Document]] = []
    groups: dict[Key, _Workload] = {}
    ran_on: dict[Key, list[str | None]] = {}
    claim_modes: dict[tuple[str | None, str], str] = {}
    # Read against the workloads once they are known: what they select.
    selecting: dict[str, list[tuple[dict[str, Any], Document]]] = {
        kube_services.SERVICE: [], kube_services.BUDGET: []}
    for obj, doc, line in objects:
        kind = obj["kind"]
        if kind == AUTOSCALER:
            autoscalers.append((obj, doc))
            continue
        if kind in selecting:
            selecting[kind].append((obj, doc))
            continue
        if kind == "PersistentVolumeClaim":
            claim_name, claim_namespace, _ = _metadata(obj, _Ctx(doc, kind))
            claim_modes[claim_namespace, claim_name] = _access_mode(obj, _Ctx(doc, kind))
            continue
        if kind not in WORKLOAD_KINDS:
            skipped[kind] += 1
            continue
        ctx = _Ctx(doc, kind)
        name, namespace, meta = _metadata(obj, ctx)
        if kind == "Pod" and _finished(obj):
            finished += 1
            continue
        # A ReplicaSet of a Deployment, a Pod of a ReplicaSet: the owner says it already.
        owner = owner_in_input((kind, name, namespace))
        if owner is not None:
            owned.append(f"{kind} {name}")
            if kind == "Pod":
                ran_on.setdefault(top(owner), []).append(_node_of(obj))
            continue
        # Pods of a controller not in the input (`kubectl get pods`): one workload.
        controller = _controller(meta, namespace) if kind == "Pod" else None
        if controller is not None:
            labels = ctx.strings(meta.get("labels"), "metadata.labels")
            written = _written_as(controller, labels)
            # Its Deployment may be in the input without the ReplicaSet between them.
            owner = _in((*written, namespace), present)
            if owner is not None:
                owned.append(f"{kind} {name}")
                ran_on.setdefault(top(owner), []).append(_node_of(obj))
                continue
        group = groups.get(controller) if controller is not None else None
        if group is not None:
            if group.replicas >= MAX_REPLICAS:
                ctx.fail("", f"more Pods of {group.what} than this tool supports "
                         f"({MAX_REPLICAS})")
            group.replicas += 1
            group.pod_nodes.append(_node_of(obj))
            # What every Pod carries: the template's labels, not one Pod's own.
            group.labels = {k: v for k, v in group.labels.items() if labels.get(k) == v}
            continue
        work = _parse_workload(obj, doc, line, options, warnings)
        if controller is not None:
            work.kind, work.name = written
            work.key = controller
            groups[controller] = work
        workloads.append(work)
    for work in workloads:
        work.pod_nodes.extend(ran_on.get(work.key, []))
    _autoscale(autoscalers, workloads, warnings)
    idle = [w.what for w in workloads if w.replicas == 0]
    workloads = [w for w in workloads if w.replicas > 0]
    if skipped:
        listed = ", ".join(f"{k} ({n})" for k, n in sorted(skipped.items()))
        warnings.append(f"skipped {sum(skipped.values())} object(s) that are not workloads: "
                        f"{listed}")
    if owned:
        warnings.append("skipped objects whose owner is in the input too: " + ", ".join(owned))
    if finished:
        warnings.append(f"skipped {finished} Pod(s) that have finished (Succeeded or Failed): "
                        "they hold no resources")
    if idle:
        warnings.append("skipped workloads scaled to 0 (nothing of them runs): "
                        + ", ".join(idle))
    _drop_well_known(workloads, options, warnings)
    daemons = [w for w in workloads if w.kind == "DaemonSet"]
    workloads = [w for w in workloads if w.kind != "DaemonSet"]
    if not workloads:
        kinds = ", ".join(sorted(WORKLOAD_KINDS - {"DaemonSet"}))
        note = "; DaemonSets are node overhead" if daemons else ""
        warnings.append(f"no workload ({kinds}) in the input{note}")
    for work in workloads:
        _choose_main(work, warnings)
    for work in daemons:
        _choose_main(work, None)
        work.containers.extend(_injected(work, istio_namespaces, options))
        _init_overhead(work, warnings)
    _unique_pod_names(workloads)
    # Injected sidecars are named after their main container, whether the Pods read
    # already carry them or the webhook is still to add them.
    own = [[c for c in w.containers if c.injected_by is None] or w.containers
           for w in workloads]
    entries = [(w.pod_name, c.k8s_name, len(mine) == 1)
               for w, mine in zip(workloads, own, strict=True) for c in mine]
    names = iter(container_names(entries))
    for mine in own:
        for cont in mine:
            cont.name = next(names)
    used = {c.name for mine in own for c in mine}
    hints: list[dict[str, Any]] = []
    for work, mine in zip(workloads, own, strict=True):
        main = work.containers[0]
        work.containers.extend(_injected(work, istio_namespaces, options))
        for cont in work.containers:
            if any(cont is named for named in mine):
                continue
            base = dns_label(f"{main.name}-{cont.k8s_name}")
            cont.name, n = base, 2
            while cont.name in used:
                cont.name, n = dns_label(f"{base}-{n}"), n + 1
            used.add(cont.name)
        for cont in work.containers[1:]:
            kind = _helper_type(cont) if cont.role == "app" else "sidecar"
            hints.append({"type": kind, "container": cont.name, "main": main.name})
        _couple_empty_dirs(work, hints)
        _port_clashes(work, warnings)
        _init_overhead(work, warnings)
    _affinity_hints(workloads, daemons, hints, warnings)
    spread = _spread(workloads, options, warnings)
    containers = [_container_dict(w, c, i == 0) for w in workloads
                  for i, c in enumerate(w.containers)]
    kube_services.mark_components(containers, kube_services.components(
        workloads, selecting[kube_services.SERVICE], warnings))
    budgets = kube_services.budgets(workloads, selecting[kube_services.BUDGET], warnings)
    policy: dict[str, Any] = {"spread": spread}
    if options.time_limit_seconds is not None:
        policy["timeLimitSeconds"] = float(options.time_limit_seconds)
    problem: dict[str, Any] = {"containers": containers, "hints": hints, "policy": policy}
    volumes = _claim_volumes(workloads, claim_modes, warnings)
    if volumes:
        problem["volumes"] = volumes
    if budgets:
        problem["disruptionBudgets"] = budgets
    if workloads:
        problem["layout"] = {"pods": [
            {"name": w.pod_name, "containers": [c.name for c in w.containers],
             "replicas": w.replicas} for w in workloads]}
        placements = _placements(workloads, options, warnings)
        if placements:
            problem["layout"]["placements"] = placements
    attach_nodes(problem, options, warnings)
    _daemon_overhead(daemons, problem, options, warnings)
    return ImportResult(problem, warnings)
