"""Abuse of the CLI and the API: expanded YAML, a locked or unreadable store, endless stdin, a
damaged store at start-up, busy answers before the body, redirects, and private job files."""

from __future__ import annotations

import os
import resource
import socket
import sqlite3
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from advisor.loading import load_data
from api.store import JobStore
from tests.api_support import TestClient, assert_problem, serve, small_problem, submit, wait_job

# A store call waits this long for a lock held elsewhere, in these tests (the default is 3 s).
STORE_TIMEOUT = 0.3
# What "answers at once" means while another process holds the lock: far below the 30 s a
# writer used to wait while every read queued behind it, far above a slow machine's jitter.
PROMPT_SECONDS = 5.0


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    with serve(tmp_path) as c:
        yield c


def _cli(args: list[str], stdin: Any = None, input_bytes: bytes | None = None,
         env: dict[str, str] | None = None, timeout: float = 60
         ) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([sys.executable, "-m", "api.cli", *args], stdin=stdin,
                          input=input_bytes, capture_output=True, timeout=timeout,
                          check=False, env=env)


def _aliased_yaml(value_bytes: int, aliases: int) -> str:
    """A small text whose one anchored string, aliased many times, expands a lot."""
    refs = ", ".join(["*s"] * aliases)
    return (f'note: &s "{"x" * value_bytes}"\nrefs: [{refs}]\n'
            "containers: [{name: web}]\nnodes: [{name: n, allocatable: {cpu: '1'}}]\n")


# -- 1. aliases that expand a small body --------------------------------------------------

def test_aliases_expanding_past_the_body_limit_are_422_naming_the_limit(tmp_path: Path) -> None:
    body = _aliased_yaml(100_000, 20)  # 100 kB sent, 2 MB once expanded
    assert len(body) < 200_000
    with serve(tmp_path, max_body_bytes=1024 * 1024) as client:
        for path in ("/v1/jobs", "/v1/advise"):
            response = client.post(path, content=body,
                                   headers={"Content-Type": "application/yaml"})
            problem = assert_problem(response, 422, "body")
            assert "expanded-size limit" in problem["errors"][0]["message"]
        assert client.get("/v1/jobs").json()["total"] == 0  # nothing stored


def test_aliases_expanding_past_the_input_limit_exit_2(tmp_path: Path) -> None:
    path = tmp_path / "aliased.yaml"
    path.write_text(_aliased_yaml(2_000_000, 9))  # 2 MB written, 20 MB expanded
    result = _cli(["advise", str(path)])
    assert result.returncode == 2, result.stderr
    assert b"expanded-size limit" in result.stderr
    assert result.stdout == b""


def test_aliases_within_the_limit_are_read() -> None:
    data = load_data(_aliased_yaml(1000, 20), "input")
    assert data["refs"] == [data["note"]] * 20


# -- 2. a store locked by another process -------------------------------------------------

def _timed(call: Callable[[], Any]) -> tuple[Any, float]:
    """The call's answer and how long it took, run in a thread so that a stalled call fails
    the test after PROMPT_SECONDS * 4 instead of hanging it."""
    out: list[Any] = []
    started = time.monotonic()
    worker = threading.Thread(target=lambda: out.append(call()), daemon=True)
    worker.start()
    worker.join(PROMPT_SECONDS * 4)
    assert out, "the call did not answer"
    return out[0], time.monotonic() - started


def test_reads_answer_and_writes_503_while_another_process_locks_the_store(
        tmp_path: Path) -> None:
    with serve(tmp_path, store_timeout_seconds=STORE_TIMEOUT, workers=1) as client:
        job_id = submit(client, small_problem())
        wait_job(client, job_id, "done")
        outside = sqlite3.connect(tmp_path / "jobs.sqlite3", isolation_level=None)
        outside.execute("BEGIN EXCLUSIVE")
        try:
            time.sleep(1.5)  # the worker polls the queue meanwhile and waits on the lock
            for path in (f"/v1/jobs/{job_id}", "/v1/jobs"):
                response, seconds = _timed(lambda p=path: client.get(p))  # type: ignore[misc]
                assert response.status_code == 200, response.text
                assert seconds < PROMPT_SECONDS
            writes: list[Callable[[], Any]] = [
                lambda: client.post("/v1/jobs", json=small_problem()),
                lambda: client.delete(f"/v1/jobs/{job_id}"),
                lambda: client.get("/readyz"),
            ]
            for write in writes:
                response, seconds = _timed(write)
                assert_problem(response, 503)
                assert int(response.headers["retry-after"]) > 0
                assert seconds < PROMPT_SECONDS
        finally:
            outside.execute("ROLLBACK")
            outside.close()
        assert client.get("/readyz").status_code == 200
        wait_job(client, submit(client, small_problem()), "done")  # the worker lived on


# -- 3. an unreadable store directory -----------------------------------------------------

