"""Migration plans: ordered steps from the current layout to the advised one, every step
replayed by the independent validator (capacity, disruption budgets, the end state)."""

from __future__ import annotations

import random
from typing import Any

import pytest

from advisor.current import current_view
from advisor.layout import LayoutView, wire_nodes, wire_placements, wire_pods
from advisor.migration import plan_migration
from advisor.prepare import Instance, prepare
from advisor.review import review
from advisor.whatif import view_of_plan
from models import PlacedReplica, Plan, PlannedPod, parse_problem
from tests.conftest import load_example
from tests.support import container, node, problem
from tests.validator import validate_migration

Pods = dict[str, tuple[list[str], list[str]]]  # pod -> (containers, node of each replica)


def _layout(pods: Pods) -> dict[str, Any]:
    return {"pods": [{"name": n, "containers": cs, "replicas": len(ks)}
                     for n, (cs, ks) in pods.items()],
            "placements": [{"pod": n, "replica": i, "node": k}
                           for n, (_, ks) in pods.items() for i, k in enumerate(ks)]}


def _plan(pods: Pods) -> Plan:
    """An advised layout written by hand (a solver would not pick these on its own)."""
    return Plan(status="feasible",
                pods=[PlannedPod(name=n, containers=cs, replicas=len(ks), requests={})
                      for n, (cs, ks) in pods.items()],
                placements=[PlacedReplica(pod=n, replica=i, node=k)
                            for n, (_, ks) in pods.items() for i, k in enumerate(ks)])


def _assessment(inst: Instance, view: LayoutView) -> dict[str, Any]:
    """The review's `current` wire form, without solving."""
    return {"pods": [p.to_wire() for p in wire_pods(inst, view)],
            "placements": [p.to_wire() for p in wire_placements(inst, view)],
            "nodes": [n.to_wire() for n in wire_nodes(inst, view)]}


def _migrate(data: dict[str, Any], advised: Plan | None = None) -> dict[str, Any]:
    """The migration from the layout in `data` to `advised` (the review's advised plan when
    None), checked step by step by the validator, and the same when planned again."""
    parsed = parse_problem(data)
    inst = prepare(parsed)
    if advised is None:
        result = review(parsed)
        advised, current_wire = result.advised, result.current.to_wire()
    else:
        current_wire = _assessment(inst, current_view(inst))
    migration = plan_migration(inst, current_view(inst), view_of_plan(inst, advised))
    wire = migration.to_wire()
    assert validate_migration(parsed, current_wire, advised.to_wire(), wire) == [], wire
    again = plan_migration(prepare(parsed), current_view(inst), view_of_plan(inst, advised))
    assert again.to_wire() == wire
    return wire


def _actions(wire: dict[str, Any]) -> list[tuple[str, str | None, str]]:
    return [(s["action"], s["pod"], s["node"]) for s in wire["steps"]]


def _fewest_ready(wire: dict[str, Any], pods: set[str], start: int) -> int:
    """The fewest replicas of `pods` running at any step (temporary ones count)."""
    ready = low = start
    for step in wire["steps"]:
        if step["pod"] in pods:
            ready += {"create": 1, "delete": -1}.get(step["action"], 0)
            low = min(low, ready)
    return low


def test_reference_monolith_splits_into_three_pods_before_it_stops() -> None:
    data = load_example("reference-review.yaml")
    data["policy"]["workers"] = 1
    wire = _migrate(data)
    creates = [s for s in wire["steps"] if s["action"] == "create"]
    assert {s["pod"] for s in creates} == {"frontend", "backend", "database"}
    # The monolith runs every tier alone: it stops last, once each tier runs elsewhere.
    assert wire["steps"][-1] == {**wire["steps"][-1], "action": "delete", "pod": "monolith",
                                 "replica": 0, "node": "node-1"}
    assert wire["moves"] == 1  # one replica today; the new tiers' replicas are creates
    assert (wire["peakNodes"], wire["extraNodes"]) == (2, 0)
    assert wire["notes"] == []


