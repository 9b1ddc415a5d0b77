"""`python -m bench scale`: the advisor against published optima and greedy baselines.

Suites (`bench.data`): `vbp` (48 vector bin packing instances with proven optima),
`openb` (Alibaba's GPU cluster trace: 8152 pods on 1523 nodes), `synthetic` (1,000
and 10,000 replicas with `spread: node` on an elastic pool), `core` (the 100-container
problems of `python -m bench core`).

For every instance the advisor runs in a subprocess of its own (`python -m
bench.scale --child SUITE NAME TIME_LIMIT`): the child reads the instance, parses
it and calls `advisor.solve.advise`, and prints the plan as JSON. Its wall time is
parse + advise as the child measures it; its peak memory is the child's maximum
resident set size as the kernel reports it to the parent (`os.wait4` rusage
`ru_maxrss`, the whole process: the interpreter, OR-Tools and the model; about
100 MiB of it is Python with OR-Tools imported). A child that crashes, is killed
or overruns `time limit x 3 + 120 s` shows as such in the table, with its time.

The baselines (`bench.baselines`: FFD in Karpenter/cluster-autoscaler order,
kube-scheduler-style greedies with LeastAllocated and MostAllocated) run in this
process. Every plan, the advisor's and the baselines', is checked against the
hard rules by `bench.checks.plan_violations`: a plan that breaks one shows as
INVALID, not as a node count. Nodes are counted the same way for every method:
distinct nodes that host a placed replica.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from bench.baselines import (
    GreedyResult,
    ffd_autoscaler,
    kube_least_allocated,
    kube_most_allocated,
)
from bench.checks import greedy_plan, plan_violations
from bench.data import DEFAULT_TIME_LIMITS, SUITES, Instance, load_instance, suite_names
from bench.fragmentation import GpuReport, gpu_report, lower_bound
from bench.runner import machine
from models import Plan, Problem, parse_problem

BASELINES = ("ffd", "kube-least", "kube-most")
BASELINE_TITLES = {"ffd": "FFD", "kube-least": "kube LA", "kube-most": "kube MA"}
TITLES = {
    "vbp": "VBP: Panigrahy instances with published optima (Mommessin et al. 2024)",
    "vbp-gen": "VBP, a larger spread: Panigrahy classes 1-9 at 120 and 250 items, drawn by the "
               "published generator's rules",
    "openb": "openb: Alibaba GPU cluster trace, 8152 pods on 1523 nodes (Weng et al. 2023)",
    "synthetic": "Synthetic scale: microservice replicas with spread: node on an elastic pool",
    "core": "Core: ~100 containers with hints on 20 nodes",
}


@dataclass
class MethodResult:
    method: str
    nodes: int | None = None  # distinct nodes hosting a placed replica
    placed: int = 0
    unplaced: int | None = None
    violations: list[str] = field(default_factory=list)
    seconds: float = 0.0
    gpu: GpuReport | None = None

    @property
    def valid(self) -> bool:
        return self.nodes is not None and not self.violations


@dataclass
class AdvisorRun:
    outcome: str  # "ok", "error", "crashed", "timeout"
    status: str = ""
    gap: float | None = None
    objective: float | None = None
    bound: float | None = None
    waste: float | None = None
    spof: float | None = None
    solver_nodes_used: int | None = None
    solver_lower_bound: int | None = None
    solver_wall: float | None = None
    wall: float = 0.0  # parse + advise, in the child
    elapsed: float = 0.0  # the child's whole life, seen from here
    peak_mib: float | None = None
    message: str = ""


@dataclass
class Row:
    suite: str
    instance: str
    replicas: int
    time_limit: float
    opt: int | None
    paper_lb: int | None
    best_overall: int | None
    lower_bound: int  # bench.fragmentation.lower_bound, independent of the advisor
    advisor: AdvisorRun
    plan: MethodResult
    baselines: dict[str, MethodResult]

    @property
    def reference(self) -> int:
        """OPT when known, else the best lower bound known here."""
        if self.opt is not None:
            return self.opt
        return max(self.lower_bound, self.paper_lb or 0)


# --- the child ----------------------------------------------------------------------------


def child_main(suite: str, name: str, time_limit: float, workers: int | None) -> int:
    # Imported here: the parent never loads the solver.
    from advisor.solve import advise  # noqa: PLC0415

    try:
        inst = load_instance(suite, name, time_limit)
        if workers is not None:
            inst.data["policy"]["workers"] = workers
        started = time.monotonic()
        problem = parse_problem(inst.data)
        parsed = time.monotonic()
        plan = advise(problem)
        done = time.monotonic()
        payload: dict[str, Any] = {"plan": plan.to_wire(), "wall": done - started,
                                   "parse": parsed - started}
    except Exception as exc:  # reported as a row, not a crash of the whole run
        payload = {"error": f"{type(exc).__name__}: {exc}",
                   "traceback": traceback.format_exc(limit=5)}
    sys.stdout.write(json.dumps(payload))
    sys.stdout.flush()
    return 0


def _run_child(inst: Instance, time_limit: float, workers: int | None
               ) -> tuple[AdvisorRun, Plan | None]:
    cmd = [sys.executable, "-m", "bench.scale", "--child", inst.suite, inst.name,
           repr(time_limit)]
    if workers is not None:
        cmd += ["--workers", str(workers)]
    deadline = time_limit * 3 + 120
    started = time.monotonic()
    with tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=err,
                                cwd=Path(__file__).resolve().parents[1])
        timed_out = threading.Event()

        def kill() -> None:
            timed_out.set()
            proc.kill()

        timer = threading.Timer(deadline, kill)
        timer.start()
        try:
            assert proc.stdout is not None
            out = proc.stdout.read()
            _, status, usage = os.wait4(proc.pid, 0)
            proc.returncode = os.waitstatus_to_exitcode(status)
        finally:
            timer.cancel()
            if proc.stdout is not None:
                proc.stdout.close()
        err.seek(0)
        stderr = err.read().decode("utf-8", "replace").strip()
    elapsed = time.monotonic() - started
    peak = round(usage.ru_maxrss / 1024, 1)  # KiB on Linux
    if timed_out.is_set():
        return AdvisorRun("timeout", elapsed=elapsed, wall=elapsed, peak_mib=peak,
                          message=f"killed after {deadline:g} s"), None
    if proc.returncode != 0:
        last = stderr.splitlines()[-1] if stderr else ""
        return AdvisorRun("crashed", elapsed=elapsed, wall=elapsed, peak_mib=peak,
                          message=f"exit code {proc.returncode}: {last}"), None
    try:
        payload = json.loads(out)
    except json.JSONDecodeError:
        return AdvisorRun("crashed", elapsed=elapsed, wall=elapsed, peak_mib=peak,
                          message=f"unreadable output: {out[:200]!r}"), None
    if "error" in payload:
        return AdvisorRun("error", elapsed=elapsed, wall=elapsed, peak_mib=peak,
                          message=payload["error"]), None
    plan = Plan.model_validate(payload["plan"])
    solver = plan.solver
    run = AdvisorRun(
        outcome="ok", status=plan.status, gap=solver.gap, objective=solver.objective,
        bound=solver.bound,
        waste=plan.scores.waste.score if plan.scores else None,
        spof=plan.scores.spof.score if plan.scores else None,
        solver_nodes_used=solver.nodes_used, solver_lower_bound=solver.nodes_lower_bound,
        solver_wall=solver.wall_time_seconds, wall=round(payload["wall"], 3),
        elapsed=round(elapsed, 3), peak_mib=peak, message=solver.message)
    return run, plan


# --- one instance ---------------------------------------------------------------------------


def _measure(problem: Problem, plan: Plan, method: str, seconds: float,
             gpu: bool) -> MethodResult:
    violations = plan_violations(problem, plan)
    nodes = {p.node for p in plan.placements}
    return MethodResult(method=method, nodes=len(nodes), placed=len(plan.placements),
                        unplaced=len(plan.unplaced), violations=violations,
                        seconds=round(seconds, 3),
                        gpu=gpu_report(problem, plan) if gpu else None)


def _baseline(name: str, problem: Problem, inst: Instance) -> GreedyResult:
    if name == "ffd":
        return ffd_autoscaler(problem)
    if name == "kube-least":
        return kube_least_allocated(problem, inst.arrival)
    return kube_most_allocated(problem, inst.arrival)


def run_instance(inst: Instance, time_limit: float, workers: int | None) -> Row:
    problem = parse_problem(inst.data)
    advisor, plan = _run_child(inst, time_limit, workers)
    if plan is None:
        measured = MethodResult(method="advisor")
    else:
        measured = _measure(problem, plan, "advisor", advisor.wall, inst.gpu)
    baselines = {}
    for name in BASELINES:
        result = _baseline(name, problem, inst)
        baselines[name] = _measure(problem, greedy_plan(result), name, result.seconds,
                                   inst.gpu)
    return Row(suite=inst.suite, instance=inst.name, replicas=inst.replicas,
               time_limit=time_limit, opt=inst.opt, paper_lb=inst.lower_bound,
               best_overall=inst.best_overall, lower_bound=lower_bound(problem),
               advisor=advisor, plan=measured, baselines=baselines)


def run_suite(suite: str, time_limit: float, pattern: str, workers: int | None,
              log: Callable[[str], None]) -> list[Row]:
    rows = []
    for name in suite_names(suite, pattern):
        inst = load_instance(suite, name, time_limit)
        row = run_instance(inst, time_limit, workers)
        log(progress_line(row))
        rows.append(row)
    return rows


# --- tables and summaries ---------------------------------------------------------------------


def _nodes(result: MethodResult) -> str:
    if result.nodes is None:
        return "—"
    if result.violations:
        return f"INVALID ({len(result.violations)})"
    return str(result.nodes)


def _ratio(a: MethodResult, b: MethodResult | int | None) -> str:
    """Nodes over nodes, only between valid plans that both place every replica."""
    if not a.valid or a.unplaced or a.nodes is None:
        return "—"
    if isinstance(b, MethodResult):
        if not b.valid or b.unplaced or not b.nodes:
            return "—"
        return f"{a.nodes / b.nodes:.2f}"
    return f"{a.nodes / b:.2f}" if b else "—"


def _status(row: Row) -> str:
    if row.advisor.outcome != "ok":
        return f"**{row.advisor.outcome.upper()}**"
    return row.advisor.status


def _gap(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.1f} %"


def _score(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1f}"


def _unplaced(result: MethodResult) -> str:
    return "—" if result.unplaced is None else str(result.unplaced)


def _stranded(result: MethodResult) -> str:
    if result.gpu is None:
        return "—"
    return f"{result.gpu.stranded:.1f}"


def _reference(row: Row) -> str:
    if row.opt is not None:
        return str(row.opt)
    return f"≥{row.reference}"


def markdown_table(rows: list[Row]) -> str:
    gpu = any(r.plan.gpu is not None or any(b.gpu for b in r.baselines.values()) for r in rows)
    cols = ["instance", "replicas", "advisor nodes", "OPT / LB", "FFD", "kube LA", "kube MA",
            "status", "gap", "waste", "SPOF", "unplaced adv / FFD / LA / MA"]
    if gpu:
        cols += ["stranded GPU adv / FFD / LA / MA", "device-infeasible nodes adv / FFD / LA / MA"]
    cols += ["wall s", "over limit s", "peak MiB", "adv/OPT-LB", "adv/FFD", "adv/LA", "adv/MA"]
    lines = ["| " + " | ".join(cols) + " |",
             "|" + "|".join("---" if c in ("instance", "status") else "---:" for c in cols) + "|"]
    for r in rows:
        b = r.baselines
        methods = [r.plan, b["ffd"], b["kube-least"], b["kube-most"]]
        cells = [r.instance, str(r.replicas), _nodes(r.plan), _reference(r), _nodes(b["ffd"]),
                 _nodes(b["kube-least"]), _nodes(b["kube-most"]), _status(r), _gap(r.advisor.gap),
                 _score(r.advisor.waste), _score(r.advisor.spof),
                 " / ".join(_unplaced(m) for m in methods)]
        if gpu:
            cells += [" / ".join(_stranded(m) for m in methods),
                      " / ".join("—" if m.gpu is None else str(m.gpu.device_infeasible_nodes)
                                 for m in methods)]
        peak = "—" if r.advisor.peak_mib is None else f"{r.advisor.peak_mib:.0f}"
        cells += [f"{r.advisor.wall:.2f}", _over(r), peak, _ratio(r.plan, r.reference),
                  _ratio(r.plan, b["ffd"]), _ratio(r.plan, b["kube-least"]),
                  _ratio(r.plan, b["kube-most"])]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


# solver.wallTimeSeconds may pass policy.timeLimitSeconds by at most this much.
CLOCK_SLACK = 0.3


def _over(row: Row) -> str:
    """The solver's own wall time less the time limit (negative: under it)."""
    wall = row.advisor.solver_wall
    return "—" if wall is None else f"{wall - row.time_limit:+.2f}"


