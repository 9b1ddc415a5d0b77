"""The batch's child processes: a solve that does not answer in time is killed and is that
input's internal error; the others still get their answers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from advisor.batch import pool
from advisor.batch.tasks import FileResult, FileTask
from bench.generators import generate_problem
from tests.batch_support import write_inputs


def task(position: int, path: str, output_dir: Path) -> FileTask:
    return FileTask(position=position, path=path, name=f"input-{position}", report="json",
                    output_dir=str(output_dir), time_limit=None, workers=1, share=1,
                    nodes=None, defaults=None, injected=(), memory_limit=None)


def test_a_child_past_its_deadline_is_killed_and_the_batch_goes_on(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    slow = tmp_path / "slow.json"
    # 300 containers on 60 nodes: CP-SAT proves no optimum in 30 s, so the solve runs on
    slow.write_text(json.dumps(generate_problem(2, 300, 60, time_limit_seconds=30)))
    [quick] = write_inputs(tmp_path / "in", 1)
    done: dict[int, FileResult] = {}
    # deadlines of a tenth of the time limit + 5 s: 8 s for the slow input's 30 s solve,
    # 5.2 s for the quick one, which needs well under a second
    monkeypatch.setattr(pool, "TIME_FACTOR", 0.1)
    monkeypatch.setattr(pool, "TIME_MARGIN", 5.0)
    batch = pool.Pool(2, lambda t, r: done.__setitem__(t.position, r))
    interrupted = batch.run([task(0, str(slow), tmp_path), task(1, quick, tmp_path)])
    assert not interrupted
    assert done[0].line["exitCode"] == 3
    assert "killed after" in done[0].line["error"]
    assert done[1].line["exitCode"] == 0, done[1].line
    assert Path(done[1].line["output"]).is_file()
