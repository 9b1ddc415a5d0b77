"""Every hard constraint family: one small feasible case, one infeasible case.

Feasible plans are checked by the independent oracle (tests/validator.py);
infeasible ones must say why, naming the containers, pods or hints involved.
"""

from __future__ import annotations

from typing import Any

import pytest

from models import parse_problem
from models.quantity import parse_quantity, to_units
from tests.support import (
    assert_infeasible,
    assert_valid_plan,
    container,
    node,
    problem,
    solve,
)
from tests.validator import validate


def pods_by_container(plan: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c: pod for pod in plan["pods"] for c in pod["containers"]}


def nodes_of(plan: dict[str, Any], pod: str) -> list[str]:
    return sorted(p["node"] for p in plan["placements"] if p["pod"] == pod)


def assert_shortage(data: dict[str, Any], pod: str, placed: int, unplaced: int) -> None:
    """Hints hold but the nodes are too few: the rest is placed, the overflow listed."""
    parsed, plan = solve(data)
    assert plan["status"] == "infeasible", plan
    capacity = [c for c in plan["conflicts"] if c["kind"] == "capacity"]
    assert capacity, plan["conflicts"]
    assert any(pod in c["subjects"] or pod in c["message"] for c in capacity), capacity
    assert len([p for p in plan["placements"] if p["pod"] == pod]) == placed
    assert [u["pod"] for u in plan["unplaced"]] == [pod] * unplaced
    assert all(u["reason"] for u in plan["unplaced"])
    assert validate(parsed, plan) == []


# ---- capacity ------------------------------------------------------------------------------

# Per resource: a request and an allocatable such that each node holds exactly one replica.
ONE_REPLICA_PER_NODE = pytest.mark.parametrize(
    ("requests", "allocatable"),
    [
        ({"cpu": "1500m", "memory": "1Gi"}, {"cpu": "2", "memory": "8Gi"}),
        ({"cpu": "100m", "memory": "3Gi"}, {"cpu": "8", "memory": "4Gi"}),
        ({"cpu": "100m", "memory": "1Gi", "nvidia.com/gpu": "1"},
         {"cpu": "8", "memory": "8Gi", "nvidia.com/gpu": "1"}),
    ],
    ids=["cpu", "memory", "gpu"],
)


@ONE_REPLICA_PER_NODE
def test_capacity_feasible(requests: dict[str, str], allocatable: dict[str, str]) -> None:
    # Two replicas, two nodes that hold one each: the plan must use both.
    data = problem(
        [{"name": "app", "requests": requests, "replicas": 2}, container("tiny", "10m", "1Mi")],
        [{"name": "n1", "allocatable": allocatable}, {"name": "n2", "allocatable": allocatable}],
    )
    plan = assert_valid_plan(data)
    assert nodes_of(plan, "app") == ["n1", "n2"]


@ONE_REPLICA_PER_NODE
def test_capacity_shortage(requests: dict[str, str], allocatable: dict[str, str]) -> None:
    data = problem(
        [{"name": "app", "requests": requests, "replicas": 3}],
        [{"name": "n1", "allocatable": allocatable}, {"name": "n2", "allocatable": allocatable}],
    )
    assert_shortage(data, "app", placed=2, unplaced=1)


@pytest.mark.parametrize(
    ("resource", "amount", "capacity"),
    [("cpu", "6", "4"), ("memory", "9Gi", "8Gi"), ("nvidia.com/gpu", "2", "1")],
)
def test_container_larger_than_any_node(resource: str, amount: str, capacity: str) -> None:
    data = problem(
        [{"name": "giant", "requests": {"cpu": "1", "memory": "1Gi", resource: amount}},
         container("small")],
        [node("n1", allocatable={resource: capacity}), node("n2", cpu="2", memory="2Gi")],
    )
    plan = assert_infeasible(data, "giant", kind="capacity")
    assert any(resource in c["message"] for c in plan["conflicts"])


def test_pods_limit_feasible() -> None:
    data = problem([container(f"c{i}", "10m", "1Mi") for i in range(4)],
                   [node("n1", allocatable={"pods": 2}), node("n2", allocatable={"pods": 2})])
    plan = assert_valid_plan(data)
    per_node = [p["node"] for p in plan["placements"]]
    assert sorted(per_node.count(n) for n in ("n1", "n2")) == [2, 2]


