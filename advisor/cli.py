"""`podlayout`: a thin Typer adapter over the core. Results on stdout, progress on stderr.

The core (the solver with OR-Tools and numpy, the importers, the reports, the pydantic
models) is imported inside the commands that use it, not here: `podlayout --version` and
`--help` need none of it, and loading it all takes most of a second.
"""

from __future__ import annotations

import html
import json
import os
import shutil
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterable
from contextlib import nullcontext
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal, TypeVar
from urllib.parse import quote

import typer
import typer.rich_utils
from rich.console import Console, RenderableType
from rich.progress import BarColumn, TaskID, TextColumn
from rich.progress import Progress as Bars
from rich.table import Column
from rich.text import Text

if TYPE_CHECKING:
    from advisor.kube.common import ImportOptions
    from advisor.model import Progress
    from advisor.report.digest import Side
    from advisor.solve import SolveControl
    from models import Plan, Problem, ProblemError, Review

EXIT_OK, EXIT_INFEASIBLE, EXIT_INPUT, EXIT_INTERNAL, EXIT_INTERRUPTED = 0, 1, 2, 3, 130

# Help is drawn as tables that crop what does not fit with an ellipsis: at 80 columns (what
# rich assumes when stdout is no terminal) option help loses its ends. Draw it at least this
# wide; a wider terminal gets its own width, and TERMINAL_WIDTH (typer's) still decides.
HELP_WIDTH = 120
if not os.environ.get("TERMINAL_WIDTH"):
    typer.rich_utils.MAX_WIDTH = max(
        HELP_WIDTH, shutil.get_terminal_size((HELP_WIDTH, 24)).columns)

