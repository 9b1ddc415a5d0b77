"""`podlayout`: a thin Typer adapter over the core. Results on stdout, progress on stderr.

The core (the solver with OR-Tools and numpy, the importers, the reports, the pydantic
models) is imported inside the commands that use it, not here: `podlayout --version` and
`--help` need none of it, and loading it all takes most of a second.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterable
from contextlib import nullcontext
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal, TypeVar

import typer
import typer.rich_utils
from rich.console import Console, RenderableType
from rich.progress import BarColumn, TextColumn
from rich.progress import Progress as Bars
from rich.table import Column
from rich.text import Text

if TYPE_CHECKING:
    from advisor.batch.runner import BatchOptions
    from advisor.batch.tasks import FileResult, FileTask
    from advisor.kube.common import ImportOptions
    from advisor.model import Progress
    from advisor.solve import SolveControl
    from models import Plan, Problem, ProblemError, Review

EXIT_OK, EXIT_INFEASIBLE, EXIT_INPUT, EXIT_INTERNAL, EXIT_INTERRUPTED = 0, 1, 2, 3, 130
# `advise --frontier [N]`: N without a value (advisor.frontier.DEFAULT_POINTS, not imported
# here so that --help loads no solver), and at most.
DEFAULT_FRONTIER_POINTS, MAX_FRONTIER_POINTS = 5, 20

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
    metavar="FILE",
    help="Problem file (JSON or YAML), Kubernetes manifests or a Compose file, or - for stdin.")]
NodesOpt = Annotated[str | None, typer.Option(
    "--nodes", metavar="FILE",
    help="Node list for manifests and Compose files: `kubectl get nodes -o json` "
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
    float | None, typer.Option("--time-limit", "-t", metavar="SECONDS",
                                help="Override policy.timeLimitSeconds.")
]
SeedOpt = Annotated[int | None, typer.Option("--seed", metavar="N", help="Override policy.seed.")]
WorkersOpt = Annotated[int | None, typer.Option("--workers", metavar="N",
                                                         help="Override policy.workers.")]
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


def one_plan_of_frontier(command: str, problem: Problem) -> list[str]:
    """The warning for a command that solves one plan of a problem asking for the frontier:
    that plan is solved at the balanced weights (advisor.model.WEIGHTS)."""
    from models import Objective

    if problem.policy.objective != Objective.FRONTIER:
        return []
    return [f"policy.objective frontier: {command} advises one plan (balanced); use "
            "podlayout advise --frontier"]


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
          injected: list[str] | None = None,
          warn: Callable[[list[str]], None] | None = None) -> Problem:
    """A problem file, Kubernetes manifests or a Compose file (told apart by content); the
    import's warnings go to `warn` (default: stderr)."""
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
    (warn or _warn)(warnings)
    return problem


def _read(file: str, nodes: str | None = None, defaults: str | None = None,
          injected: list[str] | None = None) -> Problem:
    try:
        return _load(file, nodes, defaults, injected)
    except _BadInputError as exc:
        raise _fail(EXIT_INPUT, str(exc)) from None


_OPTION_OF = {"time_limit_seconds": "--time-limit", "seed": "--seed", "workers": "--workers",
              "max_moves": "--max-moves"}


