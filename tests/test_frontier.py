"""The waste-versus-SPOF frontier: plans trading node cost against SPOF, each valid (by the
independent validator), none dominated by another, cheapest first, the extremes included."""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from advisor.cli import app, optional_values
from advisor.frontier import Point, frontier, has_knee, knee, nondominated
from advisor.greedy import Assignment
from advisor.report import render
from models import Frontier, parse_problem
from tests.api_support import serve
from tests.conftest import EXAMPLES, load_example
from tests.validator import nodes_lower_bound, validate


def _services() -> dict[str, Any]:
    """Six single-replica critical services and a replicated web tier on a priced pool:
    one node is cheapest, a node per service limits what one failure stops."""
    containers: list[dict[str, Any]] = [
        {"name": name, "requests": {"cpu": "500m", "memory": "512Mi"}} for name in "abcdef"]
    containers.append({"name": "web", "requests": {"cpu": "1", "memory": "1Gi"},
                       "replicas": 2})
    return {"containers": containers,
            "pools": [{"name": "general", "allocatable": {"cpu": "4", "memory": "16Gi"},
                       "zones": ["z1", "z2"], "maxCount": 8, "cost": 0.2}],
            "policy": {"timeLimitSeconds": 8, "workers": 2, "seed": 0}}


def _frontier(data: dict[str, Any], points: int = 5) -> Frontier:
    result = frontier(parse_problem(data), points=points)
    problem = parse_problem(data)
    for plan in result.plans:
        assert validate(problem, plan.to_wire()) == [], plan.solver.message
    assert len(result.points) == len(result.plans)
    assert 0 <= result.recommended < len(result.plans)
    return result


def test_plans_trade_cost_against_risk_and_none_dominates_another() -> None:
    data = _services()
    result = _frontier(data)
    assert 3 <= len(result.plans) <= 5
    axes = [(p.node_cost, p.risk) for p in result.points]
    for (c1, r1), (c2, r2) in itertools.pairwise(axes):
        assert c1 is not None
        assert c2 is not None
        assert r1 is not None
        assert r2 is not None
        assert c1 < c2
        assert r1 > r2
    nodes = [p.solver.nodes_used for p in result.plans]
    assert nodes == sorted(nodes)
    assert len(set(nodes)) == len(nodes)
    assert result.extremes_proven
    # The cheapest plan uses as few nodes as any plan can (the validator's own bound) ...
    assert nodes[0] == nodes_lower_bound(parse_problem(data))
    # ... the safest leaves the smallest share of services to one node failure.
    blasts = [p.scores.spof.blast_radius.node for p in result.plans if p.scores]
    assert blasts[-1] == min(blasts) < blasts[0]
    assert all(p.delta for p in result.points[1:])
    assert not result.points[0].delta


def test_fixed_nodes_give_the_two_extremes_of_the_reference() -> None:
    data = load_example("reference.yaml")
    data["policy"].update({"timeLimitSeconds": 5, "workers": 2})
    result = _frontier(data, points=4)
    spof = [p.scores.spof.score for p in result.plans if p.scores]
    assert spof[-1] == min(spof)
    assert result.points[0].bounded.startswith("least node cost")


def test_nondominated_keeps_exactly_the_points_no_other_beats() -> None:
    plan = Assignment(counts=[])
    raw = [(3, 9), (5, 4), (4, 9), (3, 9), (8, 1), (6, 4), (2, 12), (9, 1)]
    points = [Point(plan, c, r, True, "", {}) for c, r in raw]
    kept = [(p.cost, p.risk) for p in nondominated(points)]
    for c, r in raw:
        beaten = any(c2 <= c and r2 <= r and (c2, r2) != (c, r) for c2, r2 in raw)
        assert ((c, r) in kept) == (not beaten)
    assert kept == sorted(set(kept))
    assert kept[0][0] == min(c for c, _ in raw)
    assert kept[-1][1] == min(r for _, r in raw)


def test_knee_is_below_the_chord() -> None:
    axes = [(0, 100), (10, 20), (50, 10), (100, 0)]
    assert knee(axes) == 1
    straight = [(0, 100), (50, 50), (100, 0)]
    assert knee(straight) in range(3)
    assert knee([(1, 5)]) == 0
    assert has_knee(axes)


