"""`python -m bench {core,smoke}`: tables on stdout, progress on stderr.

Exit codes: 0 done, 1 the smoke test failed (an infeasible plan or one without a
solver bound), 2 bad usage or no consistent problem for the arguments.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

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
    "core": "the issue's benchmark: about 100 containers with hints on 20 nodes, 5 seeds",
    "smoke": "a seconds-long CI check: 30 containers on 6 nodes; fails on an infeasible "
             "plan or a plan without a solver bound",
}


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


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="python -m bench", description=__doc__,
                                  formatter_class=argparse.RawDescriptionHelpFormatter)
    subs = top.add_subparsers(dest="benchmark", required=True, metavar="{core,smoke}")
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
    return top


def main(argv: list[str] | None = None) -> int:
    args_list = sys.argv[1:] if argv is None else argv
    args = parser().parse_args(args_list)
    defaults = BENCHMARKS[args.benchmark]
    config = RunConfig(benchmark=args.benchmark, seeds=args.seeds, containers=args.containers,
                       nodes=args.nodes, time_limit=args.time_limit, workers=args.workers)

    def log(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

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
        problems = failures(results)
        for problem in problems:
            log(f"FAIL {problem}")
        return 1 if problems else 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
