"""The HTML report (advisor/report/html.py): its content, that it is self-contained, and how it
shows in a headless Chromium opened from a file (no request anywhere, no console error, a
picture per side of a review, side by side on a wide screen and stacked on a narrow one).

`REDO_SCREENSHOTS=1 pytest tests/test_report_html.py -k screenshots` redraws the README's
pictures under docs/."""

from __future__ import annotations

import os
import re
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from advisor.kube.common import ImportOptions
from advisor.kube.detect import read_input, read_nodes
from advisor.report import render
from advisor.report.html import render_html
from advisor.review import review
from advisor.solve import advise
from models import Problem, parse_problem
from tests.browser import Browser, browser, needs_chromium, png_size, png_variety, visit
from tests.conftest import EXAMPLES, ROOT, load_example
from tests.support import container, node, problem

__all__ = ["browser"]  # the fixture, used by name

BENCH = ROOT.parent / "shared" / "bench-data" / "manifests"
ONLINE_BOUTIQUE = BENCH / "online-boutique" / "kubernetes-manifests.yaml"
SOCK_SHOP = BENCH / "sock-shop" / "complete-demo.yaml"
DOCS = ROOT / "docs"
XMLNS = "http://www.w3.org/2000/svg"


@cache
def reference_review() -> tuple[dict[str, Any], Problem]:
    parsed = parse_problem(load_example("reference-review.yaml"))
    return review(parsed).to_wire(), parsed


@cache
def manifest_review(path: Path) -> tuple[dict[str, Any], Problem]:
    """A review of manifests with examples/nodes.json, as the README runs it."""
    if not path.exists():
        pytest.skip(f"bench data not found: {path}")
    options = ImportOptions(nodes=read_nodes((EXAMPLES / "nodes.json").read_text(),
                                             "nodes.json"))
    parsed, _ = read_input(path.read_text(), path.name, options)
    data = parsed.model_dump(mode="json", by_alias=True, exclude_none=True)
    data["policy"] = {**data.get("policy", {}), "workers": 2, "timeLimitSeconds": 5}
    parsed = parse_problem(data)
    return review(parsed).to_wire(), parsed


def case(name: str) -> tuple[dict[str, Any], Problem, str]:
    if name == "reference":
        return (*reference_review(), "examples/reference-review.yaml")
    path = {"online-boutique": ONLINE_BOUTIQUE, "sock-shop": SOCK_SHOP}[name]
    return (*manifest_review(path), str(path.relative_to(BENCH)))


def codes(result: dict[str, Any]) -> set[str]:
    return {f["code"] for side in ("current", "advised") for f in result[side]["findings"]}


def write(tmp_path: Path, page: str, name: str = "report.html") -> str:
    path = tmp_path / name
    path.write_text(page, encoding="utf-8")
    return path.as_uri()


# ---- the page, without a browser ---------------------------------------------------------


def test_review_page_is_self_contained() -> None:
    result, parsed, source = case("reference")
    page = render_html(result, parsed, source)
    assert page.startswith("<!doctype html>")
    for loading in ("<script", "<link", "<img", "<iframe", "<object", "@import", "src=",
                    "@font-face"):
        assert loading not in page.lower(), loading
    # The only URL is the SVG namespace, an identifier that nothing fetches.
    assert set(re.findall(r"[a-z]+://[^\s\"'<>)]+", page)) == {XMLNS}
    assert set(re.findall(r"url\(([^)]*)\)", page)) <= {
        f"#{m}" for m in re.findall(r'<pattern id="([^"]+)"', page)}
    assert "@media print" in page
    ids = re.findall(r' id="([^"]+)"', page)
    assert len(ids) == len(set(ids)) > 0  # the two pictures' patterns apart


def test_review_page_says_what_the_review_says() -> None:
    result, parsed, source = case("reference")
    page = render_html(result, parsed, source)
    assert f"<h1>{source}</h1>" in page
    assert page.count("<svg") == 2
    assert "<figcaption>current</figcaption>" in page
    assert "<figcaption>advised</figcaption>" in page
    for code in codes(result):
        assert f"<code>{code}</code>" in page
    # Today's findings the advice fixes are listed once, marked so; the new one too.
    current = {f["code"] for f in result["current"]["findings"]}
    advised = {f["code"] for f in result["advised"]["findings"]}
    assert page.count("fixed by the advice</span>") == len(current - advised) > 0
    assert page.count(">new</span>") == len(advised - current) > 0
    assert result["comparison"]["summary"].replace("->", "-&gt;") in page
    # Scores with their parts.
    for part in ("idle · stranded · slack", "duplication", "blast radius, one node",
                 "blast radius, one zone", "worst node: <code>node-1</code>"):
        assert part in page
    # The monolith splits into three pods and every new replica has its node.
    assert "<td><code>frontend</code>, <code>frontend-logs</code></td>" in page
    for p in result["advised"]["placements"]:
        assert f"<td><code>{p['node']}</code></td></tr>" in page
    assert '<span class="none">removed</span>' in page  # the monolith's replica