def test_points_on_one_line_have_no_knee() -> None:
    # examples/frontier.yaml's frontier: evenly spaced on the chord (scaled, below it by 0).
    line = [(2002, 2250), (3003, 2000), (4004, 1750), (6006, 1250)]
    assert not has_knee(line)
    assert not has_knee([(0, 100), (50, 49), (100, 0)])  # within the tolerance
    assert not has_knee([(0, 100), (100, 0)])
    assert knee(line) == 0  # the least node cost plus risk
    assert knee([(0, 100), (60, 38), (100, 0)]) == 1  # plus risk 98: least, off the chord


def test_no_knee_is_said_and_not_called_the_knee() -> None:
    runner = CliRunner()
    out = runner.invoke(app, ["advise", str(EXAMPLES / "frontier.yaml"),
                              "--frontier", "5", "-t", "6", "--workers", "2", "-f", "json"])
    assert out.exit_code == 0, out.output
    wire = json.loads(out.stdout)
    assert "no clear knee: the points lie on one line" in wire["message"]
    assert wire["recommended"] == 0
    for fmt in ("text", "markdown", "html"):
        page = render(fmt, wire, None)
        assert "no clear knee: the points lie on one line" in page
        assert "the knee)" not in page
    knee_wire = {**wire, "message": "3 plan(s) from 3 solve(s)"}
    assert "(* the recommended plan, the knee)" in render("text", knee_wire, None)


def test_frontier_of_fewer_than_two_plans_is_a_usage_error(tmp_path: Path) -> None:
    path = tmp_path / "p.json"
    path.write_text(json.dumps(_services()), encoding="utf-8")
    for count in ("1", "0"):
        out = CliRunner().invoke(app, ["advise", str(path), "--frontier", count])
        assert out.exit_code == 2
        assert "--frontier" in out.output


def test_optional_count_of_the_frontier_option() -> None:
    assert optional_values(["advise", "f.yaml", "--frontier"]) == [
        "advise", "f.yaml", "--frontier", "5"]
    assert optional_values(["advise", "--frontier", "f.yaml"]) == [
        "advise", "--frontier", "5", "f.yaml"]
    assert optional_values(["advise", "--frontier", "3", "f.yaml"]) == [
        "advise", "--frontier", "3", "f.yaml"]


def test_cli_prints_the_frontier_as_json_and_as_a_table(tmp_path: Path) -> None:
    path = tmp_path / "p.json"
    path.write_text(json.dumps(_services()), encoding="utf-8")
    runner = CliRunner()
    out = runner.invoke(app, ["advise", str(path), "--frontier", "3", "-t", "4", "-f", "json"])
    assert out.exit_code == 0, out.output
    wire = json.loads(out.stdout)
    assert 2 <= len(wire["plans"]) <= 3
    assert wire["recommended"] in range(len(wire["plans"]))
    out = runner.invoke(app, ["advise", str(path), "--frontier", "3", "-t", "4", "-f", "text"])
    assert out.exit_code == 0, out.output
    assert "node cost" in out.stdout
    assert "least risk" in out.stdout
    out = runner.invoke(app, ["advise", str(path), "--frontier", "3", "-f", "sarif"])
    assert out.exit_code == 2


@pytest.mark.parametrize("accept", ["application/json", "text/markdown"])
def test_api_answers_the_frontier_when_the_policy_asks(tmp_path: Path, accept: str) -> None:
    data = _services()
    data["policy"].update({"objective": "frontier", "timeLimitSeconds": 4})
    with serve(tmp_path) as client:
        response = client.post("/v1/advise", json=data, headers={"Accept": accept})
        assert response.status_code == 200, response.text
        if accept == "application/json":
            body = response.json()
            assert len(body["plans"]) >= 2
            for plan in body["plans"]:
                assert validate(parse_problem(data), plan) == []
        else:
            assert "| # | nodes |" in response.text
        sarif = client.post("/v1/advise", json=data,
                            headers={"Accept": "application/sarif+json"})
        assert sarif.status_code == 406
        assert sarif.headers["content-type"].startswith("application/problem+json")



def test_html_report_charts_every_plan() -> None:
    data = _services()
    data["policy"]["timeLimitSeconds"] = 4
    result = frontier(parse_problem(data), points=3)
    page = render("html", result.to_wire(), parse_problem(data))
    assert page.count("<circle") == len(result.plans)
    assert page.count("<tr") == len(result.plans) + 1  # the header row, then one per plan
