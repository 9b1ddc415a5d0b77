"""What a batch shows on stderr: on a terminal, a live display (the inputs done with the time
elapsed and left, a line per input being solved) with each input's line printed above it;
anywhere else, those lines alone, as logs and CI read them."""

from __future__ import annotations

import io
import json
import os
import re
from pathlib import Path

import pytest
from rich.console import Console

from advisor.batch.keys import ResultOptions
from advisor.batch.progress import BatchClock, Lines, LiveDisplay
from advisor.batch.runner import BatchOptions, run_batch
from advisor.batch.shards import Shard
from advisor.batch.tasks import FileResult, FileTask
from tests.batch_support import batch, write_inputs

LINE = re.compile(r"\[(\d+)/(\d+)\] (\S+): (\w+)(?:, ETA \d+m\d\ds)?")


def task(position: int, path: str) -> FileTask:
    return FileTask(position=position, path=path, name=f"input-{position}", report="json",
                    output_dir=None, time_limit=None, workers=1, share=1, nodes=None,
                    defaults=None, injected=(), memory_limit=None)


def screen() -> Console:
    return Console(file=io.StringIO(), force_terminal=True, width=100, record=True)


def test_the_display_shows_the_files_done_the_eta_and_each_running_file() -> None:
    now = [0.0]
    clock = BatchClock(total=4, now=lambda: now[0])
    console = screen()
    display = LiveDisplay(clock, console)
    a, b, c = task(0, "in/a.json"), task(1, "in/b.json"), task(2, "in/c.json")
    display.started(a)
    display.started(b)
    now[0] = 4.0
    display.started(c)
    console.print(display.bars)
    shown = console.export_text()
    assert "0/4 files" in shown
    assert "0m04s elapsed, ETA -" in shown  # nothing done yet: no estimate
    assert re.search(r"0m04s +in/a\.json", shown)
    assert re.search(r"0m04s +in/b\.json", shown)
    assert re.search(r"0m00s +in/c\.json", shown)

    now[0] = 10.0
    clock.finish_one()
    display.finished(a, "[1/4] in/a.json: optimal, ETA 0m30s")
    assert console.export_text() == "[1/4] in/a.json: optimal, ETA 0m30s\n"
    now[0] = 15.0
    console.print(display.bars)
    shown = console.export_text()
    assert "1/4 files" in shown
    assert "0m15s elapsed, ETA 0m25s" in shown  # 10 s a file, 3 left, 5 s into them
    assert "in/a.json" not in shown  # done: no longer running
    assert re.search(r"0m15s +in/b\.json", shown)
    assert re.search(r"0m11s +in/c\.json", shown)
    assert shown.index("in/b.json") < shown.index("in/c.json")  # the oldest first


def test_a_live_display_prints_the_lines_above_it_and_leaves_nothing() -> None:
    console = screen()
    clock = BatchClock(total=2)
    display = LiveDisplay(clock, console).start()
    display.started(task(0, "a.json"))
    clock.finish_one()
    display.finished(task(0, "a.json"), "[1/2] a.json: optimal, ETA 0m01s")
    display.close()
    output = console.file.getvalue()  # type: ignore[attr-defined]
    assert "[1/2] a.json: optimal, ETA 0m01s" in output
    assert "\x1b[" in output  # drawn with terminal codes, then erased
    assert not display.bars.live.is_started


def test_plain_lines_go_to_stderr_alone(capsys: pytest.CaptureFixture[str]) -> None:
    lines = Lines()
    lines.started(task(0, "a.json"))
    lines.finished(task(0, "a.json"), "[1/1] a.json: optimal")
    lines.close()
    captured = capsys.readouterr()
    assert captured.err == "[1/1] a.json: optimal\n"
    assert captured.out == ""


def options(files: list[str]) -> BatchOptions:
    return BatchOptions(files=[Path(f) for f in files], report="json", stream="json",
                        output_dir=None, jobs=2, resume=False, shard=Shard(0, 1),
                        options=ResultOptions("json", None, 1, None, None, ()))


def test_a_batch_on_a_terminal_prints_its_lines_through_the_display(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    files = write_inputs(tmp_path, 2)
    console = screen()
    written: list[tuple[int, int, str]] = []

    def write_line(i: int, total: int, t: FileTask, outcome: FileResult) -> None:
        written.append((i, total, outcome.line["status"]))

    assert run_batch(options(files), write_line, display=console) == 0
    assert written == [(1, 2, "optimal"), (2, 2, "optimal")]  # stdout's part, in order
    drawn = console.file.getvalue()  # type: ignore[attr-defined]
    done = sorted(m.group(3) for m in LINE.finditer(drawn))
    assert done == sorted(files)  # each input's line, above the display
    # stderr itself gets only the summary line, once the display is gone
    assert capsys.readouterr().err.startswith("batch: 2 inputs: 2 optimal;")


def test_without_a_terminal_stderr_gets_one_plain_line_per_file(tmp_path: Path) -> None:
    files = write_inputs(tmp_path, 3)
    env = {k: v for k, v in os.environ.items() if k != "PODLAYOUT_QUIET"}
    result = batch([*files, "--jobs", "2"], env=env)
    assert result.returncode == 0, result.stderr
    assert [json.loads(x)["file"] for x in result.stdout.splitlines()] == files
    err = result.stderr.splitlines()
    matches = [LINE.fullmatch(x) for x in err[:3]]
    assert all(matches), err
    assert [(m.group(1), m.group(2)) for m in matches if m] == [("1", "3"), ("2", "3"),
                                                                ("3", "3")]
    assert sorted(m.group(3) for m in matches if m) == sorted(files)
    assert "ETA" not in err[2]  # the last one: nothing left
    assert "\x1b[" not in result.stderr  # no terminal codes, no display
    assert "files" not in result.stderr
