"""A review's what-if failures and migration steps in the text, Markdown and HTML reports:
every failure the review simulated and every migration step appear, each once."""

from __future__ import annotations

import html
import re
from pathlib import Path
from typing import Any

import pytest

from advisor.loading import load_problem
from advisor.report import render
from advisor.report.resilience import MAX_STEPS, outcome_words
from advisor.review import review
from advisor.solve import advise
from models import Problem

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def reviewed() -> dict[str, Any]:
    problem = _example("reference-review.yaml")
    result: dict[str, Any] = review(problem).to_wire()
    assert result["whatIf"]["current"]["failures"], "the review simulates no failure"
    assert result["migration"]["steps"], "the review plans no migration"
    return result


def _example(name: str) -> Problem:
    path = ROOT / "examples" / name
    return load_problem(path.read_text(), str(path))


def _failures(result: dict[str, Any]) -> set[str]:
    return {f"{f['failure']['kind']} {f['failure']['name']}"
            for side in ("current", "advised") for f in result["whatIf"][side]["failures"]}


def _step_texts(result: dict[str, Any]) -> list[str]:
    out = []
    for s in result["migration"]["steps"]:
        if s["action"] in ("create", "delete"):
            out.append(f"{s['pod']}/{s['replica']}")
        else:
            out.append(f"node {s['node']}")
    return out


def test_text_lists_every_failure_and_step(reviewed: dict[str, Any]) -> None:
    text = render("text", reviewed)
    section = text[text.index("What if a node or zone fails"):]
    for failure in _failures(reviewed):
        assert re.search(rf"^  {re.escape(failure)}\s+now:", section, re.M), failure
    steps = re.findall(r"^\s+\d+\. (.*)$", section[section.index("Migration:"):], re.M)
    assert len(steps) == len(reviewed["migration"]["steps"])
    for shown, expected in zip(steps, _step_texts(reviewed), strict=True):
        assert expected in shown
    assert f"{reviewed['migration']['moves']} replica move(s)" in section


def test_outcome_words_say_what_stops_and_whether_it_recovers(reviewed: dict[str, Any]) -> None:
    for side in ("current", "advised"):
        for outcome in reviewed["whatIf"][side]["failures"]:
            words = outcome_words(outcome)
            for component in outcome["lostComponents"]:
                assert component in words
            assert ("does NOT recover" in words) == (not outcome["recovers"])


def test_markdown_has_a_row_per_failure_and_numbered_steps(reviewed: dict[str, Any]) -> None:
    md = render("markdown", reviewed)
    table = md[md.index("### What if a node or zone fails"):md.index("### Migration")]
    rows = [r for r in table.splitlines() if r.startswith("| ") and "---" not in r][1:]
    assert {r.split(" | ")[0].lstrip("| ") for r in rows} == _failures(reviewed)
    steps = re.findall(r"^\d+\. ", md[md.index("### Migration"):], re.M)
    assert len(steps) == len(reviewed["migration"]["steps"])


def test_html_has_the_failure_table_and_the_steps(reviewed: dict[str, Any]) -> None:
    page = render("html", reviewed)
    whatif = page[page.index('<section id="whatif">'):]
    whatif = whatif[:whatif.index("</section>")]
    labels = {html.unescape(m) for m in re.findall(r"<tr><td><code>([^<]+)</code>", whatif)}
    assert labels == _failures(reviewed)
    migration = page[page.index('<section id="migration">'):]
    migration = migration[:migration.index("</section>")]
    assert migration.count("<li ") == len(reviewed["migration"]["steps"])


def test_long_migrations_are_cut_with_a_count(reviewed: dict[str, Any]) -> None:
    step = {"action": "create", "pod": "web", "replica": 0, "node": "node-1"}
    extra = 7
    many = {**reviewed, "migration": {**reviewed["migration"],
                                      "steps": [step] * (MAX_STEPS + extra)}}
    text = render("text", many)
    assert f"and {extra} more" in text
    assert len(re.findall(r"^\s+\d+\. create web/0", text, re.M)) == MAX_STEPS
    assert f"and {extra} more steps" in render("markdown", many)
    assert f"and {extra} more steps" in render("html", many)


def test_plans_have_no_such_sections() -> None:
    plan = advise(_example("reference.yaml")).to_wire()
    assert "What if" not in render("text", plan)
    assert 'id="whatif"' not in render("html", plan)


def test_both_sides_answer_the_same_failures(reviewed: dict[str, Any]) -> None:
    """The worst node of either layout is simulated on both, so no cell says 'not
    simulated' and the table compares like with like."""
    sides = [[(f["failure"]["kind"], f["failure"]["name"])
              for f in reviewed["whatIf"][side]["failures"]] for side in ("current", "advised")]
    assert sides[0] == sides[1]
    assert "not simulated" not in render("text", reviewed)
