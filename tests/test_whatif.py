"""What-if failures: which components a node or zone failure stops or degrades, where the
evicted replicas go again (kube-scheduler's way, pools growing), and what stays Pending."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from advisor.current import current_view
from advisor.errors import InputError
from advisor.prepare import prepare
from advisor.report.whatif import FAILURE_RULES, WHATIF_FORMATS, render_whatif
from advisor.whatif import default_failures, simulate, what_if
from models import parse_problem
from models.quantity import parse_quantity
from tests.api_support import PROBLEM_JSON, serve
from tests.conftest import ROOT
from tests.support import container, node, problem
from tests.test_report_sarif import validate as validate_sarif


def _layout(pods: dict[str, tuple[list[str], list[str]]]) -> dict[str, Any]:
    """pod -> (containers, node of each replica)."""
    return {"pods": [{"name": n, "containers": cs, "replicas": len(ks)}
                     for n, (cs, ks) in pods.items()],
            "placements": [{"pod": n, "replica": i, "node": k}
                           for n, (_, ks) in pods.items() for i, k in enumerate(ks)]}


def _zoned(layout: dict[str, tuple[list[str], list[str]]], **extra: Any) -> dict[str, Any]:
    """Three zones of two 2-cpu nodes each."""
    nodes = [node(f"{z}-{i}", cpu="2", memory="4Gi", zone=f"zone-{z}")
             for z in "abc" for i in (1, 2)]
    names = {c for cs, _ in layout.values() for c in cs}
    data = problem([container(n, cpu="500m", memory="512Mi") for n in sorted(names)], nodes,
                   **extra)
    data["layout"] = _layout(layout)
    return data


def _run(data: dict[str, Any], kind: str, name: str) -> Any:
    inst = prepare(parse_problem(data))
    return simulate(inst, current_view(inst), kind, name)  # type: ignore[arg-type]


def test_a_node_failure_stops_the_components_it_alone_runs_and_they_come_back_elsewhere(
        ) -> None:
    data = _zoned({"web": (["web"], ["a-1", "b-1"]), "db": (["db"], ["a-1"]),
                   "cache": (["cache"], ["a-1"])})
    out = _run(data, "node", "a-1")
    assert out.lost_components == ["cache", "db"]
    assert out.degraded_components == []  # web keeps one of two: half, not below
    assert out.evicted == 3
    assert out.recovers
    assert out.pending_replicas == []
    assert {r.pod for r in out.rescheduled} == {"web", "db", "cache"}
    assert all(r.from_node == "a-1" and r.node != "a-1" for r in out.rescheduled)
    # kube-scheduler's default spreading: web's evicted replica avoids b-1, where its
    # other replica runs, while other nodes have room.
    assert next(r.node for r in out.rescheduled if r.pod == "web") != "b-1"
    assert "stops cache, db until rescheduled" in out.summary


def test_a_zone_failure_degrades_a_component_below_its_budget() -> None:
    data = _zoned({"web": (["web"], ["a-1", "a-2", "b-1"])})
    data["disruptionBudgets"] = [{"name": "web", "containers": ["web"], "minAvailable": 2}]
    out = _run(data, "zone", "zone-a")
    assert out.lost_components == []
    assert out.degraded_components == ["web"]
    # Without the budget, one of three left is below half: degraded too.
    del data["disruptionBudgets"]
    assert _run(data, "zone", "zone-a").degraded_components == ["web"]
    # A zone holding one of three replicas: neither.
    data["layout"] = _layout({"web": (["web"], ["a-1", "b-1", "c-1"])})
    out = _run(data, "zone", "zone-a")
    assert (out.lost_components, out.degraded_components) == ([], [])


def test_evicted_replicas_that_fit_nowhere_stay_pending_and_the_app_does_not_recover(
        ) -> None:
    data = problem([container("big", cpu="1500m", memory="1Gi", replicas=2)],
                   [node("n1", cpu="2"), node("n2", cpu="2")])
    data["layout"] = _layout({"big": (["big"], ["n1", "n2"])})
    out = _run(data, "node", "n1")
    assert not out.recovers
    assert [(p.pod, p.replica) for p in out.pending_replicas] == [("big", 0)]
    assert "stay Pending" in out.summary


def test_a_pool_that_may_grow_takes_the_evicted_replicas_on_a_new_node() -> None:
    data = problem([container("big", cpu="1500m", memory="1Gi", replicas=2)],
                   [node("n1", cpu="2"), node("n2", cpu="2")],
                   pools=[{"name": "spare", "allocatable": {"cpu": "2", "memory": "4Gi"},
                           "maxCount": 2}])
    data["layout"] = _layout({"big": (["big"], ["n1", "n2"])})
    out = _run(data, "node", "n1")
    assert out.recovers
    assert out.added_nodes == ["spare-1"]
    assert [r.node for r in out.rescheduled] == ["spare-1"]


def test_rescheduled_replicas_fit_the_nodes_that_remain() -> None:
    data = _zoned({f"s{i}": ([f"s{i}"], [k]) for i, k in enumerate(
        ["a-1", "a-1", "a-1", "a-2", "b-1", "b-2", "c-1", "c-2"])})
    out = _run(data, "zone", "zone-a")
    assert out.evicted == 4
    # Recount every remaining node's cpu from the layout and the moves: within 2 cpu.
    cpu: dict[str, float] = {}
    for place in data["layout"]["placements"]:
        if not place["node"].startswith("a-"):
            cpu[place["node"]] = cpu.get(place["node"], 0) + 0.5
    for r in out.rescheduled:
        assert not r.node.startswith("a-")
        cpu[r.node] = cpu.get(r.node, 0) + 0.5
    assert all(v <= float(parse_quantity("2")) for v in cpu.values())
    assert out.recovers


def test_default_failures_are_the_worst_node_and_every_zone_of_few() -> None:
    data = _zoned({"web": (["web"], ["a-1", "b-1"]), "db": (["db"], ["c-1"]),
                   "cache": (["cache"], ["c-1"])})
    inst = prepare(parse_problem(data))
    chosen = default_failures(inst, current_view(inst))
    assert chosen == [("node", "c-1"), ("zone", "zone-a"), ("zone", "zone-b"),
                      ("zone", "zone-c")]
    assert default_failures(inst, current_view(inst), worst=2)[:2] == [
        ("node", "c-1"), ("node", "a-1")]
    result = what_if(inst, current_view(inst))
    assert [f.failure.name for f in result.failures] == ["c-1", "zone-a", "zone-b", "zone-c"]


def test_a_zone_holding_every_node_is_no_default_failure() -> None:
    """Both nodes in one zone: its failure is the whole cluster down, left out by default
    (still simulated when asked); a pool that may add a node elsewhere keeps it in."""
    data = problem([container("web", cpu="500m", replicas=2)],
                   [node("n1", zone="zone-a"), node("n2", zone="zone-a")])
    data["layout"] = _layout({"web": (["web"], ["n1", "n2"])})
    inst = prepare(parse_problem(data))
    assert default_failures(inst, current_view(inst)) == [("node", "n1")]
    assert not _run(data, "zone", "zone-a").recovers
    data["pools"] = [{"name": "spare", "allocatable": {"cpu": "2", "memory": "4Gi"},
                      "zones": ["zone-b"], "maxCount": 2}]
    inst = prepare(parse_problem(data))
    assert default_failures(inst, current_view(inst)) == [("node", "n1"), ("zone", "zone-a")]


def test_an_unknown_node_or_zone_is_a_named_input_error() -> None:
    data = _zoned({"web": (["web"], ["a-1"])})
    inst = prepare(parse_problem(data))
    with pytest.raises(InputError) as caught:
        simulate(inst, current_view(inst), "node", "nope")
    assert caught.value.issues[0].path == "--fail"
    assert "a-1" in caught.value.issues[0].message
    with pytest.raises(InputError):
        simulate(inst, current_view(inst), "zone", "zone-x")


def test_whatif_over_the_cli_and_the_api(tmp_path: Path) -> None:
    data = _zoned({"web": (["web"], ["a-1", "b-1"]), "db": (["db"], ["c-1"])})
    path = tmp_path / "app.json"
    path.write_text(json.dumps(data))
    run = subprocess.run([sys.executable, "-m", "advisor.cli", "whatif", str(path), "--fail",
                          "zone=zone-c", "-f", "json"], capture_output=True, text=True,
                         check=False)
    assert run.returncode == 0, run.stderr
    out = json.loads(run.stdout)
    assert [f["failure"] for f in out["failures"]] == [{"kind": "zone", "name": "zone-c"}]
    assert out["failures"][0]["lostComponents"] == ["db"]
    bad = subprocess.run([sys.executable, "-m", "advisor.cli", "whatif", str(path), "--fail",
                          "rack=r1"], capture_output=True, text=True, check=False)
    assert bad.returncode == 2
    assert "--fail" in bad.stderr
    with serve(tmp_path) as client:
        answer = client.post("/v1/whatif?fail=node=c-1", json=data)
        assert answer.status_code == 200, answer.text
        assert answer.json()["failures"][0]["lostComponents"] == ["db"]
        wrong = client.post("/v1/whatif?fail=node=nope", json=data)
        assert wrong.status_code == 422
        assert wrong.headers["content-type"].startswith(PROBLEM_JSON)


def test_whatif_reports_in_every_format(tmp_path: Path) -> None:
    data = _zoned({"web": (["web"], ["a-1", "b-1"]), "db": (["db"], ["c-1"]),
                   "cache": (["cache"], ["c-1"])})
    inst = prepare(parse_problem(data))
    result = what_if(inst, current_view(inst)).to_wire()
    page = render_whatif("html", result, "app.yaml")
    for failure in result["failures"]:
        label = f"{failure['failure']['kind']} {failure['failure']['name']}"
        assert page.count(f"<code>{label}</code>") >= 2  # its table row and its section
    log = json.loads(render_whatif("sarif", result, "app.yaml"))
    validate_sarif(log)
    expected = sum(bool(f["lostComponents"]) + bool(f["degradedComponents"])
                   + bool(f["pendingReplicas"]) for f in result["failures"])
    results = log["runs"][0]["results"]
    assert len(results) == expected > 0
    assert {r["ruleId"] for r in results} <= set(FAILURE_RULES)
    stops = [r for r in results if r["ruleId"] == "FAILURE_STOPS_COMPONENTS"]
    assert all(r["properties"]["subjects"] for r in stops)
    assert any("db" in r["properties"]["subjects"] for r in stops)
    with serve(tmp_path) as client:
        answer = client.post("/v1/whatif?fail=zone=zone-c", json=data,
                             headers={"Accept": "text/html"})
        assert answer.status_code == 200
        assert answer.headers["content-type"].startswith("text/html")
        assert "<code>zone zone-c</code>" in answer.text
        refused = client.post("/v1/whatif", json=data, headers={"Accept": "image/png"})
        assert refused.status_code == 406


def test_whatif_messages_agree_in_number_and_titles_without_a_source() -> None:
    def failure(lost: list[str], degraded: list[str]) -> dict[str, Any]:
        return {"failure": {"kind": "node", "name": "n1"}, "recovers": True, "evicted": 2,
                "lostComponents": lost, "degradedComponents": degraded,
                "pendingReplicas": [], "summary": ""}

    result = {"failures": [failure(["api"], ["db"]), failure(["a", "b"], ["c", "d"])]}
    texts = [r["message"]["text"]
             for r in json.loads(render_whatif("sarif", result))["runs"][0]["results"]]
    assert texts == [
        "If node n1 fails, api stops until rescheduled.",
        "If node n1 fails, db runs below its budget or half its replicas.",
        "If node n1 fails, a, b stop until rescheduled.",
        "If node n1 fails, c, d run below their budget or half their replicas."]
    assert render_whatif("markdown", result).startswith("## What if: the layout\n")
    assert render_whatif("markdown", result, "app.yaml").startswith("## What if: `app.yaml`\n")
    assert "<h1>What if: the layout</h1>" in render_whatif("html", result)


def test_readme_lists_every_whatif_format() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    [row] = [x for x in readme.splitlines() if x.startswith("| `podlayout whatif")]
    assert "[-f " + "\\|".join(WHATIF_FORMATS) + "]" in row
    [api] = [x for x in readme.splitlines() if x.startswith("| `POST /v1/whatif")]
    assert "`Accept`" in api
    assert "`/v1/whatif` and `GET /v1/jobs/{id}` answer by the\n`Accept` header" in readme