def test_consolidation_removes_the_nodes_it_empties() -> None:
    nodes = [node(f"n{i}", cpu="2", memory="4Gi", releasable=True) for i in (1, 2, 3)]
    data = problem([container(n, cpu="300m", memory="256Mi", critical=False)
                    for n in ("a", "b", "c")], nodes, objective="minWaste")
    data["layout"] = _layout({"a": (["a"], ["n1"]), "b": (["b"], ["n2"]),
                              "c": (["c"], ["n3"])})
    wire = _migrate(data)
    steps = _actions(wire)
    used = {s["node"] for s in wire["steps"] if s["action"] == "create"} | {"n1", "n2", "n3"}
    removed = [n for a, _, n in steps if a == "removeNode"]
    assert len(removed) == 2
    assert set(removed) < used
    for gone in removed:
        # Removed only once nothing runs there any more.
        at = steps.index(("removeNode", None, gone))
        assert all(n != gone for _, _, n in steps[at + 1:])
    assert wire["moves"] == 2
    assert (wire["peakNodes"], wire["extraNodes"]) == (3, 0)


def _swap(**extra: Any) -> dict[str, Any]:
    data = problem([container("a", cpu="1500m"), container("b", cpu="1500m")],
                   [node("n1", cpu="2"), node("n2", cpu="2")], **extra)
    data["layout"] = _layout({"a": (["a"], ["n1"]), "b": (["b"], ["n2"])})
    return data


SWAPPED = {"a": (["a"], ["n2"]), "b": (["b"], ["n1"])}


def test_a_swap_with_no_room_anywhere_takes_one_surge_node() -> None:
    wire = _migrate(_swap(), _plan(SWAPPED))
    adds = [s for s in wire["steps"] if s["action"] == "addNode"]
    assert [(s["node"], s["temporary"], s["pool"]) for s in adds] == [("surge-1", True, None)]
    assert adds[0]["allocatable"] == {"cpu": "2", "memory": "8Gi", "pods": "110"}
    assert _actions(wire)[-1] == ("removeNode", None, "surge-1")
    assert (wire["peakNodes"], wire["extraNodes"], wire["moves"]) == (3, 1, 2)
    assert any("surge node surge-1" in note for note in wire["notes"])
    # Each of a and b keeps a ready replica at every step.
    assert _fewest_ready(wire, {"a"}, 1) == 1
    assert _fewest_ready(wire, {"b"}, 1) == 1


def test_a_swap_uses_a_pool_node_before_a_surge_node_and_free_room_before_either() -> None:
    data = _swap(pools=[{"name": "spare", "allocatable": {"cpu": "2", "memory": "4Gi"},
                         "maxCount": 1}])
    wire = _migrate(data, _plan(SWAPPED))
    adds = [(s["node"], s["pool"]) for s in wire["steps"] if s["action"] == "addNode"]
    assert adds == [("spare-1", "spare")]
    assert ("removeNode", None, "spare-1") in _actions(wire)
    # A third node in use with room to spare: no node is added at all.
    data = _swap()
    data["nodes"].append(node("n3", cpu="4"))
    data["containers"].append(container("c", cpu="100m"))
    data["layout"] = _layout({"a": (["a"], ["n1"]), "b": (["b"], ["n2"]),
                              "c": (["c"], ["n3"])})
    wire = _migrate(data, _plan({**SWAPPED, "c": (["c"], ["n3"])}))
    assert not [s for s in wire["steps"] if s["action"] == "addNode"]
    assert [s["node"] for s in wire["steps"] if s["temporary"]] == ["n3", "n3"]
    assert (wire["peakNodes"], wire["extraNodes"]) == (3, 0)


def _rotation(budget: dict[str, Any]) -> tuple[dict[str, Any], Plan]:
    """x runs 3 replicas on n1-n3, f1-f3 one each on n4-n6, each node holds one of them;
    the advised layout trades the two halves."""
    names = ["f1", "f2", "f3"]
    data = problem([container("x", cpu="1500m", replicas=3),
                    *(container(f, cpu="1500m") for f in names)],
                   [node(f"n{i}", cpu="2") for i in range(1, 7)])
    data["disruptionBudgets"] = [{"name": "x", "containers": ["x"], **budget}]
    data["layout"] = _layout({"x": (["x"], ["n1", "n2", "n3"]),
                              **{f: ([f], [f"n{4 + i}"]) for i, f in enumerate(names)}})
    advised = _plan({"x": (["x"], ["n4", "n5", "n6"]),
                     **{f: ([f], [f"n{1 + i}"]) for i, f in enumerate(names)}})
    return data, advised


