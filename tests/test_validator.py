"""The oracle itself: it accepts valid plans and names every kind of broken rule.

The base plan below is written by hand (not by the solver), so these tests do
not depend on the solver being right.
"""

from __future__ import annotations

import ast
import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from models import parse_problem
from models.problem import Taint, Toleration
from tests import validator as validator_module
from tests.conftest import load_example
from tests.support import solve
from tests.validator import nodes_lower_bound, tolerates, validate

BASE_PROBLEM = yaml.safe_load("""
containers:
  - {name: web, requests: {cpu: 500m, memory: 512Mi}, ports: [8080], replicas: 2}
  - {name: log, requests: {cpu: 50m, memory: 64Mi}, ports: [9000]}
  - {name: api, requests: {cpu: 500m, memory: 512Mi}, ports: [8080], replicas: 2,
     tolerations: [{key: dedicated, operator: Exists}]}
  - {name: cache, requests: {cpu: 100m, memory: 128Mi}, ports: [6379]}
  - {name: db, requests: {cpu: "1", memory: 2Gi}, replicas: 1, nodeSelector: {disktype: ssd},
     tolerations: [{key: dedicated, value: db, effect: NoSchedule}]}
  - {name: trainer, requests: {cpu: "1", memory: 1Gi, nvidia.com/gpu: "1"},
     nodeSelector: {accel: gpu}}
hints:
  - {type: sidecar, container: log, main: web}
  - {type: samePod, containers: [api, cache]}
  - {type: separatePods, containers: [web, api]}
  - {type: sameNode, containers: [db, api]}
  - {type: separateNodes, containers: [trainer, db]}
nodes:
  - {name: n1, allocatable: {cpu: "4", memory: 8Gi, pods: 10}, zone: zone-a,
     labels: {disktype: ssd}, taints: [{key: dedicated, value: db, effect: NoSchedule}]}
  - {name: n2, allocatable: {cpu: "4", memory: 8Gi}, zone: zone-b}
  - {name: n3, allocatable: {cpu: "4", memory: 8Gi}, zone: zone-a}
  - {name: n4, allocatable: {cpu: "4", memory: 8Gi}, zone: zone-a}
pools:
  - {name: gpu, allocatable: {cpu: "8", memory: 16Gi, nvidia.com/gpu: "2"}, zones: [zone-b],
     maxCount: 2, labels: {accel: gpu}}
policy: {spread: zone}
""")


def _node(name: str, zone: str, pool: str | None = None) -> dict[str, Any]:
    return {"name": name, "pool": pool, "zone": zone, "allocatable": {}, "requested": {},
            "pods": 0}


BASE_PLAN: dict[str, Any] = {
    "status": "optimal",
    "pods": [
        {"name": "web", "containers": ["web", "log"], "replicas": 2,
         "requests": {"cpu": "550m", "memory": "576Mi"}, "reasons": []},
        {"name": "api", "containers": ["api", "cache"], "replicas": 2,
         "requests": {"cpu": "600m", "memory": "640Mi"}, "reasons": []},
        {"name": "db", "containers": ["db"], "replicas": 1,
         "requests": {"cpu": "1", "memory": "2Gi"}, "reasons": []},
        {"name": "trainer", "containers": ["trainer"], "replicas": 1,
         "requests": {"cpu": "1", "memory": "1Gi", "nvidia.com/gpu": "1"}, "reasons": []},
    ],
    "placements": [
        {"pod": "api", "replica": 0, "node": "n1"},
        {"pod": "api", "replica": 1, "node": "n2"},
        {"pod": "db", "replica": 0, "node": "n1"},
        {"pod": "trainer", "replica": 0, "node": "gpu-1"},
        {"pod": "web", "replica": 0, "node": "n3"},
        {"pod": "web", "replica": 1, "node": "n2"},
    ],
    "nodes": [_node("n1", "zone-a"), _node("n2", "zone-b"), _node("n3", "zone-a"),
              _node("n4", "zone-a"), _node("gpu-1", "zone-b", "gpu")],
    "scores": {
        "waste": {"score": 60.0, "byResource": {"cpu": 70.0, "memory": 50.0}, "idle": 20.0,
                  "stranded": 0.0, "slack": 40.0, "duplication": 0.0},
        "spof": {"score": 25.0, "components": 4, "exposed": {"db": 1.0}},
    },
    "findings": [],
    "conflicts": [],
    "unplaced": [],
    "solver": {"objective": 100.0, "bound": 90.0, "gap": 0.1, "wallTimeSeconds": 0.1,
               "nodesUsed": 4, "nodesLowerBound": 2, "interrupted": False, "message": ""},
}