app = typer.Typer(
    help="Decide how to group containers into pods and where to place every replica.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
err = Console(stderr=True, highlight=False, soft_wrap=True)
T = TypeVar("T")

FileArg = Annotated[str, typer.Argument(
    help="Problem file (JSON or YAML), Kubernetes manifests or a Compose file, or - for stdin.")]
NodesOpt = Annotated[str | None, typer.Option(
    "--nodes", help="Node list for manifests and Compose files: `kubectl get nodes -o json` "
    "output (JSON or YAML). Without it, an elastic pool of 4-cpu / 16Gi nodes is assumed.")]
DefaultsOpt = Annotated[str | None, typer.Option(
    "--default-requests", metavar="RES=AMOUNT,...",
    help="Requests assumed for imported containers that set none (reported as NO_REQUESTS). "
    "Default: cpu=100m,memory=128Mi.")]
InjectedOpt = Annotated[list[str] | None, typer.Option(
    "--injected-requests", metavar="SIDECAR:RES=AMOUNT,...",
    help="Requests of a sidecar injected at admission (istio-proxy, daprd) when the manifest's "
    "annotations set none; repeatable. Defaults: istio-proxy:cpu=100m,memory=128Mi, "
    "daprd:cpu=100m,memory=250Mi.")]
TimeOpt = Annotated[
    float | None, typer.Option("--time-limit", "-t", help="Override policy.timeLimitSeconds.")
]
SeedOpt = Annotated[int | None, typer.Option("--seed", help="Override policy.seed.")]
WorkersOpt = Annotated[int | None, typer.Option("--workers", help="Override policy.workers.")]
ReportOpt = Annotated[str | None, typer.Option(
    "--format", "-f", metavar="FORMAT",
    help="json, yaml, text, markdown, html or sarif. Default: text on a terminal, json "
    "otherwise (a pipe or a file), so that scripts keep reading JSON.")]


def _fail(code: int, message: str) -> typer.Exit:
    err.print(message, markup=False)
    return typer.Exit(code)


def _default_format(stdout_is_tty: bool) -> str:
    """Text for a person at a terminal, JSON for programs (a pipe, a file), as gh and kubectl
    decide."""
    return "text" if stdout_is_tty else "json"


def _stdout_is_tty() -> bool:
    try:
        return sys.stdout.isatty()
    except (AttributeError, ValueError):  # a replaced or closed stdout: no person reads it
        return False


def _report_format(fmt: str | None, default: str | None = None) -> str:
    """The --format asked for (an unknown one is a usage error), else `default`, else the
    default for where stdout goes."""
    from advisor.report import FORMATS

    if fmt is None:
        return default or _default_format(_stdout_is_tty())
    if fmt not in FORMATS:
        raise _fail(EXIT_INPUT, f"error: --format {fmt}: use one of {', '.join(FORMATS)}")
    return fmt


def _source_name(file: str) -> str:
    return "stdin" if file == "-" else file


class _BadInputError(Exception):
    """Input the CLI rejects; the message names the file and the fields."""


def _decode(data: bytes, name: str) -> str:
    from advisor.loading import MAX_INPUT_BYTES

    if len(data) > MAX_INPUT_BYTES:
        raise _BadInputError(f"error: {name}: input is larger than {MAX_INPUT_BYTES} bytes "
                             "(the input size limit)")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _BadInputError(f"error: {name}: not UTF-8 text (byte {exc.start})") from None


def _text(file: str) -> tuple[str, str]:
    """The text of a file argument (or stdin for -) and the name to report it by. At most
    one byte past the size limit is read: an endless stream ends in an error, not in memory."""
    from advisor.loading import MAX_INPUT_BYTES

    if file == "-":
        try:
            return _decode(sys.stdin.buffer.read(MAX_INPUT_BYTES + 1), "stdin"), "stdin"
        except OSError as exc:
            raise _BadInputError(f"error: stdin: cannot read: {exc.strerror or exc}") from None
    path = Path(file)
    if not path.exists():
        raise _BadInputError(f"error: {file}: no such file")
    if not path.is_file():
        raise _BadInputError(f"error: {file}: not a file")
    try:
        with path.open("rb") as stream:
            data = stream.read(MAX_INPUT_BYTES + 1)
    except OSError as exc:
        raise _BadInputError(f"error: {file}: cannot read: {exc.strerror or exc}") from None
    return _decode(data, file), file


def _warn(warnings: list[str]) -> None:
    for w in warnings:
        err.print(f"warning: {w}", markup=False)


def _options(nodes: str | None, defaults: str | None = None,
             injected: list[str] | None = None) -> ImportOptions:
    from advisor.kube.bodies import OptionError, import_options
    from advisor.kube.common import ManifestError
    from advisor.kube.detect import read_nodes

    try:
        options = import_options(defaults, injected)
    except OptionError as exc:
        raise _BadInputError(f"error: {exc}") from None
    if nodes is not None:
        text, source = _text(nodes)
        try:
            options.nodes = read_nodes(text, source)
        except ManifestError as exc:
            raise _BadInputError(f"error: {exc}") from None
    return options


def _load(file: str, nodes: str | None = None, defaults: str | None = None,
          injected: list[str] | None = None) -> Problem:
    """A problem file, Kubernetes manifests or a Compose file (told apart by content)."""
    from advisor.kube.common import ManifestError
    from advisor.kube.detect import read_input
    from models import ProblemError

    options = _options(nodes, defaults, injected)
    text, source = _text(file)
    try:
        problem, warnings = read_input(text, source, options)
    except ProblemError as exc:
        lines = [f"error: {source}: invalid problem"] + [f"  {issue}" for issue in exc.issues]
        raise _BadInputError("\n".join(lines)) from None
    except ManifestError as exc:
        raise _BadInputError(f"error: {exc}") from None
    _warn(warnings)
    return problem


def _read(file: str, nodes: str | None = None, defaults: str | None = None,
          injected: list[str] | None = None) -> Problem:
    try:
        return _load(file, nodes, defaults, injected)
    except _BadInputError as exc:
        raise _fail(EXIT_INPUT, str(exc)) from None


_OPTION_OF = {"time_limit_seconds": "--time-limit", "seed": "--seed", "workers": "--workers"}


def _override(problem: Problem, time_limit: float | None, seed: int | None,
              workers: int | None) -> Problem:
    """Command-line overrides of the policy, validated by the same rules as the file's."""
    from pydantic import ValidationError

    from models import Policy

    update = {key: value for key, value in (("time_limit_seconds", time_limit), ("seed", seed),
                                             ("workers", workers)) if value is not None}
    if not update:
        return problem
    try:
        policy = Policy.model_validate({**problem.policy.model_dump(), **update})
    except ValidationError as exc:
        lines = [f"  {_OPTION_OF.get(str(e['loc'][0]), e['loc'][0])}: {e['msg']}"
                 for e in exc.errors()]
        raise _fail(EXIT_INPUT, "error: invalid option\n" + "\n".join(lines)) from None
    return problem.model_copy(update={"policy": policy})


def _live_progress() -> bool:
    """Live progress only for a person watching stderr; logs and pipes get plain lines."""
    return err.is_terminal and not os.environ.get("PODLAYOUT_QUIET")


@dataclass
class _BatchClock:
    """Files done out of the total, and when the last one ended, for the batch's ETA."""

    total: int
    done: int = 0
    started: float = field(default_factory=time.monotonic)
    last_done: float = field(default_factory=time.monotonic)

    def finish_one(self) -> None:
        self.done += 1
        self.last_done = time.monotonic()

    def eta(self) -> float | None:
        """Seconds left: the mean time of the files done for each file left, less what the
        current one has taken already; None before the first file ends."""
        if self.done == 0 or self.done >= self.total:
            return None
        mean = (self.last_done - self.started) / self.done
        return max(0.0, mean * (self.total - self.done) - (time.monotonic() - self.last_done))


def _duration(seconds: float) -> str:
    whole = round(seconds)
    if whole < 60:
        return f"{whole}s"
    minutes, secs = divmod(whole, 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


class _Bars(Bars):
    """Rich's progress rows, and a line of hints under them (what Ctrl-C does): a row of its
    own keeps the numbers readable at 80 columns."""

    hint = ""

    def get_renderables(self) -> Iterable[RenderableType]:
        yield self.make_tasks_table(self.tasks)
        if self.hint:
            yield Text(self.hint, style="dim", no_wrap=True, overflow="ellipsis")


class _SolveDisplay:
    """The live lines on stderr while a solve runs: a bar against the time limit with the
    objective, bound and gap; in a batch, the files done with an ETA above it. Transient:
    nothing of it stays on the screen, and stdout is never touched."""

    def __init__(self, limit: float | None, clock: _BatchClock | None) -> None:
        self.limit = limit
        self.clock = clock
        self.bars = _Bars(
            TextColumn("{task.description}", markup=False,
                       table_column=Column(no_wrap=True, min_width=9)),
            BarColumn(bar_width=20),
            TextColumn("{task.fields[count]}", markup=False, table_column=Column(no_wrap=True)),
            TextColumn("{task.fields[detail]}", markup=False,
                       table_column=Column(no_wrap=True, overflow="ellipsis")),
            console=err, transient=True, redirect_stdout=False, redirect_stderr=False,
            refresh_per_second=5)
        self.files: TaskID | None = None
        if clock is not None:
            self.files = self.bars.add_task("batch", total=clock.total, completed=clock.done,
                                            count="", detail="")
        self.solve = self.bars.add_task("preparing", total=limit, count="", detail="")

    def __enter__(self) -> _SolveDisplay:
        self.update(0.0, None, stopping=False)
        self.bars.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.bars.stop()

    def update(self, elapsed: float, latest: Progress | None, stopping: bool) -> None:
        if self.files is not None and self.clock is not None:
            eta = self.clock.eta()
            self.bars.update(self.files, completed=self.clock.done,
                             count=f"{self.clock.done}/{self.clock.total} files",
                             detail=f"ETA {_duration(eta)}" if eta is not None else "ETA -")
        count = (f"{elapsed:.1f}/{self.limit:g}s" if self.limit is not None
                 else f"{elapsed:.1f}s")
        if latest is None or latest.objective is None:
            detail, plans = "no objective yet", ""
        else:
            from advisor.solve import relative_gap

            gap = relative_gap(latest.objective, latest.bound)
            detail = (f"objective {latest.objective:,.0f}"
                      + (f"  bound {latest.bound:,.0f}" if latest.bound is not None else "")
                      + (f"  gap {gap:.1%}" if gap is not None else ""))
            plans = f"{latest.solutions} improving plans  "
        what = "stopping" if stopping else "solving" if elapsed > 0 else "preparing"
        self.bars.hint = ("stopping: keeping the best plan so far..." if stopping
                          else f"{plans}Ctrl-C: stop, keep best")
        completed = elapsed if self.limit is None else min(elapsed, self.limit)
        self.bars.update(self.solve, description=what, completed=completed, count=count,
                         detail=detail)


def _run_with_progress(work: Callable[[SolveControl], T], limit: float | None = None,
                       clock: _BatchClock | None = None) -> tuple[T, bool]:
    """Run a solve in a thread; show progress on a terminal; Ctrl-C stops it gracefully."""
    from advisor.solve import SolveControl

    started = time.monotonic()
    latest: list[Progress] = []
    control = SolveControl(on_progress=latest.append)
    box: dict[str, Any] = {}
    done = threading.Event()

    def target() -> None:
        try:
            box["result"] = work(control)
        except BaseException as exc:  # handed to the main thread
            box["error"] = exc
        finally:
            done.set()

    thread = threading.Thread(target=target, name="podlayout-solve", daemon=True)
    thread.start()
    interrupted = False
    display = _SolveDisplay(limit, clock) if _live_progress() else None
    with display or nullcontext():
        # An Event, not Thread.join: an interrupted join can leave is_alive() wrong.
        while not done.is_set():
            try:
                done.wait(0.2)
                if display is not None:
                    display.update(time.monotonic() - started, latest[-1] if latest else None,
                                   stopping=interrupted)
            except KeyboardInterrupt:
                interrupted = True
                control.stop()
    if "error" in box:
        raise box["error"]
    return box["result"], interrupted


def _problem_text(source: str, error: ProblemError) -> str:
    return f"error: {source}: invalid problem\n" + "\n".join(f"  {i}" for i in error.issues)


def _solve_or_fail(source: str, limit: float, work: Callable[[SolveControl], T]
                   ) -> tuple[T, bool]:
    from models import ProblemError

    try:
        return _run_with_progress(work, limit)
    except ProblemError as exc:  # input the core could not use: the user's to fix
        raise _fail(EXIT_INPUT, _problem_text(source, exc)) from None


def _emit(result: Plan | Review, interrupted: bool, fmt: str, problem: Problem,
          source: str) -> None:
    from advisor.report import render
    from models import Review

    sys.stdout.write(render(fmt, result.to_wire(), problem, source))
    sys.stdout.flush()
    plan = result.advised if isinstance(result, Review) else result
    if interrupted:
        raise typer.Exit(EXIT_INTERRUPTED)
    if plan.status == "infeasible":
        for c in plan.conflicts:
            err.print(f"infeasible: {c.message}", markup=False)
        raise typer.Exit(EXIT_INFEASIBLE)


def _version(value: bool) -> None:
    if value:
        from importlib import metadata

        sys.stdout.write(f"podlayout {metadata.version('pod-layout-advisor')}\n")
        raise typer.Exit(EXIT_OK)


@app.callback()
def _root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True,
                           help="Print the version and exit.")
    ] = False,
) -> None:
    """Decide how to group containers into pods and where to place every replica."""


