"""The child processes of a batch: at most `jobs` at once, one per input.

Limits, per input: the child's address space (`--memory-limit`, RLIMIT_AS: a blow-up ends
that child with an out-of-memory error, not the machine's other solves), and its wall time:
a child still running `time limit x 3 + 30 s` after it started is killed (exit code 3 in
its line), since a solve stops itself at its time limit and the rest is loading and
writing. A child that dies without an answer (killed by the kernel, a crash in native code)
is that input's internal error; the batch goes on.

Ctrl-C (SIGINT) or SIGTERM (what Kubernetes sends before it stops a pod) stops the batch:
no input is started any more, each running child is asked once to stop its solve and keep
the best plan so far, and is killed if it has not answered within STOP_GRACE seconds; a
second Ctrl-C kills them at once. Inputs not started are reported as interrupted.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import sys
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from multiprocessing.process import BaseProcess
from types import FrameType
from typing import Any

from advisor.batch.child import main as child_main
from advisor.batch.records import EXIT_INTERNAL, EXIT_INTERRUPTED
from advisor.batch.tasks import FileResult, FileTask

LOAD_GRACE = 120.0  # seconds to load an input and say its time limit (10 MB of YAML)
TIME_FACTOR, TIME_MARGIN = 3.0, 30.0
STOP_GRACE = 30.0  # after Ctrl-C, seconds a child has to hand in its best plan
POLL = 0.5


@dataclass
class _Child:
    task: FileTask
    process: BaseProcess
    conn: Connection
    started: float
    deadline: float
    result: FileResult | None = None
    killed: str | None = None


@dataclass
class _Stop:
    """Ctrl-C and SIGTERM, counted by a signal handler and acted on by the loop."""

    presses: int = 0
    asked: set[int] = field(default_factory=set)

    def handler(self, signum: int, frame: FrameType | None) -> None:
        self.presses += 1


@contextmanager
def _stop_signals(stop: _Stop) -> Iterator[None]:
    old = {sig: signal.signal(sig, stop.handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in old.items():
            signal.signal(sig, handler)


def _context() -> Any:
    """A fork server that has loaded the core once: each child starts in milliseconds with
    nothing of the batch's own state (no threads, no open progress display)."""
    if sys.platform.startswith("linux"):
        ctx = multiprocessing.get_context("forkserver")
        ctx.set_forkserver_preload(["advisor.batch.worker"])
        return ctx
    return multiprocessing.get_context("spawn")


def _failed(task: FileTask, code: int, status: str, error: str) -> FileResult:
    return FileResult({"file": task.path, "exitCode": code, "status": status, "error": error},
                      interrupted=code == EXIT_INTERRUPTED)


def not_started(task: FileTask) -> FileResult:
    return _failed(task, EXIT_INTERRUPTED, "interrupted",
                   "not started: the batch was interrupted")


class Pool:
    def __init__(self, jobs: int, on_done: Callable[[FileTask, FileResult], None],
                 on_start: Callable[[FileTask], None] | None = None) -> None:
        self.jobs = max(1, jobs)
        self.on_done = on_done
        self.on_start = on_start
        self.ctx = _context()
        self.running: list[_Child] = []
        self.stop = _Stop()

    def run(self, tasks: list[FileTask]) -> bool:
        """Solve every task; True when the batch was interrupted."""
        pending = deque(tasks)
        with _stop_signals(self.stop):
            while pending or self.running:
                while pending and len(self.running) < self.jobs and not self.stop.presses:
                    self._start(pending.popleft())
                if self.stop.presses:
                    while pending:
                        self.on_done(task := pending.popleft(), not_started(task))
                self._step()
        return self.stop.presses > 0

    def _start(self, task: FileTask) -> None:
        if self.on_start is not None:  # the first start waits for the fork server to load
            self.on_start(task)
        ours, theirs = self.ctx.Pipe(duplex=False)
        process = self.ctx.Process(target=child_main, args=(task, theirs), daemon=True,
                                   name=f"podlayout-batch-{task.position}")
        process.start()
        theirs.close()
        now = time.monotonic()
        self.running.append(_Child(task, process, ours, now, now + LOAD_GRACE))

    def _step(self) -> None:
        now = time.monotonic()
        timeout = min([POLL] + [max(0.0, c.deadline - now) for c in self.running])
        wait([c.conn for c in self.running] + [c.process.sentinel for c in self.running],
             timeout)
        self._ask_to_stop()
        for child in list(self.running):
            self._read(child)
            if time.monotonic() > child.deadline and child.process.is_alive():
                child.killed = child.killed or "no answer in time"
                child.process.kill()
            if not child.process.is_alive():
                self._read(child)
                self._end(child)

    def _ask_to_stop(self) -> None:
        """The first Ctrl-C: one SIGINT to each running child; a second: kill them."""
        if not self.stop.presses:
            return
        for child in self.running:
            pid = child.process.pid
            if pid is None or not child.process.is_alive():
                continue
            if self.stop.presses > 1:
                child.killed = "interrupted twice"
                child.process.kill()
            elif pid not in self.stop.asked:
                self.stop.asked.add(pid)
                _signal(pid, signal.SIGINT)
                child.deadline = min(child.deadline, time.monotonic() + STOP_GRACE)

    def _read(self, child: _Child) -> None:
        try:
            while child.conn.poll():
                kind, value = child.conn.recv()
                if kind == "limit":
                    child.deadline = (child.started + TIME_FACTOR * float(value)
                                      + TIME_MARGIN)
                else:
                    child.result = value
        except (EOFError, OSError):
            pass

    def _end(self, child: _Child) -> None:
        child.process.join()
        child.conn.close()
        self.running.remove(child)
        result = child.result or self._lost(child)
        self.on_done(child.task, result)

    def _lost(self, child: _Child) -> FileResult:
        """A child that ended without an answer."""
        task = child.task
        if self.stop.presses:  # stopped, or killed for not stopping in time
            return _failed(task, EXIT_INTERRUPTED, "interrupted",
                           "interrupted: the solve's process ended without an answer")
        if child.killed:
            seconds = time.monotonic() - child.started
            return _failed(task, EXIT_INTERNAL, "error",
                           f"internal error: killed after {seconds:.0f} s without an answer "
                           f"(the limit is the time limit x {TIME_FACTOR:g} + "
                           f"{TIME_MARGIN:g} s)")
        code = child.process.exitcode
        how = (f"signal {-code}" if code is not None and code < 0 else f"exit code {code}")
        return _failed(task, EXIT_INTERNAL, "error",
                       f"internal error: the solve's process ended without an answer ({how}; "
                       "out of memory?)")


def _signal(pid: int, signum: int) -> None:
    with suppress(ProcessLookupError):  # it ended meanwhile
        os.kill(pid, signum)
