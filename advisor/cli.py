"""`podlayout`: a thin Typer adapter over the core. Results on stdout, progress on stderr."""

from __future__ import annotations

import json
import os
import shutil
import signal
import sys
import threading
import time
from collections.abc import Callable
from functools import partial
from importlib import metadata
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

import typer
import typer.rich_utils
import yaml
from pydantic import ValidationError
from rich.console import Console

from advisor.kube.bodies import OptionError, import_options
from advisor.kube.common import ImportOptions, ManifestError
from advisor.kube.detect import import_texts, parse_imported, read_input, read_nodes
from advisor.kube.export import dump_manifests, export_k8s, export_k8s_patches
from advisor.loading import MAX_INPUT_BYTES, load_data
from advisor.model import Progress
from advisor.review import review as run_review
from advisor.solve import SolveControl
from advisor.solve import advise as run_advise
from models import Container, Plan, Policy, Problem, ProblemError, Review

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


def _fail(code: int, message: str) -> typer.Exit:
    err.print(message, markup=False)
    return typer.Exit(code)


class _BadInputError(Exception):
    """Input the CLI rejects; the message names the file and the fields."""


def _decode(data: bytes, name: str) -> str:
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


def _run_with_progress(work: Callable[[SolveControl], T]) -> tuple[T, bool]:
    """Run a solve in a thread; show progress on a terminal; Ctrl-C stops it gracefully."""
    show = err.is_terminal and not os.environ.get("PODLAYOUT_QUIET")
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
    status = err.status("preparing...") if show else None
    try:
        if status is not None:
            status.start()
        # An Event, not Thread.join: an interrupted join can leave is_alive() wrong.
        while not done.is_set():
            try:
                done.wait(0.2)
            except KeyboardInterrupt:
                interrupted = True
                control.stop()
                if status is not None:
                    status.update("stopping: keeping the best plan so far...")
                continue
            if status is not None and time.monotonic() - started > 0.5:
                p = latest[-1] if latest else None
                elapsed = time.monotonic() - started
                status.update(
                    f"solving: {elapsed:.1f}s"
                    + (f", objective {p.objective:,.0f}, bound {p.bound:,.0f},"
                       f" {p.solutions} plans" if p else ", looking for a first plan")
                    + "  [Ctrl-C: stop, keep best]"
                )
    finally:
        if status is not None:
            status.stop()
    if "error" in box:
        raise box["error"]
    return box["result"], interrupted


def _problem_text(source: str, error: ProblemError) -> str:
    return f"error: {source}: invalid problem\n" + "\n".join(f"  {i}" for i in error.issues)


def _solve_or_fail(source: str, work: Callable[[SolveControl], T]) -> tuple[T, bool]:
    try:
        return _run_with_progress(work)
    except ProblemError as exc:  # input the core could not use: the user's to fix
        raise _fail(EXIT_INPUT, _problem_text(source, exc)) from None


def _emit(result: Plan | Review, interrupted: bool) -> None:
    sys.stdout.write(json.dumps(result.to_wire(), indent=2) + "\n")
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
           default_requests: DefaultsOpt = None, injected_requests: InjectedOpt = None) -> None:
    """Plan the grouping and placement; print the plan as JSON."""
    problem = _override(_read(file, nodes, default_requests, injected_requests), time_limit,
                        seed, workers)
    plan, interrupted = _solve_or_fail(file, lambda control: run_advise(problem, control))
    _emit(plan, interrupted)


@app.command()
def review(file: FileArg, time_limit: TimeOpt = None, seed: SeedOpt = None,
           workers: WorkersOpt = None, nodes: NodesOpt = None,
           default_requests: DefaultsOpt = None, injected_requests: InjectedOpt = None) -> None:
    """Score the problem's current `layout`, list its findings, and show the advised plan.
    Manifests and Compose files bring their layout: the workloads as they are grouped today."""
    problem = _override(_read(file, nodes, default_requests, injected_requests), time_limit,
                        seed, workers)
    if problem.layout is None:
        raise _fail(EXIT_INPUT, "error: layout: review needs the current `layout` in the input")
    result, interrupted = _solve_or_fail(file, lambda control: run_review(problem, control))
    _emit(result, interrupted)


