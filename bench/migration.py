"""`python -m bench migration`: the move budget and the frontier on the core problems.

Each core problem (bench/generators.py) gets a random current layout: one pod per unit
(a main container with its helpers), its replicas on random nodes where every placement
rule holds. It is then reviewed under each move budget (policy.maxMoves): the replicas the
migration moves, the most nodes in use on the way, the advised SPOF and the time; and its
frontier (advise --frontier) is computed: how many plans, whether both extremes are proven,
and the time.
"""

from __future__ import annotations

import random
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from advisor import rules
from advisor.frontier import frontier
from advisor.prepare import Instance, prepare
from advisor.review import review
from bench.generators import generate_problem
from models import parse_problem

TITLE = "Migration: the move budget and the frontier on the core problems"
HELP = ("the move budget and the frontier on the core problems with a random current "
        "layout: moves, peak nodes, SPOF and time per budget; the frontier's size and time")
DEFAULT_BUDGETS = "0,2,5,10,none"


@dataclass(frozen=True)
class BudgetRun:
    seed: int
    budget: int | None
    status: str
    moves: int | None
    peak_nodes: int | None
    spof: float | None
    objective: float | None
    seconds: float


@dataclass(frozen=True)
class FrontierRun:
    seed: int
    plans: int
    proven: bool
    seconds: float


def parse_budgets(text: str) -> list[int | None]:
    """`0,2,5,none`: budgets, `none` for no budget."""
    out: list[int | None] = []
    for part in text.split(","):
        word = part.strip().lower()
        if word in ("none", "unbounded"):
            out.append(None)
        elif word.isdigit():
            out.append(int(word))
        else:
            raise ValueError(f"not a budget: {part!r} (a count, or none)")
    return out


def random_layout(inst: Instance, seed: int) -> dict[str, Any]:
    """One pod per unit, replicas on random nodes that keep every placement rule (units with
    more replicas first, so that a sameNode partner is placed before its follower)."""
    rng = random.Random(f"pod-layout-bench-migration:{seed}")
    order = sorted(range(len(inst.units)), key=lambda u: (-inst.units[u].replicas, u))
    state = rules.Placement(inst, rules.instance_units(inst, order))
    nodes = [c.index for c in inst.candidates]
    names = inst.container_names
    pods, placements = [], []
    for u in order:
        unit = inst.units[u]
        pods.append({"name": unit.name, "containers": [names[c] for c in unit.containers],
                     "replicas": unit.replicas})
        for replica in range(unit.replicas):
            fits = rules.feasible_nodes(inst, state, u, nodes)
            if not fits:
                continue  # left to be scheduled as kube-scheduler would
            k = rng.choice(fits)
            state.place(u, k)
            placements.append({"pod": unit.name, "replica": replica,
                               "node": inst.candidates[k].name})
    return {"pods": pods, "placements": placements}


def run_seed(seed: int, budgets: list[int | None], *, containers: int, nodes: int,
             time_limit: float, workers: int | None, points: int
             ) -> tuple[list[BudgetRun], FrontierRun]:
    data = generate_problem(seed, containers, nodes, time_limit_seconds=time_limit)
    if workers is not None:
        data["policy"]["workers"] = workers
    layout = random_layout(prepare(parse_problem(data)), seed)
    runs = []
    for budget in budgets:
        policy = {**data["policy"], **({"maxMoves": budget} if budget is not None else {})}
        problem = parse_problem({**data, "policy": policy, "layout": layout})
        started = time.monotonic()
        result = review(problem)
        seconds = time.monotonic() - started
        advised, migration = result.advised, result.migration
        runs.append(BudgetRun(
            seed=seed, budget=budget, status=advised.status,
            moves=migration.moves if migration else None,
            peak_nodes=migration.peak_nodes if migration else None,
            spof=advised.scores.spof.score if advised.scores else None,
            objective=advised.solver.objective, seconds=seconds))
    started = time.monotonic()
    found = frontier(parse_problem(data), points=points)
    return runs, FrontierRun(seed=seed, plans=len(found.plans), proven=found.extremes_proven,
                             seconds=time.monotonic() - started)


def _mean(values: list[float]) -> str:
    return f"{statistics.fmean(values):.1f}" if values else "-"


def budget_table(runs: list[BudgetRun]) -> str:
    """Per budget, over the seeds: statuses, moves (mean / max), peak nodes, SPOF, time."""
    lines = ["| maxMoves | statuses | moves mean / max | peak nodes mean | advised SPOF mean "
             "| objective mean | seconds mean / max |",
             "|---|---|---:|---:|---:|---:|---:|"]
    for budget in dict.fromkeys(r.budget for r in runs):
        group = [r for r in runs if r.budget == budget]
        moves = [float(r.moves) for r in group if r.moves is not None]
        statuses = ", ".join(f"{s} {n}" for s, n in sorted(
            {s: sum(1 for r in group if r.status == s) for s in {r.status for r in group}}
            .items()))
        lines.append(
            f"| {'none' if budget is None else budget} | {statuses} | {_mean(moves)} / "
            f"{max(moves, default=0):.0f} | "
            f"{_mean([float(r.peak_nodes) for r in group if r.peak_nodes is not None])} | "
            f"{_mean([r.spof for r in group if r.spof is not None])} | "
            f"{_mean([r.objective for r in group if r.objective is not None])} | "
            f"{_mean([r.seconds for r in group])} / {max(r.seconds for r in group):.1f} |")
    return "\n".join(lines)


def frontier_table(runs: list[FrontierRun]) -> str:
    lines = ["| seed | plans | extremes proven | seconds |", "|---:|---:|---|---:|"]
    lines += [f"| {r.seed} | {r.plans} | {'yes' if r.proven else 'no'} | {r.seconds:.1f} |"
              for r in runs]
    return "\n".join(lines)


def main(seeds: list[int], budgets: list[int | None], *, containers: int, nodes: int,
         time_limit: float, workers: int | None, points: int,
         log: Callable[[str], None]) -> str:
    """Run every seed; the report as Markdown."""
    budget_runs: list[BudgetRun] = []
    frontier_runs: list[FrontierRun] = []
    for seed in seeds:
        log(f"seed {seed}")
        runs, front = run_seed(seed, budgets, containers=containers, nodes=nodes,
                               time_limit=time_limit, workers=workers, points=points)
        budget_runs += runs
        frontier_runs.append(front)
        over = [r for r in runs if r.budget is not None and (r.moves or 0) > r.budget]
        for r in over:
            log(f"seed {seed}: {r.moves} moves over the budget of {r.budget}")
    return (f"## {TITLE}\n\n{budget_table(budget_runs)}\n\n"
            f"Frontier (up to {points} plans):\n\n{frontier_table(frontier_runs)}\n")
