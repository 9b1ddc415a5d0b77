"""Shared pieces of the REST API tests: a client on a temporary job store, the problems the
tests post, polling with a deadline, and the checks every problem+json answer must pass."""

from __future__ import annotations

import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from starlette.exceptions import StarletteDeprecationWarning

from api import Settings, create_app
from bench.generators import generate_problem
from models import parse_problem
from tests.support import container, node, problem
from tests.validator import validate

with warnings.catch_warnings():
    # Starlette's TestClient prefers httpx2 and warns once, at import, when it finds httpx:
    # a note about the test tool, not about the API under test.
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from fastapi.testclient import TestClient

__all__ = [
    "PROBLEM_JSON", "TestClient", "assert_problem", "assert_valid_plan", "grouping", "json_of",
    "long_problem", "occupy", "serve", "settings", "small_problem", "submit", "wait_job",
    "wait_searching",
]

PROBLEM_JSON = "application/problem+json"
# Polling bound: small jobs end in well under a second; only a failing test waits this long.
WAIT_SECONDS = 15.0
POLL_SECONDS = 0.02


def settings(tmp_path: Path, **overrides: Any) -> Settings:
    return Settings(store_path=tmp_path / "jobs.sqlite3", **overrides)


@contextmanager
def serve(tmp_path: Path, **overrides: Any) -> Iterator[TestClient]:
    """A client on a fresh app over `tmp_path/jobs.sqlite3`, its lifespan (job manager) running."""
    with TestClient(create_app(settings(tmp_path, **overrides))) as client:
        yield client


def small_problem(**policy: Any) -> dict[str, Any]:
    """Two containers, two nodes: CP-SAT proves it optimal in a few milliseconds."""
    return problem([container("web", replicas=2), container("api")],
                   [node("node-1"), node("node-2")], **policy)


def long_problem(time_limit: float | None = 60) -> dict[str, Any]:
    """100 containers on 20 nodes: CP-SAT with one worker keeps improving its bound for far
    longer than a test runs, but builds the model in a fraction of a second, so a stop
    takes effect at once. Without `time_limit`, the policy sets none."""
    data = generate_problem(0, containers=100, nodes=20)
    data["policy"]["workers"] = 1
    if time_limit is None:
        del data["policy"]["timeLimitSeconds"]
    else:
        data["policy"]["timeLimitSeconds"] = time_limit
    return data


def json_of(response: Any) -> dict[str, Any]:
    body: dict[str, Any] = response.json()
    return body


def assert_problem(response: Any, status: int, *fields: str) -> dict[str, Any]:
    """An RFC 9457 answer with `status`, whose `errors` name at least `fields`."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM_JSON), response.headers
    body = json_of(response)
    assert body["status"] == status
    assert body["title"]
    assert body["detail"]
    assert body["type"].startswith("/problems/")
    assert body["instance"] == response.request.url.path
    named = {e["field"] for e in body["errors"]}
    assert set(fields) <= named, body["errors"]
    return body


def assert_valid_plan(data: dict[str, Any], plan: dict[str, Any]) -> None:
    """Every replica placed, and the independent oracle finds nothing wrong."""
    assert plan["status"] in ("optimal", "feasible", "heuristic"), plan["conflicts"]
    assert plan["unplaced"] == []
    assert validate(parse_problem(data), plan) == []


def grouping(plan: dict[str, Any]) -> set[tuple[frozenset[str], int]]:
    return {(frozenset(p["containers"]), p["replicas"]) for p in plan["pods"]}


def submit(client: TestClient, data: dict[str, Any], kind: str | None = None) -> str:
    params = {"kind": kind} if kind else None
    response = client.post("/v1/jobs", json=data, params=params)
    assert response.status_code == 202, response.text
    job_id: str = response.json()["id"]
    return job_id


def wait_job(client: TestClient, job_id: str, *statuses: str, timeout: float = WAIT_SECONDS,
             headers: dict[str, str] | None = None) -> dict[str, Any]:
    """Poll the job until its status is one of `statuses`; fail past the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        response = client.get(f"/v1/jobs/{job_id}", headers=headers)
        assert response.status_code == 200, response.text
        job = json_of(response)
        if job["status"] in statuses:
            return job
        assert time.monotonic() < deadline, (
            f"job {job_id} is still {job['status']} after {timeout:g} s, not one of {statuses}")
        time.sleep(POLL_SECONDS)


def wait_searching(client: TestClient, job_id: str, timeout: float = WAIT_SECONDS
                   ) -> dict[str, Any]:
    """Poll until CP-SAT is searching for the job: running, with a solution reported.

    Only then does a stop take effect at once (a stop asked while the job still builds its
    model is lost: see test_delete_right_after_a_job_starts_stops_it_early)."""
    deadline = time.monotonic() + timeout
    while True:
        job = wait_job(client, job_id, "running", timeout=timeout)
        if job["progress"] is not None and job["progress"]["objective"] is not None:
            return job
        assert time.monotonic() < deadline, f"job {job_id} runs but reports no solution"
        time.sleep(POLL_SECONDS)


def occupy(client: TestClient) -> str:
    """Submit the long problem and wait until CP-SAT is searching for it."""
    job_id = submit(client, long_problem())
    wait_searching(client, job_id)
    return job_id
