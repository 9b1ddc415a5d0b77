"""Components over several pods (a Service over workloads) and disruption budgets: how they
count for SPOF and blast radius, what the plan does with them, and what is reported."""

from __future__ import annotations

from typing import Any

import pytest

from advisor.review import review
from models import ProblemError, parse_problem
from tests.support import assert_valid_plan, container, node, problem, solve
from tests.validator import validate


def _canary(layout_on: list[str] | None = None) -> dict[str, Any]:
    """reviews v1, v2 and v3 behind one Service (one replica each), plus two other
    single-replica services, on a fixed 3-node cluster."""
    containers = [container(f"reviews-v{i}", component="reviews") for i in (1, 2, 3)]
    containers += [container("ratings"), container("details")]
    data = problem(containers, [node(f"node-{j}") for j in range(3)])
    if layout_on is not None:
        names = [c["name"] for c in containers]
        data["layout"] = {
            "pods": [{"name": n, "containers": [n]} for n in names],
            "placements": [{"pod": n, "replica": 0, "node": k}
                           for n, k in zip(names, layout_on, strict=True)],
        }
    return data


def test_a_service_over_three_single_replica_workloads_is_one_component_not_three_spofs(
        ) -> None:
    # All three versions on one node: one component whose 3 replicas share a node.
    data = _canary(["node-0", "node-0", "node-0", "node-1", "node-2"])
    result = review(parse_problem(data)).to_wire()
    current = result["current"]
    spof = current["scores"]["spof"]
    assert spof["components"] == 3  # reviews, ratings, details
    assert spof["exposed"]["reviews"] == 1.0
    assert not any(name.startswith("reviews-v") for name in spof["exposed"])
    single = [f for f in current["findings"] if f["code"] == "SINGLE_REPLICA"]
    assert sorted(s for f in single for s in f["subjects"]) == ["details", "ratings"]
    one_node = [f for f in current["findings"] if f["code"] == "REPLICAS_ON_ONE_NODE"]
    assert [f["subjects"] for f in one_node] == [["reviews"]]
    assert "reviews-v1, reviews-v2, reviews-v3" in one_node[0]["message"]
    # node-0's failure stops one component of three (reviews), as do the others'.
    assert spof["blastRadius"]["node"] == pytest.approx(100 / 3, abs=0.01)
    assert validate(parse_problem(data), result["advised"]) == []


def test_the_advised_plan_spreads_a_component_over_nodes_and_then_it_is_not_exposed() -> None:
    data = _canary(["node-0", "node-0", "node-0", "node-1", "node-2"])
    advised = review(parse_problem(data)).to_wire()["advised"]
    nodes = {p["node"] for p in advised["placements"] if p["pod"].startswith("reviews-v")}
    assert len(nodes) >= 2
    assert "reviews" not in advised["scores"]["spof"]["exposed"]
    assert not [f for f in advised["findings"] if "reviews" in f["subjects"]
                and f["code"] in ("SINGLE_REPLICA", "REPLICAS_ON_ONE_NODE")]


def test_without_the_component_the_same_versions_are_three_single_replicas() -> None:
    data = _canary(["node-0", "node-0", "node-0", "node-1", "node-2"])
    for c in data["containers"]:
        c.pop("component", None)
    current = review(parse_problem(data)).to_wire()["current"]
    assert current["scores"]["spof"]["components"] == 5
    single = [s for f in current["findings"] if f["code"] == "SINGLE_REPLICA"
              for s in f["subjects"]]
    assert {"reviews-v1", "reviews-v2", "reviews-v3"} <= set(single)


def test_a_component_over_pods_is_lost_with_a_node_only_when_all_its_pods_are_there() -> None:
    # reviews on node-0 and node-1: no single node failure stops it; details and ratings
    # each alone on node-2: node-2 stops 2 of 3.
    data = _canary(["node-0", "node-1", "node-0", "node-2", "node-2"])
    current = review(parse_problem(data)).to_wire()["current"]
    blast = current["scores"]["spof"]["blastRadius"]
    assert blast["worstNode"] == "node-2"
    assert blast["node"] == pytest.approx(200 / 3, abs=0.01)
    found = [f for f in current["findings"] if f["code"] == "BLAST_RADIUS"]
    assert found
    assert "reviews" not in found[0]["subjects"]


def _budgeted(min_available: Any = None, max_unavailable: Any = None, replicas: int = 3,
              on: list[str] | None = None) -> dict[str, Any]:
    data = problem([container("web", replicas=replicas)], [node(f"n{j}") for j in range(3)],
                   spread="none")
    budget: dict[str, Any] = {"name": "web-pdb", "containers": ["web"]}
    if min_available is not None:
        budget["minAvailable"] = min_available
    if max_unavailable is not None:
        budget["maxUnavailable"] = max_unavailable
    data["disruptionBudgets"] = [budget]
    if on is not None:
        data["layout"] = {"pods": [{"name": "web", "containers": ["web"], "replicas": replicas}],
                          "placements": [{"pod": "web", "replica": i, "node": k}
                                         for i, k in enumerate(on)]}
    return data


