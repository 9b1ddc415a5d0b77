"""Ctrl-C stops the search and still prints the best plan so far (exit 130)."""

from __future__ import annotations

import json
import random
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any


def hard_problem() -> dict[str, Any]:
    """Heterogeneous nodes and many shapes: CP-SAT does not close the gap in seconds."""
    rng = random.Random(1)
    containers: list[dict[str, Any]] = [
        {"name": f"s{i}", "ports": [8080], "replicas": rng.randint(1, 4),
         "requests": {"cpu": f"{rng.randint(100, 1500)}m", "memory": f"{rng.randint(128, 3000)}Mi"}}
        for i in range(200)
    ]
    sizes = [rng.choice([8, 12, 16]) for _ in range(50)]
    nodes = [{"name": f"n{i}", "allocatable": {"cpu": str(c), "memory": f"{c * 4}Gi"},
              "zone": f"z{i % 3}"} for i, c in enumerate(sizes)]
    nodes += [{"name": f"m{i}", "allocatable": {"cpu": "6", "memory": "20Gi"}, "zone": f"z{i % 3}"}
              for i in range(25)]
    return {"containers": containers, "nodes": nodes, "policy": {"timeLimitSeconds": 60}}


def test_sigint_prints_best_plan_and_exits_130(tmp_path: Path) -> None:
    path = tmp_path / "hard.json"
    path.write_text(json.dumps(hard_problem()))
    proc = subprocess.Popen(
        [sys.executable, "-m", "advisor.cli", "advise", str(path)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    time.sleep(5)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    plan = json.loads(out)
    assert plan["solver"]["interrupted"] is True
    assert plan["status"] in ("feasible", "heuristic")
    assert plan["solver"]["wallTimeSeconds"] < 30
    assert "Traceback" not in err