@app.command()
def advise(file: FileArg, time_limit: TimeOpt = None, seed: SeedOpt = None,
           workers: WorkersOpt = None, nodes: NodesOpt = None,
           default_requests: DefaultsOpt = None, injected_requests: InjectedOpt = None,
           fmt: ReportOpt = None) -> None:
    """Plan the grouping and placement; print the plan (JSON, or a report by --format)."""
    from advisor.solve import advise as run_advise

    report = _report_format(fmt)
    problem = _override(_read(file, nodes, default_requests, injected_requests), time_limit,
                        seed, workers)
    plan, interrupted = _solve_or_fail(file, problem.policy.time_limit_seconds,
                                       lambda control: run_advise(problem, control))
    _emit(plan, interrupted, report, problem, _source_name(file))


@app.command()
def review(file: FileArg, time_limit: TimeOpt = None, seed: SeedOpt = None,
           workers: WorkersOpt = None, nodes: NodesOpt = None,
           default_requests: DefaultsOpt = None, injected_requests: InjectedOpt = None,
           fmt: ReportOpt = None) -> None:
    """Score the problem's current `layout`, list its findings, and show the advised plan.
    Manifests and Compose files bring their layout: the workloads as they are grouped today."""
    from advisor.review import review as run_review

    report = _report_format(fmt)
    problem = _override(_read(file, nodes, default_requests, injected_requests), time_limit,
                        seed, workers)
    if problem.layout is None:
        raise _fail(EXIT_INPUT, "error: layout: review needs the current `layout` in the input")
    result, interrupted = _solve_or_fail(file, problem.policy.time_limit_seconds,
                                         lambda control: run_review(problem, control))
    _emit(result, interrupted, report, problem, _source_name(file))


