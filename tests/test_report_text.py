"""The terminal and Markdown reports, and the digest both read: findings matched between the
current and the advised layout, the grouping diff, the moves, the cost."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from advisor.kube.common import ImportOptions
from advisor.kube.detect import read_input, read_nodes
from advisor.report import render
from advisor.report.digest import Move, PodChange, digest, grouping_changes, moves
from advisor.report.markdown import MAX_CHARS
from advisor.review import review
from advisor.solve import advise
from models import Problem, parse_problem
from tests.support import container, node, problem

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT.parent / "shared" / "bench-data" / "manifests"


def _finding(code: str, *subjects: str, severity: str = "high") -> dict[str, Any]:
    return {"severity": severity, "code": code, "subjects": list(subjects),
            "message": f"{code} on {', '.join(subjects)}", "suggestion": f"fix {code}"}


def _layout(pods: dict[str, list[str]], placements: list[tuple[str, str]],
            findings: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {
        "pods": [{"name": n, "containers": cs, "replicas": sum(1 for p, _ in placements
                                                               if p == n),
                  "requests": {}} for n, cs in pods.items()],
        "placements": [{"pod": p, "replica": i, "node": k}
                       for i, (p, k) in enumerate(placements)],
        "nodes": [{"name": k, "allocatable": {}, "requested": {},
                   "pods": sum(1 for _, n in placements if n == k)}
                  for k in sorted({k for _, k in placements})],
        "scores": {"waste": {"score": 10.0}, "spof": {"score": 20.0}},
        "findings": findings or [],
    }


def test_findings_of_both_layouts_are_matched_as_fixed_open_or_new() -> None:
    current = _layout({"a": ["a"]}, [("a", "n1")], [
        _finding("SINGLE_REPLICA", "a"), _finding("NO_REQUESTS", "b", severity="medium"),
        _finding("BLAST_RADIUS", "node/n1", "a")])
    advised = _layout({"a": ["a"]}, [("a", "n1")], [
        _finding("NO_REQUESTS", "b", severity="medium"),
        _finding("SINGLE_ZONE", "zone-a", severity="info")])
    d = digest({"current": current, "advised": advised, "comparison": {"summary": "s"}})
    status = {(i.code, i.status) for g in d.findings for i in g.items}
    assert status == {("SINGLE_REPLICA", "fixed"), ("BLAST_RADIUS", "fixed"),
                      ("NO_REQUESTS", "open"), ("SINGLE_ZONE", "new")}
    # Grouped by code, most severe first; no finding listed twice.
    assert [g.code for g in d.findings] == ["BLAST_RADIUS", "SINGLE_REPLICA", "NO_REQUESTS",
                                            "SINGLE_ZONE"]
    assert sum(len(g.items) for g in d.findings) == 4


def test_grouping_changes_name_the_containers_that_change_pods() -> None:
    current = _layout({"mono": ["web", "api", "db"], "cache": ["cache"]},
                      [("mono", "n1"), ("cache", "n2")])
    advised = _layout({"web": ["web", "api"], "db": ["db"], "cache": ["cache"]},
                      [("web", "n1"), ("db", "n2"), ("cache", "n2")])
    assert grouping_changes(current, advised) == [
        PodChange(["web", "api"], "mono", "web"), PodChange(["db"], "mono", "db")]


def test_moves_of_a_kept_pod_are_only_the_replicas_whose_node_changes() -> None:
    current = _layout({"web": ["web"], "old": ["x", "y"]},
                      [("web", "n1"), ("web", "n1"), ("web", "n2"), ("old", "n3")])
    advised = _layout({"web": ["web"], "x": ["x"], "y": ["y"]},
                      [("web", "n1"), ("web", "n2"), ("web", "n3"), ("x", "n3"), ("y", "n3")])
    got = moves(current, advised)
    assert got == [Move("web", 0, "n1", "n3"), Move("x", 0, None, "n3"),
                   Move("y", 0, None, "n3"), Move("old", 0, "n3", None)]


def test_cost_is_in_the_inputs_units_when_every_node_in_use_has_one() -> None:
    data = problem([container("web", replicas=2)],
                   [node("n1", cost=0.5), node("n2", cost=0.25)], spread="node")
    parsed = parse_problem(data)
    plan = advise(parsed).to_wire()
    assert digest(plan, parsed).advised.cost == pytest.approx(0.75)
    del data["nodes"][1]["cost"]
    assert digest(plan, parse_problem(data)).advised.cost is None


def _review_of(path: Path, nodes: str | None = None) -> tuple[dict[str, Any], Problem]:
    if not path.exists():
        pytest.skip(f"bench data not found: {path}")
    options = ImportOptions()
    if nodes:
        options.nodes = read_nodes(Path(nodes).read_text(), nodes)
    parsed, _ = read_input(path.read_text(), str(path), options)
    parsed = parsed.model_copy(update={"policy": parsed.policy.model_copy(
        update={"time_limit_seconds": 3.0, "workers": 2})})
    return review(parsed).to_wire(), parsed


APPS = [ROOT / "examples" / "reference-review.yaml",
        BENCH / "online-boutique" / "kubernetes-manifests.yaml",
        BENCH / "sock-shop" / "complete-demo.yaml"]


@pytest.fixture(scope="module", params=APPS, ids=lambda p: p.name)
def reviewed(request: pytest.FixtureRequest) -> tuple[dict[str, Any], Problem, str]:
    path: Path = request.param
    nodes = None if path.parent.name == "examples" else str(ROOT / "examples" / "nodes.json")
    result, parsed = _review_of(path, nodes)
    return result, parsed, str(path)


def test_the_text_report_says_scores_blast_radius_findings_and_changes(
        reviewed: tuple[dict[str, Any], Problem, str]) -> None:
    result, parsed, source = reviewed
    text = render("text", result, parsed, source)
    assert text.startswith(f"review of {source}: {result['advised']['status']}")
    current, advised = result["current"]["scores"], result["advised"]["scores"]
    waste_row = next(line for line in text.splitlines() if line.startswith("waste"))
    assert waste_row.split()[1:] == [f"{current['waste']['score']:.1f}",
                                     f"{advised['waste']['score']:.1f}"]
    blast_row = next(line for line in text.splitlines()
                     if line.startswith("blast radius (node)"))
    assert f"{current['spof']['blastRadius']['node']:.1f} %" in blast_row
    for f in result["current"]["findings"] + result["advised"]["findings"]:
        assert f" {f['code']} x" in text
    assert "What changes" in text
    assert "\x1b[" not in text  # plain text, no colour codes
    # Compact: far shorter than the JSON it summarises.
    assert len(text) < len(render("json", result)) / 3


def test_the_markdown_report_has_a_summary_a_findings_table_and_the_diff(
        reviewed: tuple[dict[str, Any], Problem, str]) -> None:
    result, parsed, source = reviewed
    md = render("markdown", result, parsed, source)
    assert md.startswith(f"## Pod layout review: `{source}`")
    assert "| | current | advised |" in md
    rows = [line for line in md.splitlines() if line.startswith("| high |")
            or line.startswith("| medium |") or line.startswith("| low |")
            or line.startswith("| info |")]
    current = {(f["code"], tuple(sorted(f["subjects"]))) for f in result["current"]["findings"]}
    advised = {(f["code"], tuple(sorted(f["subjects"]))) for f in result["advised"]["findings"]}
    # Each finding once: the ones in both layouts are one row.
    assert len(rows) == len(current | advised)
    for row in rows:
        assert row.count(" | ") == 5  # severity, code, status, subjects, message, fix
    assert len(md) <= MAX_CHARS + 1


def test_markdown_escapes_pipes_and_is_cut_under_the_comment_limit_with_a_note() -> None:
    many = [_finding("NO_REQUESTS", f"svc-{i}|x", severity="medium") for i in range(3000)]
    plan = {**_layout({"a": ["a"]}, [("a", "n1")], many), "status": "optimal", "solver": {}}
    md = render("markdown", plan, None, "big.yaml")
    assert len(md) <= MAX_CHARS + 1
    assert "The report was cut here" in md
    assert "svc-0\\|x" in md
    assert "svc-2999" not in md


def test_a_plan_alone_renders_without_a_current_column() -> None:
    data = problem([container("web", replicas=2)], [node("n1"), node("n2")])
    plan = advise(parse_problem(data)).to_wire()
    text = render("text", plan, None, "p.yaml")
    assert text.startswith("plan of p.yaml: ")
    assert "current" not in text.splitlines()[2]
    assert "What changes" not in text
    md = render("markdown", plan, None, "p.yaml")
    assert "| | plan |" in md
