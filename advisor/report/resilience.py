"""A review's what-if failures and migration plan, for the text, Markdown and HTML reports:
one failure table setting the current layout beside the advised one, and the ordered
migration steps (cut after `MAX_STEPS` with a count of the rest)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# Migration steps listed before "and N more": the JSON output has all of them.
MAX_STEPS = 40


@dataclass(frozen=True)
class FailureRow:
    """One failure (a node or a zone) and what it does to each side that simulated it."""

    kind: str
    name: str
    sides: dict[str, dict[str, Any]]  # "current"/"advised" -> that side's outcome

    @property
    def label(self) -> str:
        return f"{self.kind} {self.name}"


@dataclass(frozen=True)
class Step:
    action: str
    text: str


@dataclass(frozen=True)
class MigrationView:
    moves: int
    peak_nodes: int
    extra_nodes: int
    steps: list[Step]
    hidden: int
    notes: list[str]


def failure_rows(result: dict[str, Any]) -> list[FailureRow]:
    """The failures of a review's `whatIf`, in the order the advised side lists them, then
    those only the current side has."""
    what_if = result.get("whatIf") or {}
    order: list[tuple[str, str]] = []
    sides: dict[tuple[str, str], dict[str, dict[str, Any]]] = {}
    for side in ("advised", "current"):
        for outcome in (what_if.get(side) or {}).get("failures", []):
            key = (outcome["failure"]["kind"], outcome["failure"]["name"])
            if key not in sides:
                order.append(key)
                sides[key] = {}
            sides[key][side] = outcome
    return [FailureRow(kind, name, sides[(kind, name)]) for kind, name in order]


def outcome_words(outcome: dict[str, Any] | None) -> str:
    """What a failure does, in a few words: what stops, what degrades, what stays Pending."""
    if outcome is None:
        return "not simulated"
    parts: list[str] = []
    if outcome["lostComponents"]:
        parts.append("stops " + ", ".join(outcome["lostComponents"]))
    if outcome["degradedComponents"]:
        parts.append("degrades " + ", ".join(outcome["degradedComponents"]))
    if outcome["pendingReplicas"]:
        parts.append(f"{len(outcome['pendingReplicas'])} replica(s) stay Pending")
    if not parts:
        parts.append("nothing stops")
    parts.append("recovers" if outcome["recovers"] else "does NOT recover")
    return "; ".join(parts)


def migration_view(result: dict[str, Any]) -> MigrationView | None:
    migration = result.get("migration")
    if not migration:
        return None
    steps = [_step(s) for s in migration.get("steps", [])]
    return MigrationView(
        moves=int(migration.get("moves", 0)), peak_nodes=int(migration.get("peakNodes", 0)),
        extra_nodes=int(migration.get("extraNodes", 0)), steps=steps[:MAX_STEPS],
        hidden=max(0, len(steps) - MAX_STEPS), notes=list(migration.get("notes", [])))


def _step(step: dict[str, Any]) -> Step:
    action, node = step["action"], step.get("node")
    if action == "addNode":
        pool = f" from pool {step['pool']}" if step.get("pool") else ""
        temporary = " (temporary)" if step.get("temporary") else ""
        return Step(action, f"add node {node}{pool}{temporary}")
    if action == "removeNode":
        return Step(action, f"remove node {node}")
    verb = "create" if action == "create" else "delete"
    where = "on" if action == "create" else "from"
    return Step(action, f"{verb} {step.get('pod')}/{step.get('replica')} {where} {node}")


def migration_headline(view: MigrationView) -> str:
    extra = (f", {view.extra_nodes} extra node(s) during the migration" if view.extra_nodes
             else ", no extra node")
    # A move, as policy.maxMoves counts it: a replica leaving its node or its re-grouped pod
    # (the grouping changes above count a re-grouped pod's replicas as created and deleted).
    return (f"{len(view.steps) + view.hidden} step(s), {view.moves} replica move(s) (off its "
            f"node or out of a re-grouped pod), at most {view.peak_nodes} node(s) at once"
            f"{extra}")


def text_lines(result: dict[str, Any]) -> list[str]:
    """The what-if and migration sections of the terminal summary (empty when absent)."""
    lines: list[str] = []
    rows = failure_rows(result)
    if rows:
        lines += ["", "What if a node or zone fails"]
        width = max(len(r.label) for r in rows) + 2
        for row in rows:
            lines.append(f"  {row.label.ljust(width)}now:     "
                         f"{outcome_words(row.sides.get('current'))}")
            lines.append(f"  {' ' * width}advised: {outcome_words(row.sides.get('advised'))}")
    view = migration_view(result)
    if view is not None and (view.steps or view.notes):
        lines += ["", f"Migration: {migration_headline(view)}"]
        lines += [f"  {i:>3}. {s.text}" for i, s in enumerate(view.steps, 1)]
        if view.hidden:
            lines.append(f"       ... and {view.hidden} more (see --format json)")
        lines += [f"  note: {n}" for n in view.notes]
    return lines


def markdown_part(result: dict[str, Any], cell: Any) -> str:
    """The what-if table and the migration steps in Markdown; `cell` escapes table text."""
    parts: list[str] = []
    rows = failure_rows(result)
    if rows:
        table = ["### What if a node or zone fails", "",
                 "| Failure | Now | Advised |", "|---|---|---|"]
        table += [f"| {cell(r.label)} | {cell(outcome_words(r.sides.get('current')))} | "
                  f"{cell(outcome_words(r.sides.get('advised')))} |" for r in rows]
        parts.append("\n".join(table))
    view = migration_view(result)
    if view is not None and (view.steps or view.notes):
        steps = [f"### Migration\n\n{migration_headline(view)}.", ""]
        steps += [f"{i}. {cell(s.text)}" for i, s in enumerate(view.steps, 1)]
        if view.hidden:
            steps.append(f"\n... and {view.hidden} more steps (see the JSON output).")
        steps += [f"\n> {cell(n)}" for n in view.notes]
        parts.append("\n".join(steps))
    return "\n\n".join(parts)