def clock_line(rows: list[Row]) -> str:
    """How many runs' solver.wallTimeSeconds passed the time limit + CLOCK_SLACK."""
    timed = [r for r in rows if r.advisor.solver_wall is not None]
    over = [r for r in timed if (r.advisor.solver_wall or 0.0) > r.time_limit + CLOCK_SLACK]
    most = max(((r.advisor.solver_wall or 0.0) - r.time_limit for r in timed), default=None)
    worst = "" if most is None else f"; closest to it: {most:+.2f} s against the limit"
    names = "".join(f"; {r.instance} {r.advisor.solver_wall:.2f} s" for r in over)
    return (f"- clock: solver.wallTimeSeconds above the time limit + {CLOCK_SLACK:g} s on "
            f"{len(over)} of {len(timed)} runs{names}{worst}")


def summary(suite: str, rows: list[Row]) -> list[str]:
    return [*SUMMARIES[suite](rows), clock_line(rows)]


def _yes(flag: bool) -> str:
    return "yes" if flag else "**no**"


def _failures(rows: list[Row]) -> str:
    bad = [f"{r.instance} ({r.advisor.outcome}: {r.advisor.message})"
           for r in rows if r.advisor.outcome != "ok"]
    invalid = [f"{r.instance} ({m.method}: {m.violations[0]})"
               for r in rows for m in [r.plan, *r.baselines.values()] if m.violations]
    parts = []
    if bad:
        parts.append("advisor failed on " + "; ".join(bad))
    if invalid:
        parts.append("plans breaking a hard rule: " + "; ".join(invalid))
    return ("- " + ". ".join(parts)) if parts else "- every plan (advisor and baselines) obeys " \
        "the hard rules (bench.checks); the advisor returned a plan on every instance"