def test_pods_limit_shortage() -> None:
    data = problem([container("app", "10m", "1Mi", replicas=5)],
                   [node("n1", allocatable={"pods": 2}), node("n2", allocatable={"pods": 2})])
    assert_shortage(data, "app", placed=4, unplaced=1)


def test_shortage_places_the_rest() -> None:
    data = problem(
        [container("big", "3", "1Gi", replicas=3), container("other", "500m", "1Gi")],
        [node("n1"), node("n2")],
    )
    parsed, plan = solve(data)
    assert plan["status"] == "infeasible"
    assert [c["kind"] for c in plan["conflicts"]] == ["capacity"]
    assert len(nodes_of(plan, "other")) == 1
    assert len(nodes_of(plan, "big")) == 2
    assert [u["pod"] for u in plan["unplaced"]] == ["big"]
    assert validate(parsed, plan) == []


# ---- helpers: sidecar, ambassador, adapter -------------------------------------------------


@pytest.mark.parametrize("kind", ["sidecar", "ambassador", "adapter"])
def test_helper_feasible(kind: str) -> None:
    data = problem(
        [container("main", "1", "1Gi", replicas=2, ports=[8080]),
         container("helper", "100m", "64Mi", ports=[9000])],
        [node("n1"), node("n2")],
        [{"type": kind, "container": "helper", "main": "main"}],
    )
    plan = assert_valid_plan(data)
    pod = pods_by_container(plan)["helper"]
    assert sorted(pod["containers"]) == ["helper", "main"]
    assert pod["replicas"] == 2
    assert any(kind in reason for reason in pod["reasons"])


@pytest.mark.parametrize("kind", ["sidecar", "ambassador", "adapter"])
def test_helper_infeasible_with_clashing_port(kind: str) -> None:
    data = problem(
        [container("main", ports=[8080]), container("helper", ports=[8080])],
        [node("n1")],
        [{"type": kind, "container": "helper", "main": "main"}],
    )
    plan = assert_infeasible(data, "main", "helper", kind="port")
    assert any("8080" in c["message"] for c in plan["conflicts"])


def test_helper_and_main_fit_alone_but_not_together() -> None:
    data = problem(
        [container("main", "3", "1Gi"), container("helper", "2", "1Gi")],
        [node("n1"), node("n2")],
        [{"type": "sidecar", "container": "helper", "main": "main"}],
    )
    assert_infeasible(data, "main", kind="capacity")


# ---- samePod / separatePods ----------------------------------------------------------------


def test_same_pod_feasible() -> None:
    data = problem(
        [container("a", replicas=2, ports=[80]), container("b", ports=[81]),
         container("c", replicas=2, ports=[82])],
        [node("n1"), node("n2")],
        [{"type": "samePod", "containers": ["a", "b", "c"]}],
    )
    plan = assert_valid_plan(data)
    assert len(plan["pods"]) == 1
    assert plan["pods"][0]["replicas"] == 2


def test_same_pod_infeasible_against_separate_pods() -> None:
    data = problem(
        [container("a"), container("b")],
        [node("n1")],
        [{"type": "samePod", "containers": ["a", "b"]},
         {"type": "separatePods", "containers": ["a", "b"]}],
    )
    plan = assert_infeasible(data, "a", "b", kind="hint")
    assert any("separatePods" in c["message"] for c in plan["conflicts"])


def test_separate_pods_feasible_despite_traffic() -> None:
    data = problem(
        [container("a", replicas=2), container("b", replicas=2), container("c", replicas=2)],
        [node("n1"), node("n2")],
        [{"type": "traffic", "containers": ["a", "b"], "weight": 100},
         {"type": "traffic", "containers": ["a", "c"], "weight": 100},
         {"type": "separatePods", "containers": ["a", "b"]}],
    )
    plan = assert_valid_plan(data)
    pods = pods_by_container(plan)
    assert pods["a"]["name"] != pods["b"]["name"]


def test_separate_pods_infeasible_with_sidecar() -> None:
    data = problem(
        [container("main"), container("helper")],
        [node("n1")],
        [{"type": "sidecar", "container": "helper", "main": "main"},
         {"type": "separatePods", "containers": ["main", "helper"]}],
    )
    assert_infeasible(data, "main", "helper", "hints[1]", kind="hint")


# ---- sameNode / separateNodes --------------------------------------------------------------