def _override(problem: Problem, time_limit: float | None, seed: int | None,
              workers: int | None, max_moves: int | None = None) -> Problem:
    """Command-line overrides of the policy, validated by the same rules as the file's."""
    from pydantic import ValidationError

    from models import Policy

    update = {key: value for key, value in (("time_limit_seconds", time_limit), ("seed", seed),
                                             ("workers", workers), ("max_moves", max_moves))
              if value is not None}
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
    objective, bound and gap. Transient: nothing of it stays on the screen, and stdout is
    never touched. (A batch draws its own display: advisor.batch.progress.)"""

    def __init__(self, limit: float | None) -> None:
        self.limit = limit
        self.bars = _Bars(
            TextColumn("{task.description}", markup=False,
                       table_column=Column(no_wrap=True, min_width=9)),
            BarColumn(bar_width=20),
            TextColumn("{task.fields[count]}", markup=False, table_column=Column(no_wrap=True)),
            TextColumn("{task.fields[detail]}", markup=False,
                       table_column=Column(no_wrap=True, overflow="ellipsis")),
            console=err, transient=True, redirect_stdout=False, redirect_stderr=False,
            refresh_per_second=5)
        self.solve = self.bars.add_task("preparing", total=limit, count="", detail="")

    def __enter__(self) -> _SolveDisplay:
        self.update(0.0, None, stopping=False)
        self.bars.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.bars.stop()

    def update(self, elapsed: float, latest: Progress | None, stopping: bool) -> None:
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


def _run_with_progress(work: Callable[[SolveControl], T], limit: float | None = None
                       ) -> tuple[T, bool]:
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
    display = _SolveDisplay(limit) if _live_progress() else None
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
        from advisor.version import __version__

        sys.stdout.write(f"podlayout {__version__}\n")
        raise typer.Exit(EXIT_OK)


@app.callback()
def _root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True,
                           help="Print the version and exit.")
    ] = False,
) -> None:
    """Decide how to group containers into pods and where to place every replica."""


MovesOpt = Annotated[int | None, typer.Option(
    "--max-moves", metavar="K", help="Override policy.maxMoves: the advised plan moves at "
    "most K replicas off their current node (needs the current `layout`).")]
FrontierOpt = Annotated[int | None, typer.Option(
    "--frontier", metavar="[N]", min=2, max=MAX_FRONTIER_POINTS,
    help="Print up to N plans (N from 2 to 20, default 5) trading node cost against SPOF, "
    "cheapest to safest, the knee (if any) recommended (as policy.objective: frontier).")]


@app.command()
def advise(file: FileArg, time_limit: TimeOpt = None, seed: SeedOpt = None,
           workers: WorkersOpt = None, nodes: NodesOpt = None,
           default_requests: DefaultsOpt = None, injected_requests: InjectedOpt = None,
           fmt: ReportOpt = None, max_moves: MovesOpt = None,
           frontier: FrontierOpt = None) -> None:
    """Plan the grouping and placement; print the plan (JSON, or a report by --format)."""
    from advisor.solve import advise as run_advise
    from models import Objective

    report = _report_format(fmt)
    problem = _override(_read(file, nodes, default_requests, injected_requests), time_limit,
                        seed, workers, max_moves)
    if frontier is not None or problem.policy.objective == Objective.FRONTIER:
        _advise_frontier(file, problem, report, frontier)
        return
    plan, interrupted = _solve_or_fail(file, problem.policy.time_limit_seconds,
                                       lambda control: run_advise(problem, control))
    _emit(plan, interrupted, report, problem, _source_name(file))


def _advise_frontier(file: str, problem: Problem, report: str, points: int | None) -> None:
    """The frontier's plans; the exit code follows the recommended one."""
    from advisor.frontier import DEFAULT_POINTS, frontier
    from advisor.report import render

    if report == "sarif":
        raise _fail(EXIT_INPUT, "error: --format sarif reports one layout's findings; the "
                                "frontier is json, yaml, text, markdown or html")
    count = points or DEFAULT_POINTS
    result, interrupted = _solve_or_fail(file, problem.policy.time_limit_seconds,
                                         lambda control: frontier(problem, control, count))
    sys.stdout.write(render(report, result.to_wire(), problem, _source_name(file)))
    sys.stdout.flush()
    if interrupted:
        raise typer.Exit(EXIT_INTERRUPTED)
    if result.plans and result.plans[result.recommended].status == "infeasible":
        raise typer.Exit(EXIT_INFEASIBLE)


