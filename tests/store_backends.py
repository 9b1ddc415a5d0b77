"""The job store backends the tests run on: a SQLite file, or a database on a PostgreSQL
server of the tests' own (initdb into a temporary folder, on a free loopback port), or the
server PODLAYOUT_TEST_POSTGRES_URL names.

Without PostgreSQL the PostgreSQL tests skip, saying why; under CI (the variable CI set)
they fail instead, so that a CI machine without it cannot pass them by skipping.
"""

from __future__ import annotations

import atexit
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import uuid
from functools import cache
from pathlib import Path

import psycopg
import pytest

BACKENDS = ("sqlite", "postgresql")
# PostgreSQL refuses to run as root: as root, the server runs as this user.
UNPRIVILEGED = "nobody"


def _unavailable(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"PostgreSQL store tests cannot run under CI: {reason}")
    pytest.skip(f"PostgreSQL store tests skipped: {reason}")


def _bin_dir() -> Path | None:
    """Where pg_ctl and initdb are: on the PATH, else Debian's newest version's folder."""
    found = shutil.which("pg_ctl")
    if found is not None and (Path(found).resolve().parent / "initdb").exists():
        return Path(found).resolve().parent
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"),
                      key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit()
                      else 0)
    return versions[-1].parent if versions else None


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _run(command: list[str], cwd: Path) -> None:
    if os.geteuid() == 0:
        command = ["runuser", "-u", UNPRIVILEGED, "--", *command]
    done = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=120,
                          check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{done.stdout}{done.stderr}")


@cache
def _server() -> str:
    """The URL of a running server, the tests' own started on first use."""
    given = os.environ.get("PODLAYOUT_TEST_POSTGRES_URL")
    if given:
        return given
    bin_dir = _bin_dir()
    if bin_dir is None or not (bin_dir / "pg_ctl").exists():
        raise LookupError("no PostgreSQL server binaries (pg_ctl, initdb) on this machine; "
                          "install PostgreSQL or set PODLAYOUT_TEST_POSTGRES_URL")
    root = Path(tempfile.mkdtemp(prefix="podlayout-pg-", dir="/tmp"))  # nobody can reach it
    if os.geteuid() == 0:
        user = pwd.getpwnam(UNPRIVILEGED)
        os.chown(root, user.pw_uid, user.pw_gid)
    data, port = root / "data", _free_port()
    _run([str(bin_dir / "initdb"), "-D", str(data), "-U", "podlayout", "--auth=trust",
          "-E", "UTF8", "--no-sync"], root)
    _run([str(bin_dir / "pg_ctl"), "-D", str(data), "-l", str(root / "server.log"), "-w",
          "-o", f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off "
          "-c max_connections=200", "start"], root)

    def stop() -> None:
        _run([str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"], root)
        shutil.rmtree(root, ignore_errors=True)

    atexit.register(stop)
    return f"postgresql://podlayout@127.0.0.1:{port}/postgres"


def postgres_url() -> str:
    """A new, empty database on the tests' server (skips or fails without one)."""
    try:
        server = _server()
    except (LookupError, RuntimeError, OSError) as exc:
        _unavailable(str(exc))
        raise  # not reached: skip and fail raise
    name = f"podlayout_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    return server.rsplit("/", 1)[0] + f"/{name}"


def store_url(backend: str, tmp_path: Path) -> str:
    """A fresh store of `backend`, as PODLAYOUT_STORE_URL names it."""
    if backend == "sqlite":
        return f"sqlite:///{tmp_path / 'jobs.sqlite3'}"
    return postgres_url()
