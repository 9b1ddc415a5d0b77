"""The index page of a batch's output directory (html or markdown): every input with its
status, scores, blast radius and nodes used, linked to its report. Built from the records,
so inputs a resumed run skipped are listed like the others."""

from __future__ import annotations

import html
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import quote

from advisor.batch.records import Figures, Record

INDEX_NAMES = {"html": "index.html", "markdown": "index.md"}
INDEX_COLUMNS = ("input", "status", "waste", "SPOF", "blast radius node / zone",
                 "nodes used")
INDEX_STYLE = (
    "body{font-family:system-ui,sans-serif;margin:2rem;color:#1b1b1b}"
    "table{border-collapse:collapse}th,td{padding:.35rem .8rem;border-bottom:1px solid #ddd;"
    "text-align:left;vertical-align:top}td.n{text-align:right;"
    "font-variant-numeric:tabular-nums;white-space:nowrap}th{background:#f3f3f3}"
)


@dataclass(frozen=True)
class IndexRow:
    file: str
    link: str | None  # the report's file name, beside the index
    status: str
    waste: str
    spof: str
    blast: str
    nodes: str


def _score(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def index_row(record: Record) -> IndexRow:
    status = record.status
    if record.error:
        status += ": " + record.error.splitlines()[0].removeprefix("error: ")
    if not record.sides:
        return IndexRow(record.file, record.output, status, "-", "-", "-", "-")

    def each(value: Callable[[Figures], str]) -> str:  # a review: current -> advised
        return " → ".join(value(s) for s in record.sides)

    return IndexRow(record.file, record.output, status, each(lambda s: _score(s.waste)),
                    each(lambda s: _score(s.spof)),
                    each(lambda s: f"{_score(s.blast_node)} / {_score(s.blast_zone)}"),
                    each(lambda s: str(s.nodes_used)))


def _counts(rows: list[IndexRow]) -> str:
    counts: dict[str, int] = {}
    for row in rows:
        key = row.status.split(":", 1)[0]
        counts[key] = counts.get(key, 0) + 1
    return (f"{len(rows)} input{'s' if len(rows) != 1 else ''}: "
            + ", ".join(f"{n} {status}" for status, n in counts.items()))


def index_markdown(rows: list[IndexRow]) -> str:
    def cell(text: str) -> str:
        return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")

    lines = ["# podlayout batch", "", _counts(rows) + ".", "",
             "| " + " | ".join(INDEX_COLUMNS) + " |", "|---|---|---:|---:|---:|---:|"]
    for r in rows:
        name = f"[{cell(r.file)}]({quote(r.link)})" if r.link else cell(r.file)
        lines.append(f"| {name} | {cell(r.status)} | {r.waste} | {r.spof} | {r.blast} | "
                     f"{r.nodes} |")
    return "\n".join(lines) + "\n"


def index_html(rows: list[IndexRow]) -> str:
    def esc(text: str) -> str:
        return html.escape(text, quote=True)

    body = []
    for r in rows:
        name = (f'<a href="{esc(quote(r.link))}">{esc(r.file)}</a>' if r.link
                else esc(r.file))
        cells = "".join(f'<td class="n">{esc(v)}</td>'
                        for v in (r.waste, r.spof, r.blast, r.nodes))
        body.append(f"<tr><td>{name}</td><td>{esc(r.status)}</td>{cells}</tr>")
    head = "".join(f"<th>{esc(c)}</th>" for c in INDEX_COLUMNS)
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            f"<title>podlayout batch</title><style>{INDEX_STYLE}</style></head>\n<body>"
            f"<h1>podlayout batch</h1><p>{esc(_counts(rows))}</p>\n"
            f"<table><thead><tr>{head}</tr></thead><tbody>\n" + "\n".join(body)
            + "\n</tbody></table></body></html>\n")


def render_index(report: str, records: list[Record]) -> str:
    rows = [index_row(r) for r in records]
    return index_html(rows) if report == "html" else index_markdown(rows)