@app.command()
def review(file: FileArg, time_limit: TimeOpt = None, seed: SeedOpt = None,
           workers: WorkersOpt = None, nodes: NodesOpt = None,
           default_requests: DefaultsOpt = None, injected_requests: InjectedOpt = None,
           fmt: ReportOpt = None, max_moves: MovesOpt = None) -> None:
    """Score the problem's current `layout`, list its findings, and show the advised plan.
    Manifests and Compose files bring their layout: the workloads as they are grouped today."""
    from advisor.review import review as run_review

    report = _report_format(fmt)
    problem = _override(_read(file, nodes, default_requests, injected_requests), time_limit,
                        seed, workers, max_moves)
    if problem.layout is None:
        raise _fail(EXIT_INPUT, "error: layout: review needs the current `layout` in the input")
    _warn(one_plan_of_frontier("review", problem))
    result, interrupted = _solve_or_fail(file, problem.policy.time_limit_seconds,
                                         lambda control: run_review(problem, control))
    _emit(result, interrupted, report, problem, _source_name(file))


FailOpt = Annotated[list[str] | None, typer.Option(
    "--fail", metavar="node=NAME|zone=NAME",
    help="A failure to simulate; repeatable. Default: the worst node(s), the worst zone, and "
    "every zone when there are at most five (not a zone holding every node: the whole "
    "cluster down).")]
WorstOpt = Annotated[int, typer.Option(
    "--worst", metavar="N", min=1, max=50,
    help="How many of the worst nodes to try when no --fail is "
    "given.")]


@app.command()
def whatif(file: FileArg, fail: FailOpt = None, worst: WorstOpt = 1, nodes: NodesOpt = None,
           default_requests: DefaultsOpt = None, injected_requests: InjectedOpt = None,
           fmt: ReportOpt = None) -> None:
    """Simulate node and zone failures on the current `layout`: which critical components
    each stops or degrades, where the evicted replicas run again, what stays Pending."""
    from advisor.report.whatif import render_whatif
    from advisor.whatif import parse_failure, run_whatif
    from models import ProblemError

    report = _report_format(fmt)  # whatif writes every format
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
JobsOpt = Annotated[int | None, typer.Option(
    "--jobs", "-j", metavar="N", min=1, max=1024,
    help="Inputs solved at once, each in a process of its own; the CP-SAT workers of each "
    "solve (policy.workers) are divided among them. Default: the number of cores.")]
ResumeOpt = Annotated[bool, typer.Option(
    "--resume", help="Skip inputs whose result for the same input bytes and options is "
    "already in --output-dir (checked by a content hash); interrupted and crashed ones are "
    "solved again.")]
ShardOpt = Annotated[str | None, typer.Option(
    "--shard", metavar="I/N", help="Solve only shard I of N (I from 0): a share of the "
    "inputs balanced by size, the same in every shard, each input in exactly one.")]
ShardsOpt = Annotated[int | None, typer.Option(
    "--shards", metavar="N", help="Split into N shards and solve the one JOB_COMPLETION_INDEX "
    "names (a Kubernetes Indexed Job sets it in each pod).")]
BatchWorkersOpt = Annotated[int | None, typer.Option(
    "--workers", metavar="N",
    help="Override policy.workers (CP-SAT workers for all the solves running "
    "at once; each gets its share).")]
MemoryOpt = Annotated[str | None, typer.Option(
    "--memory-limit", metavar="SIZE", help="Address space of each input's process (e.g. "
    "4Gi): a solve that needs more ends with an internal error, the others go on.")]