Plan = dict[str, Any]


def check(plan: Plan, data: dict[str, Any] | None = None) -> list[str]:
    return validate(parse_problem(data or BASE_PROBLEM), plan)


def corrupt(change: Callable[[Plan], None]) -> Plan:
    plan = copy.deepcopy(BASE_PLAN)
    change(plan)
    return plan


def pod(plan: Plan, name: str) -> dict[str, Any]:
    return next(p for p in plan["pods"] if p["name"] == name)


def move(plan: Plan, pod_name: str, replica: int, node: str) -> None:
    for p in plan["placements"]:
        if p["pod"] == pod_name and p["replica"] == replica:
            p["node"] = node
    sync_nodes_used(plan)


def sync_nodes_used(plan: Plan) -> None:
    plan["solver"]["nodesUsed"] = len({p["node"] for p in plan["placements"]})


def variant(change: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    data: dict[str, Any] = copy.deepcopy(BASE_PROBLEM)
    change(data)
    return data


def named(data: dict[str, Any], kind: str, name: str) -> dict[str, Any]:
    return next(x for x in data[kind] if x["name"] == name)


def has(violations: list[str], tag: str, *words: str) -> bool:
    return any(v.startswith(f"[{tag}]") and all(w in v for w in words) for v in violations)


# ---- valid plans ---------------------------------------------------------------------------


def test_hand_written_plan_is_valid() -> None:
    assert check(BASE_PLAN) == []


def test_plan_with_replicas_listed_unplaced_is_valid() -> None:
    def drop_trainer(plan: Plan) -> None:
        plan["placements"] = [p for p in plan["placements"] if p["pod"] != "trainer"]
        plan["unplaced"] = [{"pod": "trainer", "replica": 0, "reason": "no room"}]
        plan["solver"]["nodesUsed"] = 3

    assert check(corrupt(drop_trainer)) == []


def test_solver_plan_for_the_reference_is_valid(reference: dict[str, Any]) -> None:
    reference["policy"] = {"timeLimitSeconds": 5, "workers": 1, "seed": 0}
    parsed, plan = solve(reference)
    assert plan["status"] == "optimal"
    assert validate(parsed, plan) == []


@pytest.mark.parametrize("name", ["gpu.yaml", "pool.yaml", "zones.yaml"])
def test_solver_plans_for_the_examples_are_valid(name: str) -> None:
    data = load_example(name)
    data["policy"] = {**data.get("policy", {}), "timeLimitSeconds": 5, "workers": 1, "seed": 0}
    parsed, plan = solve(data)
    assert plan["status"] in ("optimal", "feasible", "heuristic")
    assert validate(parsed, plan) == []


# ---- grouping ------------------------------------------------------------------------------


def test_container_in_no_pod() -> None:
    plan = corrupt(lambda p: pod(p, "web")["containers"].remove("log"))
    assert has(check(plan), "coverage", "container log appears in no pod")


def test_container_in_two_pods() -> None:
    plan = corrupt(lambda p: pod(p, "trainer")["containers"].append("log"))
    assert has(check(plan), "coverage", "container log appears 2 times")


def test_pod_with_unknown_container() -> None:
    plan = corrupt(lambda p: pod(p, "db")["containers"].append("ghost"))
    assert has(check(plan), "pods", "unknown container 'ghost'")


def test_pod_replicas_differ_from_declared() -> None:
    def two_dbs(plan: Plan) -> None:
        pod(plan, "db")["replicas"] = 2
        plan["unplaced"].append({"pod": "db", "replica": 1, "reason": "x"})

    violations = check(corrupt(two_dbs))
    assert has(violations, "replicas", "pod db has 2 replicas", "db declares 1")


def test_undeclared_single_container_defaults_to_one_replica() -> None:
    data = variant(lambda d: named(d, "containers", "trainer").pop("replicas", None))

    def two_trainers(plan: Plan) -> None:
        pod(plan, "trainer")["replicas"] = 2
        plan["unplaced"].append({"pod": "trainer", "replica": 1, "reason": "x"})

    assert has(check(corrupt(two_trainers), data), "replicas", "trainer declares none",
               "asks for 1")


def test_undeclared_helper_follows_its_main() -> None:
    data = variant(lambda d: named(d, "containers", "web").update(replicas=3))
    plan = corrupt(lambda p: pod(p, "web").update(replicas=1))
    violations = check(plan, data)
    assert has(violations, "replicas", "pod web has 1 replicas", "web declares 3")
    assert has(violations, "replicas", "container log declares none", "asks for 3")


@pytest.mark.parametrize("kind", ["sidecar", "ambassador", "adapter"])
def test_helper_outside_its_main_pod(kind: str) -> None:
    data = variant(lambda d: d["hints"][0].update(type=kind))

    def split(plan: Plan) -> None:
        pod(plan, "web")["containers"].remove("log")
        pod(plan, "web")["requests"] = {"cpu": "500m", "memory": "512Mi"}
        plan["pods"].append({"name": "log", "containers": ["log"], "replicas": 2,
                             "requests": {"cpu": "50m", "memory": "64Mi"}})
        plan["placements"] += [{"pod": "log", "replica": 0, "node": "n4"},
                               {"pod": "log", "replica": 1, "node": "n2"}]
        plan["solver"]["nodesUsed"] = 5

    article = "an" if kind[0] == "a" else "a"
    assert check(corrupt(split), data) == [
        f"[{kind}] hints[0]: log is {article} {kind} of web but runs in pod log, not web"
    ]


def test_same_pod_split() -> None:
    def split(plan: Plan) -> None:
        pod(plan, "api")["containers"].remove("cache")
        pod(plan, "api")["requests"] = {"cpu": "500m", "memory": "512Mi"}
        plan["pods"].append({"name": "cache", "containers": ["cache"], "replicas": 2,
                             "requests": {"cpu": "100m", "memory": "128Mi"}})
        plan["placements"] += [{"pod": "cache", "replica": 0, "node": "n4"},
                               {"pod": "cache", "replica": 1, "node": "n2"}]
        plan["solver"]["nodesUsed"] = 5

    assert check(corrupt(split)) == [
        "[samePod] hints[1]: api (pod api) and cache (pod cache) must share a pod"
    ]


def test_separate_pods_merged() -> None:
    def merge(plan: Plan) -> None:
        pod(plan, "api")["containers"] += ["web", "log"]
        pod(plan, "api")["requests"] = {"cpu": "1150m", "memory": "1216Mi"}
        plan["pods"] = [p for p in plan["pods"] if p["name"] != "web"]
        plan["placements"] = [p for p in plan["placements"] if p["pod"] != "web"]
        plan["solver"]["nodesUsed"] = 3

    violations = check(corrupt(merge))
    assert has(violations, "separatePods", "web and api must not share a pod")
    assert has(violations, "ports", "8080/TCP")


def test_port_clash_inside_a_pod() -> None:
    data = variant(lambda d: named(d, "containers", "cache").update(ports=[8080]))
    assert check(BASE_PLAN, data) == ["[ports] pod api: api and cache both listen on 8080/TCP"]


def test_same_port_different_protocol_is_fine() -> None:
    data = variant(lambda d: named(d, "containers", "cache").update(
        ports=[{"port": 8080, "protocol": "UDP"}]))
    assert check(BASE_PLAN, data) == []


def test_pod_requests_differ_from_the_sum() -> None:
    plan = corrupt(lambda p: pod(p, "web")["requests"].update(cpu="500m"))
    assert check(plan) == [
        "[requests] pod web: requests cpu='500m' (500 units) but its containers sum to 550 units"
    ]


def test_pod_requests_rounded_in_print_are_caught() -> None:
    data = variant(lambda d: named(d, "containers", "db")["requests"].update(memory="100M"))
    plan = corrupt(lambda p: pod(p, "db")["requests"].update(memory="95.37Mi"))
    assert has(check(plan, data), "requests", "pod db", "memory")
    exact = corrupt(lambda p: pod(p, "db")["requests"].update(memory="100M"))
    assert check(exact, data) == []


def test_pod_requests_missing_a_resource() -> None:
    plan = corrupt(lambda p: pod(p, "trainer")["requests"].pop("nvidia.com/gpu"))
    assert has(check(plan), "requests", "pod trainer", "nvidia.com/gpu")


# ---- placements ----------------------------------------------------------------------------


def test_replica_index_out_of_range() -> None:
    plan = corrupt(lambda p: p["placements"][0].update(replica=5))
    violations = check(plan)
    assert has(violations, "placement", "pod api replica 5 is outside 0..1")
    assert has(violations, "coverage", "pod api replica 0 is neither placed nor unplaced")


def test_replica_placed_twice() -> None:
    plan = corrupt(lambda p: p["placements"].append({"pod": "db", "replica": 0, "node": "n1"}))
    assert has(check(plan), "placement", "pod db replica 0 is placed more than once")


def test_replica_neither_placed_nor_unplaced() -> None:
    def drop(plan: Plan) -> None:
        plan["placements"] = [p for p in plan["placements"] if p["pod"] != "trainer"]
        plan["solver"]["nodesUsed"] = 3

    assert check(corrupt(drop)) == [
        "[coverage] pod trainer replica 0 is neither placed nor unplaced"
    ]


def test_replica_both_placed_and_unplaced() -> None:
    plan = corrupt(lambda p: p["unplaced"].append({"pod": "web", "replica": 0, "reason": "x"}))
    assert check(plan) == ["[unplaced] pod web replica 0 is both placed and unplaced"]


def test_unplaced_listed_twice_or_unknown() -> None:
    def bad(plan: Plan) -> None:
        plan["placements"] = [p for p in plan["placements"] if p["pod"] != "trainer"]
        plan["unplaced"] = [{"pod": "trainer", "replica": 0, "reason": "x"}] * 2
        plan["unplaced"].append({"pod": "ghost", "replica": 0, "reason": "x"})
        plan["solver"]["nodesUsed"] = 3

    violations = check(corrupt(bad))
    assert has(violations, "unplaced", "trainer replica 0 is listed unplaced twice")
    assert has(violations, "unplaced", "ghost replica 0 names no replica")


def test_placement_of_unknown_pod() -> None:
    plan = corrupt(lambda p: p["placements"].append({"pod": "ghost", "replica": 0, "node": "n1"}))
    assert check(plan) == ["[placement] placement of unknown pod 'ghost'"]


@pytest.mark.parametrize("name", ["n9", "gpu-3", "gpu-0", "gpu-x", "gpux-1"])
def test_unknown_node(name: str) -> None:
    plan = corrupt(lambda p: move(p, "trainer", 0, name))
    assert has(check(plan), "node", f"unknown node {name!r}")


def test_pool_node_must_be_listed_with_a_zone_of_its_pool() -> None:
    plan = corrupt(lambda p: p["nodes"].pop())
    assert check(plan) == ["[nodes] pool node gpu-1 hosts replicas but is missing from plan.nodes"]
    plan = corrupt(lambda p: p["nodes"][-1].update(zone="zone-c"))
    assert has(check(plan), "nodes", "gpu-1 is in zone 'zone-c'")


def test_second_pool_node_is_fine() -> None:
    def second(plan: Plan) -> None:
        move(plan, "trainer", 0, "gpu-2")
        plan["nodes"][-1]["name"] = "gpu-2"

    assert check(corrupt(second)) == []


# ---- capacity ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("resource", "amount", "message"),
    [
        ("cpu", "1", "node n1: cpu requested 1600 units > allocatable 1000"),
        ("memory", "2Gi", "node n1: memory requested 2818572288 units > allocatable 2147483648"),
        ("pods", 1, "node n1: 2 pods > allocatable pods 1"),
    ],
)
def test_capacity_of_a_fixed_node(resource: str, amount: Any, message: str) -> None:
    data = variant(lambda d: named(d, "nodes", "n1")["allocatable"].update({resource: amount}))
    assert check(BASE_PLAN, data) == [f"[capacity] {message}"]


