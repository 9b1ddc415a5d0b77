"""The real server as a subprocess: a job that got its 202 survives a SIGKILL of the server."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import yaml

from models import parse_problem
from tests.support import hard_problem
from tests.validator import validate

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@contextmanager
def server(store: Path, log: Path, **settings: str
           ) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    port = free_port()
    env = {**os.environ, "PODLAYOUT_STORE_PATH": str(store), "PODLAYOUT_WORKERS": "1",
           **{f"PODLAYOUT_{k.upper()}": v for k, v in settings.items()}}
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "api.cli", "serve", "--port", str(port)],
            stdout=out, stderr=subprocess.STDOUT, env=env, cwd=ROOT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            assert proc.poll() is None, log.read_text()
            try:
                if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "server did not get ready:\n" + log.read_text()
            time.sleep(0.1)
        yield proc, url
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=10)


def wait_for(url: str, job: str, done: Any, timeout: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        body: dict[str, Any] = httpx.get(f"{url}/v1/jobs/{job}", timeout=5).json()
        if done(body):
            return body
        assert time.monotonic() < deadline, f"job {job} still {body['status']}"
        time.sleep(0.1)


def test_jobs_survive_sigkill(tmp_path: Path) -> None:
    store, log = tmp_path / "jobs.sqlite3", tmp_path / "server.log"
    hard = hard_problem()
    # Long enough to be caught running with a plan so far, even on a loaded machine.
    hard["policy"] = {"timeLimitSeconds": 10, "workers": 2, "seed": 0}
    small = yaml.safe_load((ROOT / "examples" / "reference.yaml").read_text())
    with server(store, log) as (proc, url):
        running = httpx.post(f"{url}/v1/jobs", json=hard, timeout=10)
        queued = httpx.post(f"{url}/v1/jobs", json=small, timeout=10)
        assert running.status_code == queued.status_code == 202
        first, second = running.json()["id"], queued.json()["id"]
        # Killed mid-solve, with a plan so far already saved.
        body = wait_for(url, first, lambda b: b["status"] == "running" and b["bestPlan"], 20)
        assert body["attempts"] == 1
        assert httpx.get(f"{url}/v1/jobs/{second}", timeout=5).json()["status"] == "queued"
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)

    with server(store, log) as (_, url):
        done = wait_for(url, first, lambda b: b["status"] not in ("queued", "running"), 40)
        assert done["status"] == "done"
        assert done["attempts"] == 2  # run again from the start after the crash
        assert validate(parse_problem(hard), done["result"]) == []
        after = wait_for(url, second, lambda b: b["status"] not in ("queued", "running"), 20)
        assert after["status"] == "done"
        assert after["attempts"] == 1
        assert after["result"]["status"] == "optimal"
        listed = httpx.get(f"{url}/v1/jobs", timeout=5).json()
        assert [j["id"] for j in listed["jobs"]] == [second, first]  # newest first
    assert "Traceback" not in log.read_text()


def test_sigterm_puts_the_running_job_back_without_costing_an_attempt(tmp_path: Path) -> None:
    store, log = tmp_path / "jobs.sqlite3", tmp_path / "server.log"
    hard = hard_problem()
    hard["policy"] = {"timeLimitSeconds": 3, "workers": 2, "seed": 0}
    with server(store, log) as (proc, url):
        job = httpx.post(f"{url}/v1/jobs", json=hard, timeout=10).json()["id"]
        wait_for(url, job, lambda b: b["status"] == "running", 20)
        started = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        # uvicorn shuts down gracefully, then re-raises the signal it caught.
        assert proc.wait(timeout=20) in (0, -signal.SIGTERM)
        assert time.monotonic() - started < 10  # the solve is stopped, not waited for
    with server(store, log) as (_, url):
        done = wait_for(url, job, lambda b: b["status"] not in ("queued", "running"), 30)
        assert done["status"] == "done"
        assert done["attempts"] == 1
        assert done["result"]["solver"]["interrupted"] is False
    text = log.read_text()
    assert f"job {job}: back in the queue" in text
    assert "Traceback" not in text


def test_sigterm_answers_a_synchronous_solve_with_its_best_plan(tmp_path: Path) -> None:
    hard = hard_problem()
    hard["policy"] = {"timeLimitSeconds": 120, "workers": 2, "seed": 0}
    answers: list[httpx.Response] = []
    with server(tmp_path / "jobs.sqlite3", tmp_path / "server.log") as (proc, url):
        asking = threading.Thread(target=lambda: answers.append(
            httpx.post(f"{url}/v1/advise", json=hard, timeout=60)))
        asking.start()
        time.sleep(3)  # the solve is under way
        started = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        asking.join(30)
        assert time.monotonic() - started < 10  # not the 120 s limit, nor the grace time
        assert proc.wait(timeout=20) in (0, -signal.SIGTERM)
    assert len(answers) == 1
    assert answers[0].status_code == 200, answers[0].text
    plan = answers[0].json()
    assert plan["solver"]["interrupted"] is True
    assert validate(parse_problem(hard), plan) == []


def test_a_client_that_hangs_up_frees_its_solve_slot(tmp_path: Path) -> None:
    hard = hard_problem()
    hard["policy"] = {"timeLimitSeconds": 120, "workers": 1, "seed": 0}
    small = yaml.safe_load((ROOT / "examples" / "reference.yaml").read_text())
    with server(tmp_path / "jobs.sqlite3", tmp_path / "server.log",
                max_concurrent_requests="1") as (_, url):
        with contextlib.suppress(httpx.TimeoutException):  # gives up after 2 s: the server
            httpx.post(f"{url}/v1/advise", json=hard, timeout=2)  # should stop that solve
        deadline = time.monotonic() + 15
        while True:
            response = httpx.post(f"{url}/v1/advise", json=small, timeout=30)
            if response.status_code != 429:
                break
            assert time.monotonic() < deadline, "the abandoned solve still holds the slot"
            time.sleep(0.5)
        assert response.status_code == 200
        assert response.json()["status"] == "optimal"