def _max_wall(rows: list[Row]) -> str:
    wall = max((r.advisor.wall for r in rows), default=0.0)
    solver = max((r.advisor.solver_wall or 0.0 for r in rows), default=0.0)
    return f"{wall:.2f} s (parse + advise; the solver's own wallTimeSeconds at most {solver:.2f} s)"


def summary_vbp(rows: list[Row]) -> list[str]:
    known = [r for r in rows if r.opt is not None]
    at_opt = [r for r in known if r.plan.valid and r.plan.unplaced == 0 and r.plan.nodes == r.opt]
    above = [r for r in rows if r.best_overall is not None and not (
        r.plan.valid and r.plan.unplaced == 0 and r.plan.nodes is not None
        and r.plan.nodes <= r.best_overall)]
    share = 100 * len(at_opt) / len(known) if known else 0.0
    wall = max((r.advisor.wall for r in rows), default=0.0)
    base = []
    for name in BASELINES:
        n = sum(1 for r in known if r.baselines[name].valid and r.baselines[name].nodes == r.opt)
        base.append(f"{BASELINE_TITLES[name]} {n}")
    return [
        f"- VBP: advisor at OPT on {len(at_opt)} of {len(known)} instances ({share:.0f} %; "
        f"target ≥ 90 %): {_yes(share >= 90)}. At OPT by the baselines: {', '.join(base)}.",
        f"- VBP: advisor worse than the paper's best heuristic (best_overall) on {len(above)} "
        f"(target 0): {_yes(not above)}"
        + (f" ({', '.join(f'{r.instance} {_nodes(r.plan)} > {r.best_overall}' for r in above)})"
           if above else ""),
        f"- VBP: slowest {_max_wall(rows)} (target ≤ 10 s): {_yes(wall <= 10)}",
        _failures(rows),
    ]


