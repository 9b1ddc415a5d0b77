"""The job store: SQLite (one server, the default) or PostgreSQL (several servers sharing
one store), chosen by PODLAYOUT_STORE_URL."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from api.store.records import (
    FINISHED,
    Beat,
    JobKind,
    JobRecord,
    JobStatus,
    Store,
    StoreError,
)
from api.store.sqlite import DEFAULT_TIMEOUT_SECONDS, JobStore

if TYPE_CHECKING:
    from api.settings import Settings

__all__ = ["DEFAULT_TIMEOUT_SECONDS", "FINISHED", "Beat", "JobKind", "JobRecord", "JobStatus",
           "JobStore", "Store", "StoreError", "open_store", "sqlite_path", "store_setting"]

SQLITE_PREFIX = "sqlite:///"
POSTGRES_SCHEMES = ("postgresql://", "postgres://")


def sqlite_path(url: str) -> Path | None:
    """The file of a sqlite:///PATH URL (sqlite:////abs/path is absolute); None for a
    PostgreSQL URL; ValueError for anything else."""
    if url.startswith(SQLITE_PREFIX) and len(url) > len(SQLITE_PREFIX):
        return Path(url.removeprefix(SQLITE_PREFIX))
    if url.startswith(POSTGRES_SCHEMES):
        return None
    raise ValueError("use sqlite:///PATH or postgresql://USER:PASSWORD@HOST:PORT/DATABASE")


def store_setting(settings: Settings) -> str:
    """The variable that chose the store, for messages."""
    return "PODLAYOUT_STORE_URL" if settings.store_url is not None else "PODLAYOUT_STORE_PATH"


def open_store(settings: Settings) -> Store:
    """The store the settings name, opened (schema created when missing); StoreError when
    it cannot be."""
    if settings.store_url is None:
        return JobStore(settings.store_path, settings.store_timeout_seconds)
    url = settings.store_url.get_secret_value()
    path = sqlite_path(url)
    if path is not None:
        return JobStore(path, settings.store_timeout_seconds)
    from api.store.postgres import PostgresStore  # noqa: PLC0415 - psycopg only when used

    # Each worker, the heartbeat and the flusher hold a connection at times; requests too.
    return PostgresStore(url, settings.store_timeout_seconds, settings.lease_seconds,
                         pool_size=settings.workers + 8)
