"""A workload of the input as the import carries it from stage to stage: its containers,
scheduling rules and where its Pods run."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from advisor.kube.k8s.objects import Ctx, Key
from models.quantity import parse_quantity

SPREAD_RANK = {"none": 0, "node": 1, "zone": 2}


@dataclass
class Cont:
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
class Workload:
    kind: str
    name: str
    namespace: str | None
    ctx: Ctx
    labels: dict[str, str]
    annotations: dict[str, str]
    replicas: int
    containers: list[Cont]
    # Init containers in order: a native sidecar (running), or another one's requests.
    inits: list[tuple[str, Cont | dict[str, Decimal]]] = field(default_factory=list)
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

    def ask_spread(self, level: str, why: str) -> None:
        """Note a required spreading, keeping the strongest asked for."""
        if SPREAD_RANK[level] > SPREAD_RANK[self.spread]:
            self.spread, self.spread_why = level, why

    def pod_requests(self) -> dict[str, Decimal]:
        """What one pod reserves (init containers are already in the main's)."""
        total: dict[str, Decimal] = {}
        for cont in self.containers:
            for resource in cont.requests:
                total[resource] = total.get(resource, Decimal(0)) + cont.amount(resource)
        return total
