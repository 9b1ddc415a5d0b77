"""A whole batch run: this shard's inputs, those `--resume` can skip, the others solved in
child processes; a line per input on stdout in argument order, a record beside each report,
the index, `summary.json` and one summary line on stderr."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from advisor.batch.index import INDEX_NAMES, render_index
from advisor.batch.keys import ResultOptions, options_digest, result_key
from advisor.batch.naming import output_stem, record_path, shard_summary_name
from advisor.batch.progress import BatchClock, Lines, LiveDisplay, Watcher, minutes
from advisor.batch.records import (
    EXIT_INPUT,
    EXIT_INTERRUPTED,
    EXIT_OK,
    FINAL_CODES,
    Record,
    read_record,
    summarise,
    summary_line,
    worse,
    write_record,
)
from advisor.batch.shards import Shard, select
from advisor.batch.tasks import FileResult, FileTask

if TYPE_CHECKING:
    from rich.console import Console


@dataclass(frozen=True)
class BatchOptions:
    files: list[Path]
    report: str  # the format of each report
    stream: str  # what stdout shows: json lines, yaml documents, or the reports
    output_dir: Path | None
    jobs: int
    resume: bool
    shard: Shard
    options: ResultOptions
    memory_limit: int | None = None


@dataclass
class _Run:
    """The inputs of this run by position, and what has been printed of them."""

    options: BatchOptions
    tasks: list[FileTask]
    write_line: Callable[[int, int, FileTask, FileResult], None]
    clock: BatchClock
    watcher: Watcher
    results: dict[int, FileResult] = field(default_factory=dict)
    records: dict[int, Record] = field(default_factory=dict)
    printed: int = 0

    def finish(self, task: FileTask, result: FileResult, record: Record | None = None) -> None:
        """An input is done (solved, skipped or never started): keep its record, and print
        every line whose turn has come."""
        self.clock.finish_one()
        self.results[task.position] = result
        record = record or _record(task, result)
        self.records[task.position] = record
        output_dir = self.options.output_dir
        if output_dir is not None and not result.line.get("resumed"):
            write_record(output_dir, record)
        # The import's warnings, printed here rather than by the child: above the display.
        said = [f"warning: {task.path}: {w}" for w in result.warnings]
        said.append(f"[{self.clock.done}/{len(self.tasks)}] {task.path}: {record.status}"
                    f"{' (resumed)' if result.line.get('resumed') else ''}{self._eta()}")
        self.watcher.finished(task, "\n".join(said))
        while self.printed < len(self.tasks):
            task = self.tasks[self.printed]
            if task.position not in self.results:
                break
            self.printed += 1
            self.write_line(self.printed, len(self.tasks), task, self.results[task.position])


    def _eta(self) -> str:
        """The time left at the pace so far (inputs done at once included)."""
        eta = self.clock.eta()
        return "" if eta is None else f", ETA {minutes(eta)}"


def _record(task: FileTask, result: FileResult) -> Record:
    line = result.line
    output = line.get("output")
    return Record(file=task.path, name=task.name, key=task.key, exit_code=line["exitCode"],
                  status=line["status"],
                  output=Path(output).name if isinstance(output, str) else None,
                  error=line.get("error"), sides=result.sides)


def _tasks(options: BatchOptions) -> list[FileTask]:
    digest = options_digest(options.options)
    o = options.options
    jobs = max(1, options.jobs)
    return [FileTask(position=i, path=str(path), name=output_stem(path), report=o.report,
                     output_dir=None if options.output_dir is None else str(options.output_dir),
                     time_limit=o.time_limit, workers=o.workers, share=jobs, nodes=o.nodes,
                     defaults=o.defaults, injected=o.injected,
                     memory_limit=options.memory_limit, key=result_key(path, digest))
            for i, path in ((i, options.files[i]) for i in select(options.files, options.shard))]


def _resumed(output_dir: Path, task: FileTask) -> tuple[FileResult, Record] | None:
    """The input's result already in the directory, when its record carries the same key,
    its outcome is final and its report is still there."""
    record = read_record(record_path(output_dir, task.name))
    if record is None or task.key is None or record.key != task.key:
        return None
    if record.exit_code not in FINAL_CODES:
        return None
    if record.output is not None and not (output_dir / record.output).is_file():
        return None
    line: dict[str, Any] = {"file": task.path, "exitCode": record.exit_code,
                            "status": record.status}
    if record.output is not None:
        line["output"] = str(output_dir / record.output)
    if record.error is not None:
        line["error"] = record.error
    line["resumed"] = True
    return FileResult(line, list(record.sides)), replace(record, file=task.path)


def run_batch(options: BatchOptions,
              write_line: Callable[[int, int, FileTask, FileResult], None],
              display: Console | None = None, redirect_stdout: bool = False) -> int:
    """The batch's exit code: 130 when interrupted, else the worst of the inputs'. With a
    `display` console (a terminal), a live display there while the inputs run, stdout above
    it when `redirect_stdout` (on the same terminal); else a line per input on stderr."""
    tasks = _tasks(options)
    clock = BatchClock(len(tasks))
    watcher = (Lines() if display is None
               else LiveDisplay(clock, display, redirect_stdout).start())
    run = _Run(options, tasks, write_line, clock, watcher)
    try:
        todo: list[FileTask] = []
        for task in tasks:
            found = _resumed(options.output_dir, task) if (
                options.resume and options.output_dir is not None) else None
            if found is not None:
                run.finish(task, *found)
            else:
                todo.append(task)
        interrupted = _solve(options.jobs, run, todo) if todo else False
    finally:
        watcher.close()  # before the summary line: nothing of the display stays
    records = [run.records[t.position] for t in tasks]
    worst = EXIT_OK
    for record in records:
        worst = worse(worst, record.exit_code)
    worst = worse(worst, _write_outputs(options, records))
    return EXIT_INTERRUPTED if interrupted else worst


def _solve(jobs: int, run: _Run, todo: list[FileTask]) -> bool:
    # Imported only when there is something to solve: the solver takes a second to load.
    from advisor.batch.pool import Pool  # noqa: PLC0415

    return Pool(jobs, run.finish, run.watcher.started).run(todo)


def _shard_name(name: str, shard: Shard) -> str:
    if shard.count == 1:
        return name
    stem, dot, suffix = name.partition(".")
    return f"{stem}.shard-{shard.index}-of-{shard.count}{dot}{suffix}"


def _write_outputs(options: BatchOptions, records: list[Record]) -> int:
    """The index (html, markdown), summary.json and the summary line on stderr."""
    summary = summarise(records)
    sys.stderr.write(summary_line(summary) + "\n")
    output_dir = options.output_dir
    if output_dir is None:
        return EXIT_OK
    written = [(output_dir / shard_summary_name(options.shard.index, options.shard.count),
                json.dumps(summary, indent=2) + "\n")]
    if options.report in INDEX_NAMES:
        written.append((output_dir / _shard_name(INDEX_NAMES[options.report], options.shard),
                        render_index(options.report, records)))
    code = EXIT_OK
    for target, text in written:
        try:
            target.write_text(text, encoding="utf-8")
        except OSError as exc:
            sys.stderr.write(f"error: cannot write {target}: {exc}\n")
            code = EXIT_INPUT
        else:
            if target.name.startswith("index"):
                sys.stderr.write(f"index: {target}\n")
    return code


def merge(dirs: list[Path]) -> dict[str, Any]:
    """One summary over the records of several output directories (the shards of one
    batch); an input recorded in two of them counts once, from the first."""
    from advisor.batch.records import read_records  # noqa: PLC0415

    seen: dict[str, Record] = {}
    for folder in dirs:
        for record in read_records(folder):
            if record.file in seen:
                sys.stderr.write(f"warning: {record.file}: in {folder} and an earlier "
                                 "directory; the first is counted\n")
                continue
            seen[record.file] = record
    return summarise(seen.values())


def cpu_count() -> int:
    """The cores this process may use (a container's cpuset included)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1