FailOpt = Annotated[list[str] | None, typer.Option(
    "--fail", metavar="node=NAME|zone=NAME",
    help="A failure to simulate; repeatable. Default: the worst node(s), the worst zone, and "
    "every zone when there are at most five.")]
WorstOpt = Annotated[int, typer.Option(
    "--worst", min=1, max=50, help="How many of the worst nodes to try when no --fail is "
    "given.")]
# What-if results are neither a plan nor a review: these formats render them.
WHATIF_FORMATS = ("json", "yaml", "text", "markdown")


@app.command()
def whatif(file: FileArg, fail: FailOpt = None, worst: WorstOpt = 1, nodes: NodesOpt = None,
           default_requests: DefaultsOpt = None, injected_requests: InjectedOpt = None,
           fmt: ReportOpt = None) -> None:
    """Simulate node and zone failures on the current `layout`: which critical components
    each stops or degrades, where the evicted replicas run again, what stays Pending."""
    from advisor.report.whatif import render_whatif
    from advisor.whatif import parse_failure, run_whatif
    from models import ProblemError

    report = _report_format(fmt)
    if report not in WHATIF_FORMATS:
        raise _fail(EXIT_INPUT, f"error: --format {report}: whatif writes "
                                f"{', '.join(WHATIF_FORMATS)}")
    problem = _read(file, nodes, default_requests, injected_requests)
    try:
        failures = [parse_failure(f) for f in fail or []]
        result = run_whatif(problem, failures, worst)
    except ProblemError as exc:
        raise _fail(EXIT_INPUT, _problem_text(file, exc)) from None
    sys.stdout.write(render_whatif(report, result.to_wire(), _source_name(file)))
    sys.stdout.flush()


