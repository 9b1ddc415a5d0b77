"""Sidecars an admission webhook injects (Istio's proxy, Dapr's daprd): recognised in Pods
read from a cluster, and added to templates that ask for them."""

from __future__ import annotations

from advisor.kube.common import ImportOptions
from advisor.kube.k8s.workload import Cont, Workload

ISTIO_STATUS = "sidecar.istio.io/status"
DAPR_PORTS = (3500, 50001)
# The annotations each injector reads its sidecar's requests and limits from:
# cpu request, memory request, cpu limit, memory limit.
_ISTIO_KEYS = ("sidecar.istio.io/proxyCPU", "sidecar.istio.io/proxyMemory",
               "sidecar.istio.io/proxyCPULimit", "sidecar.istio.io/proxyMemoryLimit")
_DAPR_KEYS = ("dapr.io/sidecar-cpu-request", "dapr.io/sidecar-memory-request",
              "dapr.io/sidecar-cpu-limit", "dapr.io/sidecar-memory-limit")


def _dapr_enabled(work: Workload) -> bool:
    return work.annotations.get("dapr.io/enabled", "").lower() == "true"


def mark_injected(work: Workload) -> None:
    """Sidecars a webhook added to Pods read from a cluster: they run, and an export
    leaves them to the webhook again. They follow the workload's own containers."""
    for cont in work.containers:
        if cont.k8s_name == "istio-proxy" and ISTIO_STATUS in work.annotations:
            cont.role, cont.injected_by = "istio", "istio"
        elif cont.k8s_name == "daprd" and _dapr_enabled(work):
            cont.role, cont.injected_by = "daprd", "dapr"
    own = [c for c in work.containers if c.injected_by is None]
    if own:
        work.containers = own + [c for c in work.containers if c.injected_by is not None]


def injected(work: Workload, istio_namespaces: set[str], options: ImportOptions
             ) -> list[Cont]:
    """Sidecars an admission webhook adds to the pod (Istio's proxy, Dapr's daprd)."""
    out: list[Cont] = []
    present = {c.k8s_name for c in work.containers}
    flag = work.labels.get("sidecar.istio.io/inject",
                           work.annotations.get("sidecar.istio.io/inject"))
    istio = (flag.lower() == "true" if flag is not None
             else work.namespace is not None and work.namespace in istio_namespaces)
    if istio and "istio-proxy" not in present:
        # Istio reads the proxy's requests from these annotations when they are set.
        out.append(_sidecar(work, "istio-proxy", options, _ISTIO_KEYS))
    if _dapr_enabled(work) and "daprd" not in present:
        dapr = _sidecar(work, "daprd", options, _DAPR_KEYS)
        dapr.ports = [(p, "TCP") for p in DAPR_PORTS]
        out.append(dapr)
    return out


def _sidecar(work: Workload, name: str, options: ImportOptions,
             keys: tuple[str, str, str, str]) -> Cont:
    istio = name == "istio-proxy"
    cont = Cont(name, "istio" if istio else "daprd", injected_by="istio" if istio else "dapr")
    defaults = options.injected_requests.get(name, options.default_requests)
    cpu, memory, cpu_limit, memory_limit = keys
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
