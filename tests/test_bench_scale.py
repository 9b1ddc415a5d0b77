"""The scale benchmark's readers, baselines and checks (no solver involved)."""

from __future__ import annotations

import pytest

from bench import baselines, checks, data, fragmentation
from models import Plan, parse_problem
from models.plan import PlacedReplica, PlannedPod

needs_data = pytest.mark.skipif(not data.DATA_DIR.is_dir(), reason="no ../shared/bench-data")


def test_parse_vbp_maps_dimensions_onto_resources() -> None:
    caps, items = data.parse_vbp("3\n100 100 100\n2\n10 20 30 4\n50 0 5 1\n")
    assert caps == [100, 100, 100]
    assert items == [([10, 20, 30], 4), ([50, 0, 5], 1)]
    problem = data.vbp_problem(caps, items, 5.0)
    assert problem["containers"][0]["requests"] == {
        "cpu": "10m", "memory": "20", "example.com/r3": "30"}
    assert problem["containers"][0]["replicas"] == 4
    assert problem["containers"][0]["critical"] is False
    pool = problem["pools"][0]
    assert pool["maxCount"] == 5
    assert pool["allocatable"]["pods"] == "5"
    parsed = parse_problem(problem)
    assert parsed.policy.objective.value == "minWaste"
    assert parsed.policy.spread.value == "none"


@needs_data
def test_vbp_instances_carry_their_optima() -> None:
    found = data.vbp_instances(10.0)
    assert len(found) == 48
    first = data.vbp_instances(10.0, "class1_20_3_0")[0]
    assert (first.opt, first.lower_bound, first.best_overall, first.replicas) == (6, 6, 6, 20)


@needs_data
def test_openb_keeps_every_pod_and_node() -> None:
    inst = data.openb_instance(60.0)
    problem = parse_problem(inst.data)
    assert inst.replicas == 8152
    assert len(problem.nodes) == 1523
    assert len(problem.containers) == 151
    assert sum(c.replicas or 0 for c in problem.containers) == 8152
    assert inst.arrival is not None
    assert len(inst.arrival) == 8152
    shared = [c for c in problem.containers if data.GPU_MILLI in c.requests
              and data.GPU not in c.requests]
    assert shared  # GPU-sharing pods ask milli-GPUs only
    assert all(c.requests[data.GPU_MILLI] < 1000 for c in shared)


def test_synthetic_sizes_and_spread() -> None:
    for name, (replicas, shapes) in data.SYNTH_VARIANTS.items():
        inst = data.synthetic_instance(name, 30.0)
        problem = parse_problem(inst.data)
        assert len(problem.containers) == shapes
        assert sum(c.replicas or 0 for c in problem.containers) == replicas
        assert problem.policy.spread.value == "node"
        assert max(c.replicas or 0 for c in problem.containers) <= problem.pools[0].max_count
    assert data.synthetic_problem(1000, 50, 0, 1.0) == data.synthetic_problem(1000, 50, 0, 1.0)


@pytest.mark.parametrize("method", ["ffd", "kube-least", "kube-most"])
def test_baselines_give_valid_plans(method: str) -> None:
    problem = parse_problem(data.synthetic_problem(1000, 50, 0, 1.0))
    if method == "ffd":
        result = baselines.ffd_autoscaler(problem)
    elif method == "kube-least":
        result = baselines.kube_least_allocated(problem)
    else:
        result = baselines.kube_most_allocated(problem)
    assert result.unplaced == 0
    assert result.placed == 1000
    assert checks.plan_violations(problem, checks.greedy_plan(result)) == []
    assert result.nodes_used >= fragmentation.lower_bound(problem)


def test_kube_greedies_spread_and_pack() -> None:
    # Two 1-cpu nodes' worth of 250m pods: LeastAllocated spreads, MostAllocated packs.
    problem = parse_problem({
        "containers": [{"name": "a", "requests": {"cpu": "250m"}, "replicas": 4}],
        "nodes": [{"name": "n1", "allocatable": {"cpu": "1"}},
                  {"name": "n2", "allocatable": {"cpu": "1"}}],
    })
    assert baselines.kube_least_allocated(problem).nodes_used == 2
    assert baselines.kube_most_allocated(problem).nodes_used == 1


def test_checks_catch_pool_overload_spread_and_unknown_nodes() -> None:
    problem = parse_problem({
        "containers": [{"name": "a", "requests": {"cpu": "600m"}, "replicas": 2}],
        "pools": [{"name": "p", "allocatable": {"cpu": "1"}, "maxCount": 2}],
        "policy": {"spread": "node"},
    })
    pods = [PlannedPod(name="a", containers=["a"], replicas=2, requests={})]

    def plan(*nodes: str) -> Plan:
        return Plan(status="heuristic", pods=pods, placements=[
            PlacedReplica(pod="a", replica=i, node=n) for i, n in enumerate(nodes)])

    assert checks.plan_violations(problem, plan("p-1", "p-2")) == []
    issues = checks.plan_violations(problem, plan("p-1", "p-1"))
    assert any("spread" in i for i in issues)
    assert any("cpu requested" in i for i in issues)
    assert any("neither" in i for i in checks.plan_violations(problem, plan("p-1", "p-3")))