BatchFormatOpt = Annotated[str | None, typer.Option(
    "--format", "-f", metavar="FORMAT",
    help="Format of each report: json, yaml, text, markdown, html or sarif (html and sarif "
    "need --output-dir; html and markdown add an index page there). Default: json with "
    "--output-dir, else text on a terminal and json otherwise.")]
# Formats whose output directory gets an index page linking every report.
INDEX_NAMES = {"html": "index.html", "markdown": "index.md"}
# Which exit code wins for the batch: bad input, then internal error, then infeasible.
_EXIT_RANK = {EXIT_OK: 0, EXIT_INFEASIBLE: 1, EXIT_INTERNAL: 2, EXIT_INPUT: 3}


def _worse(a: int, b: int) -> int:
    return max(a, b, key=lambda code: _EXIT_RANK.get(code, 0))


@dataclass
class _Outcome:
    """One input of a batch: its line, its result (for the index) and its rendered report
    when that goes to stdout."""

    line: dict[str, Any]
    result: dict[str, Any] | None = None
    report: str | None = None
    interrupted: bool = False


@app.command()
def batch(
    files: Annotated[list[Path], typer.Argument(
        help="Problem files (JSON or YAML), Kubernetes manifests or Compose files.")],
    output_dir: Annotated[
        Path | None,
        typer.Option("--output-dir", "-o", help="Write each report here (FILE.plan.json, or "
                     "the format's suffix) instead of stdout."),
    ] = None,
    time_limit: TimeOpt = None,
    nodes: NodesOpt = None,
    defaults: DefaultsOpt = None,
    injected: InjectedOpt = None,
    fmt: BatchFormatOpt = None,
) -> None:
    """Solve many problems one after another; one JSON line per file on stdout.

    A file with a `layout` is reviewed, any other advised. Each line is
    {file, exitCode, status, result | error | output}; the exit code is the worst
    of the files' (2 bad input, then 3 internal error, then 1 infeasible, else 0).
    Without --output-dir, --format yaml prints the lines as YAML documents, and text and
    markdown print the reports one after another under a heading per file.
    """
    # Files written to a directory stay JSON whatever the terminal: only what stdout shows
    # follows it.
    report = _report_format(fmt, "json" if output_dir is not None else None)
    if output_dir is None and report in ("html", "sarif"):
        raise _fail(EXIT_INPUT, f"error: --format {report}: give --output-dir (one {report} "
                                "file per input)")
    if output_dir is not None:
        if output_dir.exists() and not output_dir.is_dir():
            raise _fail(EXIT_INPUT, f"error: --output-dir {output_dir}: not a directory")
        try:
            output_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise _fail(EXIT_INPUT, f"error: --output-dir {output_dir}: {exc}") from None
    if time_limit is not None:  # a bad option is a usage error, before any file
        from models import Container, Problem

        _override(Problem(containers=[Container(name="probe")]), time_limit, None, None)
    try:
        _options(nodes, defaults, injected)
    except _BadInputError as exc:
        raise _fail(EXIT_INPUT, str(exc)) from None
    clock = _BatchClock(len(files))
    written: set[Path] = set()
    outcomes: list[_Outcome] = []
    worst = EXIT_OK
    for i, path in enumerate(files, start=1):
        outcome = _batch_one(path, report, output_dir, written, clock, time_limit, nodes,
                             defaults, injected)
        outcomes.append(outcome)
        worst = _worse(worst, outcome.line["exitCode"])
        clock.finish_one()
        _batch_out(i, len(files), path, outcome, "json" if output_dir is not None else report)
        if outcome.interrupted:
            break
    if output_dir is not None and report in INDEX_NAMES:
        worst = _worse(worst, _write_index(output_dir / INDEX_NAMES[report], report, outcomes))
    raise typer.Exit(EXIT_INTERRUPTED if outcomes and outcomes[-1].interrupted else worst)