def test_capacity_of_an_extended_resource_on_a_pool_node() -> None:
    data = variant(lambda d: named(d, "pools", "gpu")["allocatable"].update(
        {"nvidia.com/gpu": "500m"}))
    assert check(BASE_PLAN, data) == [
        "[capacity] node gpu-1: nvidia.com/gpu requested 1000 units > allocatable 500"
    ]


def test_missing_resource_counts_as_zero() -> None:
    data = variant(lambda d: named(d, "pools", "gpu")["allocatable"].pop("nvidia.com/gpu"))
    assert has(check(BASE_PLAN, data), "capacity", "gpu-1", "nvidia.com/gpu", "allocatable 0")


def test_default_pod_limit_is_110() -> None:
    data = {"containers": [{"name": "tiny", "requests": {"cpu": "1m"}, "replicas": 111}],
            "nodes": [{"name": "big", "allocatable": {"cpu": "64"}}]}
    plan = {"pods": [{"name": "tiny", "containers": ["tiny"], "replicas": 111,
                      "requests": {"cpu": "1m"}}],
            "placements": [{"pod": "tiny", "replica": r, "node": "big"} for r in range(111)]}
    assert check(plan, data) == ["[capacity] node big: 111 pods > allocatable pods 110"]


# ---- node admission ------------------------------------------------------------------------