def summary_vbp_gen(rows: list[Row]) -> list[str]:
    """No published optimum: against the advisor's own lower bound (nodesLowerBound) and FFD."""
    ok = [r for r in rows if r.plan.valid and r.plan.unplaced == 0 and r.plan.nodes]
    at_lb = [r for r in ok if r.plan.nodes == r.advisor.solver_lower_bound]
    total = sum(r.plan.nodes or 0 for r in ok)
    lower = sum(r.advisor.solver_lower_bound or 0 for r in ok)
    ffd = sum(r.baselines["ffd"].nodes or 0 for r in ok)
    wall = max((r.advisor.wall for r in rows), default=0.0)
    return [
        f"- VBP generated: {len(ok)} of {len(rows)} plans place every replica; at the lower "
        f"bound (proven optimal): {len(at_lb)}; nodes over all of them: advisor {total}, "
        f"lower bound {lower}, FFD {ffd}",
        f"- VBP generated: slowest {_max_wall(rows)} (target ≤ 10 s): {_yes(wall <= 10)}",
        _failures(rows),
    ]


def summary_openb(rows: list[Row]) -> list[str]:
    out = []
    for r in rows:
        p, b = r.plan, r.baselines
        methods = [("advisor", p), *((BASELINE_TITLES[n], b[n]) for n in BASELINES)]
        placed = "—" if p.unplaced is None else f"{p.placed} of {r.replicas}"
        out.append(f"- openb: advisor placed {placed} pods; all placed: "
                   f"{_yes(p.valid and p.unplaced == 0)}")
        out.append("- openb: nodes used / unplaced / stranded GPU (GPUs) / device-infeasible "
                   "nodes: " + "; ".join(
                       f"{name} {_nodes(m)} / {_unplaced(m)} / {_stranded(m)} / "
                       f"{'—' if m.gpu is None else m.gpu.device_infeasible_nodes}"
                       for name, m in methods))
        peak = r.advisor.peak_mib
        out.append(f"- openb: wall {r.advisor.wall:.2f} s (target ≤ 60 s): "
                   f"{_yes(r.advisor.outcome == 'ok' and r.advisor.wall <= 60)}; peak memory "
                   f"{'—' if peak is None else f'{peak:.0f} MiB'} (target ≤ 2 GiB): "
                   f"{_yes(peak is not None and peak <= 2048)}")
    out.append(_failures(rows))
    return out


