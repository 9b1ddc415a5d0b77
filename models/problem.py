"""The input: containers, coupling hints, nodes and pools, policy, optional current layout."""

from __future__ import annotations

import re
from collections.abc import Callable
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    StrictBool,
    StrictFloat,
    StrictInt,
    WithJsonSchema,
    model_validator,
)
from pydantic.alias_generators import to_camel

from models.quantity import QuantityError, parse_quantity, to_units

DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
KNOWN_RESOURCES = {"cpu", "memory", "ephemeral-storage", "storage", "pods"}
# Limits on the size of one problem; documented in the README.
MAX_CONTAINERS = 2000
MAX_NODES = 5000
MAX_REPLICAS = 10000
MAX_TIME_LIMIT_SECONDS = 3600


def _quantity(value: object) -> Decimal:
    try:
        amount = parse_quantity(value)
    except QuantityError as exc:
        raise ValueError(str(exc)) from exc
    if amount < 0:
        raise ValueError(f"quantity {value!r} is negative")
    return amount


def _format_decimal(value: Decimal) -> str:
    text = format(value.normalize(), "f")
    return text


Quantity = Annotated[
    Decimal,
    BeforeValidator(_quantity),
    PlainSerializer(_format_decimal, return_type=str),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "string", "pattern": r"^[+]?([0-9]+(\.[0-9]*)?|\.[0-9]+)"
                 r"(Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE]|[eE][+-]?[0-9]+)?$"},
                {"type": "number", "minimum": 0},
            ],
            "description": "Kubernetes quantity, e.g. 250m, 0.5, 1.5Gi, 2e3, 100Mi",
        }
    ),
]
def _resource_names(value: object) -> object:
    # Kubernetes: extended resources are domain-qualified (nvidia.com/gpu); bare names
    # are the built-in ones, so `memroy` is a typo, not a new resource.
    if isinstance(value, dict):
        for key in value:
            if not isinstance(key, str) or not key:
                raise ValueError("resource names must be non-empty strings")
            if "/" not in key and key not in KNOWN_RESOURCES and not key.startswith("hugepages-"):
                raise ValueError(
                    f"unknown resource {key!r}: use cpu, memory, ephemeral-storage, pods, "
                    "hugepages-<size>, or a domain-qualified name such as nvidia.com/gpu"
                )
    return value


def _within_model_range(value: dict[str, Decimal]) -> dict[str, Decimal]:
    # Model integers (millicores, bytes, thousandths) must stay far inside int64 once
    # summed over many replicas: 2^46 units is 64 TiB of memory or 7 * 10^10 cores.
    for key, amount in value.items():
        if to_units(key, amount, round_up=True) > 2**46:
            raise ValueError(f"{key}: {amount} is larger than this tool supports (2^46 units)")
    return value


ResourceMap = Annotated[
    dict[str, Quantity], BeforeValidator(_resource_names), AfterValidator(_within_model_range)
]


def _dns_check(pattern: re.Pattern[str], most: int, what: str) -> Callable[[str], str]:
    """A check against a DNS-1123 pattern, with the rule in its error."""

    def check(value: str) -> str:
        if len(value) > most or not pattern.match(value):
            raise ValueError(f"{value!r} is not {what}")
        return value

    return check


Name = Annotated[
    str, AfterValidator(_dns_check(
        DNS_LABEL, 63, "a DNS-1123 label: at most 63 lowercase letters, digits and '-', "
        "starting and ending with a letter or digit")),
    WithJsonSchema({"type": "string", "maxLength": 63, "pattern": DNS_LABEL.pattern}),
]
NodeName = Annotated[
    str, AfterValidator(_dns_check(
        DNS_SUBDOMAIN, 253, "a valid node name (DNS-1123 subdomain): lowercase letters, "
        "digits, '-' and '.', starting and ending with a letter or digit")),
    WithJsonSchema({"type": "string", "maxLength": 253, "pattern": DNS_SUBDOMAIN.pattern}),
]


