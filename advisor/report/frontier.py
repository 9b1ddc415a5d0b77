"""Reports of a frontier (`advise --frontier`): its plans as one table, cheapest to safest,
the recommended one marked; the HTML page adds a chart of risk against node cost."""

from __future__ import annotations

import html
from dataclasses import dataclass
from typing import Any

from models import Problem


@dataclass(frozen=True)
class Row:
    """One plan of the frontier as the reports show it."""

    index: int
    recommended: bool
    status: str
    nodes: int
    node_cost: int | None
    risk: int | None
    waste: float | None
    spof: float | None
    blast_node: float | None
    blast_zone: float | None
    bounded: str
    proven: bool
    delta: str


def is_frontier(result: dict[str, Any]) -> bool:
    return "plans" in result and "recommended" in result


def rows(result: dict[str, Any]) -> list[Row]:
    out = []
    points = result.get("points") or []
    for i, plan in enumerate(result.get("plans") or []):
        point = points[i] if i < len(points) else {}
        scores = plan.get("scores") or {}
        spof = scores.get("spof") or {}
        blast = spof.get("blastRadius") or {}
        out.append(Row(
            index=i + 1, recommended=i == result.get("recommended"), status=plan["status"],
            nodes=int((plan.get("solver") or {}).get("nodesUsed", 0)),
            node_cost=point.get("nodeCost"), risk=point.get("risk"),
            waste=(scores.get("waste") or {}).get("score"), spof=spof.get("score"),
            blast_node=blast.get("node"), blast_zone=blast.get("zone"),
            bounded=str(point.get("bounded", "")), proven=bool(point.get("proven")),
            delta=str(point.get("delta", ""))))
    return out


def _num(value: float | int | None, suffix: str = "") -> str:
    if value is None:
        return "-"
    return f"{value:.1f}{suffix}" if isinstance(value, float) else f"{value}{suffix}"


HEADERS = ("#", "nodes", "node cost", "risk", "waste", "SPOF", "blast node", "blast zone",
           "bound", "proven")


def _cells(row: Row) -> list[str]:
    return [f"{row.index}{' *' if row.recommended else ''}", str(row.nodes),
            _num(row.node_cost), _num(row.risk), _num(row.waste), _num(row.spof),
            _num(row.blast_node, " %"), _num(row.blast_zone, " %"), row.bounded,
            "yes" if row.proven else "no"]


def headline(result: dict[str, Any]) -> str:
    """The frontier's message, the recommended plan called the knee only when it is one."""
    message = str(result.get("message", ""))
    mark = "the recommended plan" if "no clear knee" in message or len(
        result.get("plans") or []) < 2 else "the recommended plan, the knee"
    return f"Frontier, cheapest to safest (* {mark}): {message}"


def render_text(result: dict[str, Any], problem: Problem | None, source: str | None) -> str:
    table = [list(HEADERS), *(_cells(r) for r in rows(result))]
    widths = [max(len(line[c]) for line in table) for c in range(len(HEADERS))]
    lines = [headline(result), ""]
    lines += ["  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)).rstrip()
              for line in table]
    changes = [f"  {r.index - 1} -> {r.index}: {r.delta}" for r in rows(result) if r.delta]
    if changes:
        lines += ["", "From one plan to the next:", *changes]
    return "\n".join(lines) + "\n"


def render_markdown(result: dict[str, Any], problem: Problem | None,
                    source: str | None) -> str:
    title = f"## Frontier{f' of `{source}`' if source else ''}"
    lines = [title, "", headline(result), "",
             "| " + " | ".join((*HEADERS, "change from the previous")) + " |",
             "|" + "---|" * (len(HEADERS) + 1)]
    for r in rows(result):
        cells = [c.replace("|", "\\|") for c in (*_cells(r), r.delta)]
        if r.recommended:
            cells[0] = f"**{r.index}** (recommended)"
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def chart(points: list[Row], width: int = 480, height: int = 260) -> str:
    """An SVG of risk against node cost, the recommended point ringed."""
    known = [r for r in points if r.node_cost is not None and r.risk is not None]
    if not known:
        return ""
    pad = 40
    xs = [float(r.node_cost or 0) for r in known]
    ys = [float(r.risk or 0) for r in known]
    x0, x1, y0, y1 = min(xs), max(xs), min(ys), max(ys)

    def at(x: float, y: float) -> tuple[float, float]:
        fx = (x - x0) / (x1 - x0) if x1 > x0 else 0.5
        fy = (y - y0) / (y1 - y0) if y1 > y0 else 0.5
        return pad + fx * (width - 2 * pad), height - pad - fy * (height - 2 * pad)

    spots = [at(x, y) for x, y in zip(xs, ys, strict=True)]
    path = " ".join(f"{x:.1f},{y:.1f}" for x, y in spots)
    marks = "".join(
        f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{7 if r.recommended else 4}" '
        f'fill="{"#d9480f" if r.recommended else "#1c7ed6"}"><title>plan {r.index}: node cost '
        f'{r.node_cost}, risk {r.risk}</title></circle>'
        f'<text x="{x + 8:.1f}" y="{y - 8:.1f}" font-size="12">{r.index}</text>'
        for r, (x, y) in zip(known, spots, strict=True))
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
            f'role="img" aria-label="risk against node cost">'
            f'<line x1="{pad}" y1="{height - pad}" x2="{width - pad}" y2="{height - pad}" '
            f'stroke="#868e96"/><line x1="{pad}" y1="{pad}" x2="{pad}" y2="{height - pad}" '
            f'stroke="#868e96"/>'
            f'<text x="{width / 2}" y="{height - 8}" font-size="12" text-anchor="middle">'
            f'node cost</text><text x="12" y="{height / 2}" font-size="12" '
            f'transform="rotate(-90 12 {height / 2})" text-anchor="middle">risk</text>'
            f'<polyline points="{path}" fill="none" stroke="#adb5bd"/>{marks}</svg>')


def render_html(result: dict[str, Any], problem: Problem | None, source: str | None) -> str:
    esc = html.escape
    table = rows(result)
    head = "".join(f"<th>{esc(h)}</th>" for h in (*HEADERS, "change from the previous"))
    bold = ' style="font-weight:bold"'
    body = "".join(
        f"<tr{bold if r.recommended else ''}>"
        + "".join(f"<td>{esc(c)}</td>" for c in (*_cells(r), r.delta)) + "</tr>"
        for r in table)
    title = f"Frontier{f' of {source}' if source else ''}"
    return (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{esc(title)}'
            '</title><style>body{font-family:sans-serif;margin:2em}table{border-collapse:'
            'collapse}td,th{border:1px solid #ced4da;padding:4px 8px;text-align:left}'
            f'</style></head><body><h1>{esc(title)}</h1><p>{esc(headline(result))}</p>'
            f"{chart(table)}<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody>"
            "</table></body></html>\n")
