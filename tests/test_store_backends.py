"""The job store's contract, the same on SQLite and on PostgreSQL: one claim per job, stops,
the attempts a crash costs, and (PostgreSQL) leases that pass to another server."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import SecretStr, ValidationError

from api.settings import Settings
from api.store import JobRecord, Store, StoreError, open_store
from api.store.postgres import PostgresStore
from models import parse_problem
from tests.api_support import (
    assert_valid_plan,
    long_problem,
    occupy,
    serve,
    small_problem,
    submit,
    wait_job,
)
from tests.store_backends import BACKENDS, postgres_url, store_url
from tests.test_api_restart import ROOT, free_port
from tests.validator import validate

BEST = {"solver": {"objective": 5.0, "interrupted": False, "message": ""}}


@pytest.fixture(params=BACKENDS)
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return store_url(request.param, tmp_path)


def settings_for(url: str, tmp_path: Path, **overrides: object) -> Settings:
    return Settings(store_path=tmp_path / "unused.sqlite3", store_url=SecretStr(url),
                    **overrides)  # type: ignore[arg-type]


@pytest.fixture
def store(url: str, tmp_path: Path) -> Iterator[Store]:
    opened = open_store(settings_for(url, tmp_path))
    yield opened
    opened.close()


def crash(store: Store, url: str, tmp_path: Path) -> tuple[Store, dict[str, str]]:
    """The server holding `store` dies; the next one takes its running jobs back.
    Returns the next server's store and what became of the jobs."""
    if isinstance(store, PostgresStore):  # its last lease, 0.3 s, runs out; another sees it
        store.lease_seconds = 0.3
        store.heartbeat([r.id for r in store.page(100, 0, ["running"], None)[0]])
        store.close()
        other = PostgresStore(url, 3.0, 30.0, pool_size=2)
        time.sleep(0.5)
        return other, dict(other.reclaim(max_attempts=2))
    store.close()
    reopened = open_store(settings_for(url, tmp_path))
    return reopened, dict(reopened.recover(max_attempts=2))


def claimed(store: Store, job_id: str) -> JobRecord:
    record = store.claim_next()
    assert record is not None
    assert record.id == job_id
    return record


