"""The placement rules: each one has a counterpart in the CP-SAT model, accepts and rejects
what it should on small instances, agrees with its vectorised form, and the heuristics
stop cleanly at a deadline."""

from __future__ import annotations

import random
import time
from typing import Any

import numpy as np
import pytest

from advisor import rules
from advisor.greedy import Clock, greedy, greedy_variant
from advisor.layout import PodView
from advisor.model import LayoutModel
from advisor.packing import _arrays, best_packing, drain, fill_nodes, initial_plan, pack
from advisor.prepare import Instance, prepare
from models import parse_problem
from tests.support import container, node, problem


def _inst(containers: list[dict[str, Any]], nodes: list[dict[str, Any]],
          hints: list[dict[str, Any]] | None = None, **extra: Any) -> Instance:
    data = problem(containers, nodes, hints, **extra.pop("policy", {}))
    data.update(extra)
    return prepare(parse_problem(data))


def _unit(inst: Instance, name: str) -> int:
    return next(u for u, unit in enumerate(inst.units) if unit.name == name)


def _node(inst: Instance, name: str) -> int:
    return next(c.index for c in inst.candidates if c.name == name)


def _state(inst: Instance, order: list[int] | None = None) -> rules.Placement:
    return rules.Placement(inst, rules.instance_units(inst, order))


def test_every_rule_has_a_model_counterpart() -> None:
    assert tuple(rules.FILTERS) == rules.RULES
    assert set(rules.BY_CONSTRUCTION) <= set(rules.RULES)
    for name in rules.RULES:
        method = getattr(LayoutModel, f"add_{name}", None)
        assert callable(method) or name in rules.BY_CONSTRUCTION, (
            f"rule {name}: no LayoutModel.add_{name} and not enforced by construction")


def test_admitted_follows_selectors_and_taints() -> None:
    inst = _inst(
        [container("gpu", nodeSelector={"accel": "yes"}),
         container("tolerant", tolerations=[{"key": "dedicated", "operator": "Exists"}]),
         container("plain")],
        [node("labelled", labels={"accel": "yes"}),
         node("tainted", taints=[{"key": "dedicated", "value": "x"}]),
         node("open")])
    state = _state(inst)
    gpu, tolerant, plain = (_unit(inst, n) for n in ("gpu", "tolerant", "plain"))
    labelled, tainted, open_ = (_node(inst, n) for n in ("labelled", "tainted", "open"))
    assert rules.admitted(inst, state, gpu, labelled)
    assert not rules.admitted(inst, state, gpu, open_)
    assert rules.admitted(inst, state, tolerant, tainted)
    assert not rules.admitted(inst, state, plain, tainted)
    assert rules.admitted(inst, state, plain, open_)


def test_capacity_counts_every_resource_and_the_pod_slots() -> None:
    inst = _inst([container("big", cpu="600m", replicas=2), container("tiny", cpu="10m",
                                                                       replicas=2)],
                 [node("n0", cpu="1"), node("n1", cpu="8", allocatable={"pods": "1"})])
    state = _state(inst)
    big, tiny = _unit(inst, "big"), _unit(inst, "tiny")
    n0, n1 = _node(inst, "n0"), _node(inst, "n1")
    assert rules.capacity(inst, state, big, n0)
    state.place(big, n0)
    assert not rules.capacity(inst, state, big, n0)  # 1.2 cores on a 1-core node
    assert rules.capacity(inst, state, tiny, n0)
    state.place(tiny, n1)
    assert not rules.capacity(inst, state, tiny, n1)  # cores to spare, but no pod slot


def test_spread_node_keeps_one_replica_per_node() -> None:
    inst = _inst([container("web", replicas=2)], [node("n0"), node("n1")],
                 policy={"spread": "node"})
    state = _state(inst)
    web, n0, n1 = _unit(inst, "web"), _node(inst, "n0"), _node(inst, "n1")
    state.place(web, n0)
    assert not rules.spread(inst, state, web, n0)
    assert rules.spread(inst, state, web, n1)


def test_spread_none_lets_replicas_share_a_node() -> None:
    inst = _inst([container("web", replicas=2)], [node("n0")])
    state = _state(inst)
    state.place(0, 0)
    assert rules.spread(inst, state, 0, 0)