def summary_synthetic(rows: list[Row]) -> list[str]:
    out = []
    for r in rows:
        p = r.plan
        ratio = (p.nodes / r.lower_bound) if p.valid and p.nodes and r.lower_bound else None
        ok_wall = r.advisor.outcome == "ok" and r.advisor.wall <= 30
        ok_nodes = ratio is not None and ratio <= 1.02 and p.unplaced == 0
        target = " (targets for 10k: wall ≤ 30 s, nodes ≤ 1.02 x LB)" \
            if r.instance == "synthetic-10k" else ""
        out.append(f"- {r.instance}: wall {r.advisor.wall:.2f} s: {_yes(ok_wall)}; nodes "
                   f"{_nodes(p)} vs lower bound {r.lower_bound} = "
                   f"{'—' if ratio is None else f'{ratio:.3f}'} x LB: {_yes(ok_nodes)}; "
                   f"peak {r.advisor.peak_mib or 0:.0f} MiB{target}")
    out.append(_failures(rows))
    return out


def summary_core(rows: list[Row]) -> list[str]:
    ok = [r for r in rows if r.advisor.outcome == "ok" and r.advisor.gap is not None
          and r.advisor.gap <= 0.01 and r.advisor.wall <= 10 and r.plan.valid]
    gaps = ", ".join(f"{r.instance.removeprefix('core-')} {_gap(r.advisor.gap)}" for r in rows)
    return [f"- core: gap ≤ 1 % within 10 s on {len(ok)} of {len(rows)} seeds: "
            f"{_yes(len(ok) == len(rows))} (gaps {gaps}); slowest {_max_wall(rows)}",
            _failures(rows)]


SUMMARIES: dict[str, Callable[[list[Row]], list[str]]] = {
    "vbp": summary_vbp, "vbp-gen": summary_vbp_gen, "openb": summary_openb,
    "synthetic": summary_synthetic,
    "core": summary_core,
}


def progress_line(r: Row) -> str:
    b = r.baselines
    adv = r.advisor
    what = (f"{adv.status}, gap {_gap(adv.gap)}" if adv.outcome == "ok"
            else f"{adv.outcome.upper()} ({adv.message})")
    return (f"{r.suite} {r.instance}: {r.replicas} replicas: advisor {_nodes(r.plan)} nodes "
            f"({what}; {adv.wall:.2f} s, over limit {_over(r)} s, {adv.peak_mib or 0:.0f} MiB), "
            f"ref {_reference(r)}, "
            f"FFD {_nodes(b['ffd'])}, kube LA {_nodes(b['kube-least'])}, "
            f"kube MA {_nodes(b['kube-most'])}"
            + (f"; unplaced {_unplaced(r.plan)}" if r.plan.unplaced else ""))


def _method_from_json(d: dict[str, Any]) -> MethodResult:
    gpu = d.get("gpu")
    return MethodResult(**{**d, "gpu": GpuReport(**gpu) if gpu else None})


def rows_from_json(payload: dict[str, Any]) -> dict[str, list[Row]]:
    """The rows of a `--json` report, to print its tables again (`render`)."""
    out: dict[str, list[Row]] = {}
    for suite, body in payload["suites"].items():
        out[suite] = [Row(**{**r, "advisor": AdvisorRun(**r["advisor"]),
                             "plan": _method_from_json(r["plan"]),
                             "baselines": {k: _method_from_json(v)
                                           for k, v in r["baselines"].items()}})
                      for r in body["rows"]]
    return out


