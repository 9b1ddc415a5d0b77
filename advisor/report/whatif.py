"""What-if results as text and Markdown (JSON and YAML as the other reports write them)."""

from __future__ import annotations

from typing import Any

from advisor.report import render


def _lines(failure: dict[str, Any]) -> list[str]:
    f = failure["failure"]
    out = [f"{f['kind']} {f['name']}: " + ("recovers" if failure["recovers"]
                                          else "does NOT fully recover")]
    out.append(f"  evicted replicas: {failure.get('evicted', 0)}")
    out.append("  stops until rescheduled: "
               + (", ".join(failure["lostComponents"]) or "nothing"))
    out.append("  degraded (below budget or half): "
               + (", ".join(failure["degradedComponents"]) or "nothing"))
    if failure.get("addedNodes"):
        out.append(f"  pool nodes added: {', '.join(failure['addedNodes'])}")
    for p in failure["pendingReplicas"]:
        out.append(f"  pending {p['pod']}/{p['replica']}: {p['reason']}")
    return out


def render_whatif(fmt: str, result: dict[str, Any], source: str | None = None) -> str:
    failures = result.get("failures", [])
    if fmt in ("json", "yaml"):
        return render(fmt, result)
    title = f"what if, on {source or 'the layout'}"
    if fmt == "text":
        lines = [title, ""]
        for failure in failures:
            lines += [*_lines(failure), ""]
        if not failures:
            lines.append("no replica is placed: nothing to fail")
        return "\n".join(lines).rstrip() + "\n"
    if fmt == "markdown":
        rows = ["| Failure | Stops | Degrades | Pending | Recovers |", "|---|---|---|---:|---|"]
        for x in failures:
            f = x["failure"]
            rows.append(f"| {f['kind']} `{f['name']}` | {', '.join(x['lostComponents']) or '-'}"
                        f" | {', '.join(x['degradedComponents']) or '-'} | "
                        f"{len(x['pendingReplicas'])} | {'yes' if x['recovers'] else '**no**'} |")
        return f"## What if: `{source or 'layout'}`\n\n" + "\n".join(rows) + "\n"
    raise ValueError(f"whatif cannot be written as {fmt}")
