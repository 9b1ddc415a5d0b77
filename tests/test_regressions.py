"""Cases found in review, each once wrong: kept so that they stay right."""

from __future__ import annotations

from typing import Any

import pytest

from advisor import advise, review
from models import ProblemError, parse_problem
from tests.support import assert_infeasible, assert_valid_plan, container, node, problem
from tests.validator import validate


def test_same_node_is_about_nodes_not_counts() -> None:
    # Node a fits 2 x small + 1 x big; b holds the other 2 x big. Every node with small has big.
    data = problem(
        [container("small", cpu="1", replicas=2, nodeSelector={"only": "a"}),
         container("big", cpu="1", replicas=3)],
        [node("a", cpu="3", labels={"only": "a"}), node("b", cpu="10")],
        hints=[{"type": "sameNode", "containers": ["small", "big"]}],
    )
    assert_valid_plan(data)


def test_spread_node_is_named_in_conflicts() -> None:
    data = problem(
        [container("a", replicas=2), container("b", replicas=2)],
        [node("n1"), node("n2"), node("n3")],
        hints=[{"type": "separateNodes", "containers": ["a", "b"]}],
        spread="node",
    )
    plan = assert_infeasible(data, "hints[0]")
    assert any("policy.spread" in c["subjects"] for c in plan["conflicts"])


def test_zone_spread_with_a_merge_candidate_on_fewer_zones() -> None:
    # v can only use zones a and b; s everywhere. They must not merge into a pod whose
    # zone cap would be computed per unit; the plan stays valid and complete.
    nodes = [node("a1", zone="a", labels={"t": "x"}, allocatable={"pods": 2}),
             node("a2", zone="a", labels={"t": "x"}, allocatable={"pods": 2}),
             node("b1", zone="b", labels={"t": "x"}, allocatable={"pods": 2}),
             node("c1", zone="c", allocatable={"pods": 2})]
    data = problem(
        [container("s", replicas=3, critical=False),
         container("v", replicas=3, nodeSelector={"t": "x"})],
        nodes, hints=[{"type": "traffic", "containers": ["s", "v"]}], spread="zone",
    )
    assert_valid_plan(data)


def test_node_named_like_a_pool_node_is_rejected() -> None:
    data = problem([container("web")], [node("general-1")],
                   pools=[{"name": "general", "allocatable": {"cpu": "4"}, "maxCount": 3}])
    with pytest.raises(ProblemError) as info:
        parse_problem(data)
    assert "nodes[0].name" in {i.path for i in info.value.issues}


def test_node_costs_are_used_even_when_some_are_missing() -> None:
    data = problem(
        [container("a", cpu="1")],
        [node("dear", cost=9.0), node("cheap", cost=1.0)],
        pools=[{"name": "spare", "allocatable": {"cpu": "4", "memory": "8Gi"}, "maxCount": 2}],
    )
    plan = assert_valid_plan(data)
    assert [p["node"] for p in plan["placements"]] == ["cheap"]


def test_helper_ring_is_rejected() -> None:
    data = problem([container("a"), container("b")], [node("n1")], hints=[
        {"type": "sidecar", "container": "a", "main": "b"},
        {"type": "sidecar", "container": "b", "main": "a"},
    ])
    with pytest.raises(ProblemError) as info:
        parse_problem(data)
    assert any("helpers of each other" in i.message for i in info.value.issues)


def test_empty_toleration_value_matches_a_taint_without_value() -> None:
    data = problem(
        [container("a", tolerations=[{"key": "k", "operator": "Equal", "value": ""}])],
        [node("n1", taints=[{"key": "k", "effect": "NoSchedule"}])],
    )
    assert_valid_plan(data)


def test_requests_pods_is_rejected() -> None:
    with pytest.raises(ProblemError) as info:
        parse_problem(problem([{"name": "a", "requests": {"pods": 5}}], [node("n1")]))
    assert "containers[0].requests.pods" in {i.path for i in info.value.issues}


def test_n1_headroom_counts_what_a_pool_can_really_add() -> None:
    # Two 4-cpu nodes, four 1-cpu pods with 2 replicas each (one per node): losing a node
    # evicts 4 replicas; a pool of 1-cpu nodes with maxCount 1 takes only one of them.
    pods = [container(f"p{i}", cpu="1", memory="64Mi", replicas=2) for i in range(4)]
    layout: dict[str, Any] = {
        "pods": [{"name": f"p{i}", "containers": [f"p{i}"], "replicas": 2} for i in range(4)],
        "placements": [{"pod": f"p{i}", "replica": r, "node": f"n{r + 1}"}
                       for i in range(4) for r in (0, 1)],
    }
    data = problem(pods, [node("n1"), node("n2")],
                   pools=[{"name": "tiny", "allocatable": {"cpu": "1", "memory": "1Gi"},
                           "maxCount": 1}])
    data["layout"] = layout
    current = review(parse_problem(data)).current
    headroom = [f for f in current.findings if f.code == "NO_N1_HEADROOM"]
    assert len(headroom) == 3  # three of the four pods cannot be re-placed
    assert current.scores.spof.score == 18.75


