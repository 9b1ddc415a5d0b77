"""The terminal summary: status, scores side by side, blast radius, nodes used, findings
grouped by code with counts and subjects, and what the advice changes. Plain text (no
colour codes), so that it reads the same in a pager, a log or a terminal."""

from __future__ import annotations

import textwrap
from typing import Any

from advisor.report.digest import Digest, FindingGroup, Side, digest
from advisor.report.resilience import text_lines
from models import Problem

# Subjects listed per finding group before "and N more".
MAX_SUBJECTS = 10
# Moves listed before "and N more".
MAX_MOVES = 12
# Long sentences wrap here: readable on an 80-120 column terminal and in a log.
WIDTH = 100


def _wrap(text: str, indent: str = "", first: str | None = None) -> list[str]:
    return textwrap.wrap(text, WIDTH, initial_indent=indent if first is None else first,
                         subsequent_indent=indent, break_on_hyphens=False) or [indent]


def render_text(result: dict[str, Any], problem: Problem | None = None,
                source: str | None = None) -> str:
    d = digest(result, problem, source)
    lines = [_headline(d), ""]
    lines += _score_table(d)
    if d.summary:
        lines += ["", *_wrap(d.summary)]
    if d.conflicts:
        lines += ["", f"Conflicts ({len(d.conflicts)}): why no plan exists"]
        for c in d.conflicts:
            lines += _wrap(f"{c['kind']}: {c['message']}", "    ", "  ")
    if d.unplaced:
        lines += ["", f"Unplaced replicas ({len(d.unplaced)})"]
        lines += [f"  {u['pod']}/{u['replica']}: {u['reason']}" for u in d.unplaced[:MAX_MOVES]]
        lines += _more(len(d.unplaced), MAX_MOVES, "  ")
    lines += ["", *_findings(d)]
    if d.kind == "review":
        lines += ["", *_changes(d)]
        lines += text_lines(result)
    return "\n".join(lines).rstrip() + "\n"


def _headline(d: Digest) -> str:
    solver = d.solver
    status = d.advised.status or "?"
    gap = solver.get("gap")
    proven = f", gap {100 * gap:.1f} %" if isinstance(gap, int | float) else ""
    what = "review" if d.kind == "review" else "plan"
    stopped = ", stopped early" if solver.get("interrupted") else ""
    return (f"{what} of {d.title}: {status}{proven}{stopped} "
            f"({solver.get('wallTimeSeconds', 0):.1f} s)")


def _score_rows(side: Side) -> dict[str, str]:
    waste, spof = side.waste, side.spof
    blast = spof.get("blastRadius") or {}
    worst = blast.get("worstNode")
    rows = {
        "waste": _num(waste.get("score")),
        "  idle / stranded / slack": (f"{_num(waste.get('idle'))} / "
                                      f"{_num(waste.get('stranded'))} / "
                                      f"{_num(waste.get('slack'))}"),
        "  duplication": _num(waste.get("duplication")),
        "SPOF": _num(spof.get("score")),
        "  critical components": str(spof.get("components", "-")),
        "blast radius (node)": (f"{_num(blast.get('node'))} %"
                                + (f" ({worst})" if worst and blast.get("node") else "")),
        "blast radius (zone)": f"{_num(blast.get('zone'))} %",
        "nodes used": str(side.nodes_used),
        "pods / replicas": f"{side.pods} / {side.replicas}",
    }
    if side.cost is not None:
        rows["cost"] = f"{side.cost:g}"
    return rows


def _score_table(d: Digest) -> list[str]:
    sides = [s for s in (d.current, d.advised) if s is not None]
    if d.kind == "plan" and not d.advised.layout.get("pods"):
        return ["no plan: see the conflicts below"]
    columns = [_score_rows(s) for s in sides]
    names = list(columns[-1])
    label_width = max(len(n) for n in names) + 2
    widths = [max(len(s.label), *(len(c.get(n, "")) for n in names)) + 2
              for s, c in zip(sides, columns, strict=True)]
    out = [" " * label_width + "".join(s.label.rjust(w) for s, w in zip(sides, widths,
                                                                        strict=True))]
    for name in names:
        out.append(name.ljust(label_width) + "".join(
            c.get(name, "-").rjust(w) for c, w in zip(columns, widths, strict=True)))
    return [line.rstrip() for line in out]


def _num(value: object) -> str:
    return f"{value:.1f}" if isinstance(value, int | float) else "-"


def _findings(d: Digest) -> list[str]:
    items = [i for g in d.findings for i in g.items]
    if not items:
        return ["Findings: none"]
    head = f"Findings ({len(items)}"
    if d.kind == "review":
        counts = {s: sum(1 for i in items if i.status == s) for s in ("fixed", "open", "new")}
        head += (f": {counts['fixed']} fixed by the advice, {counts['open']} still open, "
                 f"{counts['new']} new")
    lines = [head + ")"]
    for group in d.findings:
        lines += _group(group, d.kind == "review")
    return lines


def _group(group: FindingGroup, review: bool) -> list[str]:
    lines = [f"  {group.severity:<6} {group.code} x{len(group.items)}"]
    by_status: dict[str | None, list[str]] = {}
    for item in group.items:
        by_status.setdefault(item.status, []).extend(
            s for s in item.subjects if s not in by_status.get(item.status, []))
    for status, subjects in by_status.items():
        shown = ", ".join(subjects[:MAX_SUBJECTS])
        more = f" and {len(subjects) - MAX_SUBJECTS} more" if len(subjects) > MAX_SUBJECTS else ""
        label = {"fixed": "fixed: ", "open": "open:  ", "new": "new:   "}.get(status or "", "")
        lines += _wrap(f"{label if review else ''}{shown}{more}", " " * 16, " " * 9)
    first = next((i for i in group.items if i.status != "fixed"), group.items[0])
    lines += _wrap(f"fix: {first.suggestion}", " " * 14, " " * 9)
    return lines


def _changes(d: Digest) -> list[str]:
    if not d.changes and not d.moves:
        return ["What changes: nothing (the advised layout is the current one)"]
    lines = ["What changes"]
    for c in d.changes:
        if c.before is None:
            lines.append(f"  {', '.join(c.containers)}: new in pod {c.after}")
        elif c.after is None:
            lines.append(f"  {', '.join(c.containers)}: not placed (was in pod {c.before})")
        else:
            lines.append(f"  {', '.join(c.containers)}: pod {c.before} -> pod {c.after}")
    moved = [m for m in d.moves if m.source and m.target]
    created = [m for m in d.moves if m.target and not m.source]
    deleted = [m for m in d.moves if m.source and not m.target]
    lines.append(f"  replicas: {len(moved)} moved, {len(created)} created, "
                 f"{len(deleted)} deleted")
    shown = [*moved, *created, *deleted]
    for m in shown[:MAX_MOVES]:
        if m.source and m.target:
            lines.append(f"    {m.pod}: {m.source} -> {m.target}")
        elif m.target:
            lines.append(f"    {m.pod}: create on {m.target}")
        else:
            lines.append(f"    {m.pod}: delete from {m.source}")
    lines += _more(len(shown), MAX_MOVES, "    ")
    return lines


def _more(total: int, shown: int, indent: str) -> list[str]:
    return [f"{indent}... and {total - shown} more"] if total > shown else []
