"""The output: a plan (grouping + placement + scores + findings), and a review."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, RootModel
from pydantic.alias_generators import to_camel

Status = Literal["optimal", "feasible", "heuristic", "infeasible"]
Severity = Literal["high", "medium", "low", "info"]


class Out(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)

    def to_wire(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True)


class PlannedPod(Out):
    name: str
    containers: list[str]
    replicas: int
    requests: dict[str, str]
    reasons: list[str] = Field(default_factory=list)


class PlacedReplica(Out):
    pod: str
    replica: int
    node: str


class NodeUsage(Out):
    name: str
    pool: str | None = None
    zone: str | None = None
    allocatable: dict[str, str]
    requested: dict[str, str]
    pods: int = 0


class WasteScore(Out):
    score: float = Field(
        description="Combined share of provisioned capacity no pod requests, 0-100."
    )
    by_resource: dict[str, float]
    idle: float
    stranded: float
    slack: float
    duplication: float = Field(
        description="Share of all requests spent on containers repeated only because of grouping."
    )


class BlastRadius(Out):
    """Correlated failure: what one failure takes down at once, not component by component."""

    node: float = Field(0.0, description=(
        "Largest share (0-100) of critical components that one node failure leaves with no "
        "running replica."))
    zone: float = Field(0.0, description=(
        "The same for one zone failure (a node without a zone is a zone of its own)."))
    worst_node: str | None = Field(None, description="The node whose failure is worst.")
    worst_zone: str | None = Field(None, description="The zone whose failure is worst.")


class SpofScore(Out):
    score: float = Field(description="Mean exposure of critical components to one failure, 0-100.")
    components: int = 0
    exposed: dict[str, float] = Field(
        default_factory=dict, description="Exposure (0-1) of each exposed critical component."
    )
    blast_radius: BlastRadius = Field(default_factory=BlastRadius)


class Scores(Out):
    waste: WasteScore
    spof: SpofScore


class Finding(Out):
    severity: Severity
    code: str
    subjects: list[str]
    message: str
    suggestion: str


class Conflict(Out):
    kind: Literal["hint", "capacity", "spread", "port", "replicas", "selector", "volume"]
    subjects: list[str]
    message: str


class Unplaced(Out):
    pod: str
    replica: int
    reason: str


class SolverInfo(Out):
    objective: float | None = None
    bound: float | None = None
    gap: float | None = None
    wall_time_seconds: float = 0.0
    nodes_used: int = 0
    nodes_lower_bound: int = 0
    terms: dict[str, float] = Field(
        default_factory=dict,
        description="The objective by named term (node_cost, spof_*, traffic_*, moves, unplaced).",
    )
    interrupted: bool = False
    message: str = ""


class Plan(Out):
    status: Status
    pods: list[PlannedPod] = Field(default_factory=list)
    placements: list[PlacedReplica] = Field(default_factory=list)
    nodes: list[NodeUsage] = Field(default_factory=list)
    scores: Scores | None = None
    findings: list[Finding] = Field(default_factory=list)
    conflicts: list[Conflict] = Field(default_factory=list)
    unplaced: list[Unplaced] = Field(default_factory=list)
    solver: SolverInfo = Field(default_factory=SolverInfo)


class Assessment(Out):
    """Scores and findings of a given layout (the user's current one)."""

    pods: list[PlannedPod]
    placements: list[PlacedReplica]
    nodes: list[NodeUsage]
    scores: Scores
    findings: list[Finding]
    unplaced: list[Unplaced] = Field(default_factory=list)


class Comparison(Out):
    waste_delta: float = Field(description="advised minus current waste score (negative = better)")
    spof_delta: float = Field(description="advised minus current SPOF score (negative = better)")
    nodes_current: int
    nodes_advised: int
    pods_current: int
    pods_advised: int
    summary: str


class Review(Out):
    current: Assessment
    advised: Plan
    comparison: Comparison
    what_if: ReviewWhatIf | None = Field(default=None, description=(
        "What the worst node and zone failures (and every zone, up to five) do to the "
        "current and the advised layout."))
    migration: Migration | None = Field(default=None, description=(
        "Ordered steps from the current layout to the advised one that keep every node's "
        "capacity and every critical component's disruption budget at every step."))


class FailureDomain(Out):
    kind: Literal["node", "zone"]
    name: str


class Rescheduled(Out):
    pod: str
    replica: int
    from_node: str = Field(description="The failed node it ran on.")
    node: str = Field(description="Where it runs again.")


class FailureOutcome(Out):
    """What one failure does to a layout, simulated: nothing is re-optimised."""

    failure: FailureDomain
    lost_components: list[str] = Field(description=(
        "Critical components left with no running replica until they are rescheduled."))
    degraded_components: list[str] = Field(description=(
        "Critical components that keep a replica but fewer than their disruption budget "
        "allows (minAvailable), or fewer than half when they have no budget."))
    pending_replicas: list[Unplaced] = Field(description=(
        "Evicted replicas that no remaining node (nor a pool node that may be added) admits "
        "with room: they stay Pending."))
    recovers: bool = Field(description="Every evicted replica runs again somewhere.")
    evicted: int = 0
    rescheduled: list[Rescheduled] = Field(default_factory=list)
    added_nodes: list[str] = Field(default_factory=list, description=(
        "Pool nodes a cluster autoscaler would add for the evicted replicas (the time it "
        "takes is not modelled)."))
    summary: str = ""


class WhatIf(Out):
    failures: list[FailureOutcome]


class ReviewWhatIf(Out):
    current: WhatIf
    advised: WhatIf | None = None


class MigrationStep(Out):
    """One step of a migration: add a node, create or delete one replica, remove a node."""

    action: Literal["addNode", "create", "delete", "removeNode"]
    pod: str | None = Field(default=None, description=(
        "create: a pod of the advised layout; delete: a pod of the current layout, or of the "
        "advised one when the replica is a temporary one."))
    replica: int | None = None
    node: str
    temporary: bool = Field(default=False, description=(
        "A node, or a replica, that only serves the migration and is gone by its end."))
    pool: str | None = Field(default=None, description="addNode: the pool the node is of.")
    allocatable: dict[str, str] | None = Field(default=None, description=(
        "addNode: the node's allocatable (a surge node's is that of the node it copies)."))


class Migration(Out):
    """How to get from the current layout to the advised one without an outage."""

    steps: list[MigrationStep] = Field(default_factory=list)
    moves: int = Field(default=0, description=(
        "Replicas of the current layout that do not stay where they run (deleted, or "
        "recreated elsewhere or in another pod)."))
    peak_nodes: int = Field(default=0, description=(
        "The most nodes in use (hosting a replica, or added and not removed yet) at any step."))
    extra_nodes: int = Field(default=0, description=(
        "peakNodes minus the larger of the current and the advised layout's nodes in use."))
    notes: list[str] = Field(default_factory=list)


class FrontierPoint(Out):
    """Where one plan of the frontier stands, and how it was found."""

    node_cost: int | None = Field(default=None, description=(
        "The objective's node_cost term: each used node's cost or size (an average node "
        "about 1000), plus 1 per node."))
    risk: int | None = Field(default=None, description=(
        "The objective's SPOF and blast-radius terms together (spof_*, blast_radius_*), at "
        "the balanced weights."))
    bounded: str = Field(description=(
        "What the solve minimised under which bound: `least node cost`, `least risk`, or "
        "`least risk with node cost <= N`."))
    proven: bool = Field(description=(
        "Proven optimal for its bound: no plan within it has less risk (or cost)."))
    delta: str = Field(default="", description=(
        "How it differs from the plan before it (cheaper) in the list."))


class Frontier(Out):
    """Plans trading node cost against SPOF, none better than another on both: ordered
    from the cheapest to the safest, the knee recommended."""

    plans: list[Plan] = Field(default_factory=list)
    points: list[FrontierPoint] = Field(default_factory=list, description=(
        "Per plan, in the same order: its node cost and risk, its bound, and its delta."))
    recommended: int = Field(default=0, description=(
        "Index in `plans` of the knee: the plan after which more safety costs most per "
        "unit of risk removed; when no plan lies clearly below the line from the cheapest "
        "to the safest (no clear knee, as `message` says), of the plan with the least node "
        "cost plus risk."))
    extremes_proven: bool = Field(default=False, description=(
        "The cheapest and the safest plans are proven: the least node cost and the least "
        "risk any plan can have."))
    wall_time_seconds: float = 0.0
    message: str = ""


class AdviseAnswer(RootModel[Plan | Frontier]):
    """What `POST /v1/advise` answers: one plan, or the frontier when `policy.objective` is
    `frontier`."""


Review.model_rebuild()
