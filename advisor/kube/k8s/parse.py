"""One workload object read: its pod template's containers (requests, limits, ports,
mounts), init containers, volumes, node selection, tolerations, pod (anti-)affinity and
topology spread constraints."""

from __future__ import annotations

from collections import Counter
from decimal import Decimal
from typing import Any

from advisor.kube.common import HOSTNAME_LABEL, ZONE_LABELS, Document, ImportOptions
from advisor.kube.k8s.objects import Ctx, metadata, node_of, selects
from advisor.kube.k8s.sidecars import mark_injected
from advisor.kube.k8s.workload import Cont, Workload
from models.problem import KNOWN_RESOURCES
from models.quantity import format_quantity, parse_quantity


def parse_workload(obj: dict[str, Any], doc: Document, line: int, options: ImportOptions,
                   warnings: list[str]) -> Workload:
    kind = obj["kind"]
    ctx = Ctx(doc, kind)
    name, namespace, _ = metadata(obj, ctx)
    ctx.what = f"{kind} {name}"
    meta, spec, meta_path, path = _pod_template(obj, kind, ctx)
    replicas = _replicas(obj, kind, ctx)
    labels = ctx.strings(meta.get("labels"), f"{meta_path}.labels")
    annotations = ctx.strings(meta.get("annotations"), f"{meta_path}.annotations")
    work = Workload(kind, name, namespace, ctx, labels, annotations, replicas,
                    _app_containers(spec, path, ctx), key=(kind, name, namespace),
                    from_pods=kind == "Pod", line=line)
    if kind == "Pod":
        work.pod_nodes.append(node_of(obj))
    _init_containers(work, spec, path)
    mark_injected(work)
    names = Counter(c.k8s_name for c in work.containers)
    for cname, n in names.items():
        if n > 1:
            ctx.fail(f"{path}.containers", f"container name {cname!r} is used {n} times")
    for cont in work.containers:
        _fill_defaults(cont, options.default_requests)
    _volumes(work, spec, path)
    work.node_selector = ctx.strings(spec.get("nodeSelector"), f"{path}.nodeSelector")
    work.node_selector.update(_node_affinity(spec, path, ctx, warnings))
    work.tolerations = _tolerations(spec, path, ctx)
    _pod_affinity(work, spec, path)
    _topology_spread(work, spec, path, warnings)
    return work