def _batch_one(path: Path, report: str, output_dir: Path | None, written: set[Path],
               clock: _BatchClock, time_limit: float | None, nodes: str | None,
               defaults: str | None, injected: list[str] | None) -> _Outcome:
    from advisor.report import render
    from advisor.review import review as run_review
    from advisor.solve import advise as run_advise
    from models import ProblemError, Review

    line: dict[str, Any] = {"file": str(path)}
    try:
        problem = _override(_load(str(path), nodes, defaults, injected), time_limit, None,
                            None)
    except _BadInputError as exc:
        line.update(exitCode=EXIT_INPUT, status="invalid", error=str(exc))
        return _Outcome(line)
    limit = problem.policy.time_limit_seconds
    result: Plan | Review
    try:
        if problem.layout is not None:
            result, interrupted = _run_with_progress(partial(run_review, problem), limit, clock)
        else:
            result, interrupted = _run_with_progress(partial(run_advise, problem), limit, clock)
        plan = result.advised if isinstance(result, Review) else result
        wire = result.to_wire()
        # Rendered here, inside the guard: a report that fails is this file's error only.
        text = None if report in ("json", "yaml") and output_dir is None else render(
            report, wire, problem, str(path))
    except ProblemError as exc:
        line.update(exitCode=EXIT_INPUT, status="invalid", error=_problem_text(str(path), exc))
        return _Outcome(line)
    except Exception as exc:  # one file's internal error must not lose the others
        line.update(exitCode=EXIT_INTERNAL, status="error",
                    error=f"internal error: {type(exc).__name__}: {exc}")
        return _Outcome(line)
    line.update(exitCode=EXIT_INFEASIBLE if plan.status == "infeasible" else EXIT_OK,
                status=plan.status)
    outcome = _Outcome(line, wire, interrupted=interrupted)
    if output_dir is None:
        if text is None:
            line["result"] = wire
        outcome.report = text
        return outcome
    target = _report_path(output_dir, path, report, isinstance(result, Review), written)
    try:
        target.write_text(text or "", encoding="utf-8")
        line["output"] = str(target)
    except OSError as exc:
        line.update(exitCode=EXIT_INPUT, error=f"cannot write {target}: {exc}")
    return outcome


def _report_path(output_dir: Path, path: Path, report: str, is_review: bool,
                 written: set[Path]) -> Path:
    # JSON keeps the names scripts read today (FILE.plan.json, reviews included); the other
    # formats are new, and name a review as one.
    from advisor.report import SUFFIXES

    kind = "review" if is_review and report != "json" else "plan"
    suffix = f".{kind}{SUFFIXES[report]}"
    target = output_dir / f"{path.stem}{suffix}"
    n = 2
    while target in written:  # two inputs with one name: never overwrite
        target = output_dir / f"{path.stem}-{n}{suffix}"
        n += 1
    written.add(target)
    return target


def _batch_out(i: int, total: int, path: Path, outcome: _Outcome, stream: str) -> None:
    """The status line on stderr, and the file's part of stdout: a JSON line, a YAML
    document, or its report under a heading."""
    line = outcome.line
    err.print(f"[{i}/{total}] {path}: {line['status']}", markup=False)
    if stream == "json":
        out = json.dumps(line) + "\n"
    elif stream == "yaml":
        import yaml

        out = "---\n" + yaml.safe_dump(line, sort_keys=False, allow_unicode=True)
    else:
        body = outcome.report or (f"{line['status']} (exit code {line['exitCode']})\n\n"
                                  + _fenced(str(line.get("error", "")), stream))
        head = f"# `{path}`\n\n" if stream == "markdown" else f"==> {path} <==\n"
        out = ("\n" if i > 1 else "") + head + body
    sys.stdout.write(out)
    sys.stdout.flush()


def _fenced(text: str, stream: str) -> str:
    if stream != "markdown":
        return text.rstrip("\n") + "\n"
    return "```text\n" + text.rstrip("\n").replace("```", "'''") + "\n```\n"


def _write_index(target: Path, report: str, outcomes: list[_Outcome]) -> int:
    rows = [_index_row(o) for o in outcomes]
    text = _index_html(rows) if report == "html" else _index_markdown(rows)
    try:
        target.write_text(text, encoding="utf-8")
    except OSError as exc:
        err.print(f"error: cannot write {target}: {exc}", markup=False)
        return EXIT_INPUT
    err.print(f"index: {target}", markup=False)
    return EXIT_OK


INDEX_COLUMNS = ("input", "status", "waste", "SPOF", "blast radius node / zone",
                 "nodes used")


@dataclass(frozen=True)
class _IndexRow:
    file: str
    link: str | None  # the report's file name, beside the index
    status: str
    waste: str
    spof: str
    blast: str
    nodes: str


