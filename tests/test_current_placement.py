"""A current layout without placements is placed as kube-scheduler would, honouring the
required rules it enforces: it never shows a violation a running cluster cannot have."""

from __future__ import annotations

from typing import Any

from advisor.review import review
from models import parse_problem

NODES = [{"name": f"n{i}", "allocatable": {"cpu": "4", "memory": "8Gi"}} for i in range(4)]


def _problem(hints: list[dict[str, Any]], spread: str = "none") -> dict[str, Any]:
    return {
        "containers": [
            {"name": "web", "replicas": 2, "requests": {"cpu": "500m", "memory": "256Mi"}},
            {"name": "batch", "replicas": 1, "requests": {"cpu": "500m", "memory": "256Mi"}},
            {"name": "cache", "replicas": 3, "requests": {"cpu": "100m", "memory": "128Mi"}},
        ],
        "hints": hints, "nodes": NODES,
        "policy": {"timeLimitSeconds": 2, "workers": 1, "spread": spread},
        "layout": {"pods": [{"name": "web", "containers": ["web"], "replicas": 2},
                            {"name": "batch", "containers": ["batch"], "replicas": 1},
                            {"name": "cache", "containers": ["cache"], "replicas": 3}]},
    }


def _nodes(result: Any, pod: str) -> list[str]:
    return [p.node for p in result.current.placements if p.pod == pod]


def test_separate_nodes_hold_in_the_current_placement() -> None:
    data = _problem([{"type": "separateNodes", "containers": ["web", "batch"]}])
    data["nodes"] = NODES[:2]  # web takes both: batch stays pending, as in Kubernetes
    result = review(parse_problem(data))
    assert len(_nodes(result, "web")) == 2
    assert _nodes(result, "batch") == []
    assert [u.pod for u in result.current.unplaced] == ["batch"]
    assert "HINT_VIOLATED" not in {f.code for f in result.current.findings}


def test_same_node_partner_is_followed_when_it_can_be() -> None:
    result = review(parse_problem(_problem([{"type": "sameNode",
                                              "containers": ["web", "batch"]}])))
    assert set(_nodes(result, "batch")) <= set(_nodes(result, "web"))


def test_hard_spreading_keeps_one_replica_per_node() -> None:
    data = _problem([], spread="node")
    data["nodes"] = NODES[:2]  # cache has 3 replicas: the third stays pending, never stacked
    result = review(parse_problem(data))
    for pod in ("web", "batch", "cache"):
        nodes = _nodes(result, pod)
        assert len(nodes) == len(set(nodes))
    assert len(_nodes(result, "cache")) == 2
    assert [u.pod for u in result.current.unplaced] == ["cache"]