def test_node_selector_not_matched() -> None:
    plan = corrupt(lambda p: move(p, "db", 0, "n3"))
    violations = check(plan)
    assert has(violations, "nodeSelector", "pod db on node n3", "disktype=ssd")


def test_untolerated_taint() -> None:
    plan = corrupt(lambda p: move(p, "web", 0, "n1"))
    assert check(plan) == [
        "[taints] pod web on node n1 does not tolerate taint dedicated=db:NoSchedule"
    ]


def test_prefer_no_schedule_taint_is_not_binding() -> None:
    data = variant(lambda d: named(d, "nodes", "n3").update(
        taints=[{"key": "spot", "effect": "PreferNoSchedule"}]))
    assert check(BASE_PLAN, data) == []


@pytest.mark.parametrize(
    ("toleration", "ok"),
    [
        ({"key": "dedicated", "operator": "Exists"}, True),
        ({"operator": "Exists"}, True),
        ({"key": "dedicated", "value": "db"}, True),
        ({"key": "dedicated", "value": "web"}, False),
        ({"key": "other", "operator": "Exists"}, False),
        ({"key": "dedicated", "operator": "Exists", "effect": "NoExecute"}, False),
        ({"key": "dedicated", "operator": "Exists", "effect": "NoSchedule"}, True),
    ],
)
def test_toleration_matching(toleration: dict[str, Any], ok: bool) -> None:
    taint = Taint(key="dedicated", value="db", effect="NoSchedule")
    assert tolerates([Toleration.model_validate(toleration)], taint) is ok


