"""Ctrl-C stops the search and still prints the best plan so far (exit 130)."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.support import hard_problem


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