class Wire(BaseModel):
    """Base of every wire type: camelCase keys, unknown keys rejected."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="forbid",
        frozen=True,
    )


class Port(Wire):
    port: StrictInt = Field(ge=1, le=65535)
    protocol: Literal["TCP", "UDP", "SCTP"] = "TCP"


# What a port may be written as; the schema shows all three, validation turns each into Port.
PortInput = (Annotated[int, Field(ge=1, le=65535)] | Annotated[str, Field(pattern=r"^[0-9]+$")]
             | Port)


def _port(value: object) -> object:
    if isinstance(value, str) and value.isdigit():
        value = int(value)  # "8080", as compose files write it
    if isinstance(value, int) and not isinstance(value, bool):
        return {"port": value}
    return value


class Toleration(Wire):
    key: str | None = None
    operator: Literal["Equal", "Exists"] = "Equal"
    value: str | None = None
    effect: Literal["NoSchedule", "PreferNoSchedule", "NoExecute"] | None = None
    toleration_seconds: StrictInt | None = Field(default=None,
                                                 description="Accepted; not modelled.")


class Taint(Wire):
    key: str = Field(min_length=1)
    value: str | None = None
    effect: Literal["NoSchedule", "PreferNoSchedule", "NoExecute"] = "NoSchedule"


class ContainerSource(Wire):
    """Where an imported container came from: what export and review need to speak of it."""

    kind: str = Field(min_length=1, description="Kubernetes kind (Deployment, StatefulSet, "
                      "...) or `compose` for a Compose service.")
    workload: str = Field(min_length=1, description="The workload (or service) name.")
    container: str = Field(min_length=1, description="The container's name in its workload.")
    namespace: str | None = None
    injected_by: str | None = Field(
        default=None, description="Set for a sidecar an admission webhook adds (`istio`, "
        "`dapr`): the manifests carry an annotation, not the container.")
    annotations: dict[str, str] = Field(
        default_factory=dict, description="Pod-template annotations of the workload that "
        "export carries over (sidecar injection, for one).")
    labels: dict[str, str] = Field(
        default_factory=dict, description="Pod-template labels of the workload (Services "
        "select on them); export keeps them.")
    selector: dict[str, Any] | None = Field(
        default=None, description="The workload's `spec.selector` as written (`matchLabels`, "
        "`matchExpressions`): immutable in Kubernetes, so export keeps it exactly.")
    file: str | None = Field(
        default=None, description="The manifest or Compose file the workload was imported "
        "from, as it was named (the path given on the command line); reports point there.")
    line: StrictInt | None = Field(
        default=None, ge=1, description="1-based line in `file` where the workload is "
        "defined: where its Kubernetes object starts (its document, or its item of a List), "
        "or the line of its key under a Compose file's `services`.")
    container_line: StrictInt | None = Field(
        default=None, ge=1, description="1-based line in `file` of this container's entry "
        "(`- name: ...`) in the pod template, when the import could tell; unset for a "
        "sidecar an admission webhook adds and for JSON input.")


class Container(Wire):
    name: Name
    requests: ResourceMap = Field(default_factory=dict)
    limits: ResourceMap = Field(default_factory=dict)
    ports: list[Annotated[Port, BeforeValidator(_port, json_schema_input_type=PortInput)]] = Field(
        default_factory=list, description="Ports: 8080, \"8080\" or {port: 53, protocol: UDP}.")
    volumes: list[str] = Field(default_factory=list)
    replicas: StrictInt | None = Field(
        default=None, ge=1, le=MAX_REPLICAS,
        description="Replica count of this container's pod; unset helpers follow their main.",
    )
    critical: StrictBool = True
    component: Name | None = Field(default=None, description=(
        "The service this container is part of, when that is more than its own pod: "
        "containers naming one component (v1, v2 and v3 of one service behind one "
        "Kubernetes Service) count their replicas together for SPOF and blast radius. "
        "Default: the container's own name; a helper belongs to its main's component."))
    node_selector: dict[str, str] = Field(default_factory=dict)
    tolerations: list[Toleration] = Field(default_factory=list)
    image: str | None = Field(default=None, description="Container image (kept for export).")
    source: ContainerSource | None = Field(
        default=None, description="Set by import: the workload it came from.")
    defaulted_requests: list[str] = Field(
        default_factory=list, description="Resources whose request the source did not set and "
        "the import filled in by its policy (reported as NO_REQUESTS).")

    @model_validator(mode="before")
    @classmethod
    def _requests_default_to_limits(cls, data: Any) -> Any:
        # Kubernetes' defaulting: a limit without a request is also the request.
        if isinstance(data, dict) and isinstance(data.get("limits"), dict):
            requests = data.get("requests")
            requests = dict(requests) if isinstance(requests, dict) else {}
            for key, value in data["limits"].items():
                requests.setdefault(key, value)
            if requests or "requests" in data:
                data = {**data, "requests": requests}
        return data

    @model_validator(mode="after")
    def _requests_within_limits(self) -> Container:
        for key, limit in self.limits.items():
            if key in self.requests and self.requests[key] > limit:
                raise ValueError(
                    f"requests.{key} ({self.requests[key]}) is above limits.{key} ({limit})"
                )
        return self


class HelperHint(Wire):
    """A helper (sidecar, ambassador, adapter) always lives in its main container's pod."""

    type: Literal["sidecar", "ambassador", "adapter"]
    container: Name
    main: Name


