"""The entry point of a child process, light to import: the batch itself needs no solver,
and the fork server has loaded `advisor.batch.worker` (the core) before any child starts."""

from __future__ import annotations

from multiprocessing.connection import Connection

from advisor.batch.tasks import FileTask


def main(task: FileTask, conn: Connection) -> None:
    from advisor.batch.worker import child_main  # noqa: PLC0415 (loaded by the fork server)

    child_main(task, conn)
