"""Run the advisor over generated problems and tabulate what it reports."""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from advisor import advise
from bench.baselines import FfdResult, blast_radius_node, first_fit_decreasing
from bench.checks import plan_violations
from bench.generators import generate_problem, problem_stats
from models import Problem, parse_problem


@dataclass(frozen=True)
class RunConfig:
    benchmark: str
    seeds: list[int]
    containers: int
    nodes: int
    time_limit: float
    workers: int | None = None  # None: the policy default


@dataclass
class SeedResult:
    seed: int
    containers: int
    replicas: int  # replicas of the forced pods (one pod per forced group)
    forced_pods: int
    utilisation: dict[str, float]
    pods: int  # pods in the plan
    placed: int  # pod replicas the plan places
    unplaced: int
    status: str
    nodes_used: int
    nodes_lower_bound: int
    objective: float | None
    bound: float | None
    gap: float | None
    waste: float | None
    spof: float | None
    wall_time: float  # solver.wallTimeSeconds, as advise reports it
    outer_time: float  # parse + advise, measured here
    ffd_nodes: int
    ffd_unplaced: int
    ffd_spread_nodes: int
    ffd_spread_unplaced: int
    blast: float | None = None  # blast radius (one node) of the plan
    ffd_spread_blast: float = 0.0  # the same for FFD with spreading
    plan_cores: float = 0.0  # allocatable cpu of the nodes the plan uses
    ffd_cores: float = 0.0
    ffd_spread_cores: float = 0.0
    violations: list[str] = field(default_factory=list)  # hard rules the plan breaks
    message: str = ""
    hints: dict[str, int] = field(default_factory=dict)


def parse_seeds(text: str) -> list[int]:
    """`0-4`, `0..4`, `0,2,7` or a mix (`0-2,9`); ranges are inclusive."""
    seeds: list[int] = []
    for raw in text.replace("..", "-").split(","):
        part = raw.strip()
        if not part:
            continue
        low, sep, high = part.partition("-")
        if sep:
            a, b = int(low), int(high)
            if b < a:
                raise ValueError(f"empty seed range {part!r}")
            seeds += range(a, b + 1)
        else:
            seeds.append(int(part))
    if not seeds or any(s < 0 for s in seeds):
        raise ValueError(f"no valid seeds in {text!r}")
    return seeds


def problem_for(config: RunConfig, seed: int) -> dict[str, Any]:
    data = generate_problem(seed, config.containers, config.nodes,
                            time_limit_seconds=config.time_limit)
    if config.workers is not None:
        data["policy"]["workers"] = config.workers
    return data


def _cores(problem: Problem, nodes: set[str]) -> float:
    cpu = {n.name: n.allocatable.get("cpu") for n in problem.nodes}
    return float(sum(c for n in nodes if (c := cpu.get(n)) is not None))


def _ffd_nodes(result: FfdResult) -> set[str]:
    return {node for nodes in result.placement.values() for node in nodes}


def run_seed(config: RunConfig, seed: int, dump_dir: Path | None = None) -> SeedResult:
    data = problem_for(config, seed)
    if dump_dir is not None:
        dump_dir.mkdir(parents=True, exist_ok=True)
        path = dump_dir / f"{config.benchmark}-seed{seed}.json"
        path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    stats = problem_stats(data)
    started = time.monotonic()
    problem = parse_problem(data)
    plan = advise(problem)
    outer = time.monotonic() - started
    ffd = first_fit_decreasing(problem)
    ffd_spread = first_fit_decreasing(problem, spread_replicas=True)
    solver = plan.solver
    return SeedResult(
        seed=seed, containers=stats.containers, replicas=stats.replicas,
        forced_pods=stats.pods, utilisation=stats.utilisation,
        pods=len(plan.pods), placed=len(plan.placements), unplaced=len(plan.unplaced),
        status=plan.status, nodes_used=solver.nodes_used,
        nodes_lower_bound=solver.nodes_lower_bound, objective=solver.objective,
        bound=solver.bound, gap=solver.gap,
        waste=plan.scores.waste.score if plan.scores else None,
        spof=plan.scores.spof.score if plan.scores else None,
        blast=plan.scores.spof.blast_radius.node if plan.scores else None,
        ffd_spread_blast=blast_radius_node(problem, ffd_spread.placement),
        wall_time=solver.wall_time_seconds, outer_time=round(outer, 3),
        ffd_nodes=ffd.nodes_used, ffd_unplaced=ffd.unplaced,
        ffd_spread_nodes=ffd_spread.nodes_used, ffd_spread_unplaced=ffd_spread.unplaced,
        plan_cores=_cores(problem, {p.node for p in plan.placements}),
        ffd_cores=_cores(problem, _ffd_nodes(ffd)),
        ffd_spread_cores=_cores(problem, _ffd_nodes(ffd_spread)),
        violations=plan_violations(problem, plan),
        message=solver.message, hints=stats.hints,
    )


