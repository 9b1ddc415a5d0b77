"""`python -m bench api`: throughput and latency of the REST API over loopback.

Starts the real server (`python -m api.cli serve`) as a subprocess on a free loopback port
with a temporary job store, waits for /healthz, then drives it from this process with httpx:
GET /healthz (the bare HTTP round trip), then POST /v1/advise and POST /v1/review at each
concurrency (one thread and one keep-alive connection per concurrent client, closed loop),
then the job path (submit M jobs, time until all are done). The in-process solves of the
same problems are the baseline rows. Any non-2xx answer, transport error or answer whose
status is not `optimal` (`ok` for /healthz, `done` for a job) is an error. The server is
always stopped (SIGTERM, then SIGKILL), even when the run fails.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import httpx

from advisor.loading import load_data, load_problem
from advisor.review import review
from advisor.solve import advise
from bench.runner import machine

ROOT = Path(__file__).resolve().parent.parent
ADVISE_FILE = ROOT / "examples" / "reference.yaml"
REVIEW_FILE = ROOT / "examples" / "reference-review.yaml"
JSON_HEADERS = {"Content-Type": "application/json"}
REQUEST_TIMEOUT = 60.0  # seconds; the problems' time limit is 5 s, their solves take ms
STARTUP_TIMEOUT = 60.0
STOP_TIMEOUT = 25.0  # the server's graceful shutdown allows 15 s
JOBS_TIMEOUT = 300.0
POLL_SECONDS = 0.02
MAX_ERROR_SAMPLES = 5


class BenchError(Exception):
    """The benchmark could not run: the server did not start or answer /healthz."""


@dataclass(frozen=True)
class ApiConfig:
    requests: int = 200
    concurrency: tuple[int, ...] = (1, 4)
    jobs: int = 50
    warmup: int = 5  # per client thread before the clock starts; the job path: warmup // 2
    job_workers: int = 2  # PODLAYOUT_WORKERS: background jobs solved at once
    solver_workers: int = 1  # policy.workers of every problem sent


@dataclass
class Scenario:
    name: str
    requests: int
    concurrency: str
    seconds: float  # wall time of the measured part
    latencies_ms: list[float] = field(repr=False)
    errors: int = 0
    error_kinds: dict[str, int] = field(default_factory=dict)
    error_samples: list[str] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def throughput(self) -> float:
        return self.requests / self.seconds if self.seconds > 0 else 0.0

    def summary(self) -> dict[str, Any]:
        lat = self.latencies_ms
        return {
            "name": self.name, "requests": self.requests, "concurrency": self.concurrency,
            "seconds": round(self.seconds, 4), "throughput": round(self.throughput, 2),
            "mean_ms": round(sum(lat) / len(lat), 3) if lat else None,
            "p50_ms": _round(percentile(lat, 50)), "p90_ms": _round(percentile(lat, 90)),
            "p99_ms": _round(percentile(lat, 99)), "max_ms": _round(max(lat, default=None)),
            "errors": self.errors, "error_kinds": self.error_kinds,
            "error_samples": self.error_samples, **self.extra,
        }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def percentile(values: list[float], q: float) -> float | None:
    """Linear interpolation between closest ranks (numpy's default)."""
    if not values:
        return None
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q / 100
    low = int(pos)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


class Tally:
    """Errors seen by many threads: counts by kind and the first few messages."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.kinds: Counter[str] = Counter()
        self.samples: list[str] = []

    def add(self, kind: str, detail: str) -> None:
        with self._lock:
            self.kinds[kind] += 1
            if len(self.samples) < MAX_ERROR_SAMPLES:
                self.samples.append(detail)

    @property
    def count(self) -> int:
        return sum(self.kinds.values())

    def absorb_warmup(self, warm: Tally) -> None:
        """Failed warm-up requests count as errors too, marked as such."""
        for what, n in warm.kinds.items():
            self.kinds[f"warm-up {what}"] += n
        room = max(0, MAX_ERROR_SAMPLES - len(self.samples))
        self.samples += [f"warm-up: {sample}" for sample in warm.samples[:room]]


# -- problems -----------------------------------------------------------------------------


def problem_json(path: Path, solver_workers: int) -> bytes:
    data = load_data(path.read_text(encoding="utf-8"), str(path))
    data["policy"]["workers"] = solver_workers
    return json.dumps(data).encode("utf-8")


def top_status(body: Any) -> str:
    """`status` of a plan (or of /healthz's answer)."""
    return str(body.get("status")) if isinstance(body, dict) else "not an object"


def advised_status(body: Any) -> str:
    """`advised.status` of a review."""
    advised = body.get("advised") if isinstance(body, dict) else None
    return top_status(advised)


# -- in-process baseline ------------------------------------------------------------------


def in_process(name: str, body: bytes, kind: str, n: int, warmup: int, *,
               full: bool) -> Scenario:
    """The solve without HTTP; `full` adds parsing the JSON body and serialising the answer."""
    text = body.decode("utf-8")
    problem = load_problem(text, "body", "json")
    solves: list[float] = []

    def once(tally: Tally) -> None:
        given = load_problem(text, "body", "json") if full else problem
        if kind == "advise":
            plan = advise(given)
            status = plan.status
            solves.append(1000 * plan.solver.wall_time_seconds)
            wire = plan.to_wire() if full else None
        else:
            answer = review(given)
            status = answer.advised.status
            solves.append(1000 * answer.advised.solver.wall_time_seconds)
            wire = answer.to_wire() if full else None
        if wire is not None:  # what the server does with the answer, and the client after it
            json.loads(json.dumps(wire))
        if status != "optimal":
            tally.add(f"status {status}", f"status {status}")

    warm = Tally()
    for _ in range(warmup):
        once(warm)
    solves.clear()
    tally = Tally()
    latencies: list[float] = []
    started = time.perf_counter()
    for _ in range(n):
        t = time.perf_counter()
        once(tally)
        latencies.append(1000 * (time.perf_counter() - t))
    seconds = time.perf_counter() - started
    tally.absorb_warmup(warm)
    return Scenario(name, n, "1", seconds, latencies, tally.count, dict(tally.kinds),
                    tally.samples, extra=_solver_extra(solves))


# -- the server ---------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    base_url: str
    log_path: Path
    startup_seconds: float = 0.0
    stop_seconds: float = 0.0
    killed: bool = False
    exit_code: int | None = None
    log_errors: list[str] = field(default_factory=list)  # read before the log is deleted
    graceful: bool = False  # the log says the lifespan shutdown completed

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""

    def log_tail(self, lines: int = 30) -> str:
        return "\n".join(self.log_text().splitlines()[-lines:]) or "(empty)"

    def log_problems(self) -> list[str]:
        """Server log lines at ERROR or CRITICAL, and tracebacks."""
        return [line for line in self.log_text().splitlines()
                if " ERROR " in line or " CRITICAL " in line or line.startswith("Traceback")
                or line.startswith("ERROR:")]


def server_env(store: Path, config: ApiConfig) -> dict[str, str]:
    """The caller's environment without any PODLAYOUT_* setting, plus the benchmark's."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PODLAYOUT_")}
    env.update({
        "PODLAYOUT_STORE_PATH": str(store),
        "PODLAYOUT_MAX_CONCURRENT_REQUESTS": str(max(config.concurrency)),
        "PODLAYOUT_WORKERS": str(config.job_workers),
        "PODLAYOUT_MAX_QUEUED_JOBS": str(max(100, config.jobs)),
    })
    return env


def wait_healthy(server: Server, started: float) -> None:
    with httpx.Client(base_url=server.base_url, timeout=2.0) as client:
        while True:
            code = server.process.poll()
            if code is not None:
                raise BenchError(f"the server exited with code {code} before answering "
                                 f"/healthz; its log ends:\n{server.log_tail()}")
            try:
                if client.get("/healthz").status_code == 200:
                    server.startup_seconds = time.monotonic() - started
                    return
            except httpx.TransportError:
                pass
            if time.monotonic() - started > STARTUP_TIMEOUT:
                raise BenchError(f"no 200 from /healthz within {STARTUP_TIMEOUT:g} s; the "
                                 f"server log ends:\n{server.log_tail()}")
            time.sleep(0.05)


def stop_server(server: Server) -> None:
    process = server.process
    started = time.monotonic()
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            server.killed = True
            process.kill()
            process.wait()
    server.stop_seconds = time.monotonic() - started
    server.exit_code = process.returncode


class TerminatedError(Exception):
    """This process got SIGTERM: unwind, so that the server is stopped too."""


def _raise_terminated(signum: int, frame: object) -> None:
    raise TerminatedError(f"signal {signum}")


@contextmanager
def sigterm_unwinds() -> Iterator[None]:
    """SIGTERM raises in the main thread (by default it would end this process at once and
    leave the server running); the previous handler is restored afterwards."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextmanager
def running_server(config: ApiConfig, log: Callable[[str], None]) -> Iterator[Server]:
    with sigterm_unwinds(), tempfile.TemporaryDirectory(prefix="podlayout-bench-") as tmp:
        port = free_port()
        log_path = Path(tmp) / "server.log"
        command = [sys.executable, "-m", "api.cli", "serve", "--host", "127.0.0.1",
                   "--port", str(port)]
        log(f"starting {' '.join(command)} (store {tmp}/jobs.sqlite3)")
        started = time.monotonic()
        with log_path.open("wb") as out:
            process = subprocess.Popen(command, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT,
                                       stdin=subprocess.DEVNULL,
                                       env=server_env(Path(tmp) / "jobs.sqlite3", config))
        server = Server(process, f"http://127.0.0.1:{port}", log_path)
        try:
            wait_healthy(server, started)
            log(f"server up on port {port} after {server.startup_seconds:.2f} s")
            yield server
        finally:
            stop_server(server)
            server.log_errors = problems = server.log_problems()
            server.graceful = "Application shutdown complete" in server.log_text()
            # uvicorn re-raises the SIGTERM it handled once shut down: exit code -15 is normal.
            how = ("killed after SIGTERM timed out" if server.killed
                   else "graceful shutdown" if server.graceful else "no shutdown in its log")
            log(f"server stopped in {server.stop_seconds:.2f} s ({how}; exit code "
                f"{server.exit_code})")
            if problems:
                log(f"server log has {len(problems)} error line(s):")
                for line in problems[:20]:
                    log(f"  {line}")


# -- load ---------------------------------------------------------------------------------


def _describe(response: httpx.Response) -> str:
    text = response.text
    return f"HTTP {response.status_code}: {text[:300]}"


@dataclass(frozen=True)
class Endpoint:
    """What one scenario sends, and the `status` a right answer carries."""

    method: str
    path: str
    body: bytes | None
    status_of: Callable[[Any], str]
    expect: str = "optimal"
    solver_of: Callable[[Any], Any] | None = None  # the answer's `solver` block, if any

    @property
    def name(self) -> str:
        return f"{self.method} {self.path}"


def solver_ms(solver: Any) -> float | None:
    """`solver.wallTimeSeconds` in ms: the solve as the advisor timed it, inside the server."""
    wall = solver.get("wallTimeSeconds") if isinstance(solver, dict) else None
    return 1000 * float(wall) if isinstance(wall, int | float) else None


def request_checked(client: httpx.Client, endpoint: Endpoint,
                    tally: Tally) -> tuple[float, float | None]:
    """One request: its latency in ms and, for a right answer with a `solver` block, the
    solve's own wall time in ms. Failures go to `tally`."""
    where = endpoint.name
    started = time.perf_counter()
    try:
        if endpoint.body is None:
            response = client.request(endpoint.method, endpoint.path)
        else:
            response = client.request(endpoint.method, endpoint.path, content=endpoint.body,
                                      headers=JSON_HEADERS)
    except httpx.HTTPError as exc:
        elapsed = 1000 * (time.perf_counter() - started)
        tally.add(type(exc).__name__, f"{where}: {type(exc).__name__}: {exc} after "
                                      f"{elapsed:.0f} ms")
        return elapsed, None
    elapsed = 1000 * (time.perf_counter() - started)
    if not response.is_success:
        tally.add(f"HTTP {response.status_code}", f"{where}: {_describe(response)}")
        return elapsed, None
    try:
        body = response.json()
    except ValueError:
        body = None
    status = endpoint.status_of(body)
    if status != endpoint.expect:
        tally.add(f"status {status}", f"{where}: {response.status_code} with status {status}")
        return elapsed, None
    return elapsed, None if endpoint.solver_of is None else solver_ms(endpoint.solver_of(body))


def load_scenario(base_url: str, endpoint: Endpoint, requests: int, concurrency: int,
                  warmup: int) -> Scenario:
    """`concurrency` threads, each with its own keep-alive connection, send `requests`
    requests in all, each thread sending its next as soon as its last is answered."""
    tally = Tally()
    warm_tally = Tally()
    barrier = threading.Barrier(concurrency + 1)
    counter_lock = threading.Lock()
    issued = 0
    stop = threading.Event()  # set when this thread is interrupted: the clients give up

    def take() -> bool:
        nonlocal issued
        with counter_lock:
            if issued >= requests or stop.is_set():
                return False
            issued += 1
            return True

    def client_thread() -> tuple[list[float], list[float]]:
        latencies: list[float] = []
        solves: list[float] = []
        with httpx.Client(base_url=base_url, timeout=REQUEST_TIMEOUT) as client:
            try:
                for _ in range(warmup):
                    if stop.is_set():
                        break
                    request_checked(client, endpoint, warm_tally)
            finally:
                barrier.wait()
            while take():
                elapsed, solve = request_checked(client, endpoint, tally)
                latencies.append(elapsed)
                if solve is not None:
                    solves.append(solve)
        return latencies, solves

    with ThreadPoolExecutor(concurrency, thread_name_prefix="bench-client") as pool:
        futures = [pool.submit(client_thread) for _ in range(concurrency)]
        try:
            barrier.wait()
            started = time.perf_counter()
            results = [f.result() for f in futures]
            seconds = time.perf_counter() - started
        except BaseException:  # Ctrl-C or SIGTERM: stop the clients before the server
            stop.set()
            barrier.abort()
            raise
    tally.absorb_warmup(warm_tally)
    solves = [x for _, r in results for x in r]
    return Scenario(endpoint.name, requests, str(concurrency), seconds,
                    [x for r, _ in results for x in r], tally.count, dict(tally.kinds),
                    tally.samples, extra={"warmup_per_client": warmup, **_solver_extra(solves)})


def _solver_extra(solves: list[float]) -> dict[str, Any]:
    if not solves:
        return {}
    return {"solver_wall_p50_ms": _round(percentile(solves, 50)),
            "solver_wall_p90_ms": _round(percentile(solves, 90)),
            "solver_wall_p99_ms": _round(percentile(solves, 99))}


def _get_json(client: httpx.Client, path: str, tally: Tally) -> Any:
    try:
        response = client.get(path)
    except httpx.HTTPError as exc:
        tally.add(type(exc).__name__, f"GET {path}: {type(exc).__name__}: {exc}")
        return None
    if not response.is_success:
        tally.add(f"HTTP {response.status_code}", f"GET {path}: {_describe(response)}")
        return None
    try:
        return response.json()
    except ValueError:
        tally.add("not JSON", f"GET {path}: {_describe(response)}")
        return None


def _submit(client: httpx.Client, body: bytes, tally: Tally) -> tuple[float, str | None]:
    started = time.perf_counter()
    try:
        response = client.post("/v1/jobs", content=body, headers=JSON_HEADERS)
    except httpx.HTTPError as exc:
        tally.add(type(exc).__name__, f"POST /v1/jobs: {type(exc).__name__}: {exc}")
        return 1000 * (time.perf_counter() - started), None
    elapsed = 1000 * (time.perf_counter() - started)
    if response.status_code != 202:
        tally.add(f"HTTP {response.status_code}", f"POST /v1/jobs: {_describe(response)}")
        return elapsed, None
    return elapsed, str(response.json()["id"])


def _wait_all_done(client: httpx.Client, tally: Tally) -> float | None:
    """Polls the job list until nothing is queued or running; the client time then."""
    deadline = time.monotonic() + JOBS_TIMEOUT
    while time.monotonic() < deadline:
        pending = 0
        for status in ("queued", "running"):
            page = _get_json(client, f"/v1/jobs?status={status}&limit=1", tally)
            pending += 1 if page is None else int(page["total"])
        if pending == 0:
            return time.time()
        time.sleep(POLL_SECONDS)
    tally.add("timeout", f"jobs still queued or running after {JOBS_TIMEOUT:g} s")
    return None


def _check_job(view: Any, job_id: str, tally: Tally) -> tuple[float, float] | None:
    """(created -> finished, started -> finished) in ms for a done, optimal job."""
    if not isinstance(view, dict):
        return None
    if view.get("status") != "done":
        tally.add(f"job {view.get('status')}", f"job {job_id}: status {view.get('status')}, "
                                               f"error {view.get('error')}")
        return None
    status = top_status(view.get("result"))
    if status != "optimal":
        tally.add(f"status {status}", f"job {job_id}: result status {status}")
        return None
    created, started, finished = (float(view[k]) for k in
                                  ("createdAt", "startedAt", "finishedAt"))
    return 1000 * (finished - created), 1000 * (finished - started)


def job_scenarios(base_url: str, body: bytes, jobs: int, workers: int,
                  warmup: int) -> list[Scenario]:
    """Submits `jobs` advise jobs back to back from one client, then waits until the server
    has finished them all; checks every job through GET /v1/jobs/{id}."""
    warm = Tally()
    submit_tally = Tally()
    done_tally = Tally()
    with httpx.Client(base_url=base_url, timeout=REQUEST_TIMEOUT) as client:
        warm_ids = [job_id for _ in range(max(1, warmup // 2))
                    if (job_id := _submit(client, body, warm)[1]) is not None]
        _wait_all_done(client, warm)
        for job_id in warm_ids:
            _check_job(_get_json(client, f"/v1/jobs/{job_id}", warm), job_id, warm)

        submit_ms: list[float] = []
        ids: list[str] = []
        first = time.time()
        started = time.perf_counter()
        for _ in range(jobs):
            elapsed, job_id = _submit(client, body, submit_tally)
            submit_ms.append(elapsed)
            if job_id is not None:
                ids.append(job_id)
        submit_seconds = time.perf_counter() - started
        observed = _wait_all_done(client, done_tally)
        observed_seconds = time.perf_counter() - started

        turnaround: list[float] = []
        run_ms: list[float] = []
        last_finished = first
        for job_id in ids:
            view = _get_json(client, f"/v1/jobs/{job_id}", done_tally)
            times = _check_job(view, job_id, done_tally)
            if times is not None:
                turnaround.append(times[0])
                run_ms.append(times[1])
                last_finished = max(last_finished, float(view["finishedAt"]))
    done_tally.absorb_warmup(warm)
    # The server's clock: from the first submit to the last job's finishedAt.
    server_seconds = last_finished - first
    submit = Scenario("POST /v1/jobs (submit only)", jobs, "1", submit_seconds, submit_ms,
                      submit_tally.count, dict(submit_tally.kinds), submit_tally.samples)
    done = Scenario(
        f"jobs: {jobs} submitted -> all done", jobs, f"{workers} job workers", server_seconds,
        turnaround, done_tally.count, dict(done_tally.kinds), done_tally.samples,
        extra={
            "latency": "per job, createdAt -> finishedAt (server clock): queue wait + run",
            "run_p50_ms": _round(percentile(run_ms, 50)),
            "run_p90_ms": _round(percentile(run_ms, 90)),
            "run_p99_ms": _round(percentile(run_ms, 99)),
            "client_observed_seconds": None if observed is None else round(observed_seconds, 4),
            "poll_seconds": POLL_SECONDS,
        })
    return [submit, done]


# -- the run ------------------------------------------------------------------------------


def run_api(config: ApiConfig, log: Callable[[str], None]) -> tuple[list[Scenario], Server]:
    advise_body = problem_json(ADVISE_FILE, config.solver_workers)
    review_body = problem_json(REVIEW_FILE, config.solver_workers)
    n = config.requests
    scenarios = [
        in_process("in-process advise (solve only)", advise_body, "advise", n, config.warmup,
                   full=False),
        in_process("in-process advise (parse + solve + JSON)", advise_body, "advise", n,
                   config.warmup, full=True),
        in_process("in-process review (solve only)", review_body, "review", n, config.warmup,
                   full=False),
        in_process("in-process review (parse + solve + JSON)", review_body, "review", n,
                   config.warmup, full=True),
    ]
    for s in scenarios:
        log(_line(s))
    with running_server(config, log) as server:
        # The HTTP round trip alone (client, loopback, uvicorn, FastAPI), for scale.
        healthz = Endpoint("GET", "/healthz", None, top_status, "ok")
        s = load_scenario(server.base_url, healthz, n, 1, config.warmup)
        log(_line(s))
        scenarios.append(s)
        for endpoint in (Endpoint("POST", "/v1/advise", advise_body, top_status, "optimal",
                                  lambda body: body.get("solver")),
                         Endpoint("POST", "/v1/review", review_body, advised_status, "optimal",
                                  lambda body: body.get("advised", {}).get("solver"))):
            for concurrency in config.concurrency:
                s = load_scenario(server.base_url, endpoint, n, concurrency, config.warmup)
                log(_line(s))
                scenarios.append(s)
        for s in job_scenarios(server.base_url, advise_body, config.jobs, config.job_workers,
                               config.warmup):
            log(_line(s))
            scenarios.append(s)
    return scenarios, server


def _line(s: Scenario) -> str:
    d = s.summary()
    return (f"{s.name}, concurrency {s.concurrency}: {s.requests} in {s.seconds:.2f} s, "
            f"{d['throughput']:.1f}/s, p50 {d['p50_ms']} ms, p99 {d['p99_ms']} ms, "
            f"{s.errors} error(s)" + (f" {s.error_kinds}" if s.errors else ""))


def _ms(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1f}"


COLUMNS = ("scenario", "requests", "concurrency", "throughput (req/s)", "p50 ms", "p90 ms",
           "p99 ms", "errors")


def markdown_table(scenarios: list[Scenario]) -> str:
    lines = ["| " + " | ".join(COLUMNS) + " |",
             "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for s in scenarios:
        lat = s.latencies_ms
        lines.append("| " + " | ".join([
            s.name, str(s.requests), s.concurrency, f"{s.throughput:.1f}",
            _ms(percentile(lat, 50)), _ms(percentile(lat, 90)), _ms(percentile(lat, 99)),
            str(s.errors)]) + " |")
    return "\n".join(lines)


def _p50(scenarios: list[Scenario], name: str, concurrency: str = "1") -> float | None:
    for s in scenarios:
        if s.name == name and s.concurrency == concurrency:
            return percentile(s.latencies_ms, 50)
    return None


def _extra(scenarios: list[Scenario], name: str, key: str) -> float | None:
    for s in scenarios:
        if s.name == name and s.concurrency == "1":
            value = s.extra.get(key)
            return float(value) if isinstance(value, int | float) else None
    return None


def _rate(scenarios: list[Scenario], name: str, concurrency: str) -> float | None:
    for s in scenarios:
        if s.name == name and s.concurrency == concurrency:
            return s.throughput
    return None


def summary_text(scenarios: list[Scenario], concurrency: tuple[int, ...]) -> str:
    """Where the time of one request goes, by medians at concurrency 1."""
    lines = []
    healthz = _p50(scenarios, "GET /healthz")
    for kind in ("advise", "review"):
        http = _p50(scenarios, f"POST /v1/{kind}")
        solve = _p50(scenarios, f"in-process {kind} (solve only)")
        full = _p50(scenarios, f"in-process {kind} (parse + solve + JSON)")
        if http is None or solve is None or full is None or healthz is None:
            continue
        line = (f"- {kind}: median {http:.1f} ms over HTTP against {full:.1f} ms in process "
                f"(solve alone {solve:.1f} ms): {http - full:.1f} ms of HTTP and server "
                f"overhead, of which an empty GET /healthz round trip is {healthz:.1f} ms")
        inside, outside = (_extra(scenarios, name, "solver_wall_p50_ms") for name in
                           (f"POST /v1/{kind}", f"in-process {kind} (solve only)"))
        if inside is not None and outside is not None:
            line += (f"; solver.wallTimeSeconds median {inside:.1f} ms in the server, "
                     f"{outside:.1f} ms in process")
        low, high = str(min(concurrency)), str(max(concurrency))
        one, many = (_rate(scenarios, f"POST /v1/{kind}", c) for c in (low, high))
        if low != high and one and many:
            line += (f"; {high} clients get {many / one:.2f}x the throughput of "
                     f"{low}")
        lines.append(line)
    return "\n".join(lines)


def failures(scenarios: list[Scenario]) -> list[str]:
    out = []
    for s in scenarios:
        if s.errors:
            out.append(f"{s.name} (concurrency {s.concurrency}): {s.errors} error(s) "
                       f"{s.error_kinds}")
            out += [f"  {sample}" for sample in s.error_samples]
    return out


def _version(name: str) -> str:
    try:
        return version(name)
    except PackageNotFoundError:
        return "unknown"


def report(config: ApiConfig, scenarios: list[Scenario], server: Server | None,
           argv: list[str]) -> dict[str, Any]:
    return {
        "benchmark": "api",
        "command": " ".join(["python", "-m", "bench", *argv]),
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": {**machine(), **{name: _version(name) for name in
                                    ("fastapi", "uvicorn", "starlette", "httpx")}},
        "config": asdict(config),
        "server": None if server is None else {
            "startup_seconds": round(server.startup_seconds, 3),
            "stop_seconds": round(server.stop_seconds, 3), "killed": server.killed,
            "graceful": server.graceful, "exit_code": server.exit_code,
            "log_errors": server.log_errors,
        },
        "results": [s.summary() for s in scenarios],
    }
