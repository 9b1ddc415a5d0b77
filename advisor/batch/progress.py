"""What a batch shows on stderr while it runs.

For logs, pipes and CI: a line per input as it ends, `[3/40] FILE: status, ETA 1m20s`. For a
person at a terminal, the same lines scroll above a live display: a bar of the inputs done
out of the total with the time elapsed and the time left, and a line per input being solved
with how long it has run. The display is transient (nothing of it stays on the screen) and
stdout only ever gets the results.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

from rich.console import Console, RenderableType
from rich.progress import BarColumn, ProgressColumn, Task, TextColumn
from rich.progress import Progress as Bars
from rich.table import Column
from rich.text import Text

from advisor.batch.tasks import FileTask


def minutes(seconds: float) -> str:
    """`1m05s`: how the batch writes a duration, on the lines and on the display."""
    whole = round(seconds)
    return f"{whole // 60}m{whole % 60:02d}s"


@dataclass
class BatchClock:
    """Inputs done out of the total, and when the last one ended, for the batch's ETA."""

    total: int
    now: Callable[[], float] = time.monotonic
    done: int = 0
    started: float = field(init=False)
    last_done: float = field(init=False)

    def __post_init__(self) -> None:
        self.started = self.last_done = self.now()

    def finish_one(self) -> None:
        self.done += 1
        self.last_done = self.now()

    def elapsed(self) -> float:
        return self.now() - self.started

    def eta(self) -> float | None:
        """Seconds left at the pace so far (inputs solved at once and resumed ones included):
        the mean time per input done for each one left, less the time since the last one
        ended; None before the first one ends and after the last."""
        if self.done == 0 or self.done >= self.total:
            return None
        mean = (self.last_done - self.started) / self.done
        return max(0.0, mean * (self.total - self.done) - (self.now() - self.last_done))


class Watcher(Protocol):
    """Told when an input starts and when it ends (with its line)."""

    def started(self, task: FileTask) -> None: ...

    def finished(self, task: FileTask, line: str) -> None: ...

    def close(self) -> None: ...


class Lines:
    """The line of each input as it ends, and nothing else: for logs, pipes and CI."""

    def started(self, task: FileTask) -> None:
        pass

    def finished(self, task: FileTask, line: str) -> None:
        sys.stderr.write(line + "\n")
        sys.stderr.flush()

    def close(self) -> None:
        pass


class _Times(ProgressColumn):
    """`0m12s elapsed, ETA 0m30s`, from the batch's clock at each refresh: the time left
    counts down between two inputs' ends."""

    def __init__(self, clock: BatchClock) -> None:
        super().__init__(table_column=Column(no_wrap=True))
        self.clock = clock

    def render(self, task: Task) -> Text:
        eta = self.clock.eta()
        return Text(f"{minutes(self.clock.elapsed())} elapsed, "
                    f"ETA {'-' if eta is None else minutes(eta)}")


class _Rows(Bars):
    """Rich's progress row, and under it the lines `more` gives at each refresh."""

    def __init__(self, more: Callable[[], Iterable[RenderableType]],
                 *columns: str | ProgressColumn, **options: Any) -> None:
        self.more = more  # before rich's __init__, which draws the display once
        super().__init__(*columns, **options)

    def get_renderables(self) -> Iterable[RenderableType]:
        yield self.make_tasks_table(self.tasks)
        yield from self.more()


class LiveDisplay:
    """The live display on a terminal; each input's line is printed above it."""

    def __init__(self, clock: BatchClock, console: Console, redirect_stdout: bool = False
                 ) -> None:
        self.clock = clock
        self.running: dict[int, tuple[str, float]] = {}  # by position: path, start
        # stdout on the same terminal goes above the display, not through it; stdout
        # anywhere else (a pipe, a file) is left alone.
        self.bars = _Rows(
            self.running_rows, TextColumn("batch"), BarColumn(bar_width=20),
            TextColumn("{task.completed:.0f}/{task.total:.0f} files",
                       table_column=Column(no_wrap=True)),
            _Times(clock), console=console, transient=True, redirect_stdout=redirect_stdout,
            redirect_stderr=False, refresh_per_second=4, get_time=clock.now)
        self.files = self.bars.add_task("batch", total=clock.total, completed=clock.done)

    def start(self) -> LiveDisplay:
        self.bars.start()
        return self

    def started(self, task: FileTask) -> None:
        self.running[task.position] = (task.path, self.clock.now())

    def finished(self, task: FileTask, line: str) -> None:
        self.running.pop(task.position, None)
        self.bars.update(self.files, completed=self.clock.done)
        self.bars.refresh()  # the line goes above the display as it is now, not as it was
        self.bars.console.print(line, markup=False, highlight=False, soft_wrap=True)

    def close(self) -> None:
        self.bars.stop()

    def running_rows(self) -> list[RenderableType]:
        """A line per input being solved, the oldest first: how long it has run, its path."""
        now = self.clock.now()
        # A long path loses its end, never the time before it.
        return [Text.assemble((f"  {minutes(now - since):>6} ", "dim"), path, no_wrap=True,
                              overflow="ellipsis")
                for path, since in self.running.values()]
