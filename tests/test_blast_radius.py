"""Blast radius: what one node or zone failure takes down at once, scored, reported, and kept
from growing when consolidating saves nothing."""

from __future__ import annotations

from typing import Any

import pytest

from advisor.review import review
from advisor.solve import advise
from models import parse_problem
from tests.validator import validate

SERVICES = 19
NODES = 3


def _many_singletons(objective: str = "balanced", releasable: bool = False,
                     pools: bool = False) -> dict[str, Any]:
    """19 single-replica services running 7/6/6 on three fixed nodes, as many small real
    applications do: every node hosts the only replica of several services."""
    containers = [{"name": f"svc-{i:02d}", "requests": {"cpu": "100m", "memory": "128Mi"}}
                  for i in range(SERVICES)]
    nodes = [{"name": f"node-{j}", "allocatable": {"cpu": "8", "memory": "32Gi"},
              **({"releasable": True} if releasable else {})} for j in range(NODES)]
    split = [0] * 7 + [1] * 6 + [2] * 6
    data: dict[str, Any] = {
        "containers": containers, "nodes": nodes,
        "policy": {"objective": objective, "timeLimitSeconds": 5, "workers": 2},
        "layout": {
            "pods": [{"name": c["name"], "containers": [c["name"]], "replicas": 1}
                     for c in containers],
            "placements": [{"pod": c["name"], "replica": 0, "node": f"node-{split[i]}"}
                           for i, c in enumerate(containers)],
        },
    }
    if pools:
        data["pools"] = [{"name": "extra", "allocatable": {"cpu": "8", "memory": "32Gi"},
                          "maxCount": 3}]
    return data


@pytest.mark.parametrize("objective", ["balanced", "minWaste", "minSpof"])
def test_fixed_nodes_paid_anyway_are_never_consolidated_into_a_larger_blast_radius(
        objective: str) -> None:
    data = _many_singletons(objective)
    result = review(parse_problem(data)).to_wire()
    current = result["current"]["scores"]["spof"]["blastRadius"]
    advised = result["advised"]["scores"]["spof"]["blastRadius"]
    assert current["node"] == pytest.approx(100 * 7 / SERVICES, abs=0.01)
    assert advised["node"] <= current["node"]
    assert result["advised"]["solver"]["nodesUsed"] == NODES
    assert validate(parse_problem(data), result["advised"]) == []
    assert "blast radius (one node) 37 % -> 37 %" in result["comparison"]["summary"]


def test_a_releasable_node_may_be_freed_when_the_objective_says_so_and_the_review_says_the_price(
        ) -> None:
    data = _many_singletons("minWaste", releasable=True)
    result = review(parse_problem(data)).to_wire()
    advised = result["advised"]
    assert advised["solver"]["nodesUsed"] < NODES  # nodes the user can give back are freed
    assert advised["scores"]["spof"]["blastRadius"]["node"] > 100 * 7 / SERVICES
    summary = result["comparison"]["summary"]
    assert "frees" in summary
    assert "concentrates critical components" in summary
    assert validate(parse_problem(data), advised) == []


def test_balanced_does_not_trade_a_much_larger_blast_radius_for_two_releasable_nodes() -> None:
    data = _many_singletons("balanced", releasable=True)
    advised = review(parse_problem(data)).to_wire()["advised"]
    assert advised["scores"]["spof"]["blastRadius"]["node"] <= 100 * 7 / SERVICES + 0.01


def test_an_empty_cluster_is_spread_not_stacked_on_fixed_nodes() -> None:
    data = _many_singletons()
    del data["layout"]
    plan = advise(parse_problem(data)).to_wire()
    assert plan["scores"]["spof"]["blastRadius"]["node"] == pytest.approx(
        100 * 7 / SERVICES, abs=0.01)  # 7/6/6: the least any placement can reach
    assert validate(parse_problem(data), plan) == []


def test_the_concentrated_layout_gets_a_blast_radius_finding_naming_node_and_components(
        ) -> None:
    data = _many_singletons()
    data["layout"]["placements"] = [{"pod": p["name"], "replica": 0, "node": "node-0"}
                                    for p in data["layout"]["pods"]]
    result = review(parse_problem(data)).to_wire()
    current = result["current"]
    assert current["scores"]["spof"]["blastRadius"] == {
        "node": 100.0, "zone": 100.0, "worstNode": "node-0", "worstZone": "node-0"}
    found = [f for f in current["findings"] if f["code"] == "BLAST_RADIUS"]
    assert len(found) == 1
    assert found[0]["severity"] == "high"
    assert found[0]["subjects"][0] == "node/node-0"
    assert set(found[0]["subjects"][1:]) == {f"svc-{i:02d}" for i in range(SERVICES)}
    advised = result["advised"]["scores"]["spof"]["blastRadius"]["node"]
    assert advised < 100.0
    assert "one failure stops fewer critical components" in result["comparison"]["summary"]


def test_replicated_and_spread_components_are_not_lost_with_one_node() -> None:
    data = _many_singletons()
    for c in data["containers"]:
        c["replicas"] = 2
    del data["layout"]
    plan = advise(parse_problem(data)).to_wire()
    assert plan["scores"]["spof"]["blastRadius"]["node"] == 0.0
    assert not [f for f in plan["findings"] if f["code"] == "BLAST_RADIUS"]
    assert validate(parse_problem(data), plan) == []


def test_zones_have_a_blast_radius_of_their_own() -> None:
    data = _many_singletons()
    del data["layout"]
    data["nodes"].append({**data["nodes"][0], "name": "node-3"})
    for j, node in enumerate(data["nodes"]):
        node["zone"] = "zone-a" if j < 2 else "zone-b"
    plan = advise(parse_problem(data)).to_wire()
    radius = plan["scores"]["spof"]["blastRadius"]
    assert radius["node"] == pytest.approx(100 * 5 / SERVICES, abs=0.01)  # 5/5/5/4
    assert radius["zone"] == pytest.approx(100 * 10 / SERVICES, abs=0.01)  # 10/9
    assert validate(parse_problem(data), plan) == []
