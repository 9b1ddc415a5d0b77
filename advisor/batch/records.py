"""The record of one input, written beside its report once it is done, and the summary
built from records.

A record is the batch's memory of an input: the key it was solved under (for `--resume`),
its line, and the figures the summary and the index need, so that a resumed input is
summarised without reading its report again. It is written last, atomically: a report
without a record is not done. Shards sharing a directory each write their own records,
never one file together, and `merge` reads them all.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from advisor.batch.naming import RECORDS_DIR

EXIT_OK, EXIT_INFEASIBLE, EXIT_INPUT, EXIT_INTERNAL, EXIT_INTERRUPTED = 0, 1, 2, 3, 130
# Which exit code wins for the batch: interrupted, then bad input, internal error, infeasible.
_EXIT_RANK = {EXIT_OK: 0, EXIT_INFEASIBLE: 1, EXIT_INTERNAL: 2, EXIT_INPUT: 3,
              EXIT_INTERRUPTED: 4}
# Outcomes `--resume` keeps: the same bytes and options would give them again. A crash
# (3) may have been the machine's, and an interrupted file never finished: both are redone.
FINAL_CODES = frozenset({EXIT_OK, EXIT_INFEASIBLE, EXIT_INPUT})


def worse(a: int, b: int) -> int:
    return max(a, b, key=lambda code: _EXIT_RANK.get(code, 0))


@dataclass(frozen=True)
class Figures:
    """One side of a result (a plan; a review's current or advised layout)."""

    waste: float | None
    spof: float | None
    blast_node: float | None
    blast_zone: float | None
    nodes_used: int


@dataclass
class Record:
    file: str  # the path as given
    name: str  # the stable output stem
    key: str | None
    exit_code: int
    status: str
    output: str | None = None  # the report's file name, beside the records directory
    error: str | None = None
    sides: list[Figures] = field(default_factory=list)  # a review: current, then advised

    @property
    def advised(self) -> Figures | None:
        return self.sides[-1] if self.sides else None

    def to_json(self) -> dict[str, Any]:
        return {"file": self.file, "name": self.name, "key": self.key,
                "exitCode": self.exit_code, "status": self.status, "output": self.output,
                "error": self.error, "sides": [asdict(s) for s in self.sides]}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Record:
        return cls(file=str(data["file"]), name=str(data["name"]), key=data.get("key"),
                   exit_code=int(data["exitCode"]), status=str(data["status"]),
                   output=data.get("output"), error=data.get("error"),
                   sides=[Figures(**s) for s in data.get("sides", [])])


def write_record(output_dir: Path, record: Record) -> None:
    """Atomically: a reader (a resumed run, a shard, `merge`) sees the old record or the new,
    never half of one."""
    folder = output_dir / RECORDS_DIR
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{record.name}.json"
    partial = target.with_suffix(f".tmp-{os.getpid()}")
    partial.write_text(json.dumps(record.to_json(), indent=2) + "\n", encoding="utf-8")
    os.replace(partial, target)


def read_record(path: Path) -> Record | None:
    """None for a missing or unreadable record: the input is simply not done."""
    try:
        return Record.from_json(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def read_records(output_dir: Path) -> list[Record]:
    found = (read_record(p) for p in sorted((output_dir / RECORDS_DIR).glob("*.json")))
    return [r for r in found if r is not None]


def _mean(values: Iterable[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return round(sum(present) / len(present), 3) if present else None


def summarise(records: Iterable[Record]) -> dict[str, Any]:
    """Counts by status and exit code, the nodes the plans use in all, and the mean scores of
    the advised plans (files with exit code 0); the same records give the same summary, in
    whatever order and however many shards wrote them."""
    done = sorted(records, key=lambda r: (r.file, r.name))
    worst = EXIT_OK
    for record in done:
        worst = worse(worst, record.exit_code)
    planned = [r.advised for r in done if r.exit_code == EXIT_OK and r.advised is not None]
    return {
        "inputs": len(done),
        "exitCode": worst,
        "byStatus": dict(sorted(Counter(r.status for r in done).items())),
        "byExitCode": {str(k): v for k, v in sorted(Counter(r.exit_code for r in done).items())},
        "nodesUsed": sum(f.nodes_used for f in planned),
        "scores": {"waste": _mean(f.waste for f in planned),
                   "spof": _mean(f.spof for f in planned),
                   "blastRadiusNode": _mean(f.blast_node for f in planned),
                   "blastRadiusZone": _mean(f.blast_zone for f in planned)},
        "files": [{"file": r.file, "output": r.output, "exitCode": r.exit_code,
                   "status": r.status,
                   "nodesUsed": r.advised.nodes_used if r.advised else None,
                   "waste": r.advised.waste if r.advised else None,
                   "spof": r.advised.spof if r.advised else None} for r in done],
    }


def summary_line(summary: dict[str, Any]) -> str:
    """One line for stderr."""
    counts = ", ".join(f"{n} {status}" for status, n in summary["byStatus"].items())
    scores = summary["scores"]

    def shown(value: float | None) -> str:
        return "-" if value is None else f"{value:.1f}"

    return (f"batch: {summary['inputs']} input{'s' if summary['inputs'] != 1 else ''}"
            f"{': ' + counts if counts else ''}; {summary['nodesUsed']} nodes used; "
            f"mean waste {shown(scores['waste'])}, SPOF {shown(scores['spof'])}; "
            f"exit {summary['exitCode']}")