def run(config: RunConfig, *, dump_dir: Path | None = None,
        log: Callable[[str], None] | None = None) -> list[SeedResult]:
    results = []
    for seed in config.seeds:
        result = run_seed(config, seed, dump_dir)
        if log is not None:
            log(f"{config.benchmark} seed {seed}: {result.containers} containers, "
                f"{result.forced_pods} forced pods, {result.replicas} replicas on "
                f"{config.nodes} nodes (cpu {100 * result.utilisation['cpu']:.1f} %, memory "
                f"{100 * result.utilisation['memory']:.1f} % requested): {result.status}, "
                f"{result.nodes_used} nodes (lower bound {result.nodes_lower_bound}, "
                f"FFD {result.ffd_nodes}), gap {_gap(result.gap)}, {result.wall_time:.2f} s"
                + (f" [{result.message}]" if result.message else "")
            + (f"; INVALID: {'; '.join(result.violations)}" if result.violations else ""))
        results.append(result)
    return results


def failures(results: list[SeedResult]) -> list[str]:
    """What makes a run fail the smoke test: an infeasible or invalid plan, no bound or gap."""
    out = []
    for r in results:
        out += [f"seed {r.seed}: invalid plan: {v}" for v in r.violations]
        if r.status == "infeasible":
            out.append(f"seed {r.seed}: status infeasible on a feasible instance ({r.message})")
        if r.bound is None or r.gap is None:
            out.append(f"seed {r.seed}: no solver bound/gap (status {r.status}; {r.message})")
    return out


def _num(value: float | None) -> str:
    if value is None:
        return "n/a"
    return f"{value:.0f}" if float(value).is_integer() else f"{value:.1f}"


def _gap(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.1f} %"


def _score(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1f}"


def _ffd(nodes: int, unplaced: int) -> str:
    return f"{nodes} ({unplaced} unplaced)" if unplaced else str(nodes)


COLUMNS = ("seed", "containers", "replicas", "pods in plan", "status", "nodes used",
           "nodes LB", "FFD nodes", "FFD spread nodes", "cores used plan / FFD / spread",
           "objective", "bound", "gap", "waste", "SPOF", "blast radius plan / FFD spread",
           "wall s")