# ---- node hints and spreading --------------------------------------------------------------


def test_same_node_broken() -> None:
    plan = corrupt(lambda p: move(p, "api", 0, "n3"))
    assert check(plan) == [
        "[sameNode] hints[3]: node n1 hosts db but not api (db, api must share nodes)"
    ]


def test_same_node_is_about_nodes_not_counts() -> None:
    # Two replicas of db and one of api on n1 is fine: n1 hosts both.
    def stack(plan: Plan) -> None:
        pod(plan, "db")["replicas"] = 2
        plan["placements"].append({"pod": "db", "replica": 1, "node": "n1"})
        sync_nodes_used(plan)

    data = variant(lambda d: named(d, "containers", "db").update(replicas=2))
    assert not [v for v in check(corrupt(stack), data) if v.startswith("[sameNode]")]


def test_separate_nodes_broken() -> None:
    data = variant(lambda d: d["hints"].append(
        {"type": "separateNodes", "containers": ["web", "api"]}))
    assert check(BASE_PLAN, data) == [
        "[separateNodes] hints[5]: node n2 hosts both web (pod web) and api (pod api)"
    ]


def test_separate_nodes_inside_one_pod() -> None:
    data = variant(lambda d: d["hints"].append(
        {"type": "separateNodes", "containers": ["api", "cache"]}))
    assert has(check(BASE_PLAN, data), "separateNodes", "api and cache must not share a pod")