def test_device_packing_is_exact() -> None:
    assert fragmentation._packs([600, 600], 2, 1000)
    assert not fragmentation._packs([600, 600, 600], 2, 1000)
    assert fragmentation._packs([500, 500, 400, 600], 2, 1000)
    assert not fragmentation._packs([100], 0, 1000)


def test_stranded_gpu_counts_free_gpu_no_shape_can_use() -> None:
    problem = parse_problem({
        "containers": [
            {"name": "cpu-hog", "requests": {"cpu": "8"}, "replicas": 1, "critical": False},
            {"name": "gpu-pod", "requests": {"cpu": "1", data.GPU_MILLI: "500"},
             "replicas": 1, "critical": False},
        ],
        "nodes": [{"name": "g1", "allocatable": {"cpu": "8", data.GPU_MILLI: "1000",
                                                 data.GPU: "1"}}],
    })
    pods = [PlannedPod(name="cpu-hog", containers=["cpu-hog"], replicas=1, requests={}),
            PlannedPod(name="gpu-pod", containers=["gpu-pod"], replicas=1, requests={})]
    hogged = Plan(status="heuristic", pods=pods,
                  placements=[PlacedReplica(pod="cpu-hog", replica=0, node="g1")])
    report = fragmentation.gpu_report(problem, hogged)
    assert report.capacity == 1
    assert report.stranded == 1  # the cpu is gone: the whole GPU is stranded
    assert report.device_infeasible_nodes == 0


def test_table_shows_broken_plans_and_failed_runs_not_numbers() -> None:
    from bench import scale  # noqa: PLC0415

    ok = scale.MethodResult(method="ffd", nodes=5, placed=10, unplaced=0)
    broken = scale.MethodResult(method="advisor", nodes=4, placed=10, unplaced=0,
                                violations=["node p-1: cpu requested 2 > allocatable 1"])
    row = scale.Row(suite="vbp", instance="x", replicas=10, time_limit=1.0, opt=5, paper_lb=5,
                    best_overall=5, lower_bound=5, advisor=scale.AdvisorRun("ok", status="optimal"),
                    plan=broken, baselines={"ffd": ok, "kube-least": ok, "kube-most": ok})
    table = scale.markdown_table([row])
    assert "INVALID (1)" in table
    assert "| 4 |" not in table
    crashed = scale.Row(**{**row.__dict__, "advisor": scale.AdvisorRun("timeout", wall=9.0),
                           "plan": scale.MethodResult(method="advisor")})
    assert "**TIMEOUT**" in scale.markdown_table([crashed])
    summary = "\n".join(scale.summary_vbp([row, crashed]))
    assert "at OPT on 0 of 2" in summary
    assert "plans breaking a hard rule" in summary


def test_the_clock_column_and_line_count_runs_past_the_slack() -> None:
    from bench import scale  # noqa: PLC0415

    ok = scale.MethodResult(method="ffd", nodes=5, placed=10, unplaced=0)

    def run(name: str, solver_wall: float | None) -> scale.Row:
        return scale.Row(suite="vbp", instance=name, replicas=10, time_limit=10.0, opt=5,
                         paper_lb=5, best_overall=5, lower_bound=5,
                         advisor=scale.AdvisorRun("ok", status="feasible", wall=solver_wall or 0,
                                                  solver_wall=solver_wall),
                         plan=ok, baselines={"ffd": ok, "kube-least": ok, "kube-most": ok})

    rows = [run("under", 9.4), run("inside-slack", 10.25), run("late", 10.31), run("none", None)]
    table = scale.markdown_table(rows)
    assert "over limit s" in table.splitlines()[0]
    assert "| -0.60 |" in table
    assert "| +0.31 |" in table
    line = scale.clock_line(rows)
    assert "on 1 of 3 runs" in line
    assert "late 10.31 s" in line
    assert "inside-slack" not in line
    assert scale.summary("vbp", rows)[-1] == line


def test_the_larger_spread_is_a_suite_of_its_own() -> None:
    names = data.suite_names("vbp-gen")
    assert len(names) == 36
    assert len(data.suite_names("vbp-gen", "gen-class9_250_*")) == 2
    inst = data.load_instance("vbp-gen", "gen-class9_250_3_s1", 10.0)
    assert inst.replicas == 251  # class 9 keeps its n + 1 items
    assert inst.opt is None
    assert sum(c["replicas"] for c in inst.data["containers"]) == 251
    assert "vbp-gen" in data.SUITES
    assert data.DEFAULT_TIME_LIMITS["vbp-gen"] == 10.0
    with pytest.raises(data.DataError):
        data.load_instance("vbp-gen", "gen-class10_120_3_s0", 10.0)