def test_spread_zone_caps_each_zone() -> None:
    nodes = [node(f"{z}{i}", zone=z) for z in ("a", "b") for i in range(2)]
    inst = _inst([container("web", replicas=3)], nodes, policy={"spread": "zone"})
    state = _state(inst)
    web = _unit(inst, "web")
    state.place(web, _node(inst, "a0"))
    assert rules.spread(inst, state, web, _node(inst, "a1"))  # ceil(3 / 2) = 2 per zone
    state.place(web, _node(inst, "a1"))
    assert rules.spread(inst, state, web, _node(inst, "b0"))
    state.place(web, _node(inst, "b0"))
    assert not any(rules.spread(inst, state, web, k) for k in (_node(inst, "a0"),
                                                                 _node(inst, "a1")))


def test_separate_nodes_keeps_partners_apart() -> None:
    inst = _inst([container("db"), container("search")], [node("n0"), node("n1")],
                 [{"type": "separateNodes", "containers": ["db", "search"]}])
    state = _state(inst)
    db, search = _unit(inst, "db"), _unit(inst, "search")
    n0, n1 = _node(inst, "n0"), _node(inst, "n1")
    assert rules.separate_nodes(inst, state, search, n0)
    state.place(db, n0)
    assert not rules.separate_nodes(inst, state, search, n0)
    assert rules.separate_nodes(inst, state, search, n1)


def test_same_node_follows_the_partner_placed_first() -> None:
    inst = _inst([container("app", replicas=2), container("cache", replicas=1)],
                 [node("n0"), node("n1")],
                 [{"type": "sameNode", "containers": ["app", "cache"]}])
    app, cache = _unit(inst, "app"), _unit(inst, "cache")
    n0, n1 = _node(inst, "n0"), _node(inst, "n1")
    state = _state(inst, [app, cache])
    state.place(app, n0)
    assert rules.same_node(inst, state, cache, n0)
    assert not rules.same_node(inst, state, cache, n1)
    state.place(cache, n0)
    assert not rules.same_node(inst, state, cache, n0)  # no more than the partner has there
    assert rules.same_node(inst, state, app, n1)  # the pod with more replicas leads
    unordered = _state(inst)  # without a placing order, sameNode does not filter
    unordered.place(app, n0)
    assert rules.same_node(inst, unordered, cache, n1)


def test_one_node_ties_a_read_write_once_volume_to_its_first_node() -> None:
    inst = _inst([container("db", volumes=["data"]), container("backup", volumes=["data"])],
                 [node("n0"), node("n1")], volumes=[{"name": "data",
                                                     "accessMode": "ReadWriteOnce"}])
    state = _state(inst)
    db, backup = _unit(inst, "db"), _unit(inst, "backup")
    n0, n1 = _node(inst, "n0"), _node(inst, "n1")
    assert rules.one_node(inst, state, backup, n1)  # the volume has no node yet
    state.place(db, n0)
    assert rules.one_node(inst, state, backup, n0)
    assert not rules.one_node(inst, state, backup, n1)


def test_layout_pods_relate_through_hints_and_volumes() -> None:
    inst = _inst([container("a", volumes=["v"]), container("b", volumes=["v"]),
                  container("c")], [node("n0"), node("n1")],
                 [{"type": "separateNodes", "containers": ["a", "c"]}],
                 volumes=[{"name": "v", "accessMode": "ReadWriteOnce"}])
    pods = [PodView(name=n, containers=[i], replicas=1, demand=inst.units[i].demand)
            for i, n in enumerate(("a", "b", "c"))]
    state = rules.Placement(inst, rules.layout_units(inst, pods))
    state.place(0, 0)
    assert not rules.separate_nodes(inst, state, 2, 0)
    assert rules.separate_nodes(inst, state, 2, 1)
    assert not rules.one_node(inst, state, 1, 1)
    assert rules.feasible_nodes(inst, state, 1, [0, 1]) == [0]


def test_could_host_and_added_nodes() -> None:
    inst = _inst([container("big", cpu="3"), container("huge", cpu="5")],
                 [node("n0", cpu="4")])
    units = rules.instance_units(inst)
    assert rules.could_host(inst, units, _unit(inst, "big"), 0)
    assert not rules.could_host(inst, units, _unit(inst, "huge"), 0)
    state = rules.Placement(inst, units)
    state.place(0, 0)
    extra = state.add_node(0)  # a new copy of n0, empty
    assert not rules.capacity(inst, state, 0, 0)
    assert rules.feasible(inst, state, 0, extra, rules.FIT)
    assert state.candidate(extra) is inst.candidates[0]


