"""What-if results in every report format: text, Markdown, a self-contained HTML page and
SARIF (one result per failure that stops or degrades a component or leaves replicas
Pending); JSON and YAML as the other reports write them."""

from __future__ import annotations

import importlib.metadata
import json
from typing import Any

from advisor.report import FORMATS, render
from advisor.report.html import environment
from advisor.report.sarif import (
    FINGERPRINT_KEY,
    PACKAGE,
    SARIF_SCHEMA,
    SARIF_VERSION,
    TOOL_NAME,
    artifact_location,
    fingerprint,
)

WHATIF_FORMATS = FORMATS  # every report format

# The SARIF rules of a simulated failure: (level, short description, help).
FAILURE_RULES: dict[str, tuple[str, str, str]] = {
    "FAILURE_STOPS_COMPONENTS": (
        "error", "A node or zone failure stops critical components.",
        "Every replica of these components runs on the failed node or zone: they stop until "
        "Kubernetes places them again. Run at least two replicas and spread them over nodes "
        "and zones (podAntiAffinity or topology spread constraints)."),
    "FAILURE_DEGRADES_COMPONENTS": (
        "warning", "A node or zone failure leaves components below their budget or half.",
        "The failure takes more replicas than the PodDisruptionBudget allows down, or more "
        "than half of them: spread the replicas over more nodes or zones."),
    "FAILURE_LEAVES_PENDING": (
        "error", "Replicas evicted by a failure cannot run anywhere else.",
        "What remains has no room for these replicas: keep headroom on the other nodes or "
        "let a pool grow (maxCount)."),
}


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
    if fmt == "text":
        lines = [f"what if, on {source or 'the layout'}", ""]
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
        title = f"`{source}`" if source else "the layout"
        return f"## What if: {title}\n\n" + "\n".join(rows) + "\n"
    if fmt == "html":
        return environment().get_template("whatif.html").render(
            title=source or "the layout", failures=failures,
            unrecovered=sum(1 for f in failures if not f["recovers"]))
    if fmt == "sarif":
        return _sarif(failures, source)
    raise ValueError(f"whatif cannot be written as {fmt}")


def _sarif(failures: list[dict[str, Any]], source: str | None) -> str:
    codes = list(FAILURE_RULES)
    rules = [{"id": code, "name": code.title().replace("_", ""),
              "shortDescription": {"text": short}, "fullDescription": {"text": text},
              "help": {"text": text}, "defaultConfiguration": {"level": level},
              "properties": {"tags": ["kubernetes", "availability"]}}
             for code, (level, short, text) in FAILURE_RULES.items()]
    results = []
    for failure in failures:
        for code, subjects, what in _failure_results(failure):
            where = f"{failure['failure']['kind']} {failure['failure']['name']}"
            result: dict[str, Any] = {
                "ruleId": code, "ruleIndex": codes.index(code),
                "level": FAILURE_RULES[code][0],
                "message": {"text": f"If {where} fails, {what}."},
                "partialFingerprints": {FINGERPRINT_KEY: fingerprint(code, [where, *subjects])},
                "properties": {"failure": failure["failure"], "subjects": subjects},
            }
            if source:
                result["locations"] = [{"physicalLocation": {
                    "artifactLocation": artifact_location(source), "region": {"startLine": 1}}}]
            results.append(result)
    log = {"version": SARIF_VERSION, "$schema": SARIF_SCHEMA, "runs": [{
        "tool": {"driver": {"name": TOOL_NAME, "version": importlib.metadata.version(PACKAGE),
                            "rules": rules}},
        "invocations": [{"executionSuccessful": True}], "results": results}]}
    return json.dumps(log, indent=2, ensure_ascii=False) + "\n"


def _failure_results(failure: dict[str, Any]) -> list[tuple[str, list[str], str]]:
    """(rule, subjects, what happens) for each way `failure` hurts the application."""
    out = []
    if failure["lostComponents"]:
        lost = failure["lostComponents"]
        verb = "stops" if len(lost) == 1 else "stop"
        out.append(("FAILURE_STOPS_COMPONENTS", lost,
                    f"{', '.join(lost)} {verb} until rescheduled"))
    if failure["degradedComponents"]:
        degraded = failure["degradedComponents"]
        what = ("runs below its budget or half its replicas" if len(degraded) == 1
                else "run below their budget or half their replicas")
        out.append(("FAILURE_DEGRADES_COMPONENTS", degraded, f"{', '.join(degraded)} {what}"))
    if failure["pendingReplicas"]:
        pending = [f"{p['pod']}/{p['replica']}" for p in failure["pendingReplicas"]]
        out.append(("FAILURE_LEAVES_PENDING", pending,
                    f"{len(pending)} replica(s) stay Pending: {', '.join(pending[:10])}"))
    return out