@pytest.mark.parametrize("budget", [{"minAvailable": 2}, {"maxUnavailable": 1},
                                    {"minAvailable": "60%"}])
def test_a_budget_allowing_one_down_moves_every_replica_without_a_surge(
        budget: dict[str, Any]) -> None:
    wire = _migrate(*_rotation(budget))
    assert _fewest_ready(wire, {"x"}, 3) == 2
    assert not [s for s in wire["steps"] if s["action"] == "addNode"]
    assert (wire["moves"], wire["peakNodes"], wire["extraNodes"]) == (6, 6, 0)


def test_a_budget_allowing_none_down_needs_a_surge_node() -> None:
    wire = _migrate(*_rotation({"minAvailable": 3}))
    assert _fewest_ready(wire, {"x"}, 3) == 3
    assert [s["node"] for s in wire["steps"] if s["action"] == "addNode"] == ["surge-1"]
    assert (wire["peakNodes"], wire["extraNodes"]) == (7, 1)


def test_identical_layouts_need_no_step() -> None:
    data = problem([container("a", replicas=2), container("b")], [node("n1"), node("n2")])
    data["layout"] = _layout({"a": (["a"], ["n1", "n2"]), "b": (["b"], ["n2"])})
    wire = _migrate(data, _plan({"a": (["a"], ["n2", "n1"]), "b": (["b"], ["n2"])}))
    assert wire == {"steps": [], "moves": 0, "peakNodes": 2, "extraNodes": 0, "notes": []}


def test_a_regrouped_pod_moves_every_replica_and_a_new_one_is_a_create() -> None:
    data = problem([container("web", replicas=2), container("log", critical=False)],
                   [node("n1"), node("n2")])
    data["layout"] = _layout({"web": (["web"], ["n1", "n2"]), "log": (["log"], ["n1"])})
    wire = _migrate(data, _plan({"web": (["web", "log"], ["n1", "n2"]),
                                 "extra": (["log"], ["n2"])}))
    assert wire["moves"] == 3  # web's two replicas and log's: their pods change
    # Today's web stops on a node only after the new pod runs there (create first).
    steps = _actions(wire)
    assert steps.index(("create", "web", "n1")) < steps.index(("delete", "web", "n1"))


def test_an_overcommitted_start_never_gets_worse_and_is_noted() -> None:
    data = problem([container(n, cpu="1500m") for n in ("a", "b", "c")],
                   [node("n1", cpu="2"), node("n2", cpu="2"), node("n3", cpu="2")])
    data["layout"] = _layout({"a": (["a"], ["n1"]), "b": (["b"], ["n1"]),
                              "c": (["c"], ["n2"])})
    wire = _migrate(data, _plan({"a": (["a"], ["n3"]), "b": (["b"], ["n1"]),
                                 "c": (["c"], ["n2"])}))
    assert _actions(wire) == [("create", "a", "n3"), ("delete", "a", "n1")]
    assert any("n1 starts overcommitted (cpu)" in note for note in wire["notes"])


def test_a_component_below_its_budget_at_the_start_never_goes_lower() -> None:
    # x wants 3 replicas, all available; only 2 fit today, and the advised layout moves
    # its sidecar-like y into x's pod on the same full nodes.
    data = problem([container("x", cpu="1500m", replicas=3), container("y", critical=False)],
                   [node("n1", cpu="2"), node("n2", cpu="2")])
    data["disruptionBudgets"] = [{"name": "x", "containers": ["x"], "minAvailable": 3}]
    data["layout"] = _layout({"x": (["x"], ["n1", "n2"]), "y": (["y"], ["n1"])})
    data["layout"]["pods"][0]["replicas"] = 3
    advised = _plan({"x": (["x", "y"], ["n1", "n2"])})
    advised.pods[0].replicas = 3
    wire = _migrate(data, advised)
    assert _fewest_ready(wire, {"x"}, 2) == 2
    assert [s["node"] for s in wire["steps"] if s["action"] == "addNode"] == ["surge-1"]
    assert any("x starts with 2 ready replica(s), below the 3" in n for n in wire["notes"])