def test_same_node_feasible() -> None:
    data = problem(
        [container("app", "1", "1Gi", replicas=3), container("cache", "1", "1Gi", replicas=2)],
        [node("n1", "3", "4Gi"), node("n2", "3", "4Gi"), node("n3", "3", "4Gi")],
        [{"type": "sameNode", "containers": ["cache", "app"]}],
        spread="node",
    )
    plan = assert_valid_plan(data)
    assert set(nodes_of(plan, "cache")) <= set(nodes_of(plan, "app"))


def test_same_node_infeasible_against_separate_nodes() -> None:
    data = problem(
        [container("a"), container("b")],
        [node("n1"), node("n2")],
        [{"type": "sameNode", "containers": ["a", "b"]},
         {"type": "separateNodes", "containers": ["a", "b"]}],
    )
    assert_infeasible(data, "a", "b", "sameNode", kind="hint")


def test_same_node_infeasible_with_disjoint_selectors() -> None:
    data = problem(
        [container("a", nodeSelector={"disk": "ssd"}),
         container("b", nodeSelector={"disk": "hdd"})],
        [node("n1", labels={"disk": "ssd"}), node("n2", labels={"disk": "hdd"})],
        [{"type": "sameNode", "containers": ["a", "b"]}],
    )
    assert_infeasible(data, "sameNode a, b", kind="hint")


def test_separate_nodes_feasible() -> None:
    data = problem(
        [container("primary", replicas=1), container("replica", replicas=2),
         container("other", replicas=2)],
        [node("n1"), node("n2"), node("n3")],
        [{"type": "separateNodes", "containers": ["primary", "replica"]},
         {"type": "traffic", "containers": ["primary", "replica"], "weight": 50}],
    )
    plan = assert_valid_plan(data)
    pods = pods_by_container(plan)
    primary, replica = pods["primary"]["name"], pods["replica"]["name"]
    assert not set(nodes_of(plan, primary)) & set(nodes_of(plan, replica))


def test_separate_nodes_infeasible_on_one_node() -> None:
    data = problem(
        [container("primary"), container("replica")],
        [node("n1", "64", "256Gi")],
        [{"type": "separateNodes", "containers": ["primary", "replica"]}],
    )
    assert_infeasible(data, "separateNodes primary, replica", kind="hint")


# ---- ports ---------------------------------------------------------------------------------


def test_ports_feasible_when_protocols_differ() -> None:
    data = problem(
        [container("dns", ports=[{"port": 53, "protocol": "UDP"}]),
         container("dns-tcp", ports=[{"port": 53, "protocol": "TCP"}])],
        [node("n1")],
        [{"type": "samePod", "containers": ["dns", "dns-tcp"]}],
    )
    plan = assert_valid_plan(data)
    assert len(plan["pods"]) == 1


def test_ports_keep_chatty_containers_apart() -> None:
    # A traffic hint would merge them, but both listen on 8080: two pods.
    data = problem(
        [container("web", ports=[8080]), container("app", ports=[8080])],
        [node("n1")],
        [{"type": "traffic", "containers": ["web", "app"], "weight": 1000}],
    )
    plan = assert_valid_plan(data)
    assert len(plan["pods"]) == 2


def test_ports_infeasible_in_a_forced_pod() -> None:
    data = problem(
        [container("a", ports=[{"port": 53, "protocol": "UDP"}]),
         container("b", ports=[{"port": 53, "protocol": "UDP"}])],
        [node("n1")],
        [{"type": "samePod", "containers": ["a", "b"]}],
    )
    plan = assert_infeasible(data, "a", "b", kind="port")
    assert any("53/UDP" in " ".join(c["subjects"]) + c["message"] for c in plan["conflicts"])


# ---- replicas in a forced pod --------------------------------------------------------------


def test_replicas_feasible_when_helper_follows_main() -> None:
    data = problem(
        [container("main", replicas=3), container("helper")],
        [node("n1"), node("n2"), node("n3")],
        [{"type": "adapter", "container": "helper", "main": "main"}],
    )
    plan = assert_valid_plan(data)
    assert pods_by_container(plan)["helper"]["replicas"] == 3