def render(results: dict[str, list[Row]]) -> str:
    parts = []
    for suite, rows in results.items():
        if rows:
            limit = rows[0].time_limit
            parts += [f"## {TITLES[suite]} (time limit {limit:g} s)", "",
                      markdown_table(rows), "", "\n".join(summary(suite, rows)), ""]
    return "\n".join(parts)


def solver_revision() -> str:
    """The commit of the code under test, `+dirty` when advisor/ or models/ differ from it."""
    root = Path(__file__).resolve().parents[1]
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=root, check=True,
                              capture_output=True, text=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "advisor", "models"], cwd=root,
                               check=True, capture_output=True, text=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return head + ("+dirty" if dirty else "")


def report(results: dict[str, list[Row]], argv: list[str], revisions: tuple[str, str]
           ) -> dict[str, Any]:
    return {
        "benchmark": "scale",
        "command": " ".join(["python", "-m", "bench", *argv]),
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "revision": {"start": revisions[0], "end": revisions[1]},
        "machine": machine(),
        "suites": {suite: {"summary": summary(suite, rows),
                           "rows": [asdict(r) for r in rows]}
                   for suite, rows in results.items()},
    }


def main(suite: str, time_limit: float | None, pattern: str, workers: int | None,
         json_path: Path | None, argv: list[str], log: Callable[[str], None]) -> int:
    suites = list(SUITES) if suite == "all" else [suite]
    start = solver_revision()
    log(f"code under test: {start}")
    results: dict[str, list[Row]] = {}
    for name in suites:
        limit = time_limit if time_limit is not None else DEFAULT_TIME_LIMITS[name]
        rows = run_suite(name, limit, pattern, workers, log)
        results[name] = rows
        if not rows:
            log(f"{name}: no instance matches {pattern!r}")
            continue
        print(render({name: rows}), flush=True)
    end = solver_revision()
    if end != start:
        log(f"warning: the code under test changed during the run ({start} -> {end})")
    if json_path is not None:
        json_path.parent.mkdir(parents=True, exist_ok=True)
        json_path.write_text(json.dumps(report(results, argv, (start, end)), indent=2) + "\n",
                             encoding="utf-8")
        log(f"wrote {json_path}")
    return 0 if any(results.values()) else 2


# --- the fixed-node-count search alone (`--engine cns`) ----------------------------------------
#
# Until the solve pipeline runs it, this measures advisor/cns.py on its own: per instance, the
# advisor's first packing plan (`advisor.packing.initial_plan`, a share of the time limit), then
# `cns.improve` until the time limit (less a small margin), in this process, one instance after
# another. Plans are checked by bench.checks like the advisor's.

CNS_SUITES = ("vbp", "vbp-gen")
# Kept back from the time limit for building and checking the plan.
CNS_MARGIN = 0.2


@dataclass
class CnsRow:
    instance: str
    replicas: int
    time_limit: float
    opt: int | None
    best_overall: int | None
    paper_lb: int | None
    ffd: int | None  # bench.baselines' first fit decreasing, for reference
    first_nodes: int
    nodes: int  # after the search: the first plan's count when it found nothing better
    lower_bound: int  # advisor.bounds.lower_bound
    bound_name: str
    size_order_bound: int  # volume, spread and the size-order clique: the bound without DFF
    first_seconds: float  # parse, prepare, bound and first plan
    wall: float  # all of it, the search included
    violations: list[str] = field(default_factory=list)
    advisor: int | None = None  # `advise` on the same problem (--compare-advisor), when valid
    advisor_wall: float | None = None

    @property
    def at_opt(self) -> bool:
        return self.opt is not None and not self.violations and self.nodes == self.opt


def _cns_instances(suite: str, time_limit: float, pattern: str) -> list[Instance]:
    from bench.data import generated_vbp_instances, vbp_instances  # noqa: PLC0415

    if suite == "vbp":
        return vbp_instances(time_limit, pattern)
    return generated_vbp_instances(time_limit, pattern)