@app.command()
def batch(
    files: Annotated[list[Path], typer.Argument(
        help="Problem files (JSON or YAML), Kubernetes manifests or Compose files.")],
    output_dir: Annotated[
        Path | None,
        typer.Option("--output-dir", "-o", help="Write FILE.plan.json here instead of stdout."),
    ] = None,
    time_limit: TimeOpt = None,
    nodes: NodesOpt = None,
    defaults: DefaultsOpt = None,
    injected: InjectedOpt = None,
) -> None:
    """Solve many problems one after another; one JSON line per file on stdout.

    A file with a `layout` is reviewed, any other advised. Each line is
    {file, exitCode, status, result | error | output}; the exit code is the worst
    of the files' (2 bad input, then 3 internal error, then 1 infeasible, else 0).
    """
    if output_dir is not None:
        if output_dir.exists() and not output_dir.is_dir():
            raise _fail(EXIT_INPUT, f"error: --output-dir {output_dir}: not a directory")
        try:
            output_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise _fail(EXIT_INPUT, f"error: --output-dir {output_dir}: {exc}") from None
    if time_limit is not None:  # a bad option is a usage error, before any file
        _override(Problem(containers=[Container(name="probe")]), time_limit, None, None)
    try:
        _options(nodes, defaults, injected)
    except _BadInputError as exc:
        raise _fail(EXIT_INPUT, str(exc)) from None
    written: set[Path] = set()
    worst = EXIT_OK
    for i, path in enumerate(files, start=1):
        line: dict[str, Any] = {"file": str(path)}
        try:
            problem = _override(_load(str(path), nodes, defaults, injected), time_limit, None,
                                None)
        except _BadInputError as exc:
            line.update(exitCode=EXIT_INPUT, status="invalid", error=str(exc))
            worst = EXIT_INPUT
        else:
            result: Plan | Review
            try:
                if problem.layout is not None:
                    result, interrupted = _run_with_progress(partial(run_review, problem))
                else:
                    result, interrupted = _run_with_progress(partial(run_advise, problem))
            except ProblemError as exc:
                line.update(exitCode=EXIT_INPUT, status="invalid",
                            error=_problem_text(str(path), exc))
                worst = EXIT_INPUT
                _batch_line(i, len(files), path, line)
                continue
            except Exception as exc:  # one file's internal error must not lose the others
                line.update(exitCode=EXIT_INTERNAL, status="error",
                            error=f"internal error: {type(exc).__name__}: {exc}")
                worst = max(worst, EXIT_INTERNAL) if worst != EXIT_INPUT else worst
                _batch_line(i, len(files), path, line)
                continue
            plan = result.advised if isinstance(result, Review) else result
            code = EXIT_INFEASIBLE if plan.status == "infeasible" else EXIT_OK
            if worst != EXIT_INPUT:
                worst = max(worst, code)
            line.update(exitCode=code, status=plan.status)
            if output_dir is not None:
                target = output_dir / f"{path.stem}.plan.json"
                n = 2
                while target in written:  # two inputs with one name: never overwrite
                    target = output_dir / f"{path.stem}-{n}.plan.json"
                    n += 1
                written.add(target)
                try:
                    target.write_text(json.dumps(result.to_wire(), indent=2) + "\n")
                    line["output"] = str(target)
                except OSError as exc:
                    line.update(exitCode=EXIT_INPUT, error=f"cannot write {target}: {exc}")
                    worst = EXIT_INPUT
            else:
                line["result"] = result.to_wire()
            if interrupted:
                sys.stdout.write(json.dumps(line) + "\n")
                raise typer.Exit(EXIT_INTERRUPTED)
        _batch_line(i, len(files), path, line)
    raise typer.Exit(worst)


def _batch_line(i: int, total: int, path: Path, line: dict[str, Any]) -> None:
    err.print(f"[{i}/{total}] {path}: {line['status']}", markup=False)
    sys.stdout.write(json.dumps(line) + "\n")
    sys.stdout.flush()


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
