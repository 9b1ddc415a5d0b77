"""`python -m bench batch`: `podlayout batch` over many core-sized problems.

Three measures, each from whole `podlayout batch` processes (what a user runs):
- `--jobs 1` against `--jobs 2`: the wall time of the same inputs, and the ratio;
- resuming: a batch killed (SIGKILL, as a lost node) once half its inputs are recorded,
  then the same batch with `--resume`: the second run's time against a full run's, and how
  many inputs it solved again;
- shards: N local `--shard I/N` processes into one directory, then `batch merge`: every
  input solved exactly once, and the merged summary against the one-process run's.

The solves stop at their time limit, and what CP-SAT finds by then depends on the machine's
load (whether it beats the heuristic plan in time: `heuristic` or `feasible`): the summaries
are compared on what does not (the inputs, each one's output name and exit code), and their
statuses and scores shown side by side.
"""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.generators import generate_problem

Log = Callable[[str], None]
STABLE = ("inputs", "byExitCode", "exitCode")


@dataclass(frozen=True)
class BatchConfig:
    inputs: int
    time_limit: float
    shards: int
    containers: int = 100
    nodes: int = 20


def _podlayout() -> list[str]:
    script = Path(sys.executable).with_name("podlayout")
    return [str(script)] if script.is_file() else [sys.executable, "-m", "advisor.cli"]


def write_inputs(folder: Path, config: BatchConfig) -> list[str]:
    """Core-benchmark problems (as `python -m bench core` makes them), one per seed."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for seed in range(config.inputs):
        data = generate_problem(seed, config.containers, config.nodes,
                                time_limit_seconds=config.time_limit)
        path = folder / f"core-{seed:03d}.json"
        path.write_text(json.dumps(data), encoding="utf-8")
        paths.append(str(path))
    return paths


def timed_batch(args: list[str]) -> tuple[float, subprocess.CompletedProcess[str]]:
    started = time.perf_counter()
    done = subprocess.run([*_podlayout(), "batch", *args], capture_output=True, text=True,
                          check=False)
    return time.perf_counter() - started, done


def _redone(stdout: str) -> int:
    return sum(1 for line in stdout.splitlines() if not json.loads(line).get("resumed"))


def killed_half_way(inputs: list[str], out: Path, log: Log) -> float:
    """Start the batch, SIGKILL it once half the inputs have records; seconds it ran."""
    started = time.perf_counter()
    proc = subprocess.Popen([*_podlayout(), "batch", *inputs, "-o", str(out), "-j", "2"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    while proc.poll() is None and len(list((out / "records").glob("*.json"))) < len(inputs) // 2:
        time.sleep(0.2)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    log(f"killed after {time.perf_counter() - started:.1f} s with "
        f"{len(list((out / 'records').glob('*.json')))} inputs recorded")
    return time.perf_counter() - started


def run_shards(inputs: list[str], out: Path, count: int) -> tuple[float, list[str]]:
    """`count` shard processes at once into one directory; wall time and the files each
    printed a line for (all shards together)."""
    started = time.perf_counter()
    procs = [subprocess.Popen([*_podlayout(), "batch", *inputs, "--shard", f"{k}/{count}",
                               "-o", str(out), "-j", "1"],
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
             for k in range(count)]
    files = [json.loads(line)["file"] for p in procs
             for line in p.communicate()[0].splitlines()]
    return time.perf_counter() - started, files


def measure(config: BatchConfig, work: Path, log: Log) -> dict[str, Any]:
    inputs = write_inputs(work / "inputs", config)
    log(f"{len(inputs)} inputs in {work / 'inputs'}")
    one, _ = timed_batch([*inputs, "-o", str(work / "jobs1"), "-j", "1"])
    log(f"--jobs 1: {one:.1f} s")
    two, _ = timed_batch([*inputs, "-o", str(work / "jobs2"), "-j", "2"])
    log(f"--jobs 2: {two:.1f} s")
    killed = killed_half_way(inputs, work / "resume", log)
    resumed, again = timed_batch([*inputs, "-o", str(work / "resume"), "-j", "2", "--resume"])
    log(f"--resume: {resumed:.1f} s, {_redone(again.stdout)} inputs solved again")
    sharded, files = run_shards(inputs, work / "shards", config.shards)
    log(f"{config.shards} shards: {sharded:.1f} s")
    merged = json.loads(timed_batch(["merge", str(work / "shards")])[1].stdout)
    single = json.loads((work / "jobs2" / "summary.json").read_text())
    return {"inputs": len(inputs), "timeLimit": config.time_limit, "jobs1": one, "jobs2": two,
            "killedAfter": killed, "resumed": resumed, "redone": _redone(again.stdout),
            "shards": config.shards, "shardedSeconds": sharded,
            "exactlyOnce": sorted(files) == sorted(inputs),
            "mergedStable": _stable(merged) == _stable(single),
            "statusesDiffer": sum(a["status"] != b["status"] for a, b in
                                  zip(merged["files"], single["files"], strict=False)),
            "merged": {k: merged[k] for k in (*STABLE, "byStatus", "nodesUsed", "scores")},
            "single": {k: single[k] for k in (*STABLE, "byStatus", "nodesUsed", "scores")}}


def _stable(summary: dict[str, Any]) -> list[Any]:
    """What a summary says whatever the machine's speed."""
    return [*(summary[k] for k in STABLE),
            [(f["file"], f["output"], f["exitCode"]) for f in summary["files"]]]