@pytest.mark.parametrize(
    "hint",
    [{"type": "samePod", "containers": ["a", "b"]},
     {"type": "sidecar", "container": "b", "main": "a"}],
    ids=["samePod", "sidecar"],
)
def test_replicas_mismatch_in_a_forced_pod(hint: dict[str, Any]) -> None:
    data = problem([container("a", replicas=2), container("b", replicas=3)], [node("n1")], [hint])
    plan = assert_infeasible(data, "a", "b", kind="replicas")
    assert any("2" in c["message"] and "3" in c["message"] for c in plan["conflicts"])


# ---- policy.spread -------------------------------------------------------------------------


def test_spread_node_feasible() -> None:
    # Capacity alone would allow all replicas on one node; spreading forbids it.
    data = problem([container("app", replicas=3)],
                   [node("n1", "64", "64Gi"), node("n2"), node("n3")], spread="node",
                   objective="minWaste")
    plan = assert_valid_plan(data)
    assert nodes_of(plan, "app") == ["n1", "n2", "n3"]


def test_spread_node_infeasible() -> None:
    data = problem([container("app", replicas=3)], [node("n1"), node("n2")], spread="node")
    assert_infeasible(data, "app", kind="spread")


def test_spread_zone_feasible() -> None:
    nodes = [node(f"{z}{i}", zone=f"zone-{z}") for z in "ab" for i in (1, 2)]
    data = problem([container("app", replicas=4)], nodes, spread="zone")
    plan = assert_valid_plan(data)
    zones = [p["node"][0] for p in plan["placements"]]
    assert sorted(zones) == ["a", "a", "b", "b"]


def test_spread_zone_infeasible() -> None:
    # Four replicas over the two zones that can host them: at most ceil(4/2) = 2 per zone,
    # and zone b has one node (one replica per node): only 3 fit. Zone c's node is tainted,
    # so it does not count among the pod's zones.
    nodes = [node("a1", zone="zone-a"), node("a2", zone="zone-a"), node("a3", zone="zone-a"),
             node("b1", zone="zone-b"),
             node("c1", zone="zone-c", taints=[{"key": "gpu", "effect": "NoSchedule"}])]
    data = problem([container("app", replicas=4)], nodes, spread="zone")
    assert_infeasible(data, "spread", kind="spread")


def test_spread_zone_counts_only_zones_that_can_host_the_pod() -> None:
    # Zone b's only node is tainted: the pod's zones are {a}, so both replicas may sit there.
    nodes = [node("a1", zone="zone-a"), node("a2", zone="zone-a"),
             node("b1", zone="zone-b", taints=[{"key": "gpu", "effect": "NoSchedule"}])]
    data = problem([container("app", replicas=2)], nodes, spread="zone")
    plan = assert_valid_plan(data)
    assert nodes_of(plan, "app") == ["a1", "a2"]


# ---- nodeSelector and taints ---------------------------------------------------------------


def test_node_selector_feasible() -> None:
    data = problem(
        [container("db", replicas=2, nodeSelector={"disk": "ssd"}), container("web", replicas=2)],
        [node("n1", labels={"disk": "ssd"}), node("n2", labels={"disk": "ssd"}), node("n3")],
    )
    plan = assert_valid_plan(data)
    assert nodes_of(plan, "db") == ["n1", "n2"]


def test_node_selector_infeasible() -> None:
    data = problem(
        [container("db", nodeSelector={"disk": "nvme"}), container("web")],
        [node("n1", labels={"disk": "ssd"}), node("n2")],
    )
    assert_infeasible(data, "db", kind="selector")