def test_a_node_holding_more_replicas_than_the_budget_allows_down_is_reported() -> None:
    # 3 replicas, minAvailable 2: one may be down; n0 holds two.
    data = _budgeted(min_available=2, on=["n0", "n0", "n1"])
    result = review(parse_problem(data)).to_wire()
    current = result["current"]
    breaks = [f for f in current["findings"] if f["code"] == "N1_BREAKS_BUDGET"]
    assert len(breaks) == 1
    assert breaks[0]["subjects"] == ["web"]
    assert "losing node n0 stops 2 of its 3 replicas" in breaks[0]["message"]
    assert "web-pdb allows 1" in breaks[0]["message"]
    assert current["scores"]["spof"]["exposed"] == {"web": 0.25}
    # The advice keeps every node at one replica or fewer.
    advised = result["advised"]
    per_node: dict[str, int] = {}
    for p in advised["placements"]:
        per_node[p["node"]] = per_node.get(p["node"], 0) + 1
    assert max(per_node.values()) == 1
    assert not [f for f in advised["findings"] if f["code"] == "N1_BREAKS_BUDGET"]
    assert advised["scores"]["spof"]["score"] == 0.0
    assert validate(parse_problem(data), advised) == []


@pytest.mark.parametrize(("budget", "allowed"), [
    ({"maxUnavailable": 1}, 1), ({"maxUnavailable": "34%"}, 2), ({"minAvailable": "50%"}, 2),
    ({"minAvailable": 1}, 3), ({"minAvailable": 4}, 0), ({"maxUnavailable": "0%"}, 0),
])
def test_budget_counts_and_percentages_round_as_kubernetes_does(budget: dict[str, Any],
                                                                allowed: int) -> None:
    data = problem([container("web", replicas=4)], [node("n0")])
    data["disruptionBudgets"] = [{"name": "b", "containers": ["web"], **budget}]
    parsed = parse_problem(data)
    assert parsed.disruption_budgets[0].allowed_down(4) == allowed


def test_a_budget_that_allows_nothing_down_blocks_drains_and_says_so() -> None:
    data = _budgeted(min_available=1, replicas=1)
    _, plan = solve(data)
    blocks = [f for f in plan["findings"] if f["code"] == "BUDGET_BLOCKS_DRAIN"]
    assert len(blocks) == 1
    assert blocks[0]["subjects"] == ["web-pdb", "web"]
    assert "maxUnavailable: 1" in blocks[0]["suggestion"]
    # A budget that allows one down of several replicas blocks nothing.
    _, plan = solve(_budgeted(max_unavailable=1))
    assert not [f for f in plan["findings"] if f["code"] == "BUDGET_BLOCKS_DRAIN"]


def test_a_budget_over_a_component_spanning_pods_counts_all_their_replicas() -> None:
    containers = [container(f"api-v{i}", component="api", replicas=2) for i in (1, 2)]
    data = problem(containers, [node(f"n{j}") for j in range(4)])
    data["disruptionBudgets"] = [{"name": "api", "containers": ["api-v1", "api-v2"],
                                  "minAvailable": 3}]
    plan = assert_valid_plan(data)
    per_node: dict[str, int] = {}
    for p in plan["placements"]:
        per_node[p["node"]] = per_node.get(p["node"], 0) + 1
    assert max(per_node.values()) == 1  # 4 replicas, 1 may be down: one per node
    assert plan["scores"]["spof"]["components"] == 1
    assert plan["scores"]["spof"]["score"] == 0.0


@pytest.mark.parametrize(("change", "field"), [
    ({"disruptionBudgets": [{"name": "b", "containers": ["nope"], "minAvailable": 1}]},
     "disruptionBudgets[0].containers[0]"),
    ({"disruptionBudgets": [{"name": "b", "containers": ["web"]}]}, "disruptionBudgets[0]"),
    ({"disruptionBudgets": [{"name": "b", "containers": ["web"], "minAvailable": 1,
                             "maxUnavailable": 1}]}, "disruptionBudgets[0]"),
    ({"disruptionBudgets": [{"name": "b", "containers": ["web"], "minAvailable": "150%"}]},
     "disruptionBudgets[0]"),
    ({"disruptionBudgets": [{"name": "a", "containers": ["web"], "minAvailable": 1},
                            {"name": "b", "containers": ["web"], "minAvailable": 1}]},
     "disruptionBudgets[1].containers[0]"),
])
def test_bad_budgets_are_named_errors(change: dict[str, Any], field: str) -> None:
    data = {**problem([container("web", replicas=2)], [node("n0")]), **change}
    with pytest.raises(ProblemError) as caught:
        parse_problem(data)
    assert any(issue.path == field for issue in caught.value.issues), caught.value.issues


def test_a_component_may_not_take_the_name_of_a_container_in_another_component() -> None:
    data = problem([container("web", component="api"), container("api", component="backend")],
                   [node("n0")])
    with pytest.raises(ProblemError) as caught:
        parse_problem(data)
    assert [i.path for i in caught.value.issues] == ["containers[0].component"]
    # Naming a container's own component joins it: web and api are one component.
    parsed = parse_problem(problem([container("web", component="api"), container("api")],
                                   [node("n0"), node("n1")]))
    _, plan = solve(parsed.model_dump(by_alias=True, exclude_defaults=True))
    assert plan["scores"]["spof"]["components"] == 1
