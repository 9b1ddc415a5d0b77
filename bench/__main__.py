"""`python -m bench {core,smoke,api,scale,startup,migration,batch}`: tables on stdout,
progress on stderr.

Exit codes: 0 done, 1 the smoke test failed (an infeasible plan or one without a
solver bound, or a VBP instance not solved to its optimum), the api benchmark saw
an error (a non-2xx answer, a status other than optimal, a server that did not
start), a `podlayout` run of the startup benchmark failed, or the batch benchmark
saw an input not solved exactly once by its shards or their merged summary differ
from one process's (inputs, names, exit codes), 2 bad usage, no
consistent problem for the arguments, no instance matching `scale --instances`, or
the shared benchmark data missing.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bench import migration
from bench.generators import GeneratorError
from bench.runner import (
    RunConfig,
    failures,
    markdown_table,
    parse_seeds,
    report,
    run,
    summarise,
    summary_text,
    write_json,
)
from models import parse_problem


@dataclass(frozen=True)
class Defaults:
    title: str
    seeds: str
    containers: int
    nodes: int
    time_limit: float


BENCHMARKS = {
    "core": Defaults("Core: ~100 containers with hints on 20 nodes", "0-4", 100, 20, 10.0),
    "smoke": Defaults("Smoke: ~30 containers with hints on 6 nodes", "0", 30, 6, 2.0),
}
HELP = {
    "core": "the core benchmark: about 100 containers with hints on 20 nodes, 5 seeds",
    "smoke": "a seconds-long CI check: 30 containers on 6 nodes; fails on an infeasible "
             "plan or a plan without a solver bound",
    "api": "throughput and latency of the REST API: starts `podlayout serve` on a loopback "
           "port and drives /v1/advise, /v1/review and /v1/jobs over HTTP; fails on any "
           "non-2xx answer or a status other than optimal",
    "scale": "packing at scale against published optima (VBP), the Alibaba openb GPU trace, "
             "synthetic 1k/10k replicas and the core problems, beside FFD and "
             "kube-scheduler-style greedies; each advisor run in a subprocess",
    "startup": "how long `podlayout --version` and `podlayout --help` take, start to exit "
               "(the median of --runs runs each, in seconds)",
    "batch": "`podlayout batch` over core-sized problems: --jobs 1 against --jobs 2, --resume "
             "after a kill half-way, local shards merged against one process; fails when an "
             "input is not solved exactly once or the merged summary differs",
}
# Small VBP instances the smoke test solves and compares with their proven optimum.
SMOKE_VBP = ("class1_20_3_0", "class6_20_3_0", "class8_20_5_0")
SMOKE_VBP_TIME_LIMIT = 5.0
API_TITLE = "API: the reference problem over HTTP on loopback"
STARTUP_COMMANDS = (("--version",), ("--help",))


def _seeds(text: str) -> list[int]:
    try:
        return parse_seeds(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _positive(text: str) -> float:
    value = float(text)
    if not 0 < value <= 3600:
        raise argparse.ArgumentTypeError("must be in (0, 3600]")
    return value


def _workers(text: str) -> int:
    value = int(text)
    if not 1 <= value <= 64:
        raise argparse.ArgumentTypeError("must be between 1 and 64")
    return value


def _between(low: int, high: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        value = int(text)
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"must be between {low} and {high}")
        return value
    return parse


_count, _warmup = _between(1, 100_000), _between(0, 1000)


def _concurrency(text: str) -> tuple[int, ...]:
    try:
        values = tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a list of integers: {text!r}") from None
    if not values or any(not 1 <= v <= 256 for v in values):
        raise argparse.ArgumentTypeError("give 1 to 256 clients, e.g. 1,4")
    return values


def _api_parser(sub: argparse.ArgumentParser) -> None:
    sub.add_argument("--requests", type=_count, default=200,
                     help="measured requests per scenario (default 200)")
    sub.add_argument("--concurrency", type=_concurrency, default=(1, 4),
                     help="concurrent clients, comma-separated (default 1,4); the server's "
                          "PODLAYOUT_MAX_CONCURRENT_REQUESTS is set to the largest")
    sub.add_argument("--jobs", type=_count, default=50,
                     help="jobs submitted on the job path (default 50)")
    sub.add_argument("--job-workers", type=_workers, default=2,
                     help="PODLAYOUT_WORKERS, background jobs solved at once (default 2)")
    sub.add_argument("--warmup", type=_warmup, default=5,
                     help="unmeasured requests per client before each scenario (default 5)")
    sub.add_argument("--workers", type=_workers, default=1,
                     help="policy.workers of the problems sent (default 1)")
    sub.add_argument("--json", type=Path, default=None, metavar="PATH",
                     help="also write the results as JSON to PATH")


def _scale_parser(sub: argparse.ArgumentParser) -> None:
    sub.add_argument("--suite", choices=("vbp", "vbp-gen", "openb", "synthetic", "core", "all"),
                     default="vbp", help="instances to run (default vbp)")
    sub.add_argument("--time-limit", type=_positive, default=None,
                     help="policy.timeLimitSeconds (default per suite: vbp 10, vbp-gen 10, "
                          "openb 60, synthetic 30, core 10)")
    sub.add_argument("--instances", default="*", metavar="GLOB",
                     help="only instances whose name matches, e.g. 'class1_*' (default *)")
    sub.add_argument("--workers", type=_workers, default=None,
                     help="policy.workers (default: the policy's default)")
    sub.add_argument("--json", type=Path, default=None, metavar="PATH",
                     help="also write the results as JSON to PATH")


def _startup_parser(sub: argparse.ArgumentParser) -> None:
    sub.add_argument("--runs", type=_between(1, 1000), default=10,
                     help="runs of each command (default 10)")
    sub.add_argument("--json", type=Path, default=None, metavar="PATH",
                     help="also write the results as JSON to PATH")


def _batch_parser(sub: argparse.ArgumentParser) -> None:
    sub.add_argument("--inputs", type=_between(2, 1000), default=40,
                     help="core-sized problems (seeds 0..N-1; default 40)")
    sub.add_argument("--time-limit", type=_positive, default=2.0,
                     help="policy.timeLimitSeconds of each (default 2)")
    sub.add_argument("--shards", type=_between(2, 64), default=4,
                     help="local shard processes (default 4)")
    sub.add_argument("--keep", type=Path, default=None, metavar="DIR",
                     help="work in DIR and keep the inputs and outputs (default: a temporary "
                          "directory, removed)")
    sub.add_argument("--json", type=Path, default=None, metavar="PATH",
                     help="also write the results as JSON to PATH")


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="python -m bench", description=__doc__,
                                  formatter_class=argparse.RawDescriptionHelpFormatter)
    subs = top.add_subparsers(dest="benchmark", required=True,
                              metavar="{core,smoke,api,scale,startup,migration,batch}")
    for name, d in BENCHMARKS.items():
        sub = subs.add_parser(name, help=HELP[name], description=HELP[name])
        sub.add_argument("--seeds", type=_seeds, default=parse_seeds(d.seeds),
                         help=f"seeds, e.g. 0-4, 0..4 or 0,2,7 (default {d.seeds})")
        sub.add_argument("--time-limit", type=_positive, default=d.time_limit,
                         help=f"policy.timeLimitSeconds (default {d.time_limit:g})")
        sub.add_argument("--containers", type=int, default=d.containers,
                         help=f"containers per problem, helpers included (default {d.containers})")
        sub.add_argument("--nodes", type=int, default=d.nodes,
                         help=f"fixed nodes per problem (default {d.nodes})")
        sub.add_argument("--workers", type=_workers, default=None,
                         help="policy.workers (default: the policy's default)")
        sub.add_argument("--json", type=Path, default=None, metavar="PATH",
                         help="also write the results as JSON to PATH")
        sub.add_argument("--dump-problems", type=Path, default=None, metavar="DIR",
                         help="write each generated problem to DIR (for `podlayout advise`)")
    _api_parser(subs.add_parser("api", help=HELP["api"], description=HELP["api"]))
    _scale_parser(subs.add_parser("scale", help=HELP["scale"], description=HELP["scale"]))
    _startup_parser(subs.add_parser("startup", help=HELP["startup"],
                                    description=HELP["startup"]))
    _batch_parser(subs.add_parser("batch", help=HELP["batch"], description=HELP["batch"]))
    _migration_parser(subs.add_parser("migration", help=migration.HELP,
                                      description=migration.__doc__))
    return top


def _budgets(text: str) -> list[int | None]:
    try:
        return migration.parse_budgets(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _migration_parser(sub: argparse.ArgumentParser) -> None:
    core = BENCHMARKS["core"]
    sub.add_argument("--seeds", type=_seeds, default=parse_seeds(core.seeds),
                     help=f"seeds of the core problems (default {core.seeds})")
    sub.add_argument("--budgets", type=_budgets, default=migration.parse_budgets(
        migration.DEFAULT_BUDGETS), help="policy.maxMoves values, `none` for no budget "
        f"(default {migration.DEFAULT_BUDGETS})")
    sub.add_argument("--time-limit", type=_positive, default=core.time_limit,
                     help=f"policy.timeLimitSeconds per solve (default {core.time_limit:g})")
    sub.add_argument("--containers", type=int, default=core.containers)
    sub.add_argument("--nodes", type=int, default=core.nodes)
    sub.add_argument("--workers", type=_workers, default=None,
                     help="policy.workers (default: the policy's default)")
    sub.add_argument("--points", type=_between(2, 20), default=5,
                     help="plans the frontier may have (default 5)")


def main_migration(args: argparse.Namespace) -> int:
    try:
        print(migration.main(args.seeds, args.budgets, containers=args.containers,
                             nodes=args.nodes, time_limit=args.time_limit,
                             workers=args.workers, points=args.points, log=log))
    except GeneratorError as exc:
        log(f"error: {exc}")
        return 2
    return 0


def log(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def main_api(args: argparse.Namespace, args_list: list[str]) -> int:
    # Imported here: the api benchmark needs httpx (the `test` extra); core and smoke do not.
    try:
        from bench import api_load  # noqa: PLC0415
    except ImportError as exc:
        log(f"error: {exc}; `python -m bench api` needs httpx: pip install -e '.[test]'")
        return 2

    config = api_load.ApiConfig(
        requests=args.requests, concurrency=args.concurrency, jobs=args.jobs,
        warmup=args.warmup, job_workers=args.job_workers, solver_workers=args.workers)
    try:
        scenarios, server = api_load.run_api(config, log)
    except api_load.BenchError as exc:
        log(f"error: {exc}")
        return 1
    except (KeyboardInterrupt, api_load.TerminatedError):
        log("interrupted (the server was stopped)")
        return 1
    print(f"## {API_TITLE}\n")
    print(api_load.markdown_table(scenarios))
    print()
    print(api_load.summary_text(scenarios, config.concurrency))
    if args.json is not None:
        write_json(args.json, api_load.report(config, scenarios, server, args_list))
        log(f"wrote {args.json}")
    problems = api_load.failures(scenarios)
    if server.killed:
        problems.append("the server did not stop on SIGTERM and was killed")
    if server.log_errors:
        problems.append(f"the server logged {len(server.log_errors)} error line(s) (above)")
    for problem in problems:
        log(f"FAIL {problem}")
    return 1 if problems else 0


def main_scale(args: argparse.Namespace, args_list: list[str]) -> int:
    from bench import scale  # noqa: PLC0415
    from bench.data import DataError  # noqa: PLC0415

    try:
        return scale.main(args.suite, args.time_limit, args.instances, args.workers,
                          args.json, args_list, log)
    except DataError as exc:
        log(f"error: {exc}")
        return 2


def _podlayout() -> list[str]:
    """The installed `podlayout` script beside this interpreter (what users run), else the
    same entry point through the interpreter."""
    script = Path(sys.executable).with_name("podlayout")
    if script.is_file():
        return [str(script)]
    found = shutil.which("podlayout")
    return [found] if found else [sys.executable, "-m", "api.cli"]


def main_startup(args: argparse.Namespace, args_list: list[str]) -> int:
    """Wall time of whole `podlayout` processes that start, answer and exit: what a user
    waits for, interpreter start and imports included."""
    command = _podlayout()
    rows = ["| command | runs | median s | min s | max s |", "|---|---:|---:|---:|---:|"]
    results: list[dict[str, object]] = []
    for extra in STARTUP_COMMANDS:
        seconds: list[float] = []
        for _ in range(args.runs):
            started = time.perf_counter()
            done = subprocess.run([*command, *extra], stdout=subprocess.DEVNULL,
                                  stderr=subprocess.PIPE, check=False)
            seconds.append(time.perf_counter() - started)
            if done.returncode != 0:
                log(f"error: podlayout {' '.join(extra)} exited with {done.returncode}: "
                    f"{done.stderr.decode(errors='replace').strip()}")
                return 1
        median = statistics.median(seconds)
        name = f"podlayout {' '.join(extra)}"
        rows.append(f"| `{name}` | {args.runs} | {median:.3f} | {min(seconds):.3f} | "
                    f"{max(seconds):.3f} |")
        results.append({"command": name, "runs": args.runs, "medianSeconds": median,
                        "seconds": seconds})
        log(f"{name}: median {median:.3f} s")
    print("## Startup: `podlayout` from start to exit\n")
    print("\n".join(rows))
    if args.json is not None:
        write_json(args.json, {"benchmark": "startup", "args": args_list,
                               "executable": command, "results": results})
        log(f"wrote {args.json}")
    return 0


def smoke_vbp() -> list[str]:
    """Solve a few small VBP instances in process; what fails: not at OPT, or invalid."""
    from advisor import advise  # noqa: PLC0415
    from bench.checks import plan_violations  # noqa: PLC0415
    from bench.data import DataError, vbp_instances  # noqa: PLC0415

    problems: list[str] = []
    try:
        instances = [i for name in SMOKE_VBP
                     for i in vbp_instances(SMOKE_VBP_TIME_LIMIT, name)]
    except DataError as exc:
        log(f"smoke VBP skipped: {exc}")
        return problems
    rows = ["| VBP instance | replicas | OPT | advisor nodes | status | gap | wall s |",
            "|---|---:|---:|---:|---|---:|---:|"]
    for inst in instances:
        problem = parse_problem(inst.data)
        plan = advise(problem)
        nodes = len({p.node for p in plan.placements})
        gap = "n/a" if plan.solver.gap is None else f"{100 * plan.solver.gap:.1f} %"
        rows.append(f"| {inst.name} | {inst.replicas} | {inst.opt} | {nodes} | {plan.status} | "
                    f"{gap} | {plan.solver.wall_time_seconds:.2f} |")
        problems += [f"{inst.name}: invalid plan: {v}" for v in plan_violations(problem, plan)]
        if plan.unplaced:
            problems.append(f"{inst.name}: {len(plan.unplaced)} replicas unplaced")
        if inst.opt is not None and nodes != inst.opt:
            problems.append(f"{inst.name}: {nodes} nodes, OPT is {inst.opt}")
    print("\n## Smoke: small VBP instances with proven optima\n")
    print("\n".join(rows))
    return problems


def main(argv: list[str] | None = None) -> int:
    args_list = sys.argv[1:] if argv is None else argv
    args = parser().parse_args(args_list)
    if args.benchmark == "api":
        return main_api(args, args_list)
    if args.benchmark == "scale":
        return main_scale(args, args_list)
    if args.benchmark == "startup":
        return main_startup(args, args_list)
    if args.benchmark == "batch":
        from bench import batch  # noqa: PLC0415

        return batch.main(batch.BatchConfig(args.inputs, args.time_limit, args.shards),
                          args.keep, args.json, log)
    if args.benchmark == "migration":
        return main_migration(args)
    defaults = BENCHMARKS[args.benchmark]
    config = RunConfig(benchmark=args.benchmark, seeds=args.seeds, containers=args.containers,
                       nodes=args.nodes, time_limit=args.time_limit, workers=args.workers)

    try:
        results = run(config, dump_dir=args.dump_problems, log=log)
    except GeneratorError as exc:
        log(f"error: {exc}")
        return 2
    print(f"## {defaults.title}\n")
    print(markdown_table(results))
    print()
    print(summary_text(summarise(config, results)))
    if args.json is not None:
        write_json(args.json, report(config, results, args_list))
        log(f"wrote {args.json}")
    if args.benchmark == "smoke":
        problems = failures(results) + smoke_vbp()
        for problem in problems:
            log(f"FAIL {problem}")
        return 1 if problems else 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