def cns_instance(inst: Instance, time_limit: float, seed: int, packing_share: float,
                 compare: bool = False) -> CnsRow:
    """The first packing plan, then the search until the time limit, on one instance; with
    `compare`, also the whole advisor (`advise`) on the same problem, for reference."""
    # Imported here, as in the child: the rest of this module never loads the solver.
    from advisor import bounds, cns  # noqa: PLC0415
    from advisor.layout import (  # noqa: PLC0415
        view_from_assignment,
        wire_nodes,
        wire_placements,
        wire_pods,
    )
    from advisor.packing import initial_plan  # noqa: PLC0415
    from advisor.prepare import prepare  # noqa: PLC0415

    started = time.monotonic()
    problem = parse_problem(inst.data)
    prepared = prepare(problem)
    lower, name = bounds.lower_bound(prepared)
    first = initial_plan(prepared, lower, time_limit * packing_share)
    first_done = time.monotonic()
    better = cns.improve(prepared, first, started + time_limit - CNS_MARGIN, seed=seed)
    chosen = better or first
    view = view_from_assignment(prepared, chosen, "not placed")
    plan = Plan(status="heuristic", pods=wire_pods(prepared, view),
                placements=wire_placements(prepared, view), nodes=wire_nodes(prepared, view))
    wall = time.monotonic() - started
    size_order = max(bounds.volume_bound(prepared)[0], bounds.size_order_clique(prepared))
    ffd = ffd_autoscaler(problem)
    row = CnsRow(instance=inst.name, replicas=inst.replicas, time_limit=time_limit,
                  opt=inst.opt, best_overall=inst.best_overall, paper_lb=inst.lower_bound,
                  ffd=ffd.nodes_used if ffd.unplaced == 0 else None,
                  first_nodes=len(first.used_nodes()), nodes=len({p.node for p in plan.placements}),
                  lower_bound=lower, bound_name=name, size_order_bound=size_order,
                  first_seconds=round(first_done - started, 3), wall=round(wall, 3),
                  violations=plan_violations(problem, plan)
                  + ([f"{len(plan.unplaced)} replicas unplaced"] if plan.unplaced else []))
    if compare:
        from advisor.solve import advise  # noqa: PLC0415

        began = time.monotonic()
        advised = advise(parse_problem(inst.data))
        row.advisor_wall = round(time.monotonic() - began, 3)
        if not advised.unplaced and not plan_violations(problem, advised):
            row.advisor = len({p.node for p in advised.placements})
    return row


def cns_table(rows: list[CnsRow]) -> str:
    compared = any(r.advisor_wall is not None for r in rows)
    lines = ["| instance | replicas | FFD | " + ("advisor | " if compared else "")
             + "first plan | after search | OPT | best_overall | LB | LB decided by | paper LB | "
             "first s | wall s |",
             "|---|---:|---:|" + ("---:|" if compared else "") + "---:|---:|---:|---:|---:|---|"
             "---:|---:|---:|"]
    for r in rows:
        advisor = (("—" if r.advisor is None else str(r.advisor)) + " | ") if compared else ""
        nodes = f"INVALID ({len(r.violations)})" if r.violations else str(r.nodes)
        if r.at_opt and r.first_nodes > r.nodes:
            nodes = f"**{nodes}**"
        lines.append(
            f"| {r.instance} | {r.replicas} | {'—' if r.ffd is None else r.ffd} | {advisor}"
            f"{r.first_nodes} | {nodes} | "
            f"{'—' if r.opt is None else r.opt} | "
            f"{'—' if r.best_overall is None else r.best_overall} | {r.lower_bound} | "
            f"{r.bound_name} | {'—' if r.paper_lb is None else r.paper_lb} | "
            f"{r.first_seconds:.2f} | {r.wall:.2f} |")
    return "\n".join(lines)