def test_the_validator_names_broken_sequences() -> None:
    data = _swap()
    parsed = parse_problem(data)
    inst = prepare(parsed)
    current, advised = _assessment(inst, current_view(inst)), _plan(SWAPPED).to_wire()

    def check(*steps: tuple[str, str | None, int | None, str], **claims: int) -> str:
        wire = {"steps": [{"action": a, "pod": p, "replica": r, "node": n}
                          for a, p, r, n in steps],
                "moves": 2, "peakNodes": 2, "extraNodes": 0, **claims}
        return " ".join(validate_migration(parsed, current, advised, wire))

    outage = check(("delete", "a", 0, "n1"), ("create", "b", 0, "n1"),
                   ("delete", "b", 0, "n2"), ("create", "a", 0, "n2"))
    assert "[migration-budget]" in outage
    assert "component a 0 ready" in outage
    assert "[migration-capacity] step 1: node n1" in check(
        ("create", "b", 0, "n1"), ("delete", "a", 0, "n1"), ("delete", "b", 0, "n2"),
        ("create", "a", 0, "n2"))
    assert "[migration-end]" in check(("create", "a", 0, "n3"))
    assert "no such current replica" in check(("delete", "b", 0, "n1"))
    assert "not releasable" in check(("removeNode", None, None, "n1"))
    assert "neither a pool node nor given an allocatable" in check(
        ("addNode", None, None, "extra"))
    assert "[migration-count] moves=5" in check(moves=5)
    # Written by hand: a swap through a surge node, every rule kept.
    surge = {"action": "addNode", "node": "s", "allocatable": {"cpu": "2", "memory": "1Gi"}}
    steps = [surge, *({"action": a, "pod": p, "replica": 0, "node": n, "temporary": t}
                      for a, p, n, t in (("create", "a", "s", True), ("delete", "a", "n1", False),
                                         ("create", "b", "n1", False),
                                         ("delete", "b", "n2", False),
                                         ("create", "a", "n2", False),
                                         ("delete", "a", "s", True))),
             {"action": "removeNode", "node": "s"}]
    wire = {"steps": steps, "moves": 2, "peakNodes": 3, "extraNodes": 1}
    assert validate_migration(parsed, current, advised, wire) == []
    assert "never removed" in " ".join(validate_migration(
        parsed, current, advised, {**wire, "steps": steps[:-1], "peakNodes": 3}))


# ---- random small cases --------------------------------------------------------------


def _random_case(seed: int) -> dict[str, Any]:
    """A few containers and nodes (maybe a pool, budgets, helpers), and a random current
    layout: random pods placed on random nodes, some left to kube-scheduler, overcommitted
    now and then."""
    rng = random.Random(seed)
    names = [f"c{i}" for i in range(rng.randint(2, 6))]
    containers = [container(n, cpu=f"{rng.choice([200, 500, 900])}m",
                            memory=f"{rng.choice([256, 512, 1024])}Mi",
                            replicas=rng.randint(1, 3), critical=rng.random() < 0.8)
                  for n in names]
    nodes = [node(f"n{i}", cpu=rng.choice(["2", "4"]), memory="4Gi",
                  releasable=rng.random() < 0.5, zone=f"z{i % 2}")
             for i in range(rng.randint(2, 4))]
    pools = ([{"name": "pool", "allocatable": {"cpu": "2", "memory": "4Gi"}, "maxCount": 3}]
             if rng.random() < 0.4 else None)
    data = problem(containers, nodes, pools=pools, timeLimitSeconds=2,
                   objective=rng.choice(["balanced", "minWaste", "minSpof"]))
    data["disruptionBudgets"] = [
        {"name": f"pdb-{c['name']}", "containers": [c["name"]],
         **rng.choice([{"minAvailable": 1}, {"maxUnavailable": 1}, {"minAvailable": "50%"}])}
        for c in containers if rng.random() < 0.4]
    shuffled = rng.sample(names, len(names))
    groups: list[list[str]] = []
    for name in shuffled:
        if groups and rng.random() < 0.4:
            groups[-1].append(name)
        else:
            groups.append([name])
    hosts = [n["name"] for n in nodes]
    layout = {g[0]: (g, [rng.choice(hosts) for _ in range(rng.randint(1, 3))]) for g in groups}
    data["layout"] = _layout(layout)
    data["layout"]["placements"] = [p for p in data["layout"]["placements"]
                                    if rng.random() < 0.8]
    return data


