"""Job records in PostgreSQL, shared by several servers.

A server claims the oldest queued job with `FOR UPDATE SKIP LOCKED` (no two claim one) and
holds it under a lease: its owner id and an expiry the heartbeat pushes forward while the
job runs. A job whose lease ran out belongs to a server that died: any server takes it
over, counting the run that died as an attempt. Every write of a running job names its
owner, so a server that lost its lease cannot record over the one that took the job.
Times of leases are the database's clock, the one clock every server shares.
"""

from __future__ import annotations

import os
import socket
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit

import psycopg
from psycopg.rows import DictRow, dict_row
from psycopg_pool import ConnectionPool, PoolTimeout

from api.store.records import (
    FINISHED,
    Beat,
    JobKind,
    JobRecord,
    JobStatus,
    StoreError,
    after_crash,
    dump,
    record,
)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    seq            BIGSERIAL PRIMARY KEY,
    id             TEXT NOT NULL UNIQUE,
    kind           TEXT NOT NULL,
    status         TEXT NOT NULL,
    created_at     DOUBLE PRECISION NOT NULL,
    started_at     DOUBLE PRECISION,
    finished_at    DOUBLE PRECISION,
    attempts       INTEGER NOT NULL DEFAULT 0,
    stop_requested BOOLEAN NOT NULL DEFAULT FALSE,
    time_limit     DOUBLE PRECISION NOT NULL,
    problem        TEXT NOT NULL,
    notes          TEXT NOT NULL DEFAULT '[]',
    progress       TEXT,
    best           TEXT,
    result         TEXT,
    error          TEXT,
    owner          TEXT,
    lease_until    TIMESTAMPTZ
);
CREATE INDEX IF NOT EXISTS jobs_status ON jobs (status, seq);
CREATE TABLE IF NOT EXISTS job_ends (
    job_id   TEXT NOT NULL,
    owner    TEXT NOT NULL,
    status   TEXT NOT NULL,
    recorded BOOLEAN NOT NULL,
    at       DOUBLE PRECISION NOT NULL
);
CREATE INDEX IF NOT EXISTS job_ends_job ON job_ends (job_id);
"""
# Servers starting together create the schema one at a time (CREATE ... IF NOT EXISTS alone
# can still collide on the catalog); any constant key will do.
_SCHEMA_LOCK = 7_403_118_291

_SUMMARY = ("seq, id, kind, status, created_at, started_at, finished_at, attempts, "
            "stop_requested, time_limit, '{}' AS problem, notes, NULL AS progress, "
            "NULL AS best, NULL AS result, NULL AS error")
_LEASE = "now() + make_interval(secs => %s)"
_MINE = "id = %s AND owner = %s AND status = 'running'"


def redacted(url: str) -> str:
    """The URL without its password (for logs and messages)."""
    parts = urlsplit(url)
    host = parts.hostname or "localhost"
    where = f"{host}:{parts.port}" if parts.port else host
    user = f"{parts.username}@" if parts.username else ""
    return f"{parts.scheme}://{user}{where}{parts.path}"


class PostgresStore:
    def __init__(self, url: str, timeout: float, lease_seconds: float, pool_size: int) -> None:
        self.url = url
        self.timeout = timeout
        self.lease_seconds = lease_seconds
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        # A lock held elsewhere fails the call after the store timeout (503), not forever.
        options: dict[str, Any] = {"connect_timeout": max(1, round(timeout)),
                                   "options": f"-c lock_timeout={round(timeout * 1000)}"}
        try:  # one plain connection first: its error says why (refused, password, database)
            with psycopg.connect(url, **options) as conn:
                conn.execute("SELECT pg_advisory_xact_lock(%s)", (_SCHEMA_LOCK,))
                conn.execute(_SCHEMA)
        except psycopg.Error as exc:
            raise StoreError(f"cannot open the job store {redacted(url)}: "
                             f"{str(exc).strip() or type(exc).__name__}") from exc
        self._pool: ConnectionPool[psycopg.Connection[DictRow]] = ConnectionPool(
            url, min_size=1, max_size=pool_size, timeout=timeout, open=False,
            kwargs={**options, "row_factory": dict_row}, name="podlayout-jobs")
        try:
            self._pool.open(wait=True, timeout=max(timeout, 5.0))
        except PoolTimeout as exc:
            self._pool.close()
            raise StoreError(f"cannot open the job store {redacted(url)}: {exc}") from exc

    @contextmanager
    def _tx(self) -> Iterator[psycopg.Connection[DictRow]]:
        """One transaction on a pooled connection: committed at the end, rolled back on an
        error; any database error is a StoreError."""
        try:
            with self._pool.connection() as conn:
                yield conn
        except PoolTimeout as exc:
            raise StoreError(f"job store busy: no connection within {self.timeout:g} s") from exc
        except psycopg.Error as exc:
            raise StoreError(f"job store call failed: {str(exc).strip()}") from exc

    def _rows(self, sql: str, args: tuple[Any, ...] = ()) -> list[DictRow]:
        with self._tx() as conn:
            return conn.execute(sql, args).fetchall()

    def _write(self, sql: str, args: tuple[Any, ...] = ()) -> int:
        with self._tx() as conn:
            return conn.execute(sql, args).rowcount

    def close(self) -> None:
        self._pool.close()

    def describe(self) -> str:
        return redacted(self.url)

    def ping(self, write: bool = False) -> None:
        with self._tx() as conn:
            conn.execute("SELECT 1 FROM jobs LIMIT 1")
            standby = conn.execute("SELECT pg_is_in_recovery() AS standby").fetchall()
        if write and standby[0]["standby"]:
            raise StoreError("the job store is a read-only standby")

    def add(self, job_id: str, kind: JobKind, problem: dict[str, Any], time_limit: float,
            notes: list[str]) -> None:
        self._write(
            "INSERT INTO jobs (id, kind, status, created_at, time_limit, problem, notes) "
            "VALUES (%s, %s, 'queued', %s, %s, %s, %s)",
            (job_id, kind, time.time(), time_limit, dump(problem), dump(notes)))

    def get(self, job_id: str) -> JobRecord | None:
        rows = self._rows("SELECT * FROM jobs WHERE id = %s", (job_id,))
        return record(rows[0]) if rows else None

    def page(self, limit: int, offset: int, statuses: list[JobStatus], kind: JobKind | None
             ) -> tuple[list[JobRecord], int]:
        clauses: list[str] = []
        args: list[Any] = []
        if statuses:
            clauses.append("status = ANY(%s)")
            args.append(list(statuses))
        if kind is not None:
            clauses.append("kind = %s")
            args.append(kind)
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        with self._tx() as conn:  # one snapshot for the page and its total
            rows = conn.execute(f"SELECT {_SUMMARY} FROM jobs {where} ORDER BY seq DESC "
                                "LIMIT %s OFFSET %s", (*args, limit, offset)).fetchall()
            total = conn.execute(f"SELECT COUNT(*) AS n FROM jobs {where}",
                                 tuple(args)).fetchall()[0]["n"]
        return [record(r) for r in rows], int(total)

    def count(self, status: JobStatus) -> int:
        return int(self._rows("SELECT COUNT(*) AS n FROM jobs WHERE status = %s",
                              (status,))[0]["n"])

    def claim_next(self) -> JobRecord | None:
        """The oldest queued job no other server is claiming, now running under our lease."""
        rows = self._rows(
            "UPDATE jobs SET status = 'running', started_at = %s, attempts = attempts + 1, "
            f"owner = %s, lease_until = {_LEASE} WHERE seq = (SELECT seq FROM jobs "
            "WHERE status = 'queued' ORDER BY seq LIMIT 1 FOR UPDATE SKIP LOCKED) RETURNING *",
            (time.time(), self.owner, self.lease_seconds))
        return record(rows[0]) if rows else None

    def save_progress(self, job_id: str, progress: dict[str, Any] | None,
                      best: dict[str, Any] | None) -> None:
        self._write(
            "UPDATE jobs SET progress = COALESCE(%s::text, progress), "
            f"best = COALESCE(%s::text, best) WHERE {_MINE}",
            (dump(progress), dump(best), job_id, self.owner))

    def finish(self, job_id: str, status: JobStatus, result: dict[str, Any] | None,
               error: dict[str, Any] | None = None) -> bool:
        """The run's end, recorded only while this server holds the job; every end is logged
        in job_ends, recorded or not."""
        now = time.time()
        with self._tx() as conn:
            done = conn.execute(
                "UPDATE jobs SET status = %s, finished_at = %s, result = %s, error = %s, "
                "best = CASE WHEN %s THEN NULL ELSE best END, owner = NULL, "
                f"lease_until = NULL WHERE {_MINE}",
                (status, now, dump(result), dump(error), result is not None, job_id,
                 self.owner)).rowcount > 0
            conn.execute("INSERT INTO job_ends (job_id, owner, status, recorded, at) "
                         "VALUES (%s, %s, %s, %s, %s)", (job_id, self.owner, status, done, now))
        return done

    def requeue(self, job_id: str) -> None:
        """Back to the queue after a clean shutdown stopped it: that run does not count."""
        self._write("UPDATE jobs SET status = 'queued', started_at = NULL, progress = NULL, "
                    "attempts = GREATEST(0, attempts - 1), owner = NULL, lease_until = NULL "
                    f"WHERE {_MINE}", (job_id, self.owner))

    def request_stop(self, job_id: str) -> None:
        """Mark a stop; a queued job is cancelled at once. The server running the job reads
        the flag with its next heartbeat."""
        with self._tx() as conn:
            conn.execute(
                "UPDATE jobs SET status = 'cancelled', finished_at = %s, stop_requested = TRUE "
                "WHERE id = %s AND status = 'queued'", (time.time(), job_id))
            conn.execute("UPDATE jobs SET stop_requested = TRUE "
                         "WHERE id = %s AND status = 'running'", (job_id,))

    def recover(self, max_attempts: int) -> dict[str, JobStatus]:
        """Jobs whose lease ran out: their server died. They run again (the dead run counted
        as an attempt) unless a stop was asked or they used their attempts."""
        now = time.time()
        outcome: dict[str, JobStatus] = {}
        with self._tx() as conn:
            rows = conn.execute(
                "SELECT id, attempts, stop_requested, best FROM jobs WHERE status = 'running' "
                "AND (lease_until IS NULL OR lease_until < now()) ORDER BY seq "
                "FOR UPDATE SKIP LOCKED").fetchall()
            for row in rows:
                status, best = after_crash(row["attempts"], row["stop_requested"], row["best"],
                                           max_attempts)
                again = status == "queued"  # else ended, with its best plan marked
                conn.execute(
                    "UPDATE jobs SET status = %s, best = %s, owner = NULL, lease_until = NULL, "
                    "started_at = CASE WHEN %s THEN NULL ELSE started_at END, "
                    "progress = CASE WHEN %s THEN NULL ELSE progress END, "
                    "finished_at = CASE WHEN %s THEN NULL ELSE %s END WHERE id = %s",
                    (status, best, again, again, again, now, row["id"]))
                outcome[row["id"]] = status
        return outcome

    def reclaim(self, max_attempts: int) -> dict[str, JobStatus]:
        return self.recover(max_attempts)

    def heartbeat(self, job_ids: list[str]) -> Beat:
        if not job_ids:
            return Beat()
        rows = self._rows(
            f"UPDATE jobs SET lease_until = {_LEASE} WHERE id = ANY(%s) AND owner = %s "
            "AND status = 'running' RETURNING id, stop_requested",
            (self.lease_seconds, job_ids, self.owner))
        held = {row["id"] for row in rows}
        return Beat(stop=frozenset(row["id"] for row in rows if row["stop_requested"]),
                    lost=frozenset(set(job_ids) - held))

    def ends(self, job_id: str) -> list[dict[str, Any]]:
        """Every run of the job that reached its end, in order (owner, status, recorded)."""
        return [dict(row) for row in self._rows(
            "SELECT owner, status, recorded, at FROM job_ends WHERE job_id = %s ORDER BY at",
            (job_id,))]

    def purge(self, finished_before: float) -> int:
        with self._tx() as conn:
            gone = [row["id"] for row in conn.execute(
                "DELETE FROM jobs WHERE status = ANY(%s) AND finished_at < %s RETURNING id",
                (list(FINISHED), finished_before)).fetchall()]
            if gone:
                conn.execute("DELETE FROM job_ends WHERE job_id = ANY(%s)", (gone,))
        return len(gone)