def test_spread_node_broken() -> None:
    data = variant(lambda d: d["policy"].update(spread="node"))
    plan = corrupt(lambda p: move(p, "web", 1, "n3"))
    assert check(plan, data) == [
        "[spread] pod web has 2 replicas on node n3 (policy.spread=node)"
    ]


def test_spread_zone_broken() -> None:
    plan = corrupt(lambda p: move(p, "web", 1, "n4"))
    assert check(plan) == [
        "[spread] pod web has 2 replicas in zone zone-a, more than ceil(2/2) = 1"
    ]
    # Without hard spreading the same plan is fine.
    assert check(plan, variant(lambda d: d["policy"].update(spread="none"))) == []


def test_spread_zone_counts_pool_zones() -> None:
    def three(plan: Plan) -> None:
        pod(plan, "web")["replicas"] = 3
        plan["placements"].append({"pod": "web", "replica": 2, "node": "n4"})
        sync_nodes_used(plan)

    plan = corrupt(three)
    data = variant(lambda d: named(d, "containers", "web").update(replicas=3))
    # Two zones: at most ceil(3/2) = 2 web replicas per zone.
    assert check(plan, data) == []
    # A pool in a third zone that can host web: at most ceil(3/3) = 1.
    data["pools"].append({"name": "more", "allocatable": {"cpu": "16", "memory": "64Gi"},
                          "zones": ["zone-c"], "maxCount": 1})
    assert check(plan, data) == [
        "[spread] pod web has 2 replicas in zone zone-a, more than ceil(3/3) = 1"
    ]
    # A pool too small for web does not add a zone web can use.
    data["pools"][-1]["allocatable"] = {"cpu": "1"}
    assert check(plan, data) == []


# ---- solver summary and scores -------------------------------------------------------------


def test_nodes_used_below_the_lower_bound() -> None:
    data: dict[str, Any] = {
        "containers": [{"name": "big", "requests": {"cpu": "3"}, "replicas": 3}],
        "nodes": [{"name": f"n{i}", "allocatable": {"cpu": "4"}} for i in range(3)],
    }
    parsed = parse_problem(data)
    assert nodes_lower_bound(parsed) == 3
    plan: dict[str, Any] = {"pods": [{"name": "big", "containers": ["big"], "replicas": 3,
                      "requests": {"cpu": "3"}}],
            "placements": [{"pod": "big", "replica": r, "node": f"n{r}"} for r in range(3)],
            "solver": {"nodesUsed": 3}}
    assert validate(parsed, plan) == []
    plan["solver"]["nodesUsed"] = 2
    violations = validate(parsed, plan)
    assert has(violations, "solver", "solver.nodesUsed=2 is below the lower bound 3")
    assert has(violations, "solver", "placements use 3 node(s)")


