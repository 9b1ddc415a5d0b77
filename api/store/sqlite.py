"""Job records in SQLite (WAL): the one place a job lives, so a server restart loses none.

Every write commits before the caller answers: a job that got its 202 is on disk. One
connection, guarded by a lock, serves every thread; SQLite serialises writers anyway.
"""

from __future__ import annotations

import fcntl
import json
import os
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

from api.store.records import (
    FINISHED,
    Beat,
    JobKind,
    JobRecord,
    JobStatus,
    StoreError,
    after_crash,
    record,
)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    seq            INTEGER PRIMARY KEY AUTOINCREMENT,
    id             TEXT NOT NULL UNIQUE,
    kind           TEXT NOT NULL,
    status         TEXT NOT NULL,
    created_at     REAL NOT NULL,
    started_at     REAL,
    finished_at    REAL,
    attempts       INTEGER NOT NULL DEFAULT 0,
    stop_requested INTEGER NOT NULL DEFAULT 0,
    time_limit     REAL NOT NULL,
    problem        TEXT NOT NULL,
    notes          TEXT NOT NULL DEFAULT '[]',
    progress       TEXT,
    best           TEXT,
    result         TEXT,
    error          TEXT
);
CREATE INDEX IF NOT EXISTS jobs_status ON jobs (status, seq);
"""


_SUMMARY = ("seq, id, kind, status, created_at, started_at, finished_at, attempts, "
            "stop_requested, time_limit, '{}' AS problem, notes, NULL AS progress, "
            "NULL AS best, NULL AS result, NULL AS error")


# How long a store call waits for a lock another process or thread holds before the call
# fails (503 with Retry-After): a store that cannot answer in that time is unavailable.
DEFAULT_TIMEOUT_SECONDS = 3.0


def _private_file(path: Path) -> None:
    """Create `path` readable by its owner only (job inputs are the users' data); an
    existing file keeps the mode its owner gave it."""
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))


class _WriteLock:
    """The write connection for one call: the thread lock and SQLite's lock are each waited
    for at most the store's timeout; any error is a StoreError, an open transaction is
    rolled back."""

    def __init__(self, store: JobStore) -> None:
        self.store = store

    def __enter__(self) -> sqlite3.Connection:
        if not self.store._lock.acquire(timeout=self.store.timeout):
            raise StoreError(f"job store busy: no write within {self.store.timeout:g} s")
        return self.store._db

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: object) -> None:
        try:
            if exc is not None:
                self.store._rollback()
        finally:
            self.store._lock.release()
        if isinstance(exc, sqlite3.Error | OSError):
            raise StoreError(f"job store write failed: {exc}") from exc


class JobStore:
    """Writes go through one connection, one at a time; reads each use their thread's own
    connection, so (WAL) they never queue behind a writer waiting for a lock."""

    def __init__(self, path: Path, timeout: float = DEFAULT_TIMEOUT_SECONDS) -> None:
        self.path = path
        self.timeout = timeout
        if sqlite3.sqlite_version_info < (3, 35):  # UPDATE ... RETURNING claims a job
            raise StoreError(f"SQLite {sqlite3.sqlite_version} is too old for the job store; "
                             "3.35 or newer is needed")
        try:
            if not path.parent.exists():
                path.parent.mkdir(mode=0o700, parents=True)
            # One server per store: a second one would take the first one's running jobs for
            # crashed ones and run them twice. The OS drops the lock when the process dies.
            lock_path = path.parent / f"{path.name}.lock"
            _private_file(lock_path)
            self._lock_file = lock_path.open("w")
            try:
                fcntl.flock(self._lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                self._lock_file.close()
                raise StoreError(f"another podlayout server is using the job store {path}; "
                                 "give each server its own file, or share a "
                                 "postgresql:// PODLAYOUT_STORE_URL") from None
            # SQLite gives the -wal and -shm files the database file's mode.
            _private_file(path)
            self._db = self._connect()
            self._db.execute("PRAGMA journal_mode=WAL")
            # FULL: a commit survives a power cut too, not only a killed process.
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.executescript(_SCHEMA)
            # A damaged file is found now, with a message, not by the first job.
            damage = [line for row in self._db.execute("PRAGMA quick_check").fetchall()
                      for line in str(row[0]).splitlines() if not line.startswith("***")]
            if damage != ["ok"]:
                raise sqlite3.DatabaseError(
                    f"the file is damaged ({'; '.join(damage[:2])}); move it aside to start "
                    "with an empty store, or restore it from a backup")
            self._db.execute("SELECT id, status, problem, notes FROM jobs "
                             "WHERE status = 'running'").fetchall()
        except (OSError, sqlite3.Error) as exc:
            if hasattr(self, "_db"):
                self._db.close()
            if hasattr(self, "_lock_file"):
                self._lock_file.close()
            raise StoreError(f"cannot open the job store {path}: {exc}") from exc
        self._lock = threading.Lock()  # the write connection's
        self._local = threading.local()  # each thread's read connection
        self._readers: list[sqlite3.Connection] = []
        self._readers_lock = threading.Lock()

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(str(self.path), check_same_thread=False, isolation_level=None,
                             timeout=self.timeout)
        db.row_factory = sqlite3.Row
        return db

    def _reader(self) -> sqlite3.Connection:
        db: sqlite3.Connection | None = getattr(self._local, "db", None)
        if db is None:
            db = self._connect()
            db.execute("PRAGMA query_only=ON")
            self._local.db = db
            with self._readers_lock:
                self._readers.append(db)
        return db

    def close(self) -> None:
        with self._lock:
            with self._readers_lock:
                for db in self._readers:
                    db.close()
                self._readers.clear()
            self._db.close()
            self._lock_file.close()  # releases the lock

    def _writing(self) -> _WriteLock:
        return _WriteLock(self)

    def _write(self, sql: str, args: tuple[Any, ...] = ()) -> int:
        with self._writing() as db:
            return db.execute(sql, args).rowcount

    def _rows(self, sql: str, args: tuple[Any, ...] = ()) -> list[sqlite3.Row]:
        try:
            return self._reader().execute(sql, args).fetchall()
        except (sqlite3.Error, OSError) as exc:
            raise StoreError(f"job store read failed: {exc}") from exc

    def _rollback(self) -> None:
        try:
            if self._db.in_transaction:
                self._db.execute("ROLLBACK")
        except sqlite3.Error:
            pass  # the connection is unusable; the caller reports the first error

    def describe(self) -> str:
        return str(self.path)

    def ping(self, write: bool = False) -> None:
        """The store answers a read (and, with `write`, could take the write lock) within
        the timeout; StoreError otherwise."""
        try:
            if not self.path.exists():
                raise StoreError(f"the job store {self.path} is gone")
        except OSError as exc:  # e.g. its directory is no longer readable
            raise StoreError(f"the job store {self.path} cannot be reached: {exc}") from exc
        self._rows("SELECT 1 FROM jobs LIMIT 1")
        if write:
            with self._writing() as db:
                db.execute("BEGIN IMMEDIATE")
                db.execute("ROLLBACK")

    def add(self, job_id: str, kind: JobKind, problem: dict[str, Any], time_limit: float,
            notes: list[str]) -> None:
        self._write(
            "INSERT INTO jobs (id, kind, status, created_at, time_limit, problem, notes) "
            "VALUES (?, ?, 'queued', ?, ?, ?, ?)",
            (job_id, kind, time.time(), time_limit, json.dumps(problem), json.dumps(notes)),
        )

    def get(self, job_id: str) -> JobRecord | None:
        rows = self._rows("SELECT * FROM jobs WHERE id = ?", (job_id,))
        return record(rows[0]) if rows else None

    def page(self, limit: int, offset: int, statuses: list[JobStatus], kind: JobKind | None
             ) -> tuple[list[JobRecord], int]:
        clauses: list[str] = []
        args: list[str] = []
        if statuses:
            clauses.append(f"status IN ({','.join('?' * len(statuses))})")
            args += statuses
        if kind is not None:
            clauses.append("kind = ?")
            args.append(kind)
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        # Summaries only: the problem, plans and results can be megabytes each.
        rows = self._rows(f"SELECT {_SUMMARY} FROM jobs {where} ORDER BY seq DESC "
                          "LIMIT ? OFFSET ?", (*args, limit, offset))
        total = self._rows(f"SELECT COUNT(*) AS n FROM jobs {where}", tuple(args))[0]["n"]
        return [record(r) for r in rows], int(total)

    def count(self, status: JobStatus) -> int:
        return int(self._rows("SELECT COUNT(*) AS n FROM jobs WHERE status = ?",
                              (status,))[0]["n"])

    def claim_next(self) -> JobRecord | None:
        """The oldest queued job, now marked running (one statement: no two workers share it)."""
        with self._writing() as db:
            rows = db.execute(
                "UPDATE jobs SET status = 'running', started_at = ?, attempts = attempts + 1 "
                "WHERE seq = (SELECT seq FROM jobs WHERE status = 'queued' ORDER BY seq "
                "LIMIT 1) RETURNING *", (time.time(),)).fetchall()
        return record(rows[0]) if rows else None

    def save_progress(self, job_id: str, progress: dict[str, Any] | None,
                      best: dict[str, Any] | None) -> None:
        self._write(
            "UPDATE jobs SET progress = COALESCE(?, progress), best = COALESCE(?, best) "
            "WHERE id = ? AND status = 'running'",
            (None if progress is None else json.dumps(progress),
             None if best is None else json.dumps(best), job_id))

    def finish(self, job_id: str, status: JobStatus, result: dict[str, Any] | None,
               error: dict[str, Any] | None = None) -> bool:
        """The run's end. With a result, the best plan is the result's (read from it, not
        stored twice)."""
        return self._write(
            "UPDATE jobs SET status = ?, finished_at = ?, result = ?, error = ?, "
            "best = CASE WHEN ? IS NULL THEN best END WHERE id = ?",
            (status, time.time(), None if result is None else json.dumps(result),
             None if error is None else json.dumps(error),
             None if result is None else 1, job_id)) > 0

    def requeue(self, job_id: str) -> None:
        """Back to the queue after a clean shutdown stopped it: that run does not count."""
        self._write("UPDATE jobs SET status = 'queued', started_at = NULL, progress = NULL, "
                    "attempts = MAX(0, attempts - 1) WHERE id = ? AND status = 'running'",
                    (job_id,))

    def request_stop(self, job_id: str) -> None:
        """Mark a stop; a queued job is cancelled at once (it has no plan to keep)."""
        with self._writing() as db:
            db.execute("BEGIN IMMEDIATE")
            db.execute(
                "UPDATE jobs SET status = 'cancelled', finished_at = ?, stop_requested = 1 "
                "WHERE id = ? AND status = 'queued'", (time.time(), job_id))
            db.execute(
                "UPDATE jobs SET stop_requested = 1 WHERE id = ? AND status = 'running'",
                (job_id,))
            db.execute("COMMIT")

    def recover(self, max_attempts: int) -> dict[str, JobStatus]:
        """After a crash: jobs left `running` run again, unless a stop was asked (`stopped`)
        or they already used their attempts (`interrupted`); those two keep their last best
        plan (`best`, marked as cut short) and have no `result`. Returns id -> new status."""
        now = time.time()
        outcome: dict[str, JobStatus] = {}
        with self._writing() as db:
            db.execute("BEGIN IMMEDIATE")
            rows = db.execute(
                "SELECT id, attempts, stop_requested, best FROM jobs "
                "WHERE status = 'running' ORDER BY seq").fetchall()
            for row in rows:
                status, best = after_crash(row["attempts"], bool(row["stop_requested"]),
                                           row["best"], max_attempts)
                if status == "queued":
                    db.execute("UPDATE jobs SET status = 'queued', started_at = NULL, "
                               "progress = NULL WHERE id = ?", (row["id"],))
                else:
                    db.execute(
                        "UPDATE jobs SET status = ?, finished_at = ?, best = ? WHERE id = ?",
                        (status, now, best, row["id"]))
                outcome[row["id"]] = status
            db.execute("COMMIT")
        return outcome

    def reclaim(self, max_attempts: int) -> dict[str, JobStatus]:
        """Nothing to take over: the file lock keeps one server per file."""
        return {}

    def heartbeat(self, job_ids: list[str]) -> Beat:
        """No leases (one server per file); the stop flags of the jobs it runs."""
        if not job_ids:
            return Beat()
        marks = ",".join("?" * len(job_ids))
        rows = self._rows(f"SELECT id FROM jobs WHERE stop_requested = 1 AND id IN ({marks})",
                          tuple(job_ids))
        return Beat(stop=frozenset(row["id"] for row in rows))

    def purge(self, finished_before: float) -> int:
        marks = ",".join("?" * len(FINISHED))
        return self._write(
            f"DELETE FROM jobs WHERE status IN ({marks}) AND finished_at < ?",
            (*FINISHED, finished_before))