@pytest.mark.parametrize("seed", range(16))
def test_random_migrations_pass_the_validator(seed: int) -> None:
    data = _random_case(seed)
    wire = _migrate(data)
    assert wire["extraNodes"] >= 0


def _random_layout(rng: random.Random, names: list[str], replicas: dict[str, int],
                   free: dict[str, int], cpu: dict[str, int]) -> Pods | None:
    """Random pods over `names`, each replica first-fit (by cpu) on a random node order."""
    groups: list[list[str]] = []
    for name in rng.sample(names, len(names)):
        if groups and rng.random() < 0.4:
            groups[-1].append(name)
        else:
            groups.append([name])
    out: Pods = {}
    for group in groups:
        need = sum(cpu[c] for c in group)
        hosts: list[str] = []
        for _ in range(max(replicas[c] for c in group)):
            fit = [n for n in rng.sample(sorted(free), len(free)) if free[n] >= need]
            if not fit:
                return None
            free[fit[0]] -= need
            hosts.append(fit[0])
        out["-".join(group)] = (group, hosts)
    return out


def _random_pair(seed: int) -> tuple[dict[str, Any], Plan]:
    """Tight nodes, and two random layouts that fit them: swaps and surges happen."""
    rng = random.Random(seed)
    while True:
        names = [f"c{i}" for i in range(rng.randint(2, 5))]
        cpu = {n: rng.choice([300, 600, 900]) for n in names}
        replicas = {n: rng.randint(1, 3) for n in names}
        nodes = {f"n{i}": 2000 for i in range(rng.randint(2, 4))}
        current = _random_layout(rng, names, replicas, dict(nodes), cpu)
        advised = _random_layout(rng, names, replicas, dict(nodes), cpu)
        if current is not None and advised is not None:
            break
    data = problem([container(n, cpu=f"{cpu[n]}m", replicas=replicas[n],
                              critical=rng.random() < 0.8) for n in names],
                   [node(n, cpu="2", releasable=rng.random() < 0.5) for n in nodes])
    if rng.random() < 0.4:
        data["pools"] = [{"name": "pool", "allocatable": {"cpu": "2", "memory": "8Gi"},
                          "maxCount": 2}]
    data["disruptionBudgets"] = [
        {"name": f"pdb-{n}", "containers": [n],
         **rng.choice([{"minAvailable": 1}, {"maxUnavailable": 1}, {"minAvailable": "100%"}])}
        for n in names if rng.random() < 0.5]
    data["layout"] = _layout(current)
    return data, _plan(advised)


@pytest.mark.parametrize("seed", range(60))
def test_random_layouts_on_tight_nodes_migrate_validly(seed: int) -> None:
    _migrate(*_random_pair(seed))


@pytest.mark.parametrize("budget", [1, 2, 4])
def test_a_replica_the_advice_keeps_in_place_is_never_the_one_deleted(budget: int) -> None:
    """Replica numbers pair across the layouts where they can: when the advice keeps
    `orders/1` on node-3 and moves `orders/0`, the step deletes `orders/0` from node-3."""
    data = load_example("moves-review.yaml")
    data["policy"] = {**data.get("policy", {}), "maxMoves": budget, "workers": 1,
                      "timeLimitSeconds": 5}
    result = review(parse_problem(data)).to_wire()
    today = {(p["pod"], p["replica"]): p["node"] for p in result["current"]["placements"]}
    advised = {(p["pod"], p["replica"]): p["node"] for p in result["advised"]["placements"]}
    kept = {key for key, node in advised.items() if today.get(key) == node}
    steps = result["migration"]["steps"]
    assert any(s["action"] == "delete" for s in steps)
    for step in steps:
        if step["action"] == "delete":
            assert (step["pod"], step["replica"]) not in kept, step
    assert validate_migration(parse_problem(data), result["current"], result["advised"],
                              result["migration"]) == []