def test_lower_bound_uses_largest_nodes_and_pools() -> None:
    data: dict[str, Any] = {
        "containers": [{"name": "a", "requests": {"memory": "2Gi"}, "replicas": 5}],
        "nodes": [{"name": "small", "allocatable": {"memory": "2Gi"}}],
        "pools": [{"name": "big", "allocatable": {"memory": "4Gi"}, "maxCount": 3}],
    }
    assert nodes_lower_bound(parse_problem(data)) == 3
    data["policy"] = {"spread": "node"}
    data["containers"][0]["requests"] = {"memory": "1Gi"}
    assert nodes_lower_bound(parse_problem(data)) == 5


def test_bound_above_objective_and_negative_gap() -> None:
    plan = corrupt(lambda p: p["solver"].update(bound=101.0, gap=-0.01))
    violations = check(plan)
    assert has(violations, "solver", "solver.bound=101.0 exceeds solver.objective=100.0")
    assert has(violations, "solver", "solver.gap=-0.01 is negative")


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (("waste", "score"), 120.0),
        (("waste", "idle"), -1.0),
        (("waste", "duplication"), 100.5),
        (("spof", "score"), -0.5),
    ],
)
def test_score_out_of_range(path: tuple[str, str], value: float) -> None:
    plan = corrupt(lambda p: p["scores"][path[0]].update({path[1]: value}))
    assert check(plan) == [f"[scores] {path[0]}.{path[1]}={value} is outside 0..100"]


def test_score_by_resource_out_of_range() -> None:
    plan = corrupt(lambda p: p["scores"]["waste"]["byResource"].update(cpu=101.0))
    assert check(plan) == ["[scores] waste.byResource.cpu=101.0 is outside 0..100"]


def test_same_node_with_equal_replicas_in_a_partial_plan() -> None:
    # Equal counts: either pod may follow the other while some replicas are unplaced.
    data = {"containers": [{"name": "a", "replicas": 2}, {"name": "b", "replicas": 2}],
            "hints": [{"type": "sameNode", "containers": ["a", "b"]}],
            "nodes": [{"name": "n1", "allocatable": {"cpu": "1"}},
                      {"name": "n2", "allocatable": {"cpu": "1"}}]}
    pods = [{"name": n, "containers": [n], "replicas": 2, "requests": {}} for n in "ab"]
    partial = {"pods": pods,
               "placements": [{"pod": "a", "replica": 0, "node": "n1"},
                              {"pod": "b", "replica": 0, "node": "n1"},
                              {"pod": "b", "replica": 1, "node": "n2"}],
               "unplaced": [{"pod": "a", "replica": 1, "reason": "x"}]}
    assert validate(parse_problem(data), partial) == []
    other_way = copy.deepcopy(partial)
    other_way["placements"] = [{"pod": "a", "replica": 0, "node": "n1"},
                               {"pod": "a", "replica": 1, "node": "n2"},
                               {"pod": "b", "replica": 0, "node": "n2"}]
    other_way["unplaced"] = [{"pod": "b", "replica": 1, "reason": "x"}]
    assert validate(parse_problem(data), other_way) == []
    apart = copy.deepcopy(partial)
    apart["placements"] = [{"pod": "a", "replica": 0, "node": "n1"},
                           {"pod": "b", "replica": 0, "node": "n2"}]
    apart["unplaced"] += [{"pod": "b", "replica": 1, "reason": "x"}]
    assert has(validate(parse_problem(data), apart), "sameNode", "hints[0]")


def test_the_oracle_does_not_import_the_solver() -> None:
    tree = ast.parse(Path(validator_module.__file__).read_text())
    imported = {a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import)
                for a in n.names}
    imported |= {n.module.split(".")[0] for n in ast.walk(tree)
                 if isinstance(n, ast.ImportFrom) and n.module}
    assert "advisor" not in imported
    assert "api" not in imported