def _index_row(outcome: _Outcome) -> _IndexRow:
    line = outcome.line
    status = line["status"]
    if line.get("error"):
        status += ": " + str(line["error"]).splitlines()[0].removeprefix("error: ")
    output = line.get("output")
    link = Path(output).name if isinstance(output, str) else None
    if outcome.result is None:
        return _IndexRow(line["file"], link, status, "-", "-", "-", "-")
    from advisor.report.digest import digest

    d = digest(outcome.result)
    sides = [s for s in (d.current, d.advised) if s is not None]

    def each(value: Callable[[Side], str]) -> str:  # a review: current -> advised
        return " → ".join(value(s) for s in sides)

    def blast(side: Side) -> str:
        radius = side.spof.get("blastRadius") or {}
        return f"{_score(radius.get('node'))} / {_score(radius.get('zone'))}"

    return _IndexRow(line["file"], link, status,
                     each(lambda s: _score(s.waste.get("score"))),
                     each(lambda s: _score(s.spof.get("score"))), each(blast),
                     each(lambda s: str(s.nodes_used)))


def _score(value: object) -> str:
    return f"{value:.1f}" if isinstance(value, int | float) else "-"


def _index_counts(rows: list[_IndexRow]) -> str:
    counts: dict[str, int] = {}
    for row in rows:
        key = row.status.split(":", 1)[0]
        counts[key] = counts.get(key, 0) + 1
    return (f"{len(rows)} input{'s' if len(rows) != 1 else ''}: "
            + ", ".join(f"{n} {status}" for status, n in counts.items()))


def _index_markdown(rows: list[_IndexRow]) -> str:
    def cell(text: str) -> str:
        return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")

    lines = ["# podlayout batch", "", _index_counts(rows) + ".", "",
             "| " + " | ".join(INDEX_COLUMNS) + " |", "|---|---|---:|---:|---:|---:|"]
    for r in rows:
        name = f"[{cell(r.file)}]({quote(r.link)})" if r.link else cell(r.file)
        lines.append(f"| {name} | {cell(r.status)} | {r.waste} | {r.spof} | {r.blast} | "
                     f"{r.nodes} |")
    return "\n".join(lines) + "\n"


INDEX_STYLE = (
    "body{font-family:system-ui,sans-serif;margin:2rem;color:#1b1b1b}"
    "table{border-collapse:collapse}th,td{padding:.35rem .8rem;border-bottom:1px solid #ddd;"
    "text-align:left;vertical-align:top}td.n{text-align:right;"
    "font-variant-numeric:tabular-nums;white-space:nowrap}th{background:#f3f3f3}"
)


def _index_html(rows: list[_IndexRow]) -> str:
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
            f"<h1>podlayout batch</h1><p>{esc(_index_counts(rows))}</p>\n"
            f"<table><thead><tr>{head}</tr></thead><tbody>\n" + "\n".join(body)
            + "\n</tbody></table></body></html>\n")


import_app = typer.Typer(
    help="Turn Kubernetes manifests or Compose files into a problem (printed as YAML).",
    no_args_is_help=True)
export_app = typer.Typer(help="Turn an advised plan into manifests for its layout.",
                         no_args_is_help=True)
app.add_typer(import_app, name="import")
app.add_typer(export_app, name="export")

FilesArg = Annotated[list[str], typer.Argument(
    help="Files to import, in order (later Compose files override earlier ones); - for stdin.")]
FormatOpt = Annotated[str, typer.Option("--format", "-f", help="yaml or json.")]


def _import(kind: Literal["k8s", "compose"], files: list[str], nodes: str | None,
            fmt: str, defaults: str | None, injected: list[str] | None) -> None:
    import yaml

    from advisor.kube.common import ManifestError
    from advisor.kube.detect import import_texts, parse_imported

    if fmt not in ("yaml", "json"):
        raise _fail(EXIT_INPUT, f"error: --format {fmt}: use yaml or json")
    try:
        options = _options(nodes, defaults, injected)
        texts = [_text(f) for f in files]
        result = import_texts(kind, texts, options)
        parse_imported(result, ", ".join(s for _, s in texts))
    except _BadInputError as exc:
        raise _fail(EXIT_INPUT, str(exc)) from None
    except ManifestError as exc:
        raise _fail(EXIT_INPUT, f"error: {exc}") from None
    _warn(result.warnings)
    if fmt == "json":
        sys.stdout.write(json.dumps(result.problem, indent=2) + "\n")
    else:
        sys.stdout.write(yaml.safe_dump(result.problem, sort_keys=False, allow_unicode=True))


@import_app.command("k8s")
def import_k8s_command(files: FilesArg, nodes: NodesOpt = None, fmt: FormatOpt = "yaml",
                       default_requests: DefaultsOpt = None,
                       injected_requests: InjectedOpt = None) -> None:
    """Kubernetes manifests (multi-document YAML, List; Deployment, StatefulSet, DaemonSet,
    ReplicaSet, ReplicationController, Job, CronJob, Pod). Other kinds are skipped with a
    warning; today's grouping becomes the problem's `layout`."""
    _import("k8s", files, nodes, fmt, default_requests, injected_requests)