def test_each_queued_job_is_claimed_once_oldest_first(store: Store, url: str,
                                                      tmp_path: Path) -> None:
    for i in range(30):
        store.add(f"j{i:02}", "advise", small_problem(), 5.0, [])
    # Two servers on PostgreSQL; on SQLite one server's threads (one server per file).
    stores = [store, open_store(settings_for(url, tmp_path))] if "postgresql" in url \
        else [store, store]
    claims: list[list[str]] = [[] for _ in range(4)]

    def claim(mine: list[str], source: Store) -> None:
        while (record := source.claim_next()) is not None:
            assert record.status == "running"
            assert record.attempts == 1
            mine.append(record.id)

    threads = [threading.Thread(target=claim, args=(claims[i], stores[i % 2]))
               for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    every = [job for mine in claims for job in mine]
    assert sorted(every) == [f"j{i:02}" for i in range(30)]  # each once, none lost
    for mine in claims:
        assert mine == sorted(mine)  # each claimer took the oldest left
    assert store.count("running") == 30
    if stores[1] is not store:
        stores[1].close()


def test_a_stop_cancels_a_queued_job_and_reaches_the_running_one(store: Store) -> None:
    store.add("queued", "advise", small_problem(), 5.0, [])
    store.add("later", "advise", small_problem(), 5.0, [])
    store.request_stop("queued")
    cancelled = store.get("queued")
    assert cancelled is not None
    assert cancelled.status == "cancelled"
    running = store.claim_next()
    assert running is not None
    assert running.id == "later"  # a cancelled job is never claimed
    assert store.heartbeat(["later"]).stop == frozenset()
    store.request_stop("later")
    assert store.heartbeat(["later"]).stop == {"later"}
    assert store.finish("later", "stopped", None)
    ended = store.get("later")
    assert ended is not None
    assert (ended.status, ended.attempts) == ("stopped", 1)


def test_a_crash_costs_an_attempt_until_the_job_is_interrupted(store: Store, url: str,
                                                              tmp_path: Path) -> None:
    store.add("job", "advise", small_problem(), 5.0, [])
    claimed(store, "job")
    store.save_progress("job", {"objective": 5.0, "bound": 1.0, "gap": 0.8, "solutions": 1},
                        BEST)
    second, moved = crash(store, url, tmp_path)
    assert moved == {"job": "queued"}
    again = claimed(second, "job")
    assert again.attempts == 2
    assert again.best == BEST  # the best plan of the run that died stays
    third, moved = crash(second, url, tmp_path)
    assert moved == {"job": "interrupted"}  # two runs died: max_attempts is 2
    ended = third.get("job")
    assert ended is not None
    assert ended.status == "interrupted"
    assert ended.result is None
    assert ended.best is not None
    assert ended.best["solver"]["interrupted"] is True
    second.close()
    third.close()


def test_a_taken_over_run_records_nothing() -> None:
    url = postgres_url()
    first = PostgresStore(url, 3.0, 0.3, pool_size=2)
    second = PostgresStore(url, 3.0, 30.0, pool_size=2)
    try:
        first.add("job", "advise", small_problem(), 5.0, [])
        assert first.claim_next() is not None
        time.sleep(0.5)  # the first server stops renewing its lease
        assert second.reclaim(max_attempts=2) == {"job": "queued"}
        taken = second.claim_next()
        assert taken is not None
        assert taken.attempts == 2
        assert first.heartbeat(["job"]).lost == {"job"}
        first.save_progress("job", None, BEST)
        assert not first.finish("job", "done", {"late": True})  # the first run lost it
        assert second.finish("job", "done", {"kept": True})
        ended = second.get("job")
        assert ended is not None
        assert (ended.status, ended.result, ended.best) == ("done", {"kept": True}, None)
        assert [(e["status"], e["recorded"]) for e in second.ends("job")] == [
            ("done", False), ("done", True)]
        assert second.heartbeat(["job"]).lost == {"job"}  # ended: no lease to renew
    finally:
        first.close()
        second.close()


def test_jobs_run_through_the_api(url: str, tmp_path: Path) -> None:
    with serve(tmp_path, store_url=SecretStr(url), workers=2) as client:
        jobs = [submit(client, small_problem()) for _ in range(4)]
        for job_id in jobs:
            done = wait_job(client, job_id, "done")
            assert done["attempts"] == 1
            assert validate(parse_problem(small_problem()), done["result"]) == []
        assert client.get("/readyz").status_code == 200
        listed = client.get("/v1/jobs").json()
        assert [j["id"] for j in listed["jobs"]] == jobs[::-1]


def test_a_stop_sent_to_one_server_reaches_the_run_on_the_other(tmp_path: Path) -> None:
    url = SecretStr(postgres_url())
    with serve(tmp_path / "a", store_url=url, workers=1, lease_seconds=3) as running_on:
        job_id = occupy(running_on)  # claimed by the only server up; heartbeat every 1 s
        with serve(tmp_path / "b", store_url=url, workers=1) as other:
            response = other.delete(f"/v1/jobs/{job_id}")
            # 200: the run stopped within the route's wait (5 s), seen by its heartbeat.
            assert response.status_code == 200, response.text
        job = response.json()
        assert job["status"] == "stopped"
        assert job["attempts"] == 1
        assert job["result"]["solver"]["interrupted"] is True
        assert_valid_plan(long_problem(), job["result"])


@pytest.mark.parametrize("bad", ["mysql://db/jobs", "sqlite://jobs.sqlite3", "jobs.sqlite3",
                                 "sqlite:///"])
def test_a_store_url_of_no_known_form_is_refused(bad: str, tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match=r"store_url[\s\S]*sqlite:///PATH"):
        settings_for(bad, tmp_path)


def test_an_unreachable_server_is_a_store_error_without_the_password() -> None:
    with pytest.raises(StoreError, match="cannot open the job store") as caught:
        PostgresStore("postgresql://podlayout:s3cret@127.0.0.1:1/jobs", 1.0, 30.0, 2)
    assert "s3cret" not in str(caught.value)


@pytest.mark.parametrize(("url", "says"), [
    ("mysql://db/jobs", "sqlite:///PATH or postgresql://"),
    ("postgresql://podlayout:s3cret@127.0.0.1:1/jobs", "cannot open the job store"),
])
def test_serve_names_a_bad_store_url_and_exits_2(url: str, says: str) -> None:
    env = {**os.environ, "PODLAYOUT_STORE_URL": url}
    done = subprocess.run([sys.executable, "-m", "api.cli", "serve", "--port", str(free_port())],
                          env=env, cwd=ROOT, capture_output=True, text=True, timeout=60,
                          check=False)
    assert done.returncode == 2, done.stderr
    assert "PODLAYOUT_STORE_URL" in done.stderr
    assert says in done.stderr
    assert "Traceback" not in done.stderr
    assert "s3cret" not in done.stderr
