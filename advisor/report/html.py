"""The HTML report: one self-contained page (inline CSS and SVG, no script, nothing loaded
from anywhere) that works offline and prints well. The page is a Jinja2 template with
autoescape on; the pictures come from advisor.report.svg, which escapes names itself."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import Markup

from advisor.report.digest import Digest, Side, digest
from advisor.report.resilience import (
    failure_rows,
    migration_headline,
    migration_view,
    outcome_words,
)
from advisor.report.svg import palette, render_svg
from models import Problem

STATUS_TEXT = {"fixed": "fixed by the advice", "open": "still open", "new": "new"}
# Pictures side by side in a review get half the page each; a plan's alone gets all of it.
HALF_WIDTH = 640
FULL_WIDTH = 1240


@dataclass(frozen=True)
class Picture:
    label: str
    svg: Markup


@dataclass(frozen=True)
class Exposure:
    component: str
    values: list[float | None]  # per side: None when that side does not score it


def render_html(result: dict[str, Any], problem: Problem | None = None,
                source: str | None = None) -> str:
    """The page of `result`, a plan's or a review's wire dict. `problem` adds node costs;
    `source` (the input file) titles the page."""
    d = digest(result, problem, source)
    sides = [s for s in (d.current, d.advised) if s is not None]
    colours = palette(str(p["name"]) for s in sides for p in s.layout.get("pods", []))
    width = HALF_WIDTH if len(sides) > 1 else FULL_WIDTH
    # Markup: svg.py escapes every name it draws.
    pictures = [Picture(label=s.label, svg=Markup(render_svg(
        s.layout, colours=colours, max_width=width, label=f"{s.label} layout")))
        for s in sides]
    return environment().get_template("report.html").render(
        d=d, sides=sides, pictures=pictures, exposures=_exposures(sides),
        status_text=STATUS_TEXT, counts=_counts(d),
        any_cost=any(s.cost is not None for s in sides),
        failures=failure_rows(result), outcome_words=outcome_words,
        migration=migration_view(result), migration_headline=migration_headline,
    )


@cache
def environment() -> Environment:
    env = Environment(loader=PackageLoader("advisor.report", "templates"), autoescape=True,
                      undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters["num"] = _num
    env.filters["pct"] = _pct
    return env


def _exposures(sides: list[Side]) -> list[Exposure]:
    """Each exposed critical component with its exposure on every side, the worst first."""
    names = {c for s in sides for c in s.spof.get("exposed", {})}
    rows = [Exposure(component=c, values=[
        float(s.spof.get("exposed", {}).get(c, 0.0)) if s.spof else None for s in sides])
        for c in names]
    return sorted(rows, key=lambda r: (-max((v or 0.0) for v in r.values), r.component))


def _counts(d: Digest) -> dict[str, int]:
    counts = {"fixed": 0, "open": 0, "new": 0, "all": 0}
    for group in d.findings:
        for item in group.items:
            counts["all"] += 1
            if item.status is not None:
                counts[item.status] += 1
    return counts


def _num(value: Any, digits: int = 1) -> str:
    if value is None:
        return "\u2013"
    if isinstance(value, int):
        return str(value)
    text = f"{float(value):,.{digits}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def _pct(value: Any) -> str:
    """A 0-100 score as a CSS width, clamped so that a bar never spills out of its track."""
    try:
        return f"{min(100.0, max(0.0, float(value))):.2f}%"
    except (TypeError, ValueError):
        return "0%"