class GroupHint(Wire):
    """samePod / separatePods / sameNode / separateNodes over two or more containers."""

    type: Literal["samePod", "separatePods", "sameNode", "separateNodes"]
    containers: list[Name] = Field(min_length=2)


class TrafficHint(Wire):
    """Soft: the pair talks a lot; keeping it in one pod or node is rewarded by `weight`."""

    type: Literal["traffic"]
    containers: list[Name] = Field(min_length=2, max_length=2)
    weight: StrictFloat = Field(default=1.0, gt=0, le=1000)


Hint = Annotated[HelperHint | GroupHint | TrafficHint, Field(discriminator="type")]


class Node(Wire):
    name: NodeName
    allocatable: ResourceMap = Field(min_length=1)
    zone: str | None = None
    labels: dict[str, str] = Field(default_factory=dict)
    taints: list[Taint] = Field(default_factory=list)
    cost: StrictFloat | None = Field(default=None, ge=0, le=1e9, allow_inf_nan=False)
    releasable: StrictBool = Field(default=False, description=(
        "The node can be given back when the plan leaves it empty. Only then does emptying "
        "it count as a saving worth concentrating critical components for; a fixed node is "
        "paid for anyway."))


class Pool(Wire):
    name: Name
    allocatable: ResourceMap = Field(min_length=1)
    zones: list[str] = Field(default_factory=list)
    max_count: StrictInt = Field(default=100, ge=0, le=MAX_NODES)
    labels: dict[str, str] = Field(default_factory=dict)
    taints: list[Taint] = Field(default_factory=list)
    cost: StrictFloat | None = Field(default=None, ge=0, le=1e9, allow_inf_nan=False)


class Objective(StrEnum):
    BALANCED = "balanced"
    MIN_WASTE = "minWaste"
    MIN_SPOF = "minSpof"
    # Not one plan: the plans trading node cost against SPOF (advisor/frontier.py).
    FRONTIER = "frontier"


class Spread(StrEnum):
    NONE = "none"
    NODE = "node"
    ZONE = "zone"


class Policy(Wire):
    objective: Objective = Objective.BALANCED
    spread: Spread = Spread.NONE
    time_limit_seconds: StrictFloat = Field(default=10.0, gt=0, le=MAX_TIME_LIMIT_SECONDS)
    seed: StrictInt = Field(default=0, ge=0, le=2**31 - 1)
    workers: StrictInt = Field(
        default=8, ge=1, le=64,
        description="CP-SAT search workers (a portfolio: more than the cores still pays); "
                    "1 is fully deterministic.",
    )
    max_moves: StrictInt | None = Field(
        default=None, ge=0, le=MAX_REPLICAS * 100,
        description="A move budget: the advised plan moves at most this many replicas off "
                    "their current node (a re-grouped pod moves all its replicas); needs the "
                    "current `layout`. 0 only schedules the replicas the layout lacks.",
    )


