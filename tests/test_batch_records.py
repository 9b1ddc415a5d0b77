"""The batch summary depends on the records only: not on their order, nor on how many
shards or directories wrote them."""

from __future__ import annotations

import random
from pathlib import Path

from advisor.batch.records import Figures, Record, read_records, summarise, write_record


def some_records(count: int) -> list[Record]:
    rng = random.Random(count)
    statuses = [("optimal", 0), ("feasible", 0), ("infeasible", 1), ("invalid", 2),
                ("error", 3), ("interrupted", 130)]
    found = []
    for i in range(count):
        status, code = rng.choice(statuses)
        sides = [Figures(rng.uniform(0, 100), rng.uniform(0, 100), 0.0, 50.0,
                         rng.randrange(1, 9)) for _ in range(rng.choice((0, 1, 2)))]
        found.append(Record(f"in/{i}.yaml", f"n{i}", f"k{i}", code, status,
                            f"n{i}.plan.json", None, sides))
    return found


def test_the_summary_is_the_same_however_the_records_are_split(tmp_path: Path) -> None:
    records = some_records(30)
    whole = summarise(records)
    for k, record in enumerate(records):
        write_record(tmp_path / f"shard-{k % 4}", record)
    parts = [r for k in range(4) for r in read_records(tmp_path / f"shard-{k}")]
    assert summarise(reversed(parts)) == whole
    assert whole["inputs"] == 30
    assert sum(whole["byStatus"].values()) == 30
    planned = [r.sides[-1] for r in records if r.exit_code == 0 and r.sides]
    assert whole["nodesUsed"] == sum(f.nodes_used for f in planned)
    # the worst code wins: interrupted, then bad input, internal error, infeasible
    codes = {r.exit_code for r in records}
    assert whole["exitCode"] == next(c for c in (130, 2, 3, 1, 0) if c in codes)