def _random_instance(seed: int) -> Instance:
    rng = random.Random(seed)
    zones = ["a", "b"]
    containers = [container(f"c{i}", cpu=f"{rng.randint(100, 1500)}m",
                            replicas=rng.randint(1, 3), volumes=rng.choice([[], [], ["v"]]))
                  for i in range(8)]
    nodes = [node(f"n{k}", zone=zones[k % 2], allocatable={"pods": str(rng.randint(2, 6))})
             for k in range(5)]
    hints = [{"type": rng.choice(["sameNode", "separateNodes"]),
              "containers": rng.sample([c["name"] for c in containers], 2)}
             for _ in range(2)]
    return _inst(containers, nodes, hints, volumes=[{"name": "v",
                                                     "accessMode": "ReadWriteOnce"}],
                 policy={"spread": rng.choice(["none", "node", "zone"])})


@pytest.mark.parametrize("seed", range(20))
def test_skipping_idle_rules_changes_no_answer(seed: int) -> None:
    """feasible_nodes skips rules that cannot reject (PreFilter's Skip): it must agree
    with asking every rule on every node, whatever the state."""
    inst = _random_instance(seed)
    rng = random.Random(seed)
    order = list(range(len(inst.units)))
    rng.shuffle(order)
    state = _state(inst, order)
    nodes = [c.index for c in inst.candidates]
    for u in order:
        for _ in range(inst.units[u].replicas):
            ok = [k for k in nodes if rules.feasible(inst, state, u, k)]
            assert rules.feasible_nodes(inst, state, u, nodes) == ok
            if ok:
                state.place(u, rng.choice(ok))


def test_vectorised_forms_agree_with_the_rules() -> None:
    inst = _inst([container("gpu", nodeSelector={"accel": "yes"}), container("any")],
                 [node("n0", labels={"accel": "yes"}), node("n1")])
    state = _state(inst)
    mask = rules.admitted_mask(inst)
    assert mask.tolist() == [[rules.admitted(inst, state, u, k) for k in range(2)]
                             for u in range(2)]
    rng = np.random.default_rng(0)
    free = rng.integers(0, 10, size=(30, 3))
    demand = rng.integers(0, 10, size=3)
    expected = [rules.fits(demand.tolist(), row.tolist()) for row in free]
    assert rules.capacity_mask(demand, free).tolist() == expected
    assert rules.capacity_mask(free, demand).tolist() == [
        rules.fits(row.tolist(), demand.tolist()) for row in free]


def _pool_instance() -> Instance:
    return _inst([container(f"s{i}", cpu="300m", replicas=3, critical=False)
                  for i in range(10)], [],
                 pools=[{"name": "p", "maxCount": 40, "allocatable": {"cpu": "1",
                                                                      "memory": "8Gi"}}])


def test_a_passed_deadline_stops_the_heuristics_cleanly() -> None:
    inst = _pool_instance()
    past = time.monotonic() - 1.0
    for plan in (greedy(inst, past), greedy_variant(inst, deadline=past),
                 pack(inst, [c.index for c in inst.candidates], list(range(10)), "room",
                      deadline=past)):
        assert plan.interrupted
        assert sum(plan.unplaced.values()) == 30  # nothing was reached
        assert not plan.used_nodes()
    assert fill_nodes(inst, _arrays(inst), [c.index for c in inst.candidates], "dot",
                      np.random.default_rng(0), 0.0, deadline=past) is None
    packed = best_packing(inst, 9, 5.0, deadline=past)
    assert packed is not None
    assert packed.interrupted
    first = initial_plan(inst, 9, 5.0, deadline=past)
    assert first.interrupted
    full = pack(inst, [c.index for c in inst.candidates], list(range(10)), "room")
    assert drain(inst, full, 5.0, deadline=past).counts == full.counts


def test_without_a_deadline_or_before_it_nothing_changes() -> None:
    inst = _pool_instance()
    later = time.monotonic() + 600.0
    for a, b in ((greedy(inst), greedy(inst, later)),
                 (pack(inst, [c.index for c in inst.candidates], list(range(10)), "dot"),
                  pack(inst, [c.index for c in inst.candidates], list(range(10)), "dot",
                       deadline=later))):
        assert (a.counts, a.unplaced) == (b.counts, b.unplaced)
        assert (a.interrupted, b.interrupted) == (False, False)


def test_the_clock_looks_every_few_ticks() -> None:
    clock = Clock(time.monotonic() + 600.0, every=4)
    assert not any(clock.expired() for _ in range(10))
    clock.deadline = time.monotonic() - 1.0
    # Ticks 10 and 11 go unchecked; tick 12 is the next look.
    assert [clock.expired() for _ in range(3)] == [False, False, True]
    assert clock.expired()  # and it stays passed
    assert not Clock(None).expired()