@import_app.command("compose")
def import_compose_command(files: FilesArg, nodes: NodesOpt = None, fmt: FormatOpt = "yaml",
                           default_requests: DefaultsOpt = None) -> None:
    """Docker Compose files (services, deploy.replicas and resources, ports, volumes,
    network_mode service:X, depends_on and links)."""
    _import("compose", files, nodes, fmt, default_requests, None)


@export_app.command("k8s")
def export_k8s_command(
    plan_file: Annotated[str, typer.Argument(
        metavar="PLAN", help="A plan from `podlayout advise` or a review (its advised plan), "
        "JSON; - for stdin.")],
    problem_file: Annotated[str, typer.Option(
        "--problem", "-p", help="The problem, manifests or Compose file the plan was made "
        "from: images, ports, volumes and hints come from it.")],
    nodes: NodesOpt = None,
    default_requests: DefaultsOpt = None,
    injected_requests: InjectedOpt = None,
    patch: Annotated[bool, typer.Option(
        "--patch", help="For workloads whose grouping the plan keeps, strategic-merge patches "
        "that change only replicas, pod affinity, topology spread constraints and container "
        "resources (kubectl patch --type strategic, or a kustomization's patches:); the "
        "others stay full manifests, marked by a comment and named on stderr.")] = False,
) -> None:
    """Print manifests for the advised layout: one workload per pod with its containers,
    requests, ports and volumes, spreading rules that enforce the plan, the disruption
    budgets (imported ones kept; maxUnavailable 1 for other replicated critical pods).
    Settings the problem does not carry
    (env, probes, config volumes, ...) are to be merged from the source workloads; give the
    import options the plan was made with. With --patch, workloads whose grouping is
    unchanged are patches of their source instead, which keep those settings."""
    from advisor.kube.export import dump_manifests, export_k8s, export_k8s_patches

    try:
        problem = _load(problem_file, nodes, default_requests, injected_requests)
        text, source = _text(plan_file)
        plan = _plan_from(text, source)
    except _BadInputError as exc:
        raise _fail(EXIT_INPUT, str(exc)) from None
    try:
        if patch:
            patches = export_k8s_patches(problem, plan)
        else:
            docs = export_k8s(problem, plan)
    except ValueError as exc:  # the plan does not fit the problem, or has nothing to export
        raise _fail(EXIT_INPUT, f"error: {plan_file}: {exc} (status {plan.status}; is "
                    "--problem the file the plan came from?)") from None
    if patch:
        _warn(patches.notes)
        sys.stdout.write(dump_manifests(patches.docs, patches.comments))
    else:
        sys.stdout.write(dump_manifests(docs))


def _plan_from(text: str, source: str) -> Plan:
    from pydantic import ValidationError

    from advisor.loading import load_data
    from models import Plan, ProblemError

    try:
        data = load_data(text, source)
    except ProblemError as exc:
        raise _BadInputError(f"error: {source}: " + "; ".join(i.message for i in exc.issues)
                             ) from None
    if isinstance(data, dict) and isinstance(data.get("advised"), dict):
        data = data["advised"]  # a review: export what it advises
    if not isinstance(data, dict) or "pods" not in data or "status" not in data:
        raise _BadInputError(f"error: {source}: not a plan (expected the JSON of `podlayout "
                             "advise`, or of `review`)")
    try:
        return Plan.model_validate(data)
    except ValidationError as exc:
        lines = [f"  {'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()[:20]]
        raise _BadInputError(f"error: {source}: invalid plan\n" + "\n".join(lines)) from None


@app.command()
def schema() -> None:
    """Print the JSON Schema of the input."""
    from models import Problem

    sys.stdout.write(json.dumps(Problem.model_json_schema(by_alias=True), indent=2) + "\n")


def main() -> None:
    # Ctrl-C must reach us even when started with SIGINT ignored (e.g. from `cmd &` in a script).
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        app()
    except KeyboardInterrupt:
        err.print("interrupted")
        sys.exit(EXIT_INTERRUPTED)
    except SystemExit:
        raise
    except Exception as exc:
        if os.environ.get("PODLAYOUT_DEBUG"):
            raise
        err.print(f"internal error: {type(exc).__name__}: {exc} "
                  "(set PODLAYOUT_DEBUG=1 for a traceback)", markup=False)
        sys.exit(EXIT_INTERNAL)


if __name__ == "__main__":  # pragma: no cover
    main()
