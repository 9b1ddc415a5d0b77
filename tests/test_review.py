"""Review mode on layouts other than the reference one."""

from __future__ import annotations

from typing import Any

import pytest

from advisor import review
from advisor.errors import InputError
from models import parse_problem
from tests.validator import validate


def problem(layout: dict[str, Any], **extra: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "containers": [
            {"name": "web", "requests": {"cpu": "1", "memory": "1Gi"}, "ports": [80],
             "replicas": 2},
            {"name": "shipper", "requests": {"cpu": "100m", "memory": "64Mi"}, "critical": False},
            {"name": "batch", "requests": {"cpu": "2", "memory": "2Gi"}, "ports": [80]},
        ],
        "hints": [{"type": "sidecar", "container": "shipper", "main": "web"}],
        "pools": [{"name": "general", "allocatable": {"cpu": "4", "memory": "8Gi"},
                   "maxCount": 5}],
        "policy": {"timeLimitSeconds": 3, "workers": 1},
        "layout": layout,
    }
    data.update(extra)
    return data


def test_layout_without_placements_is_scheduled_like_kube_scheduler() -> None:
    data = problem({"pods": [
        {"name": "web", "containers": ["web"], "replicas": 2},
        {"name": "misc", "containers": ["shipper", "batch"], "replicas": 2},
    ]})
    result = review(parse_problem(data))
    current = result.current
    # Every replica got a node (pool nodes opened as an autoscaler would), none twice.
    assert len(current.placements) == 4
    assert not current.unplaced
    assert all(p.node.startswith("general-") for p in current.placements)
    codes = {f.code for f in current.findings}
    # The sidecar runs apart from its main, and batch runs twice only because of its pod.
    assert "HELPER_SEPARATED" in codes
    assert "UNRELATED_CONTAINERS_IN_POD" in codes
    assert "SCALE_MISMATCH" not in codes  # batch declares no replicas ...
    assert "DUPLICATED_CONTAINER" in codes  # ... so its second copy is duplication
    assert current.scores.waste.duplication > 0
    # The advised plan fixes it, and is valid by the independent validator.
    advised = result.advised
    assert validate(parse_problem(data), advised.to_wire()) == []
    pod_of = {c: p.name for p in advised.pods for c in p.containers}
    assert pod_of["shipper"] == pod_of["web"]
    assert pod_of["batch"] != pod_of["web"]
    assert advised.scores is not None
    assert advised.scores.waste.duplication == 0


def test_overcommitted_current_layout_is_flagged() -> None:
    data = problem(
        {"pods": [{"name": "all", "containers": ["web", "shipper", "batch"], "replicas": 2}],
         "placements": [{"pod": "all", "replica": 0, "node": "n1"},
                        {"pod": "all", "replica": 1, "node": "n1"}]},
        nodes=[{"name": "n1", "allocatable": {"cpu": "4", "memory": "8Gi"}}],
    )
    current = review(parse_problem(data)).current
    codes = {f.code for f in current.findings}
    assert {"NODE_OVERCOMMITTED", "PORT_CLASH", "REPLICAS_ON_ONE_NODE"} <= codes
    assert current.scores.spof.score == 100.0


def test_review_needs_a_layout() -> None:
    data = problem({"pods": [{"name": "x", "containers": ["web", "shipper", "batch"]}]})
    del data["layout"]
    with pytest.raises(InputError):
        review(parse_problem(data))
