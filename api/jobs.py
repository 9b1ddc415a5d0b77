"""Background jobs: a bounded pool of solver threads fed from the job store.

The store is the queue: a worker claims the oldest queued job, so jobs that were queued or
running when the server died are picked up again after a restart (or, on a store several
servers share, by another server once the dead one's leases run out). CP-SAT releases the
GIL while it searches; a `SolveControl` per running job carries the stop button and the best
plan so far, which a flusher thread writes to the store every second. A heartbeat thread
renews the leases of the running jobs, reads their stop flags (a DELETE may have reached
another server) and takes over the jobs of servers whose leases ran out.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from advisor.review import review
from advisor.solve import SolveControl, advise, relative_gap
from api.body import with_notes
from api.settings import Settings
from api.store import JobKind, JobRecord, JobStatus, Store, StoreError
from models import Problem, ProblemError, parse_problem

log = logging.getLogger("podlayout.jobs")

FLUSH_SECONDS = 1.0
PURGE_SECONDS = 600.0
# How often the heartbeat runs: often enough that a stop asked of another server is seen
# within seconds, and that a lease is renewed several times before it runs out.
HEARTBEAT_SECONDS = 2.0


def heartbeat_seconds(lease_seconds: float) -> float:
    return min(HEARTBEAT_SECONDS, lease_seconds / 3)


class QueueFullError(Exception):
    def __init__(self, limit: int) -> None:
        super().__init__(f"{limit} jobs are already waiting")
        self.limit = limit


@dataclass
class _Running:
    control: SolveControl
    # Objective of the best plan an earlier run (cut short by a crash) saved: this run's
    # plans replace it only once they are better.
    floor: float | None = None
    by_close: bool = False  # stopped by a clean shutdown, not by the user
    lost: bool = False  # another server took the job over: this run records nothing
    flushed_version: int = -1
    flushed_progress: Any = None
    done: threading.Event = field(default_factory=threading.Event)


class JobManager:
    def __init__(self, settings: Settings, store: Store) -> None:
        self.settings = settings
        self.store = store
        self._running: dict[str, _Running] = {}
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._closing = threading.Event()
        self._threads: list[threading.Thread] = []

    # -- lifecycle ------------------------------------------------------------------------

    def start(self) -> None:
        for job_id, status in self.store.recover(self.settings.max_attempts).items():
            if status == "queued":
                log.info("job %s: was running when the server stopped; runs again", job_id)
            else:
                log.warning("job %s: was running when the server stopped; now %s, keeping "
                            "its last best plan", job_id, status)
        self.purge()
        for i in range(self.settings.workers):
            self._spawn(self._work, f"podlayout-job-{i}")
        self._spawn(self._flush_loop, "podlayout-flush")
        self._spawn(self._heartbeat_loop, "podlayout-heartbeat")

    def _spawn(self, target: Any, name: str) -> None:
        thread = threading.Thread(target=target, name=name, daemon=True)
        thread.start()
        self._threads.append(thread)

    def close(self, timeout: float = 10.0) -> None:
        """Stop the running solves and put their jobs back in the queue for the next start."""
        self._closing.set()
        with self._wake:
            self._wake.notify_all()
            running = list(self._running.values())
        for job in running:
            job.by_close = True
            job.control.stop()
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        with self._lock:
            late = [job_id for job_id, job in self._running.items() if not job.done.is_set()]
        for job_id in late:  # still building a model that cannot be interrupted
            try:
                self.store.requeue(job_id)
                log.warning("job %s: still stopping at shutdown; back in the queue", job_id)
            except StoreError:
                log.exception("job %s: cannot put it back in the queue", job_id)

    # -- requests -------------------------------------------------------------------------

    def submit(self, kind: JobKind, problem: Problem, time_limit: float,
               notes: list[str]) -> str:
        self.store.ping()  # a store gone from under us must not swallow the job: 503
        if self.store.count("queued") >= self.settings.max_queued_jobs:
            raise QueueFullError(self.settings.max_queued_jobs)
        job_id = uuid.uuid4().hex
        data = problem.model_dump(mode="json", by_alias=True, exclude_unset=True)
        self.store.add(job_id, kind, data, time_limit, notes)
        log.info("job %s: queued (%s)", job_id, kind)
        with self._wake:
            self._wake.notify()
        return job_id

    def stop(self, job_id: str, wait: float) -> JobRecord | None:
        """Ask a job to stop; wait up to `wait` seconds for a running one to hand in its plan.
        None for an unknown job."""
        before = self.store.get(job_id)
        if before is None:
            return None
        self.store.request_stop(job_id)
        if before.status == "queued":
            log.info("job %s: cancelled before it ran", job_id)
        with self._lock:
            running = self._running.get(job_id)
        if running is not None:
            running.control.stop()
            running.done.wait(wait)
        elif before.status == "running":  # on another server: it reads the flag by heartbeat
            deadline = time.monotonic() + wait
            while time.monotonic() < deadline:
                after = self.store.get(job_id)
                if after is None or after.status != "running":
                    return after
                self._closing.wait(0.2)
        return self.store.get(job_id)

    def live_record(self, job_id: str) -> JobRecord | None:
        """The stored record, with progress fresher than the last flush for a running job."""
        record = self.store.get(job_id)
        with self._lock:
            running = self._running.get(job_id)
        if record is None or running is None or record.status != "running":
            return record
        try:
            self._flush_one(job_id, running)
        except StoreError as exc:  # a write locked out: the last flushed progress will do
            log.warning("job %s: fresh progress not saved: %s", job_id, exc)
            return record
        return self.store.get(job_id)

    def purge(self) -> int:
        cutoff = time.time() - self.settings.retention_hours * 3600
        removed = self.store.purge(cutoff)
        if removed:
            log.info("retention: removed %d finished job(s)", removed)
        return removed

    # -- threads --------------------------------------------------------------------------

    def _work(self) -> None:
        while not self._closing.is_set():
            try:
                record = self.store.claim_next()
                if record is None:
                    with self._wake:
                        self._wake.wait(1.0)
                    continue
                self._run(record)
            except StoreError as exc:  # locked or unreachable: say so, pause, go on
                log.warning("job worker: %s; trying again", exc)
                self._closing.wait(1.0)
            except Exception:  # the store hiccupped: pause and go on; the pool never shrinks
                log.exception("job worker: unexpected error; carrying on")
                self._closing.wait(1.0)

    def _run(self, record: JobRecord) -> None:
        control = SolveControl(keep_plans=True)
        earlier = record.best["solver"].get("objective") if record.best else None
        running = _Running(control, floor=earlier)
        with self._lock:
            self._running[record.id] = running
        try:
            self._solve_and_record(record, running)
        except Exception:  # e.g. the store failed mid-way: end the job rather than strand it
            log.exception("job %s: failed outside the solve", record.id)
            try:
                self.store.finish(record.id, "failed", None, {
                    "title": "Internal error", "status": 500,
                    "detail": "the job could not be run; the server log has the details"})
            except StoreError:
                log.exception("job %s: cannot record the failure", record.id)
        finally:
            with self._lock:
                self._running.pop(record.id, None)
            running.done.set()

    def _solve_and_record(self, record: JobRecord, running: _Running) -> None:
        control = running.control
        # Read the flag again now that a DELETE can find this run: one that came between
        # the claim and the registration saw no run to stop.
        if self._closing.is_set():
            running.by_close = True
            control.stop()
        elif self._stop_asked(record.id):
            control.stop()
        log.info("job %s: running (attempt %d)", record.id, record.attempts)
        started = time.monotonic()
        result, error = self._solve(record, control)
        if running.lost:
            log.warning("job %s: another server took it over; this run's end is dropped",
                        record.id)
            return
        if running.by_close and control.stopped and not self._stop_asked(record.id):
            # Stopped by a clean shutdown, not by the user: not the job's fault, not its end.
            self.store.requeue(record.id)
            log.info("job %s: back in the queue for the next start", record.id)
            return
        self._record_end(record.id, running, result, error, started)

    def _solve(self, record: JobRecord, control: SolveControl
               ) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
        """(result, None), or (None, the problem+json error) when the job failed."""
        try:
            problem = parse_problem(record.problem)
            if record.kind == "review":
                return with_notes(review(problem, control).to_wire(), record.notes), None
            return with_notes(advise(problem, control).to_wire(), record.notes), None
        except ProblemError as exc:
            return None, {
                "title": "Invalid problem", "status": 422, "detail": str(exc),
                "errors": [{"field": i.path, "message": i.message} for i in exc.issues]}
        except Exception as exc:  # one job's failure must not take the worker down
            log.exception("job %s failed", record.id)
            return None, {"title": "Internal error", "status": 500,
                          "detail": f"the solve failed: {type(exc).__name__}"}

    def _record_end(self, job_id: str, running: _Running, result: dict[str, Any] | None,
                    error: dict[str, Any] | None, started: float) -> None:
        control = running.control
        best = result.get("advised", result) if result is not None else None
        status: JobStatus = "failed" if error else "stopped" if control.stopped else "done"
        for attempt in range(3):  # a full disk or a locked file may pass; then give up
            try:
                self._flush_one(job_id, running)
                if best is not None:  # the progress the answer ends with, not the last report
                    solver = best["solver"]
                    self.store.save_progress(job_id, {
                        "objective": solver["objective"], "bound": solver["bound"],
                        "gap": solver["gap"], "solutions": control.progress.solutions
                        if control.progress else 0}, None)
                if self.store.finish(job_id, status, result, error):
                    log.info("job %s: %s in %.1f s", job_id, status, time.monotonic() - started)
                else:
                    log.warning("job %s: another server took it over; this run's end is "
                                "dropped", job_id)
                return
            except StoreError:
                log.exception("job %s: cannot record its end (try %d of 3)", job_id,
                              attempt + 1)
                if self._closing.wait(0.5 * (attempt + 1)):
                    break
        log.error("job %s: its end is not recorded; the next start runs it again", job_id)

    def _stop_asked(self, job_id: str) -> bool:
        record = self.store.get(job_id)
        return record is not None and record.stop_requested

    def _flush_loop(self) -> None:
        last_purge = time.monotonic()
        while not self._closing.wait(FLUSH_SECONDS):
            with self._lock:
                running = list(self._running.items())
            for job_id, job in running:
                try:
                    self._flush_one(job_id, job)
                except Exception:
                    log.exception("job %s: cannot save progress", job_id)
            if time.monotonic() - last_purge > PURGE_SECONDS:
                last_purge = time.monotonic()
                try:
                    self.purge()
                except Exception:
                    log.exception("retention purge failed")

    def _heartbeat_loop(self) -> None:
        while not self._closing.wait(heartbeat_seconds(self.settings.lease_seconds)):
            try:
                self._beat()
                self._take_over()
            except StoreError as exc:  # unreachable for a moment: the lease has slack
                log.warning("heartbeat: %s; trying again", exc)
            except Exception:
                log.exception("heartbeat failed; trying again")

    def _beat(self) -> None:
        """Renew the leases of the running jobs; stop those asked to stop, or taken over."""
        with self._lock:
            running = dict(self._running)
        beat = self.store.heartbeat(list(running))
        for job_id in beat.stop:
            running[job_id].control.stop()
        for job_id in beat.lost:
            job = running[job_id]
            if not job.done.is_set():
                log.warning("job %s: its lease ran out and another server took it over",
                            job_id)
                job.lost = True
                job.control.stop()

    def _take_over(self) -> None:
        """The jobs of servers whose leases ran out: queued again, or ended."""
        moved = self.store.reclaim(self.settings.max_attempts)
        for job_id, status in moved.items():
            log.warning("job %s: its server stopped renewing its lease; now %s", job_id, status)
        if "queued" in moved.values():
            with self._wake:
                self._wake.notify_all()

    def _flush_one(self, job_id: str, job: _Running) -> None:
        control = job.control
        if control.stopped:
            control.stop()  # again: a stop that came as CP-SAT was starting can be missed
        progress = control.progress
        version = control.version
        best = None
        if version != job.flushed_version:
            plan = control.best_plan()
            if plan is not None and job.floor is not None:
                if plan.solver.objective is None or plan.solver.objective > job.floor:
                    plan = None  # worse than what the run before saved: keep that one
                else:
                    job.floor = None
            best = plan.to_wire() if plan is not None else None
        wire_progress = None
        if progress is not None and progress is not job.flushed_progress:
            wire_progress = {"objective": progress.objective, "bound": progress.bound,
                             "gap": relative_gap(progress.objective, progress.bound),
                             "solutions": progress.solutions}
        if best is None and wire_progress is None:
            return
        self.store.save_progress(job_id, wire_progress, best)
        job.flushed_version = version
        job.flushed_progress = progress

