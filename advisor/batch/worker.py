"""One input, solved in a child process of its own: a crash, a memory blow-up or a hang
takes this input only, and the batch goes on.

The child loads the input, tells the batch its time limit (so that a hang can be told from
a long solve), solves, writes its report, and sends back the line and the figures of the
result. The batch writes the record: a report without one is not done.
"""

from __future__ import annotations

import os
import resource
import signal
import warnings
from functools import partial
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from advisor import cli
from advisor.batch.naming import report_name
from advisor.batch.records import (
    EXIT_INFEASIBLE,
    EXIT_INPUT,
    EXIT_INTERNAL,
    EXIT_INTERRUPTED,
    EXIT_OK,
    Figures,
)
from advisor.batch.tasks import FileResult, FileTask
from advisor.report import SUFFIXES, render
from advisor.report.digest import Side, digest
from advisor.review import review as run_review
from advisor.solve import advise as run_advise
from models import Plan, Problem, ProblemError, Review

# A child started from `python -m advisor.cli` imports that module again as its main: the
# fork server (which loaded this module) and its children need not hear about it.
warnings.filterwarnings("ignore", message=r".*found in sys\.modules after import of package",
                        category=RuntimeWarning)


def _figures(side: Side) -> Figures:
    radius = side.spof.get("blastRadius") or {}

    def number(value: object) -> float | None:
        return float(value) if isinstance(value, int | float) else None

    return Figures(waste=number(side.waste.get("score")), spof=number(side.spof.get("score")),
                   blast_node=number(radius.get("node")), blast_zone=number(radius.get("zone")),
                   nodes_used=side.nodes_used)


def _problem(task: FileTask, warnings: list[str]) -> Problem:
    """The input with the batch's overrides, and its share of the CP-SAT workers; the
    import's warnings go to `warnings` (the parent prints them, above its display)."""
    problem = cli._override(
        cli._load(task.path, task.nodes, task.defaults, list(task.injected) or None,
                  warn=warnings.extend),
        task.time_limit, None, task.workers)
    if task.share > 1:
        problem = cli._override(problem, None, None,
                                max(1, problem.policy.workers // task.share))
    return problem


def solve_file(task: FileTask, on_limit: Any = None) -> FileResult:
    """Load, solve (a review when the input has a `layout`), write the report."""
    line: dict[str, Any] = {"file": task.path}
    warnings: list[str] = []
    try:
        problem = _problem(task, warnings)
    except cli._BadInputError as exc:
        line.update(exitCode=EXIT_INPUT, status="invalid", error=str(exc))
        return FileResult(line, warnings=warnings)
    warnings += cli.one_plan_of_frontier("batch", problem)
    outcome = _solve(task, problem, line, on_limit)
    outcome.warnings = warnings
    return outcome


def _solve(task: FileTask, problem: Problem, line: dict[str, Any], on_limit: Any
           ) -> FileResult:
    if on_limit is not None:
        on_limit(problem.policy.time_limit_seconds)
    limit = problem.policy.time_limit_seconds
    try:
        result: Plan | Review
        if problem.layout is not None:
            result, interrupted = cli._run_with_progress(partial(run_review, problem), limit)
        else:
            result, interrupted = cli._run_with_progress(partial(run_advise, problem), limit)
        # Past the solve, a second Ctrl-C must not lose the plan it kept.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        wire = result.to_wire()
        text = None if task.report in ("json", "yaml") and task.output_dir is None else render(
            task.report, wire, problem, task.path)
    except ProblemError as exc:
        line.update(exitCode=EXIT_INPUT, status="invalid",
                    error=cli._problem_text(task.path, exc))
        return FileResult(line)
    return _finish(task, line, result, wire, text, interrupted)


def _finish(task: FileTask, line: dict[str, Any], result: Plan | Review,
            wire: dict[str, Any], text: str | None, interrupted: bool) -> FileResult:
    plan = result.advised if isinstance(result, Review) else result
    if interrupted:
        line.update(exitCode=EXIT_INTERRUPTED, status="interrupted")
    else:
        line.update(exitCode=EXIT_INFEASIBLE if plan.status == "infeasible" else EXIT_OK,
                    status=plan.status)
    d = digest(wire)
    sides = [_figures(s) for s in (d.current, d.advised) if s is not None]
    outcome = FileResult(line, sides, interrupted=interrupted)
    if task.output_dir is None:
        if text is None:
            line["result"] = wire
        outcome.report = text
        return outcome
    target = Path(task.output_dir) / report_name(task.name, isinstance(result, Review),
                                                 SUFFIXES[task.report])
    try:
        target.write_text(text or "", encoding="utf-8")
        line["output"] = str(target)
    except OSError as exc:
        line.update(exitCode=EXIT_INPUT, error=f"cannot write {target}: {exc}")
    return outcome


def _limit_memory(limit: int | None) -> None:
    if limit is not None:
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def child_main(task: FileTask, conn: Connection) -> None:
    """The child's entry point. Its own process group: a Ctrl-C at the terminal reaches the
    batch only, which stops each running file exactly once."""
    os.setpgrp()
    os.environ["PODLAYOUT_QUIET"] = "1"  # the batch draws the progress, not each child
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    line: dict[str, Any] = {"file": task.path}
    try:
        _limit_memory(task.memory_limit)
        outcome = solve_file(task, lambda limit: conn.send(("limit", limit)))
    except KeyboardInterrupt:  # stopped before there was a plan to keep
        line.update(exitCode=EXIT_INTERRUPTED, status="interrupted",
                    error="interrupted before a plan was found")
        outcome = FileResult(line, interrupted=True)
    except MemoryError:
        line.update(exitCode=EXIT_INTERNAL, status="error",
                    error="internal error: out of memory (the batch's --memory-limit)")
        outcome = FileResult(line)
    except Exception as exc:  # one file's internal error must not lose the others
        line.update(exitCode=EXIT_INTERNAL, status="error",
                    error=f"internal error: {type(exc).__name__}: {exc}")
        outcome = FileResult(line)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    conn.send(("done", outcome))
    conn.close()
