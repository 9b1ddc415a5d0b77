"""Review mode on layouts other than the reference one."""

from __future__ import annotations

from typing import Any

import pytest

from advisor import advise, review
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
            {"name": "cron", "requests": {"cpu": "100m", "memory": "64Mi"}},
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
        {"name": "misc", "containers": ["shipper", "batch", "cron"], "replicas": 2},
    ]})
    result = review(parse_problem(data))
    current = result.current
    # Every replica got a node (pool nodes opened as an autoscaler would), none twice.
    assert len(current.placements) == 4
    assert not current.unplaced
    assert all(p.node.startswith("general-") for p in current.placements)
    codes = {f.code for f in current.findings}
    # The sidecar runs apart from its main; batch and cron, declaring no replica count,
    # run twice only because they share a pod.
    assert "HELPER_SEPARATED" in codes
    assert "UNRELATED_CONTAINERS_IN_POD" in codes
    assert "SCALE_MISMATCH" not in codes  # no replica count is declared ...
    assert "DUPLICATED_CONTAINER" in codes  # ... so the second copies are duplication
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
        {"pods": [{"name": "all", "containers": ["web", "shipper", "batch", "cron"],
                   "replicas": 2}],
         "placements": [{"pod": "all", "replica": 0, "node": "n1"},
                        {"pod": "all", "replica": 1, "node": "n1"}]},
        nodes=[{"name": "n1", "allocatable": {"cpu": "4", "memory": "8Gi"}}],
    )
    current = review(parse_problem(data)).current
    codes = {f.code for f in current.findings}
    assert {"NODE_OVERCOMMITTED", "PORT_CLASH", "REPLICAS_ON_ONE_NODE"} <= codes
    assert current.scores.spof.score == 100.0


def test_review_needs_a_layout() -> None:
    data = problem({"pods": [{"name": "x", "containers": ["web", "shipper", "batch", "cron"]}]})
    del data["layout"]
    with pytest.raises(InputError):
        review(parse_problem(data))


def test_kube_like_scheduling_spreads_over_zones_and_fills_partial_placements() -> None:
    nodes = [{"name": n, "allocatable": {"cpu": "4", "memory": "8Gi"}, "zone": z}
             for n, z in (("n1", "za"), ("n2", "za"), ("n3", "zb"))]
    data = problem(
        {"pods": [{"name": "web", "containers": ["web", "shipper"], "replicas": 2},
                  {"name": "batch", "containers": ["batch"]},
                  {"name": "cron", "containers": ["cron"]}],
         "placements": [{"pod": "web", "replica": 0, "node": "n1"}]},
        nodes=nodes, pools=[],
    )
    current = review(parse_problem(data)).current
    placed = {(p.pod, p.replica): p.node for p in current.placements}
    assert placed[("web", 0)] == "n1"  # kept as given
    assert placed[("web", 1)] == "n3"  # the other zone, as default topology spreading does
    assert len(placed) == 4
    assert not current.unplaced
    codes = {f.code for f in current.findings}
    assert "REPLICAS_IN_ONE_ZONE" not in codes
    assert "REPLICAS_ON_ONE_NODE" not in codes


def test_advised_plan_keeps_a_good_current_layout_where_it_is() -> None:
    # Already optimal today (spread, separate pods): the advice should not move anything.
    nodes = [{"name": f"n{i}", "allocatable": {"cpu": "4", "memory": "8Gi"}} for i in (1, 2, 3)]
    data = problem(
        {"pods": [{"name": "web", "containers": ["web", "shipper"], "replicas": 2},
                  {"name": "batch", "containers": ["batch"]},
                  {"name": "cron", "containers": ["cron"]}],
         "placements": [{"pod": "web", "replica": 0, "node": "n3"},
                        {"pod": "web", "replica": 1, "node": "n2"},
                        {"pod": "batch", "replica": 0, "node": "n2"},
                        {"pod": "cron", "replica": 0, "node": "n3"}]},
        nodes=nodes, pools=[],
    )
    result = review(parse_problem(data))
    today = {(p.pod, p.node) for p in result.current.placements}
    advised = {(p.pod, p.node) for p in result.advised.placements}
    assert advised == today
    assert result.advised.status == "optimal"


def test_memory_in_plain_bytes_is_flagged() -> None:
    data = problem({"pods": [{"name": "x", "containers": ["web", "shipper", "batch", "cron"]}]})
    del data["layout"]
    data["containers"][3]["requests"]["memory"] = 512
    codes = {f.code: f for f in advise(parse_problem(data)).findings}
    assert "512Mi" in codes["TINY_MEMORY_REQUEST"].suggestion