def markdown_table(results: list[SeedResult]) -> str:
    rows = [[
        str(r.seed), str(r.containers), str(r.replicas), str(r.pods), r.status,
        str(r.nodes_used), str(r.nodes_lower_bound), _ffd(r.ffd_nodes, r.ffd_unplaced),
        _ffd(r.ffd_spread_nodes, r.ffd_spread_unplaced),
        f"{r.plan_cores:g} / {r.ffd_cores:g} / {r.ffd_spread_cores:g}",
        _num(r.objective), _num(r.bound),
        _gap(r.gap), _score(r.waste), _score(r.spof),
        f"{_score(r.blast)} / {_score(r.ffd_spread_blast)}", f"{r.wall_time:.2f}",
    ] for r in results]
    right = set(range(len(COLUMNS))) - {COLUMNS.index("status")}
    lines = ["| " + " | ".join(COLUMNS) + " |",
             "|" + "|".join("---:" if i in right else "---" for i in range(len(COLUMNS))) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


@dataclass(frozen=True)
class Summary:
    seeds: int
    statuses: dict[str, int]
    all_bounded: bool  # every plan reports a bound and a gap
    all_valid: bool  # no plan breaks a hard rule (bench.checks)
    max_wall_time: float
    time_limit: float
    nodes_over_lower_bound: tuple[float, float, float]  # min, mean, max of nodes used / LB
    nodes_over_ffd: tuple[float, float, float]
    nodes_over_ffd_spread: tuple[float, float, float]
    mean_gap: float | None
    # Mean blast radius (one node) of the plans and of FFD with spreading, 0-100.
    mean_blast: float | None = None
    mean_ffd_spread_blast: float | None = None


def _ratios(pairs: list[tuple[int, int]]) -> tuple[float, float, float]:
    values = [a / b for a, b in pairs if b > 0]
    if not values:
        return (0.0, 0.0, 0.0)
    return (round(min(values), 3), round(sum(values) / len(values), 3), round(max(values), 3))


def summarise(config: RunConfig, results: list[SeedResult]) -> Summary:
    statuses: dict[str, int] = {}
    for r in results:
        statuses[r.status] = statuses.get(r.status, 0) + 1
    gaps = [r.gap for r in results if r.gap is not None]
    return Summary(
        seeds=len(results), statuses=statuses,
        all_bounded=all(r.bound is not None and r.gap is not None for r in results),
        all_valid=not any(r.violations for r in results),
        max_wall_time=max((r.wall_time for r in results), default=0.0),
        time_limit=config.time_limit,
        nodes_over_lower_bound=_ratios([(r.nodes_used, r.nodes_lower_bound) for r in results]),
        nodes_over_ffd=_ratios([(r.nodes_used, r.ffd_nodes) for r in results]),
        nodes_over_ffd_spread=_ratios([(r.nodes_used, r.ffd_spread_nodes) for r in results]),
        mean_gap=round(sum(gaps) / len(gaps), 4) if gaps else None,
        mean_blast=_mean([r.blast for r in results if r.blast is not None]),
        mean_ffd_spread_blast=_mean([r.ffd_spread_blast for r in results]),
    )


def _mean(values: list[float]) -> float | None:
    return round(sum(values) / len(values), 2) if values else None


def summary_text(summary: Summary) -> str:
    def ratio(name: str, values: tuple[float, float, float]) -> str:
        low, mean, high = values
        return f"nodes used / {name}: {low:.2f}-{high:.2f} (mean {mean:.2f})"

    statuses = ", ".join(f"{n} {s}" for s, n in sorted(summary.statuses.items()))
    gap = "n/a" if summary.mean_gap is None else f"{100 * summary.mean_gap:.1f} %"
    return "\n".join([
        f"- statuses: {statuses}; bound and gap reported for every plan: "
        f"{'yes' if summary.all_bounded else 'no'}; mean gap {gap}; every plan obeys the "
        f"hard rules (bench.checks): {'yes' if summary.all_valid else 'no'}",
        f"- slowest plan: {summary.max_wall_time:.2f} s (time limit {summary.time_limit:g} s)",
        f"- {ratio('lower bound', summary.nodes_over_lower_bound)}",
        f"- {ratio('FFD', summary.nodes_over_ffd)}",
        f"- {ratio('FFD spread', summary.nodes_over_ffd_spread)}",
        *([f"- blast radius (one node): plan mean {summary.mean_blast:.1f} %, FFD spread "
           f"mean {summary.mean_ffd_spread_blast:.1f} %"]
          if summary.mean_blast is not None and summary.mean_ffd_spread_blast is not None
          else []),
    ])


def machine() -> dict[str, Any]:
    try:
        ortools = version("ortools")
    except PackageNotFoundError:  # the report is still useful without it
        ortools = "unknown"
    return {
        "cpus": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "ortools": ortools,
    }


def report(config: RunConfig, results: list[SeedResult], argv: list[str]) -> dict[str, Any]:
    return {
        "benchmark": config.benchmark,
        "command": " ".join(["python", "-m", "bench", *argv]),
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "config": asdict(config),
        "summary": asdict(summarise(config, results)),
        "results": [asdict(r) for r in results],
    }


def write_json(path: Path, payload: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
