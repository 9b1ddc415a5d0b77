"""What every job store backend stores and answers: the record, its statuses, the errors,
and the interface the job manager and the routes use."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

JobKind = Literal["advise", "review"]
JobStatus = Literal["queued", "running", "done", "stopped", "cancelled", "failed", "interrupted"]
FINISHED: tuple[JobStatus, ...] = ("done", "stopped", "cancelled", "failed", "interrupted")


class StoreError(Exception):
    """The job store cannot be opened or written."""


@dataclass(frozen=True)
class JobRecord:
    id: str
    kind: JobKind
    status: JobStatus
    created_at: float
    started_at: float | None
    finished_at: float | None
    attempts: int
    stop_requested: bool
    time_limit: float
    problem: dict[str, Any]
    notes: list[str]
    progress: dict[str, Any] | None
    best: dict[str, Any] | None
    result: dict[str, Any] | None
    error: dict[str, Any] | None


@dataclass(frozen=True)
class Beat:
    """A heartbeat's answer about the jobs this server runs: those a stop was asked for, and
    those whose lease another server took over (their runs must not record an end)."""

    stop: frozenset[str] = field(default_factory=frozenset)
    lost: frozenset[str] = field(default_factory=frozenset)


def load(text: str | None) -> Any:
    return None if text is None else json.loads(text)


def dump(value: Any) -> str | None:
    return None if value is None else json.dumps(value)


class Row(Protocol):
    """A row by column name: sqlite3.Row or psycopg's dict row."""

    def __getitem__(self, key: str, /) -> Any: ...


def record(row: Row) -> JobRecord:
    return JobRecord(
        id=row["id"], kind=row["kind"], status=row["status"], created_at=row["created_at"],
        started_at=row["started_at"], finished_at=row["finished_at"], attempts=row["attempts"],
        stop_requested=bool(row["stop_requested"]), time_limit=row["time_limit"],
        problem=json.loads(row["problem"]), notes=json.loads(row["notes"]),
        progress=load(row["progress"]), best=load(row["best"]), result=load(row["result"]),
        error=load(row["error"]),
    )


def after_crash(attempts: int, stop_requested: bool, best: str | None, max_attempts: int
                ) -> tuple[JobStatus, str | None]:
    """What a job whose run died becomes: queued again while it has attempts left and no stop
    was asked, else `stopped` or `interrupted` with its last best plan marked as cut short."""
    if not stop_requested and attempts < max_attempts:
        return "queued", best  # the next run reports its own progress; the best plan stays
    status: JobStatus = "stopped" if stop_requested else "interrupted"
    plan = load(best)
    if plan is not None:
        plan["solver"]["interrupted"] = True
        plan["solver"]["message"] = (
            f"the server stopped during run {attempts}: the best plan saved before that; "
            "the solve did not finish")
    return status, dump(plan)


class Store(Protocol):
    """A job store. Writes commit before they return: a job that got its 202 is stored."""

    def close(self) -> None: ...

    def describe(self) -> str:
        """Where the jobs live, without credentials (for the start-up line)."""
        ...

    def ping(self, write: bool = False) -> None: ...

    def add(self, job_id: str, kind: JobKind, problem: dict[str, Any], time_limit: float,
            notes: list[str]) -> None: ...

    def get(self, job_id: str) -> JobRecord | None: ...

    def page(self, limit: int, offset: int, statuses: list[JobStatus], kind: JobKind | None
             ) -> tuple[list[JobRecord], int]: ...

    def count(self, status: JobStatus) -> int: ...

    def claim_next(self) -> JobRecord | None: ...

    def save_progress(self, job_id: str, progress: dict[str, Any] | None,
                      best: dict[str, Any] | None) -> None: ...

    def finish(self, job_id: str, status: JobStatus, result: dict[str, Any] | None,
               error: dict[str, Any] | None = None) -> bool:
        """The run's end; False when this server no longer holds the job (not recorded)."""
        ...

    def requeue(self, job_id: str) -> None: ...

    def request_stop(self, job_id: str) -> None: ...

    def recover(self, max_attempts: int) -> dict[str, JobStatus]:
        """At start: the jobs left running by a server that is gone. id -> new status."""
        ...

    def reclaim(self, max_attempts: int) -> dict[str, JobStatus]:
        """While serving: the jobs of another server whose lease ran out."""
        ...

    def heartbeat(self, job_ids: list[str]) -> Beat:
        """Renew the leases of the jobs this server runs and read their stop flags."""
        ...

    def purge(self, finished_before: float) -> int: ...