@app.command()
def batch(
    files: Annotated[list[Path], typer.Argument(
        metavar="FILE",
        help="Problem files (JSON or YAML), Kubernetes manifests or Compose files; or "
        "`merge DIR...` to join the summaries of shards' output directories.")],
    output_dir: Annotated[
        Path | None,
        typer.Option("--output-dir", "-o", metavar="DIR",
                     help="Write each report here (NAME-HASH.plan.json, "
                     "NAME-HASH.review.json, or the format's suffix), a record per input "
                     "and summary.json, instead of printing the reports."),
    ] = None,
    time_limit: TimeOpt = None,
    nodes: NodesOpt = None,
    defaults: DefaultsOpt = None,
    injected: InjectedOpt = None,
    fmt: BatchFormatOpt = None,
    jobs: JobsOpt = None,
    resume: ResumeOpt = False,
    shard: ShardOpt = None,
    shards: ShardsOpt = None,
    workers: BatchWorkersOpt = None,
    memory_limit: MemoryOpt = None,
) -> None:
    """Solve many problems, several at once; one JSON line per file on stdout.

    A file with a `layout` is reviewed, any other advised. Each line is
    {file, exitCode, status, result | error | output}, in argument order; the exit code is
    130 when interrupted, else the worst of the files' (2 bad input, then 3 internal error,
    then 1 infeasible, else 0). Without --output-dir, --format yaml prints the lines as YAML
    documents, and text and markdown print the reports one after another under a heading
    per file. `podlayout batch merge DIR...` prints one summary of shards' output
    directories (and writes it to --output-dir/summary.json when given).
    """
    from advisor.batch.runner import run_batch

    if files and str(files[0]) == "merge":
        _batch_merge(files[1:], output_dir)
    options = _batch_options(files, output_dir, time_limit, nodes, defaults, injected, fmt,
                             jobs, resume, shard, shards, workers, memory_limit)
    stream = "json" if output_dir is not None else options.report
    live = _live_progress()  # as advise decides: a terminal, and no PODLAYOUT_QUIET
    raise typer.Exit(run_batch(options, partial(_batch_out, stream=stream),
                               display=err if live else None,
                               redirect_stdout=live and _stdout_is_tty()))


def _batch_options(files: list[Path], output_dir: Path | None, time_limit: float | None,
                   nodes: str | None, defaults: str | None, injected: list[str] | None,
                   fmt: str | None, jobs: int | None, resume: bool, shard: str | None,
                   shards: int | None, workers: int | None, memory_limit: str | None
                   ) -> BatchOptions:
    """The batch's options, every one checked before any file: a bad one is a usage error."""
    from advisor.batch.keys import ResultOptions
    from advisor.batch.runner import BatchOptions, cpu_count
    from advisor.batch.shards import ShardError, resolve_shard

    # Files written to a directory stay JSON whatever the terminal: only what stdout shows
    # follows it.
    report = _report_format(fmt, "json" if output_dir is not None else None)
    if output_dir is None and report in ("html", "sarif"):
        raise _fail(EXIT_INPUT, f"error: --format {report}: give --output-dir (one {report} "
                                "file per input)")
    if resume and output_dir is None:
        raise _fail(EXIT_INPUT, "error: --resume: give --output-dir (where the results are)")
    try:
        chosen = resolve_shard(shard, shards)
    except ShardError as exc:
        raise _fail(EXIT_INPUT, f"error: {exc}") from None
    _batch_checks(output_dir, time_limit, workers, nodes, defaults, injected)
    return BatchOptions(
        files=files, report=report, stream=report, output_dir=output_dir,
        jobs=jobs or cpu_count(), resume=resume, shard=chosen,
        options=ResultOptions(report, time_limit, workers, nodes, defaults,
                              tuple(injected or ())),
        memory_limit=_memory_limit(memory_limit))


def _batch_checks(output_dir: Path | None, time_limit: float | None, workers: int | None,
                  nodes: str | None, defaults: str | None, injected: list[str] | None) -> None:
    if output_dir is not None:
        if output_dir.exists() and not output_dir.is_dir():
            raise _fail(EXIT_INPUT, f"error: --output-dir {output_dir}: not a directory")
        try:
            output_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise _fail(EXIT_INPUT, f"error: --output-dir {output_dir}: {exc}") from None
    if time_limit is not None or workers is not None:
        from models import Container, Problem

        _override(Problem(containers=[Container(name="probe")]), time_limit, None, workers)
    try:
        _options(nodes, defaults, injected)
    except _BadInputError as exc:
        raise _fail(EXIT_INPUT, str(exc)) from None


