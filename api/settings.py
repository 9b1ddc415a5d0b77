"""Service settings, read from the environment (prefix `PODLAYOUT_`), never at import time."""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from advisor.loading import MAX_INPUT_BYTES
from api.store import sqlite_path
from models.problem import MAX_CONTAINERS, MAX_NODES


def default_store_path() -> Path:
    """$XDG_STATE_HOME/podlayout/jobs.sqlite3, else ~/.local/state/podlayout/jobs.sqlite3."""
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "podlayout" / "jobs.sqlite3"


class Settings(BaseSettings):
    """Every knob of `podlayout serve`; each field is the variable PODLAYOUT_<NAME>."""

    model_config = SettingsConfigDict(env_prefix="PODLAYOUT_", extra="ignore", frozen=True)

    store_path: Path = Field(
        default_factory=default_store_path,
        description="SQLite file holding the jobs (created with its directory), unless "
        "store_url names another store.")
    store_url: SecretStr | None = Field(
        None, description="Where the jobs live: sqlite:///PATH (the default, at store_path) or "
        "postgresql://USER:PASSWORD@HOST:PORT/DATABASE, one store several servers share.")
    lease_seconds: float = Field(
        30.0, ge=3, le=600,
        description="PostgreSQL store: a running job's lease; a server that stops renewing it "
        "for this long is taken for dead and its jobs run elsewhere.")
    store_timeout_seconds: float = Field(
        3.0, gt=0, le=60,
        description="How long a store call waits for a lock held elsewhere; then 503.")
    workers: int = Field(2, ge=1, le=64, description="Background jobs solved at once.")
    max_queued_jobs: int = Field(
        100, ge=1, le=100_000, description="Jobs waiting beyond this answer 429.")
    max_concurrent_requests: int = Field(
        4, ge=1, le=256,
        description="Synchronous /v1/advise and /v1/review solves at once; more answer 429.")
    default_time_limit_seconds: float = Field(
        10.0, gt=0, le=3600,
        description="Time limit when the problem's policy does not set one.")
    max_time_limit_seconds: float = Field(
        300.0, gt=0, le=3600,
        description="A requested time limit above this is capped, and the response says so.")
    max_solver_workers: int = Field(
        8, ge=1, le=64, description="A larger policy.workers is capped, and the response says so.")
    max_body_bytes: int = Field(
        4 * 1024 * 1024, ge=1024, le=MAX_INPUT_BYTES,
        description="Request bodies above this answer 413.")
    max_containers: int = Field(
        MAX_CONTAINERS, ge=1, le=MAX_CONTAINERS, description="More containers answer 422.")
    max_nodes: int = Field(
        MAX_NODES, ge=1, le=MAX_NODES,
        description="More nodes (fixed nodes plus pools' maxCount) answer 422.")
    max_yaml_aliases: int = Field(
        100, ge=0, le=100_000, description="YAML bodies with more aliases answer 422.")
    retention_hours: float = Field(
        168.0, gt=0, description="Finished jobs are deleted this long after they end.")
    max_attempts: int = Field(
        2, ge=1, le=10,
        description="Runs of one job a server crash may cost; after that it is `interrupted`.")
    api_token: SecretStr | None = Field(
        None, description="When set, every /v1 route needs `Authorization: Bearer <token>`.")

    @field_validator("store_url")
    @classmethod
    def _store_url_known(cls, url: SecretStr | None) -> SecretStr | None:
        if url is not None:
            sqlite_path(url.get_secret_value())  # ValueError names the two forms
        return url

    @model_validator(mode="after")
    def _limits_agree(self) -> Settings:
        if self.default_time_limit_seconds > self.max_time_limit_seconds:
            raise ValueError("PODLAYOUT_DEFAULT_TIME_LIMIT_SECONDS is above "
                             "PODLAYOUT_MAX_TIME_LIMIT_SECONDS")
        if self.api_token is not None and not self.api_token.get_secret_value():
            raise ValueError("PODLAYOUT_API_TOKEN is empty; unset it to serve without a token")
        return self
