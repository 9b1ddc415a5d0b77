"""Small inputs and a `podlayout batch` runner for the batch tests."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.conftest import ROOT


def batch(args: list[str], env: dict[str, str] | None = None,
          timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "advisor.cli", "batch", *args],
                          capture_output=True, text=True, timeout=timeout, check=False,
                          cwd=ROOT, env=env)


def lines(stdout: str) -> list[dict[str, Any]]:
    return [json.loads(x) for x in stdout.splitlines()]


def small_problem(containers: int, cpu_m: int = 500) -> dict[str, Any]:
    """A problem CP-SAT proves optimal in well under a second, on one worker."""
    return {
        "containers": [{"name": f"c{i}", "requests": {"cpu": f"{cpu_m}m", "memory": "256Mi"}}
                       for i in range(containers)],
        "nodes": [{"name": f"n{i}", "allocatable": {"cpu": "4", "memory": "8Gi"}}
                  for i in range(2)],
        "policy": {"timeLimitSeconds": 2, "workers": 1},
    }


def write_inputs(folder: Path, count: int) -> list[str]:
    """`count` small problems of different sizes (so that shards have something to balance);
    their absolute paths."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(count):
        path = folder / f"p{i}.json"
        path.write_text(json.dumps(small_problem(1 + i % 4, 250 + 50 * i), indent=i % 3))
        paths.append(str(path))
    return paths


def records(output_dir: Path) -> dict[str, dict[str, Any]]:
    """The records in an output directory, by input path."""
    found = [json.loads(p.read_text()) for p in sorted((output_dir / "records").glob("*.json"))]
    return {r["file"]: r for r in found}
