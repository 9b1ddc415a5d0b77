"""Markdown for a pull-request comment: a summary table, the findings table and what the
advice changes, kept under GitHub's comment limit with a note when cut."""

from __future__ import annotations

from typing import Any

from advisor.report.digest import Digest, Side, digest
from advisor.report.resilience import markdown_part
from models import Problem

# GitHub refuses comments longer than 65,536 characters; leave room for the note.
MAX_CHARS = 65_000
STATUS_WORDS = {"fixed": "fixed by the advice", "open": "still open", "new": "new"}


def render_markdown(result: dict[str, Any], problem: Problem | None = None,
                    source: str | None = None) -> str:
    d = digest(result, problem, source)
    parts = [_summary(d), _findings(d)]
    if d.kind == "review":
        parts.append(_changes(d))
        parts.append(markdown_part(result, _cell))
    if d.conflicts:
        parts.append("### Conflicts\n\n" + "\n".join(
            f"- **{_cell(c['kind'])}**: {_cell(c['message'])}" for c in d.conflicts))
    if d.unplaced:
        parts.append("### Unplaced replicas\n\n" + "\n".join(
            f"- `{u['pod']}/{u['replica']}`: {_cell(u['reason'])}" for u in d.unplaced))
    return _fit("\n\n".join(p for p in parts if p)) + "\n"


def _cell(text: object) -> str:
    """Text safe inside a table cell: pipes escaped, no line breaks."""
    return str(text).replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def _num(value: object, unit: str = "") -> str:
    return f"{value:.1f}{unit}" if isinstance(value, int | float) else "-"


def _rows(side: Side) -> dict[str, str]:
    blast = side.spof.get("blastRadius") or {}
    rows = {
        "Waste": _num(side.waste.get("score")),
        "idle / stranded / slack": " / ".join(_num(side.waste.get(k))
                                              for k in ("idle", "stranded", "slack")),
        "SPOF": _num(side.spof.get("score")),
        "Blast radius, one node": _num(blast.get("node"), " %")
        + (f" ({_cell(blast['worstNode'])})" if blast.get("worstNode") and blast.get("node")
           else ""),
        "Blast radius, one zone": _num(blast.get("zone"), " %"),
        "Nodes used": str(side.nodes_used),
        "Pods / replicas": f"{side.pods} / {side.replicas}",
    }
    if side.cost is not None:
        rows["Cost"] = f"{side.cost:g}"
    return rows


def _summary(d: Digest) -> str:
    status = d.advised.status or "?"
    gap = d.solver.get("gap")
    head = (f"## Pod layout {'review' if d.kind == 'review' else 'plan'}: `{_cell(d.title)}`"
            f"\n\nStatus **{status}**"
            + (f", gap {100 * gap:.1f} %" if isinstance(gap, int | float) else "")
            + (" (stopped early)" if d.solver.get("interrupted") else ""))
    sides = [s for s in (d.current, d.advised) if s is not None]
    columns = [_rows(s) for s in sides]
    table = ["| | " + " | ".join(s.label for s in sides) + " |",
             "|---|" + "---:|" * len(sides)]
    for name in columns[-1]:
        table.append(f"| {name} | " + " | ".join(c.get(name, "-") for c in columns) + " |")
    text = head + "\n\n" + "\n".join(table)
    if d.summary:
        text += f"\n\n{_cell(d.summary)}"
    return text


def _findings(d: Digest) -> str:
    items = [i for g in d.findings for i in g.items]
    if not items:
        return "### Findings\n\nNone."
    review = d.kind == "review"
    lines = [f"### Findings ({len(items)})", "",
             "| Severity | Code | " + ("Status | " if review else "")
             + "Subjects | Message | Fix |",
             "|---|---|" + ("---|" if review else "") + "---|---|---|"]
    for group in d.findings:
        for i in group.items:
            status = f"{STATUS_WORDS.get(i.status or '', '')} | " if review else ""
            lines.append(f"| {i.severity} | `{i.code}` | {status}"
                         f"{_cell(', '.join(i.subjects))} | {_cell(i.message)} | "
                         f"{_cell(i.suggestion)} |")
    return "\n".join(lines)


def _changes(d: Digest) -> str:
    if not d.changes and not d.moves:
        return "### What changes\n\nNothing: the advised layout is the current one."
    lines = ["### What changes"]
    if d.changes:
        lines += ["", "| Containers | From pod | To pod |", "|---|---|---|"]
        lines += [f"| {_cell(', '.join(c.containers))} | {_cell(c.before or '(new)')} | "
                  f"{_cell(c.after or '(not placed)')} |" for c in d.changes]
    if d.moves:
        lines += ["", "| Pod | From node | To node |", "|---|---|---|"]
        lines += [f"| {_cell(m.pod)} | {_cell(m.source or '(create)')} | "
                  f"{_cell(m.target or '(delete)')} |" for m in d.moves]
    return "\n".join(lines)


def _fit(text: str) -> str:
    """Cut at a line boundary under the limit, and say so."""
    if len(text) <= MAX_CHARS:
        return text
    note = ("\n\n> The report was cut here to fit a pull-request comment "
            f"({MAX_CHARS:,} characters); use `--format html` or `json` for all of it.")
    cut = text.rfind("\n", 0, MAX_CHARS - len(note))
    return text[:max(cut, 0)] + note