def test_cost_in_the_input_units_when_nodes_have_one() -> None:
    data = load_example("reference-review.yaml")
    for n in data["nodes"]:
        n["cost"] = 0.25
    parsed = parse_problem(data)
    page = render_html(review(parsed).to_wire(), parsed, "priced.yaml")
    assert "cost of the nodes in use" in page
    assert "0.25 <span" in page  # today: one node
    assert "0.5 <span" in page  # advised: two
    assert "+0.25" in page
    unpriced = render_html(*reference_review(), "unpriced.yaml")
    assert "cost of the nodes in use" not in unpriced


def test_plan_page() -> None:
    parsed = parse_problem(load_example("pool.yaml"))
    plan = advise(parsed).to_wire()
    page = render_html(plan, parsed, "examples/pool.yaml")
    assert page.count("<svg") == 1
    assert "<figcaption>plan</figcaption>" in page
    assert "Grouping changes" not in page  # nothing to compare with
    assert "cost of the nodes in use" in page
    for f in plan["findings"]:
        assert f"<code>{f['code']}</code>" in page
    assert "fixed by the advice" not in page


def test_infeasible_plan_names_its_conflicts() -> None:
    parsed = parse_problem(problem([container("huge", cpu="64")], [node("n1")]))
    plan = advise(parsed).to_wire()
    assert plan["conflicts"]
    page = render_html(plan, parsed, None)
    assert "<h1>pod layout</h1>" in page
    assert "Conflicts" in page
    for c in plan["conflicts"]:
        assert c["message"].replace("'", "&#39;").replace('"', "&#34;") in page


def test_names_are_escaped() -> None:
    result, parsed, _ = case("reference")
    page = render_html(result, parsed, "<script>alert(1)</script>.yaml")
    assert "<script" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;.yaml" in page


def test_the_format_renders_through_the_report_registry() -> None:
    result, parsed, source = case("reference")
    assert render("html", result, parsed, source) == render_html(result, parsed, source)


# ---- in the browser ----------------------------------------------------------------------


@needs_chromium
@pytest.mark.parametrize("name", ["reference", "online-boutique", "sock-shop"])
def test_review_page_in_the_browser(browser: Browser, tmp_path: Path, name: str) -> None:
    result, parsed, source = case(name)
    url = write(tmp_path, render_html(result, parsed, source))
    seen = visit(browser, url, width=1280, selectors=["svg", "figure"])
    assert seen.console_errors == []
    assert seen.foreign_requests() == []
    assert seen.requests == [url]  # the file itself and nothing else
    assert seen.counts["svg"] >= 2
    width, height = png_size(seen.screenshot)
    assert width == 1280
    assert height > 800  # the whole page, not the first screen
    assert png_variety(seen.screenshot) > 50  # drawn, not one colour
    for code in codes(result):
        assert code in seen.text
    assert "current" in seen.text
    assert "advised" in seen.text
    # Side by side at 1280 px: one row, the advised picture to the right of the current one.
    current, advised = seen.boxes["figure"]
    assert current["y"] == advised["y"]
    assert advised["x"] >= current["x"] + current["width"]


@needs_chromium
@pytest.mark.parametrize("media", ["screen", "print"])
def test_pictures_stack_on_narrow_screens_and_in_print(browser: Browser, tmp_path: Path,
                                                       media: str) -> None:
    url = write(tmp_path, render_html(*case("reference")))
    seen = visit(browser, url, width=600 if media == "screen" else 1280, media=media,
                 selectors=["figure"])
    current, advised = seen.boxes["figure"]
    assert advised["y"] >= current["y"] + current["height"]
    assert seen.console_errors == []


@needs_chromium
@pytest.mark.skipif(not os.environ.get("REDO_SCREENSHOTS"),
                    reason="redraws docs/*.png only when REDO_SCREENSHOTS is set")
def test_screenshots(browser: Browser, tmp_path: Path) -> None:
    """docs/review-html.png: the reference review's page, whole, 1280 px wide; and
    docs/review-text.png: the same review's `--format text`, as a terminal shows it."""
    result, parsed, source = case("reference")
    seen = visit(browser, write(tmp_path, render_html(result, parsed, source)), width=1280)
    (DOCS / "review-html.png").write_bytes(seen.screenshot)
    text = render("text", result, parsed, source)
    escaped = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    terminal = ("<!doctype html><meta charset='utf-8'><body style='margin:0;background:#1e1e1e'>"
                "<pre style='margin:0;padding:14px 16px;color:#d4d4d4;font:13px/1.35 "
                "\"DejaVu Sans Mono\",monospace;display:inline-block'>"
                f"$ podlayout review {source}\n{escaped}</pre>")
    seen = visit(browser, write(tmp_path, terminal, "text.html"), width=900)
    (DOCS / "review-text.png").write_bytes(seen.screenshot)
