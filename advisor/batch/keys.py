"""The content hash that lets `--resume` trust a result already in the output directory:
sha256 of the input's bytes and of every option that changes what is solved or written.
`--jobs` is left out: it decides how the machine is shared, not the question asked."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

KEY_VERSION = "podlayout-batch/1"


@dataclass(frozen=True)
class ResultOptions:
    """What changes a result besides the input itself."""

    report: str
    time_limit: float | None
    workers: int | None
    nodes: str | None  # the node list's path; its bytes go into the key
    defaults: str | None
    injected: tuple[str, ...]


def _version() -> str:
    try:
        return metadata.version("pod-layout-advisor")
    except metadata.PackageNotFoundError:  # a source tree that is not installed
        return "unknown"


def _file_digest(path: str | None) -> str | None:
    if path is None or path == "-":
        return path
    try:
        return hashlib.sha256(Path(path).read_bytes()).hexdigest()
    except OSError:
        return "unreadable"


def options_digest(options: ResultOptions) -> str:
    """Computed once per batch: the node list is read once, not per input."""
    fields = {"version": _version(), "report": options.report,
              "timeLimit": options.time_limit, "workers": options.workers,
              "nodes": _file_digest(options.nodes), "defaults": options.defaults,
              "injected": list(options.injected)}
    text = json.dumps([KEY_VERSION, fields], sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


def result_key(path: Path, options: str) -> str | None:
    """sha256 of the input's bytes and the options' digest; None when the file cannot be
    read (its error is never taken as done)."""
    digest = hashlib.sha256()
    try:
        with path.open("rb") as stream:
            for chunk in iter(lambda: stream.read(1 << 20), b""):
                digest.update(chunk)
    except OSError:
        return None
    digest.update(b"\0" + options.encode())
    return digest.hexdigest()
