"""Two `podlayout serve` processes on one PostgreSQL store: one is killed (SIGKILL) while it
runs jobs; the other takes them over once their leases run out, and every job ends once."""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path

import httpx
import psycopg

from models import parse_problem
from tests.api_support import long_problem, small_problem
from tests.store_backends import postgres_url
from tests.test_api_restart import server, wait_for
from tests.validator import validate

JOBS = 40
LEASE_SECONDS = "3"  # the heartbeat renews it every second


def kill_mid_run(db: str, proc: subprocess.Popen[bytes]) -> bool:
    """SIGKILL the server if it started a run of a half-second problem less than a fifth of
    a second ago (so it is killed mid-run, not between two runs, nor as a run ends)."""
    with psycopg.connect(db) as conn:
        row = conn.execute("SELECT COUNT(*) FROM jobs WHERE status = 'running' "
                           "AND owner LIKE %s AND started_at > %s AND time_limit < 1",
                           (f"%:{proc.pid}:%", time.time() - 0.2)).fetchone()
    if not row or not row[0]:
        return False
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    return True


def ends_by_job(db: str) -> dict[str, list[tuple[str, bool]]]:
    with psycopg.connect(db) as conn:
        rows = conn.execute("SELECT job_id, owner, recorded FROM job_ends ORDER BY at").fetchall()
    ends: dict[str, list[tuple[str, bool]]] = {}
    for job_id, owner, recorded in rows:
        ends.setdefault(job_id, []).append((owner, recorded))
    return ends


def test_a_killed_replica_s_jobs_end_once_on_the_other(tmp_path: Path) -> None:
    db = postgres_url()
    # Every fourth problem runs half a second (one CP-SAT worker); the others end in a few
    # milliseconds, proven optimal.
    problems = [long_problem(time_limit=0.5) if i % 4 == 1 else small_problem()
                for i in range(JOBS)]
    options = {"store_url": db, "lease_seconds": LEASE_SECONDS, "workers": "2"}
    unused = tmp_path / "unused.sqlite3"  # PODLAYOUT_STORE_URL wins over the path
    with server(unused, tmp_path / "a.log", **options) as (killed, url_a), \
            server(unused, tmp_path / "b.log", **options) as (_, url_b):
        jobs = []
        # Every other job (the long ones among them) through A while it lives; the kill
        # comes between two requests, with none in flight.
        for i, problem in enumerate(problems):
            alive = killed.poll() is None
            answer = httpx.post(f"{url_a if i % 2 and alive else url_b}/v1/jobs",
                                json=problem, timeout=10)
            assert answer.status_code == 202, answer.text
            jobs.append(answer.json()["id"])
            if alive and i >= JOBS // 4:
                kill_mid_run(db, killed)
        deadline = time.monotonic() + 20
        while killed.poll() is None and not kill_mid_run(db, killed):
            assert time.monotonic() < deadline, "replica A never started a run"
            time.sleep(0.02)
        ended = [wait_for(url_b, job, lambda b: b["status"] not in ("queued", "running"), 90)
                 for job in jobs]
    for body, problem in zip(ended, problems, strict=True):
        assert body["status"] == "done", body
        assert validate(parse_problem(problem), body["result"]) == []
    ends = ends_by_job(db)
    assert sorted(ends) == sorted(jobs)
    assert all(len(runs) == 1 and runs[0][1] for runs in ends.values()), ends  # ran once
    taken_over = [body for body in ended if body["attempts"] == 2]
    assert taken_over, "no job of the killed replica was taken over"
    assert all(body["attempts"] in (1, 2) for body in ended)
    survivor = (tmp_path / "b.log").read_text()
    assert "stopped renewing its lease" in survivor
    assert "Traceback" not in survivor
    for body in taken_over:  # ended by the survivor
        assert ends[body["id"]][0][0].split(":")[1] != str(killed.pid)