def test_an_os_error_of_the_store_is_503_not_500(client: TestClient,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    store = client.app.state.manager.store  # type: ignore[attr-defined]  # the FastAPI app
    real_exists = Path.exists

    def exists(self: Path, *args: Any, **kwargs: Any) -> bool:
        if self == store.path:  # as `chmod 000` on its directory makes it for a non-root user
            raise PermissionError(13, "Permission denied", str(self))
        return real_exists(self, *args, **kwargs)

    monkeypatch.setattr(Path, "exists", exists)
    for response in (client.get("/readyz"), client.post("/v1/jobs", json=small_problem())):
        assert_problem(response, 503)
        assert int(response.headers["retry-after"]) > 0


# -- 4. endless or garbled standard input -------------------------------------------------

def _cap_memory() -> None:
    # Reading an endless stream whole would take the machine's memory, not just fail.
    resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))


def test_endless_stdin_exits_2_at_the_size_limit() -> None:
    with open("/dev/zero", "rb") as zeros:
        result = subprocess.run([sys.executable, "-m", "api.cli", "advise", "-"], stdin=zeros,
                                capture_output=True, timeout=120, check=False,
                                preexec_fn=_cap_memory)
    assert result.returncode == 2
    assert b"larger than" in result.stderr
    assert b"Traceback" not in result.stderr


def test_stdin_that_is_not_utf8_says_so() -> None:
    result = _cli(["advise", "-"], input_bytes=b"containers: [\xff\xfe\x80]\n")
    assert result.returncode == 2
    assert b"not UTF-8" in result.stderr
    assert b"surrogates" not in result.stderr


# -- 5. a damaged store at start-up -------------------------------------------------------

def _damage(path: Path) -> None:
    store = JobStore(path)
    for i in range(100):
        store.add(f"job-{i}", "advise", {"padding": "x" * 3000}, 5.0, [])
    store.close()  # the last connection out checkpoints the WAL into the file
    data = bytearray(path.read_bytes())
    for offset in range(3 * 4096, len(data), 4096):  # keep the header, spoil the pages
        data[offset:offset + 200] = b"\xff" * 200
    path.write_bytes(bytes(data))


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def test_a_damaged_store_at_start_up_exits_2_with_a_message(tmp_path: Path) -> None:
    path = tmp_path / "jobs.sqlite3"
    _damage(path)
    env = {**os.environ, "PODLAYOUT_STORE_PATH": str(path)}
    result = _cli(["serve", "--port", str(_free_port())], env=env, timeout=60)
    assert result.returncode == 2, result.stderr
    assert b"damaged" in result.stderr
    assert b"Traceback" not in result.stderr


# -- 6. busy answers before the body is read ----------------------------------------------

def test_a_full_gate_answers_429_without_reading_the_body(tmp_path: Path) -> None:
    with serve(tmp_path, max_concurrent_requests=1) as client:
        gate = client.app.state.gate  # type: ignore[attr-defined]  # the FastAPI app
        assert gate.acquire(blocking=False)
        try:
            for path in ("/v1/advise", "/v1/review"):
                # Unreadable YAML: parsed first, it would be a 400.
                response = client.post(path, content=b"containers: [unclosed",
                                       headers={"Content-Type": "application/yaml"})
                assert_problem(response, 429)
        finally:
            gate.release()
        assert_problem(client.post("/v1/advise", content=b"containers: [unclosed",
                                   headers={"Content-Type": "application/yaml"}), 400, "body")
        assert gate.acquire(blocking=False)  # the refused and the failed request freed it
        gate.release()


# -- 7. redirects -------------------------------------------------------------------------

@pytest.mark.parametrize(("path", "location"), [
    ("/v1/jobs/%2F", "/v1/jobs"),
    ("/v1/jobs/", "/v1/jobs"),
    ("/v1/jobs/?limit=3", "/v1/jobs?limit=3"),
])
def test_slash_redirects_are_relative_whatever_the_host_header(
        client: TestClient, path: str, location: str) -> None:
    response = client.get(path, headers={"Host": "evil.example"}, follow_redirects=False)
    assert response.status_code == 307
    assert response.headers["location"] == location


def test_a_path_naming_another_host_is_not_redirected(client: TestClient) -> None:
    response = client.get("//evil.example/", follow_redirects=False)
    assert response.status_code == 404


# -- 8. private job files -----------------------------------------------------------------

def test_the_store_is_private_to_its_owner(tmp_path: Path) -> None:
    path = tmp_path / "state" / "podlayout" / "jobs.sqlite3"
    store = JobStore(path)
    try:
        store.add("j1", "advise", small_problem(), 5.0, [])
        assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
        files = sorted(path.parent.iterdir())
        assert {f.name for f in files} >= {"jobs.sqlite3", "jobs.sqlite3-wal",
                                           "jobs.sqlite3.lock"}
        for file in files:
            assert stat.S_IMODE(file.stat().st_mode) & 0o077 == 0, file
    finally:
        store.close()
