"""Wire and domain types of pod-layout-advisor. Imports pydantic only."""

from models.plan import (
    Assessment,
    Comparison,
    Conflict,
    Finding,
    Frontier,
    FrontierPoint,
    NodeUsage,
    PlacedReplica,
    Plan,
    PlannedPod,
    Review,
    Scores,
    SolverInfo,
    SpofScore,
    Unplaced,
    WasteScore,
)
from models.problem import (
    Container,
    DisruptionBudget,
    GroupHint,
    HelperHint,
    Layout,
    LayoutPod,
    Node,
    Objective,
    Placement,
    Policy,
    Pool,
    Problem,
    Spread,
    TrafficHint,
)
from models.validation import FieldIssue, ProblemError, parse_problem

__all__ = [
    "Assessment", "Comparison", "Conflict", "Container", "DisruptionBudget",
    "FieldIssue", "Finding", "Frontier", "FrontierPoint", "GroupHint",
    "HelperHint", "Layout", "LayoutPod", "Node", "NodeUsage", "Objective", "PlacedReplica",
    "Placement", "Plan", "PlannedPod", "Policy", "Pool", "Problem", "ProblemError", "Review",
    "Scores", "SolverInfo", "SpofScore", "Spread", "TrafficHint", "Unplaced", "WasteScore",
    "parse_problem",
]