class LayoutPod(Wire):
    name: Name
    containers: list[Name] = Field(min_length=1)
    replicas: StrictInt = Field(default=1, ge=1, le=MAX_REPLICAS)


class Placement(Wire):
    pod: Name
    replica: StrictInt = Field(ge=0)
    node: NodeName


class Layout(Wire):
    pods: list[LayoutPod] = Field(min_length=1)
    placements: list[Placement] = Field(default_factory=list)


# How a volume may be mounted, as a PersistentVolumeClaim's accessModes say.
AccessMode = Literal["ReadWriteOnce", "ReadWriteOncePod", "ReadOnlyMany", "ReadWriteMany"]
# Modes that tie every pod mounting the volume to one node (ReadWriteOncePod: to one pod).
NODE_LOCAL_MODES = ("ReadWriteOnce", "ReadWriteOncePod")


class Volume(Wire):
    """A named volume the containers mount (their `volumes`), with how it may be shared."""

    name: str = Field(min_length=1, max_length=253)
    access_mode: AccessMode = Field(description=(
        "ReadWriteOnce: every pod replica mounting it runs on one node; ReadWriteOncePod: "
        "one pod replica only; ReadOnlyMany and ReadWriteMany do not constrain placement."))


Percent = Annotated[str, Field(pattern=r"^[0-9]{1,3}%$")]
Count = Annotated[StrictInt, Field(ge=0, le=MAX_REPLICAS)]


class BudgetSource(Wire):
    """The PodDisruptionBudget an imported budget came from: what export writes again."""

    name: str = Field(min_length=1, max_length=253)
    namespace: str | None = None
    selector: dict[str, Any] = Field(description="`spec.selector` as written.")
    labels: dict[str, str] = Field(default_factory=dict)


class DisruptionBudget(Wire):
    """How many replicas of the pods holding these containers may be down at once (a
    PodDisruptionBudget): exactly one of minAvailable and maxUnavailable, a count or a
    percentage of the replicas (rounded up, as Kubernetes does)."""

    name: str = Field(min_length=1, max_length=253)
    containers: list[Name] = Field(min_length=1, description=(
        "Main containers whose pods the budget covers (all their replicas together)."))
    min_available: Count | Percent | None = None
    max_unavailable: Count | Percent | None = None
    source: BudgetSource | None = Field(default=None, description="Set by import.")

    @model_validator(mode="after")
    def _one_of(self) -> DisruptionBudget:
        if (self.min_available is None) == (self.max_unavailable is None):
            raise ValueError("give exactly one of minAvailable and maxUnavailable")
        for value in (self.min_available, self.max_unavailable):
            if isinstance(value, str) and int(value[:-1]) > 100:
                raise ValueError(f"{value!r} is more than 100%")
        return self

    def allowed_down(self, replicas: int) -> int:
        """Replicas that may be down at once out of `replicas` (Kubernetes' rounding)."""
        def count(value: int | str) -> int:
            if isinstance(value, int):
                return value
            return -(-int(value[:-1]) * replicas // 100)  # percentages round up

        if self.max_unavailable is not None:
            return min(replicas, count(self.max_unavailable))
        assert self.min_available is not None
        return max(0, replicas - count(self.min_available))


class Problem(Wire):
    containers: list[Container] = Field(min_length=1, max_length=MAX_CONTAINERS)
    hints: list[Hint] = Field(default_factory=list)
    nodes: list[Node] = Field(default_factory=list, max_length=MAX_NODES)
    pools: list[Pool] = Field(default_factory=list)
    volumes: list[Volume] = Field(default_factory=list, max_length=MAX_CONTAINERS)
    disruption_budgets: list[DisruptionBudget] = Field(
        default_factory=list, max_length=MAX_CONTAINERS)
    policy: Policy = Field(default_factory=Policy)
    layout: Layout | None = None

    @model_validator(mode="after")
    def _volumes_named_once(self) -> Problem:
        seen: set[str] = set()
        for volume in self.volumes:
            if volume.name in seen:
                raise ValueError(f"volumes: {volume.name!r} is declared twice")
            seen.add(volume.name)
        return self