def test_taints_feasible() -> None:
    taint = {"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}
    data = problem(
        [container("trainer", "2", "2Gi", tolerations=[{"key": "dedicated", "value": "gpu"}]),
         container("trainer-logs"),
         container("web", replicas=2)],
        [node("gpu1", taints=[taint]), node("n2", "1", "1Gi"), node("n3", "1", "1Gi")],
        [{"type": "sidecar", "container": "trainer-logs", "main": "trainer"}],
        objective="minWaste",
    )
    plan = assert_valid_plan(data)
    assert nodes_of(plan, "trainer") == ["gpu1"]
    assert "gpu1" not in nodes_of(plan, "web")


def test_prefer_no_schedule_is_not_a_hard_rule() -> None:
    data = problem([container("app")],
                   [node("n1", taints=[{"key": "spot", "effect": "PreferNoSchedule"}])])
    assert_valid_plan(data)


def test_taints_infeasible() -> None:
    taint = {"key": "dedicated", "value": "gpu", "effect": "NoExecute"}
    data = problem(
        [container("web", tolerations=[{"key": "dedicated", "value": "gpu",
                                        "effect": "NoSchedule"}])],
        [node("gpu1", taints=[taint]), node("gpu2", taints=[taint])],
    )
    assert_infeasible(data, "web", kind="selector")


# ---- node pools ----------------------------------------------------------------------------


def test_pool_feasible_within_max_count() -> None:
    data = problem(
        [container("app", "3", "1Gi", replicas=4), container("side", "100m", "64Mi")],
        pools=[{"name": "general", "allocatable": {"cpu": "4", "memory": "8Gi"},
                "zones": ["zone-a", "zone-b"], "maxCount": 4}],
    )
    plan = assert_valid_plan(data)
    used = {p["node"] for p in plan["placements"]}
    assert len(used) == 4
    assert all(n.startswith("general-") for n in used)
    assert plan["solver"]["nodesUsed"] == 4


def test_pool_with_fixed_nodes_feasible() -> None:
    data = problem(
        [container("app", "3", "1Gi", replicas=3)],
        [node("fixed")],
        pools=[{"name": "burst", "allocatable": {"cpu": "4", "memory": "8Gi"}, "maxCount": 2,
                "cost": 1.0}],
    )
    plan = assert_valid_plan(data)
    assert "fixed" in nodes_of(plan, "app")


def test_pool_max_count_shortage() -> None:
    data = problem(
        [container("app", "3", "1Gi", replicas=5)],
        pools=[{"name": "general", "allocatable": {"cpu": "4", "memory": "8Gi"}, "maxCount": 3}],
    )
    assert_shortage(data, "app", placed=3, unplaced=2)


def test_pool_node_too_small() -> None:
    data = problem(
        [container("app", "6", "1Gi")],
        pools=[{"name": "general", "allocatable": {"cpu": "4", "memory": "8Gi"}, "maxCount": 10}],
    )
    assert_infeasible(data, "app", kind="capacity")


# ---- quantities and bounds reported with the plan ------------------------------------------


def test_pod_requests_are_exact_for_decimal_memory_units() -> None:
    # 100M is 100,000,000 bytes; a pod's summed request must say exactly that, not 95.37Mi.
    data = problem([container("a", "100m", "100M", replicas=2), container("b", "1", "1G")],
                   [node("n1", memory="4G"), node("n2")])
    parsed, plan = solve(data)
    assert plan["status"] in ("optimal", "feasible", "heuristic")
    memory = {pod["name"]: to_units("memory", parse_quantity(pod["requests"]["memory"]),
                                    round_up=True) for pod in plan["pods"]}
    assert memory == {"a": 100_000_000, "b": 1_000_000_000}
    assert validate(parsed, plan) == []


def _merged_pair(pods: int) -> dict[str, Any]:
    # b is not critical and talks a lot with a: one pod holding both is allowed and attractive.
    return problem(
        [container("a"), container("b", critical=False)],
        [node("n1", allocatable={"pods": pods}), node("n2", allocatable={"pods": pods})],
        [{"type": "traffic", "containers": ["a", "b"], "weight": 100}],
    )


def test_nodes_lower_bound_allows_merged_pods() -> None:
    # One pod holding a and b on n1 is a valid plan on nodes that take one pod each,
    # so no plan needs two nodes and the reported lower bound may not say 2.
    parsed, plan = solve(_merged_pair(pods=1))
    one_node = {
        "pods": [{"name": "a", "containers": ["a", "b"], "replicas": 1,
                  "requests": {"cpu": "200m", "memory": "256Mi"}}],
        "placements": [{"pod": "a", "replica": 0, "node": "n1"}],
        "solver": {"nodesUsed": 1},
    }
    assert validate(parsed, one_node) == []
    assert plan["solver"]["nodesLowerBound"] <= 1


def test_pod_limit_that_the_optimum_meets_does_not_change_the_optimum() -> None:
    _, loose = solve(_merged_pair(pods=110))
    assert loose["status"] == "optimal"
    # The loose optimum puts at most one pod on each node: it is also a plan for pods=1.
    tight_problem = _merged_pair(pods=1)
    assert validate(parse_problem(tight_problem), loose) == []
    _, tight = solve(tight_problem)
    assert tight["status"] in ("optimal", "feasible")
    assert tight["solver"]["objective"] <= loose["solver"]["objective"]