def cns_summary(rows: list[CnsRow]) -> list[str]:
    known = [r for r in rows if r.opt is not None]
    at_opt = [r for r in known if r.at_opt]
    first_opt = [r for r in known if r.first_nodes == r.opt]
    above = [r for r in rows if r.best_overall is not None
             and (r.violations or r.nodes > r.best_overall)]
    at_lb = [r for r in rows if not r.violations and r.nodes == r.lower_bound]
    over_opt = [r for r in known if r.lower_bound > (r.opt or 0)]
    rose = [r for r in rows if r.lower_bound > r.size_order_bound]
    fell = [r for r in rows if r.lower_bound < r.size_order_bound]
    paper = [r for r in rows if r.paper_lb is not None and r.lower_bound >= r.paper_lb]
    wall = max((r.wall for r in rows), default=0.0)
    out = []
    if known:
        ffd_opt = sum(1 for r in known if r.ffd == r.opt)
        out.append(f"- at OPT: {len(at_opt)} of {len(known)} (the first plan alone: "
                   f"{len(first_opt)}, FFD: {ffd_opt})")
    if any(r.best_overall is not None for r in rows):
        out.append(f"- above best_overall: {len(above)}"
                   + "".join(f"; {r.instance} " + ("invalid plan" if r.violations
                                                  else f"{r.nodes} > {r.best_overall}")
                             for r in above))
    out += [
        f"- fewer nodes than the first plan: {sum(r.nodes < r.first_nodes for r in rows)} of "
        f"{len(rows)}; at the lower bound (proven optimal): {len(at_lb)}",
        f"- slowest: {wall:.2f} s (limit {rows[0].time_limit:g} s)" if rows else "- no rows",
        (f"- lower bound above OPT: {len(over_opt)}; " if known else "- lower bound: ")
        + f"above volume + size-order clique: {len(rose)}, below it: {len(fell)}"
        + (f"; at or above the paper's LB: {len(paper)} of "
           f"{sum(r.paper_lb is not None for r in rows)}" if paper else ""),
    ]
    compared = [r for r in rows if r.advisor is not None and not r.violations]
    if compared:
        out.append(f"- against the whole advisor (advise, same time limit): fewer nodes on "
                   f"{sum(r.nodes < (r.advisor or 0) for r in compared)}, as many on "
                   f"{sum(r.nodes == r.advisor for r in compared)}, more on "
                   f"{sum(r.nodes > (r.advisor or 0) for r in compared)} of {len(compared)}")
    bad = [f"{r.instance}: {r.violations[0]}" for r in rows if r.violations]
    out.append("- plans breaking a hard rule: " + ("; ".join(bad) if bad else "none"))
    return out


def main_cns(argv: list[str]) -> int:
    import argparse  # noqa: PLC0415

    parser = argparse.ArgumentParser(
        prog="python -m bench.scale --engine cns",
        description="advisor/cns.py alone: the first packing plan, then the fixed-node-count "
                    "search until the time limit, per instance")
    parser.add_argument("--engine", choices=("cns",), required=True)
    parser.add_argument("--suite", choices=CNS_SUITES, default="vbp",
                        help="vbp: the 48 published Panigrahy instances; vbp-gen: classes 1-9 "
                             "at 120 and 250 items, two seeds, drawn here (default vbp)")
    parser.add_argument("--instances", default="*", metavar="GLOB")
    parser.add_argument("--time-limit", type=float, default=10.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--packing-share", type=float, default=0.15,
                        help="share of the time limit for the first plan (default 0.15)")
    parser.add_argument("--compare-advisor", action="store_true",
                        help="also run the whole advisor (advise) on every instance, for reference")
    parser.add_argument("--json", type=Path, default=None, metavar="PATH")
    args = parser.parse_args(argv)
    rows = []
    for inst in _cns_instances(args.suite, args.time_limit, args.instances):
        row = cns_instance(inst, args.time_limit, args.seed, args.packing_share,
                           args.compare_advisor)
        print(f"{row.instance}: first {row.first_nodes}, after search {row.nodes}, OPT "
              f"{row.opt}, LB {row.lower_bound} ({row.bound_name}), {row.wall:.2f} s",
              file=sys.stderr, flush=True)
        rows.append(row)
    print(f"## cns on {args.suite} (time limit {args.time_limit:g} s, seed {args.seed})\n")
    print(cns_table(rows) + "\n\n" + "\n".join(cns_summary(rows)), flush=True)
    if args.json is not None:
        args.json.write_text(json.dumps({
            "benchmark": "scale --engine cns", "command": " ".join(["python", "-m", "bench.scale",
                                                                     *argv]),
            "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "revision": solver_revision(), "machine": machine(),
            "summary": cns_summary(rows), "rows": [asdict(r) for r in rows]}, indent=2) + "\n",
            encoding="utf-8")
    return 0 if rows else 2


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--render":  # print a --json report's tables
        print(render(rows_from_json(json.loads(Path(sys.argv[2]).read_text(encoding="utf-8")))))
        sys.exit(0)
    if len(sys.argv) >= 2 and sys.argv[1].startswith("--engine"):
        sys.exit(main_cns(sys.argv[1:]))
    if len(sys.argv) >= 5 and sys.argv[1] == "--child":
        workers_arg = int(sys.argv[6]) if len(sys.argv) >= 7 and sys.argv[5] == "--workers" \
            else None
        sys.exit(child_main(sys.argv[2], sys.argv[3], float(sys.argv[4]), workers_arg))
    sys.exit("usage: python -m bench scale (this module's own entry point is for its children)")
