"""The reference scenario of the domain notes, end to end, in review mode."""

from __future__ import annotations

from typing import Any

from advisor import advise, review
from models import parse_problem

TIERS = ("frontend", "backend", "database")
HELPERS = {"frontend-logs": "frontend", "cache-proxy": "backend", "db-metrics": "database"}


def test_review_of_the_monolith(reference_review: dict[str, Any]) -> None:
    result = review(parse_problem(reference_review))
    current, advised = result.current, result.advised
    assert advised.status in ("optimal", "feasible")
    assert advised.scores is not None

    pod_of = {c: p.name for p in advised.pods for c in p.containers}
    # Every helper stays with its main container ...
    for helper, main in HELPERS.items():
        assert pod_of[helper] == pod_of[main]
    # ... and the three tiers are in separate pods.
    assert len({pod_of[t] for t in TIERS}) == 3
    # Replicas are spread over both nodes.
    for tier in TIERS:
        nodes = {p.node for p in advised.placements if p.pod == pod_of[tier]}
        assert nodes == {"node-1", "node-2"}
    # Lower waste and lower SPOF than the monolith.
    assert advised.scores.waste.score < current.scores.waste.score
    assert advised.scores.spof.score < current.scores.spof.score
    assert result.comparison.spof_delta < 0
    assert result.comparison.waste_delta < 0

    # The review says what is wrong with the monolith.
    codes = {f.code for f in current.findings}
    assert {"CRITICAL_COMPONENTS_BUNDLED", "SINGLE_REPLICA", "IDLE_NODES"} <= codes
    assert current.scores.spof.score == 100.0
    assert current.scores.waste.idle >= 50.0
    bundled = next(f for f in current.findings if f.code == "CRITICAL_COMPONENTS_BUNDLED")
    assert bundled.severity == "high"
    assert set(bundled.subjects) == set(TIERS)


def test_advised_pods_explain_their_grouping(reference: dict[str, Any]) -> None:
    plan = advise(parse_problem(reference))
    by_name = {p.name: p for p in plan.pods}
    assert any("sidecar of frontend" in r for r in by_name["frontend"].reasons)
    assert any("ambassador of backend" in r for r in by_name["backend"].reasons)
    assert any("adapter of database" in r for r in by_name["database"].reasons)
    # The objective is the sum of its named terms.
    assert plan.solver.objective == sum(plan.solver.terms.values())
    assert {"node_cost", "traffic_on_node"} <= set(plan.solver.terms)
    assert plan.solver.bound is not None
    assert plan.solver.gap is not None