def _memory_limit(text: str | None) -> int | None:
    if text is None:
        return None
    from models.quantity import parse_quantity

    try:
        value = int(parse_quantity(text))
    except ValueError as exc:
        raise _fail(EXIT_INPUT, f"error: --memory-limit {text}: {exc}") from None
    if value < 256 * 2**20:
        raise _fail(EXIT_INPUT, f"error: --memory-limit {text}: give at least 256Mi (a "
                                "solve's process needs that much to start)")
    return value


def _batch_merge(dirs: list[Path], output_dir: Path | None) -> None:
    from advisor.batch.naming import RECORDS_DIR, SUMMARY
    from advisor.batch.records import summary_line
    from advisor.batch.runner import merge

    if not dirs:
        raise _fail(EXIT_INPUT, "error: merge: give the output directories of the shards")
    for folder in dirs:
        if not (folder / RECORDS_DIR).is_dir():
            raise _fail(EXIT_INPUT, f"error: merge: {folder}: not a batch output directory "
                                    f"(no {RECORDS_DIR}/ in it)")
    summary = merge(dirs)
    text = json.dumps(summary, indent=2) + "\n"
    sys.stdout.write(text)
    err.print(summary_line(summary), markup=False)
    if output_dir is not None:
        try:
            output_dir.mkdir(parents=True, exist_ok=True)
            (output_dir / SUMMARY).write_text(text, encoding="utf-8")
        except OSError as exc:
            raise _fail(EXIT_INPUT, f"error: --output-dir {output_dir}: {exc}") from None
    raise typer.Exit(EXIT_OK)


def _batch_out(i: int, total: int, task: FileTask, outcome: FileResult, stream: str) -> None:
    """The file's part of stdout, in argument order: a JSON line, a YAML document, or its
    report under a heading."""
    line = outcome.line
    if stream == "json":
        out = json.dumps(line) + "\n"
    elif stream == "yaml":
        import yaml

        out = "---\n" + yaml.safe_dump(line, sort_keys=False, allow_unicode=True)
    else:
        body = outcome.report or (f"{line['status']} (exit code {line['exitCode']})\n\n"
                                  + _fenced(str(line.get("error", "")), stream))
        head = f"# `{task.path}`\n\n" if stream == "markdown" else f"==> {task.path} <==\n"
        out = ("\n" if i > 1 else "") + head + body
    sys.stdout.write(out)
    sys.stdout.flush()


def _fenced(text: str, stream: str) -> str:
    if stream != "markdown":
        return text.rstrip("\n") + "\n"
    return "```text\n" + text.rstrip("\n").replace("```", "'''") + "\n```\n"


import_app = typer.Typer(
    help="Turn Kubernetes manifests or Compose files into a problem (printed as YAML).",
    no_args_is_help=True)
export_app = typer.Typer(help="Turn an advised plan into manifests for its layout.",
                         no_args_is_help=True)
app.add_typer(import_app, name="import")
app.add_typer(export_app, name="export")

FilesArg = Annotated[list[str], typer.Argument(
    metavar="FILE",
    help="Files to import, in order (later Compose files override earlier ones); - for stdin.")]
FormatOpt = Annotated[str, typer.Option("--format", "-f", metavar="FORMAT",
                                                  help="yaml or json.")]


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
        "--problem", "-p", metavar="FILE",
        help="The problem, manifests or Compose file the plan was made "
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


def optional_values(args: list[str]) -> list[str]:
    """`--frontier` may come without its count: the parser needs one, so give the default
    when the next word is no number."""
    out: list[str] = []
    for i, arg in enumerate(args):
        out.append(arg)
        if arg == "--frontier" and (i + 1 == len(args) or not args[i + 1].isdigit()):
            out.append(str(DEFAULT_FRONTIER_POINTS))
    return out


def main() -> None:
    # Ctrl-C must reach us even when started with SIGINT ignored (e.g. from `cmd &` in a script).
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        app(args=optional_values(sys.argv[1:]))
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