def test_review_flags_a_pod_on_a_node_it_does_not_tolerate() -> None:
    data = problem(
        [container("a")],
        [node("n1", taints=[{"key": "gpu", "effect": "NoSchedule"}]), node("n2")],
    )
    data["layout"] = {"pods": [{"name": "a", "containers": ["a"]}],
                      "placements": [{"pod": "a", "replica": 0, "node": "n1"}]}
    current = review(parse_problem(data)).current
    assert "NODE_NOT_ADMITTED" in {f.code for f in current.findings}


def test_idle_pool_zone_counts_for_zone_exposure() -> None:
    # Replicas on n1 and n2 (zone a) while a pool could add zone b: exposed to zone a.
    data = problem(
        [container("web", replicas=2)],
        [node("n1", zone="a"), node("n2", zone="a")],
        pools=[{"name": "pb", "allocatable": {"cpu": "4", "memory": "8Gi"}, "zones": ["b"],
                "maxCount": 2}],
    )
    data["layout"] = {"pods": [{"name": "web", "containers": ["web"], "replicas": 2}],
                      "placements": [{"pod": "web", "replica": 0, "node": "n1"},
                                     {"pod": "web", "replica": 1, "node": "n2"}]}
    result = review(parse_problem(data))
    assert result.current.scores.spof.score == 50.0
    assert result.advised.scores is not None
    assert result.advised.scores.spof.score <= result.current.scores.spof.score


def test_large_pool_truncation_is_not_called_a_proven_shortage() -> None:
    data = problem(
        [container("a", cpu="1", memory="1Gi", replicas=2500)],
        pools=[{"name": "p", "allocatable": {"cpu": "2", "memory": "2Gi"}, "maxCount": 5000}],
        timeLimitSeconds=5,
    )
    parsed = parse_problem(data)
    plan = advise(parsed).to_wire()
    # Only 1000 pool nodes are modelled, 1250 would do: not a proven shortage.
    assert plan["status"] == "heuristic"
    assert len(plan["unplaced"]) == 500
    assert "were considered" in plan["solver"]["message"]
    assert validate(parsed, plan) == []


def test_critical_replicas_are_placed_before_non_critical_ones() -> None:
    data = problem(
        [container("api", cpu="3"), container("batch", cpu="1", replicas=4, critical=False)],
        [node("n1", cpu="4")],
    )
    parsed = parse_problem(data)
    plan = advise(parsed).to_wire()
    assert plan["status"] == "infeasible"
    assert {u["pod"] for u in plan["unplaced"]} == {"batch"}
    assert len(plan["unplaced"]) == 3
    assert validate(parsed, plan) == []


def test_same_node_pair_no_node_can_hold_is_a_hint_conflict() -> None:
    data = problem(
        [container("a", cpu="3"), container("b", cpu="3")], [node("n1"), node("n2")],
        hints=[{"type": "sameNode", "containers": ["a", "b"]}],
    )
    assert_infeasible(data, "hints[0]", kind="hint")


def test_greedy_packs_a_many_replica_pod_instead_of_one_node_each() -> None:
    data = problem([container("a", memory="64Mi", replicas=400)],
                   pools=[{"name": "p", "allocatable": {"cpu": "4", "memory": "16Gi"},
                           "maxCount": 1000}])
    plan = assert_valid_plan(data)
    assert plan["solver"]["nodesUsed"] == plan["solver"]["nodesLowerBound"] == 10


def test_same_node_with_equal_counts_either_pod_may_follow() -> None:
    # b is pinned to n1 (twice); a must then sit with b on n1, and may use n2 too only if
    # b follows a is not required: with equal counts either direction is allowed.
    data = problem(
        [container("a", cpu="600m", replicas=2),
         container("b", cpu="100m", replicas=2, nodeSelector={"pin": "yes"})],
        [node("n1", cpu="1", labels={"pin": "yes"}), node("n2", cpu="1")],
        hints=[{"type": "sameNode", "containers": ["a", "b"]}],
    )
    assert_valid_plan(data)


def test_partly_placed_critical_pod_counts_as_exposed() -> None:
    # Four pod slots for five replicas: one must stay out. Leaving out a replica of a
    # (3 replicas) keeps both pods on two nodes; leaving out one of c leaves c exposed.
    for order in (("a", "c"), ("c", "a")):
        by_name = {"a": container("a", replicas=3), "c": container("c", replicas=2)}
        data = problem([by_name[n] for n in order],
                       [node("n1", allocatable={"pods": 2}), node("n2", allocatable={"pods": 2})])
        plan = advise(parse_problem(data)).to_wire()
        assert [u["pod"] for u in plan["unplaced"]] == ["a"]
        # Both pods keep two nodes; what exposure is left is the full nodes' N-1 headroom.
        assert all(v < 1.0 for v in plan["scores"]["spof"]["exposed"].values())
        assert sorted({p["node"] for p in plan["placements"] if p["pod"] == "c"}) == ["n1", "n2"]


def test_review_keeps_a_pod_on_the_pool_node_it_runs_on() -> None:
    data = problem(
        [container("a", cpu="1")],
        pools=[{"name": "p", "allocatable": {"cpu": "4", "memory": "8Gi"}, "maxCount": 3}],
    )
    data["layout"] = {"pods": [{"name": "a", "containers": ["a"]}],
                      "placements": [{"pod": "a", "replica": 0, "node": "p-2"}]}
    result = review(parse_problem(data))
    assert [p.node for p in result.advised.placements] == ["p-2"]
    assert result.advised.solver.terms.get("moves", 0) < 0