def markdown(r: dict[str, Any]) -> str:
    def scores(s: dict[str, Any]) -> str:
        statuses = ", ".join(f"{n} {k}" for k, n in s["byStatus"].items())
        return (f"{statuses}; {s['nodesUsed']} nodes, waste {s['scores']['waste']}, "
                f"SPOF {s['scores']['spof']}")

    rows = [
        "| measure | value |", "|---|---|",
        f"| inputs (core size, time limit) | {r['inputs']} ({r['timeLimit']:g} s) |",
        f"| `--jobs 1` wall s | {r['jobs1']:.1f} |",
        f"| `--jobs 2` wall s | {r['jobs2']:.1f} |",
        f"| `--jobs 1` / `--jobs 2` | {r['jobs1'] / r['jobs2']:.2f} |",
        f"| killed half-way after s (`--jobs 2`) | {r['killedAfter']:.1f} |",
        f"| `--resume` wall s / inputs solved again | {r['resumed']:.1f} / {r['redone']} |",
        f"| `--resume` / full `--jobs 2` run | {r['resumed'] / r['jobs2']:.2f} |",
        f"| {r['shards']} local shards (`-j 1` each) wall s | {r['shardedSeconds']:.1f} |",
        f"| every input solved exactly once | {'yes' if r['exactlyOnce'] else 'NO'} |",
        f"| merged summary = one process's (inputs, names, exit codes) | "
        f"{'yes' if r['mergedStable'] else 'NO'} |",
        f"| inputs whose status differs (time-limited solves) | {r['statusesDiffer']} |",
        f"| merged / one process | {scores(r['merged'])} / {scores(r['single'])} |",
    ]
    return "\n".join(rows)


def main(config: BatchConfig, keep: Path | None, json_path: Path | None, log: Log) -> int:
    work = Path(tempfile.mkdtemp(prefix="podlayout-bench-batch-")) if keep is None else keep
    try:
        result = measure(config, work, log)
    finally:
        if keep is None:
            shutil.rmtree(work, ignore_errors=True)
    print("## Batch: `podlayout batch` over core-sized problems\n")
    print(markdown(result))
    if json_path is not None:
        json_path.parent.mkdir(parents=True, exist_ok=True)
        json_path.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
        log(f"wrote {json_path}")
    return 0 if result["exactlyOnce"] and result["mergedStable"] else 1
