"""Storage: the PersistentVolumeClaims the workloads mount, with their access modes, and
emptyDir volumes that tie containers into one pod."""

from __future__ import annotations

from typing import Any

from advisor.kube.common import CLAIM_PREFIX
from advisor.kube.k8s.objects import Ctx
from advisor.kube.k8s.workload import Workload

# From the most to the least shareable: a claim that allows several modes is mounted with
# the most permissive one it has.
ACCESS_MODES = ("ReadWriteMany", "ReadOnlyMany", "ReadWriteOnce", "ReadWriteOncePod")

ClaimModes = dict[tuple[str | None, str], str]  # (namespace, claim) -> access mode


def access_mode(obj: dict[str, Any], ctx: Ctx) -> str:
    """The access mode a PersistentVolumeClaim is mounted with."""
    spec = ctx.mapping(obj.get("spec") or {}, "spec")
    modes = [ctx.text(m, "spec.accessModes[]") for m in ctx.seq(spec.get("accessModes") or [],
                                                                "spec.accessModes")]
    unknown = [m for m in modes if m not in ACCESS_MODES]
    if unknown:
        ctx.fail("spec.accessModes", f"unknown access mode {unknown[0]!r}; Kubernetes knows "
                 + ", ".join(ACCESS_MODES))
    return next((m for m in ACCESS_MODES if m in modes), "ReadWriteOnce")


def volume_name(work: Workload, mount: str) -> str:
    """The problem's name of a volume a workload mounts."""
    # A claim is the same storage whichever workload mounts it; other volumes are the pod's.
    # The colon cannot appear in a Kubernetes volume name: no pod-local one reads as a claim.
    if mount in work.claims:
        claim = work.claims[mount]
        return (f"{CLAIM_PREFIX}{work.namespace}/{claim}" if work.namespace
                else f"{CLAIM_PREFIX}{claim}")
    return f"{work.pod_name}-{mount}"


def claim_volumes(workloads: list[Workload], modes: ClaimModes,
                  warnings: list[str]) -> list[dict[str, str]]:
    """The claims the workloads mount, each with its PersistentVolumeClaim's access mode; a
    claim whose PVC is not in the input is taken as ReadWriteOnce, the common default."""
    out: dict[str, str] = {}
    assumed: list[str] = []
    for work in workloads:
        for mount, claim in work.claims.items():
            name = volume_name(work, mount)
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


def couple_empty_dirs(work: Workload, hints: list[dict[str, Any]]) -> None:
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