def _pod_template(obj: dict[str, Any], kind: str, ctx: Ctx
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


def _replicas(obj: dict[str, Any], kind: str, ctx: Ctx) -> int:
    top = ctx.mapping(obj.get("spec"), "spec")
    if kind in ("Pod", "DaemonSet"):
        return 1  # a DaemonSet is per-node overhead, not replicas to place
    if kind not in ("Job", "CronJob"):
        return ctx.count(top.get("replicas"), "spec.replicas")
    job = top if kind == "Job" else ctx.mapping(
        ctx.mapping(top.get("jobTemplate"), "spec.jobTemplate").get("spec"),
        "spec.jobTemplate.spec")
    prefix = "spec" if kind == "Job" else "spec.jobTemplate.spec"
    replicas = ctx.count(job.get("parallelism"), f"{prefix}.parallelism")
    if job.get("completions") is not None:
        # Never more pods at once than completions still to make.
        replicas = min(replicas, ctx.count(job.get("completions"), f"{prefix}.completions"))
    return replicas


def _app_containers(spec: dict[str, Any], path: str, ctx: Ctx) -> list[Cont]:
    entries = ctx.seq(spec.get("containers"), f"{path}.containers")
    if not entries:
        ctx.fail(f"{path}.containers", "a workload needs at least one container")
    return [_container(e, f"{path}.containers[{i}]", "app", ctx) for i, e in enumerate(entries)]


def _init_containers(work: Workload, spec: dict[str, Any], path: str) -> None:
    """Native sidecars (restartPolicy Always) run beside the others; any other init
    container only counts for what it requests while it runs."""
    ctx = work.ctx
    for i, entry in enumerate(ctx.seq(spec.get("initContainers"), f"{path}.initContainers")):
        where = f"{path}.initContainers[{i}]"
        init = _container(entry, where, "native", ctx)
        if ctx.mapping(entry, where).get("restartPolicy") == "Always":
            work.containers.append(init)
            work.inits.append((init.k8s_name, init))
        else:
            work.inits.append((init.k8s_name,
                               {k: parse_quantity(v) for k, v in init.requests.items()}))


def _quantity_text(resource: str, value: object, amount: Decimal) -> str:
    # Keep the manifest's own spelling; numbers become strings, as the wire format writes them.
    return value if isinstance(value, str) else format_quantity(resource, amount)


def _resources(entry: dict[str, Any], path: str, ctx: Ctx
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


def _ports(entry: dict[str, Any], path: str, ctx: Ctx) -> list[tuple[int, str]]:
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


def _container(entry: object, path: str, role: str, ctx: Ctx) -> Cont:
    item = ctx.mapping(entry, path)  # a copy: the entry itself says where it is written
    name = ctx.text(item.get("name"), f"{path}.name")
    image = item.get("image")
    requests, limits = _resources(item, path, ctx)
    mounts: list[str] = []
    for where, mount in ctx.entries(item.get("volumeMounts"), f"{path}.volumeMounts"):
        volume = ctx.text(mount.get("name"), f"{where}.name")
        if volume not in mounts:
            mounts.append(volume)
    return Cont(name, role, image if isinstance(image, str) and image else None, requests,
                limits, [], _ports(item, path, ctx), mounts, line=ctx.doc.line_of(entry))


def _fill_defaults(cont: Cont, defaults: dict[str, str]) -> None:
    """A container without cpu or memory request gets the import's assumed amount, named
    in `defaultedRequests` so that the advisor reports it (NO_REQUESTS)."""
    for resource in ("cpu", "memory"):
        if resource not in cont.requests and resource in defaults:
            cont.requests[resource] = defaults[resource]
            cont.defaulted.append(resource)


def _volumes(work: Workload, spec: dict[str, Any], path: str) -> None:
    """The claims the pod mounts (pod volume -> claim) and its emptyDir volumes."""
    ctx = work.ctx
    for where, volume in ctx.entries(spec.get("volumes"), f"{path}.volumes"):
        vname = ctx.text(volume.get("name"), f"{where}.name")
        claim = volume.get("persistentVolumeClaim")
        if claim is not None:
            claim_name = ctx.mapping(claim, f"{where}.persistentVolumeClaim").get("claimName")
            work.claims[vname] = ctx.text(claim_name, f"{where}.persistentVolumeClaim.claimName")
        elif "emptyDir" in volume:
            work.empty_dirs.add(vname)


def _tolerations(spec: dict[str, Any], path: str, ctx: Ctx) -> list[dict[str, Any]]:
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


def _node_affinity(spec: dict[str, Any], path: str, ctx: Ctx, warnings: list[str]
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


def _pod_affinity(work: Workload, spec: dict[str, Any], path: str) -> None:
    """The required pod affinity and anti-affinity terms, read against the other
    workloads once all are known."""
    ctx = work.ctx
    affinity = ctx.mapping(spec.get("affinity"), f"{path}.affinity")
    for key, bucket in (("podAntiAffinity", work.anti_affinity), ("podAffinity", work.affinity)):
        section = ctx.mapping(affinity.get(key), f"{path}.affinity.{key}")
        where = f"{path}.affinity.{key}.requiredDuringSchedulingIgnoredDuringExecution"
        bucket.extend(term for _, term in ctx.entries(
            section.get("requiredDuringSchedulingIgnoredDuringExecution"), where))


def _topology_spread(work: Workload, spec: dict[str, Any], path: str,
                     warnings: list[str]) -> None:
    """Required topology spread constraints over the workload's own pods, by zone or by
    node; a soft one is left to the advisor's objective, which spreads anyway."""
    for _, item in work.ctx.entries(spec.get("topologySpreadConstraints"),
                                    f"{path}.topologySpreadConstraints"):
        if item.get("whenUnsatisfiable") != "DoNotSchedule":
            continue
        topology = item.get("topologyKey")
        selector = item.get("labelSelector")
        skew = item.get("maxSkew", 1)
        over = ("zones" if topology in ZONE_LABELS
                else "nodes" if topology == HOSTNAME_LABEL else None)
        if selector is not None and not selects(selector, work.labels):
            warnings.append(f"{work.what}: a topology spread constraint over other pods' "
                            "labels is not modelled; it is left out")
        elif over is not None and skew != 1:
            # Looser than the advisor's spreading, which keeps one replica per node.
            work.loose.append(f"a topology spread constraint over {over} with maxSkew {skew}")
        elif over is not None:
            work.ask_spread("zone" if over == "zones" else "node",
                            f"a topology spread constraint over {over}")
        else:
            warnings.append(f"{work.what}: a topology spread constraint over {topology!r} is not "
                            "modelled (only zones and nodes are); it is left out")
