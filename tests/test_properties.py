"""Random problems that are feasible by construction: the solver must place them validly.

Why every generated problem is feasible: every node (or pool node) can hold one
replica of every container at once, no pod has more replicas than there are
nodes, and nodes are listed round-robin over equally sized zones. Then "replica i
of every pod on the i-th node" keeps capacity, hard spreading (node and zone),
sameNode (a pod with fewer replicas uses a prefix of the nodes of one with more)
and node selectors; the one separateNodes pair takes the nodes from the other end
of the list; forced groups have distinct ports and one replica count.
"""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from advisor import advise
from advisor.greedy import greedy
from advisor.model import WEIGHTS, LayoutModel
from advisor.prepare import prepare
from advisor.solve import current_in_model_terms, max_reward
from models import Problem, parse_problem
from tests.validator import nodes_lower_bound, validate

SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
HELPERS = ("sidecar", "ambassador", "adapter")
TAINT = {"key": "dedicated", "value": "apps", "effect": "NoSchedule"}


@st.composite
def feasible_problems(draw: st.DrawFn) -> dict[str, Any]:
    spread = draw(st.sampled_from(["none", "node", "zone"]))
    zones = draw(st.sampled_from([[], ["zone-a"], ["zone-a", "zone-b"]]))
    if spread == "zone" and not zones:
        zones = ["zone-a", "zone-b"]
    per_zone = draw(st.integers(1, 4 // max(1, len(zones))))
    count = per_zone * max(1, len(zones))
    cpu = draw(st.sampled_from([2000, 4000, 8000]))  # millicores per node
    memory = draw(st.sampled_from([2, 4, 8]))  # GiB per node
    gpu = draw(st.booleans())
    tainted = draw(st.booleans())
    allocatable: dict[str, Any] = {"cpu": f"{cpu}m", "memory": f"{memory}Gi"}
    if gpu:
        allocatable["nvidia.com/gpu"] = "1"
    use_pool = draw(st.booleans())

    n = draw(st.integers(1, 8))
    names = [f"c{i}" for i in range(n)]
    # Forced groups: a main, then helpers (no replicas) or samePod members (same replicas).
    group_of = sorted(draw(st.lists(st.integers(0, n - 1), min_size=n, max_size=n)))
    groups: dict[int, list[str]] = {}
    for name, g in zip(names, group_of, strict=True):
        groups.setdefault(g, []).append(name)
    containers: list[dict[str, Any]] = []
    hints: list[dict[str, Any]] = []
    replicas_of: dict[int, int] = {}
    for g, members in groups.items():
        replicas = draw(st.integers(1, count))
        replicas_of[g] = replicas
        for i, name in enumerate(members):
            c = _container(draw, name, i, members, replicas, (cpu, memory, n),
                           gpu=gpu, tainted=tainted, hints=hints, taken=len(containers))
            containers.append(c)

    hints += _pair_hints(draw, groups, replicas_of, count)

    data: dict[str, Any] = {
        "containers": containers,
        "hints": hints,
        "policy": {"objective": draw(st.sampled_from(["balanced", "minWaste", "minSpof"])),
                   "spread": spread, "timeLimitSeconds": 2, "workers": 1, "seed": 0},
    }
    labels = {"kind": "app"}
    taints = [TAINT] if tainted else []
    if use_pool:
        data["pools"] = [{"name": "pool", "allocatable": allocatable, "zones": zones,
                          "maxCount": count, "labels": labels, "taints": taints}]
    else:
        data["nodes"] = [
            {"name": f"n{i}", "allocatable": allocatable, "labels": labels, "taints": taints,
             **({"zone": zones[i % len(zones)]} if zones else {})}
            for i in range(count)
        ]
    return data


def _container(draw: st.DrawFn, name: str, i: int, members: list[str], replicas: int,
               size: tuple[int, int, int], *, gpu: bool, tainted: bool,
               hints: list[dict[str, Any]], taken: int) -> dict[str, Any]:
    """Container `i` of a forced group `members`: the main (i == 0) or a helper or samePod
    member (whose hint goes to `hints`); `size` is the node's cpu, memory and the count."""
    cpu, memory, n = size
    c: dict[str, Any] = {
        "name": name,
        "requests": {
            "cpu": f"{draw(st.integers(1, cpu // n))}m",
            "memory": f"{draw(st.integers(1, memory * 1024 // n))}Mi",
        },
        "critical": draw(st.booleans()),
    }
    if gpu and draw(st.booleans()):
        c["requests"]["nvidia.com/gpu"] = f"{draw(st.integers(1, 1000 // n))}m"
    # Ports: a main may listen on 8080 or 53/UDP, which other groups' mains may share
    # (such groups must then not merge); every container may have a port of its own.
    ports: list[Any] = []
    if i == 0:
        ports += draw(st.sampled_from([[], [8080], [{"port": 53, "protocol": "UDP"}]]))
    if draw(st.booleans()):
        ports.append(9000 + taken)
    if ports:
        c["ports"] = ports
    if draw(st.booleans()):
        c["nodeSelector"] = {"kind": "app"}
    if tainted and i == len(members) - 1:
        c["tolerations"] = [{"key": "dedicated", "operator": "Exists"}]
    if draw(st.booleans()):
        c["volumes"] = [draw(st.sampled_from(["data", "logs"]))]
    if i == 0:
        c["replicas"] = replicas
    elif draw(st.booleans()):
        hints.append({"type": draw(st.sampled_from(HELPERS)), "container": name,
                      "main": members[0]})
    else:
        if draw(st.booleans()):
            c["replicas"] = replicas
        hints.append({"type": "samePod", "containers": [members[0], name]})
    return c


def _pair_hints(draw: st.DrawFn, groups: dict[int, list[str]], replicas_of: dict[int, int],
                count: int) -> list[dict[str, Any]]:
    """Hints between the mains of groups: separatePods, sameNode, traffic, and at most one
    separateNodes pair between groups in no sameNode hint that fit apart."""
    hints: list[dict[str, Any]] = []
    mains = [(g, members[0]) for g, members in groups.items()]
    if len(mains) >= 2:
        pairs = [(a, b) for a in mains for b in mains if a[0] < b[0]]
        for (_, a), (_, b) in draw(st.lists(st.sampled_from(pairs), max_size=3, unique=True)):
            kind = draw(st.sampled_from(["separatePods", "sameNode", "traffic"]))
            hint: dict[str, Any] = {"type": kind, "containers": [a, b]}
            if kind == "traffic":
                hint["weight"] = draw(st.sampled_from([1, 10, 100]))
            hints.append(hint)
        # At most one separateNodes pair, between groups in no sameNode hint, that fit apart.
        linked = {x for h in hints if h["type"] == "sameNode" for x in h["containers"]}
        apart = [(a, b) for (ga, a), (gb, b) in pairs
                 if a not in linked and b not in linked
                 and replicas_of[ga] + replicas_of[gb] <= count]
        wanted: bool = draw(st.booleans())
        if apart and wanted:
            pair = draw(st.sampled_from(apart))
            hints.append({"type": "separateNodes", "containers": list(pair)})
    return hints


@SETTINGS
@given(feasible_problems())
def test_feasible_problems_get_valid_plans(data: dict[str, Any]) -> None:
    problem = parse_problem(data)
    plan = advise(problem).to_wire()
    solver = plan["solver"]
    assert plan["status"] in ("optimal", "feasible", "heuristic"), plan["conflicts"]
    assert plan["unplaced"] == []
    assert validate(problem, plan) == []
    if solver["objective"] is not None and solver["bound"] is not None:
        assert solver["bound"] <= solver["objective"] + 1e-6
    if solver["gap"] is not None:
        assert solver["gap"] >= 0
    assert solver["nodesUsed"] >= nodes_lower_bound(problem)
    # Never worse than the greedy plan it starts from (priced by the same objective).
    greedy_objective = _greedy_objective(problem)
    if greedy_objective is not None and solver["objective"] is not None:
        assert solver["objective"] <= greedy_objective + 1e-6


def _greedy_objective(problem: Problem) -> int | None:
    inst = prepare(problem)
    if inst.conflicts:
        return None
    first = greedy(inst)
    if not first.complete:
        return None
    fixed = [c.index for c in inst.candidates if c.pool is None]
    weights = WEIGHTS[problem.policy.objective]
    model = LayoutModel(inst, sorted(set(fixed) | first.used_nodes()), weights, hint=first)
    # On the reported scale: shifted by the most the rewards could take off.
    return model.hinted_objective() + max_reward(inst, weights, current_in_model_terms(inst))


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(feasible_problems())
def test_one_worker_and_one_seed_give_one_plan(data: dict[str, Any]) -> None:
    problem = parse_problem(data)
    first = advise(problem).to_wire()
    second = advise(problem).to_wire()
    assert first["status"] == second["status"]
    assert first["pods"] == second["pods"]
    assert first["placements"] == second["placements"]
    assert first["solver"]["objective"] == second["solver"]["objective"]
