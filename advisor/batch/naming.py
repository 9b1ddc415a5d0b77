"""Output names that depend on an input's path only: not on argument order, not on the
other inputs, the same in every shard. Two files named alike in different directories get
different names (the hash of the absolute path tells them apart)."""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path

RECORDS_DIR = "records"
SUMMARY = "summary.json"
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def output_stem(path: Path) -> str:
    """`STEM-HASH8`: the file's stem, readable, and 8 hex digits of its absolute path."""
    absolute = os.path.abspath(os.fspath(path))
    digest = hashlib.sha256(absolute.encode("utf-8", "surrogateescape")).hexdigest()[:8]
    stem = _UNSAFE.sub("_", path.stem).strip("._") or "input"
    return f"{stem[:80]}-{digest}"


def report_name(stem: str, is_review: bool, suffix: str) -> str:
    """`STEM.plan.json`, `STEM.review.html`, ...: a review is named as one in every format."""
    return f"{stem}.{'review' if is_review else 'plan'}{suffix}"


def record_path(output_dir: Path, stem: str) -> Path:
    return output_dir / RECORDS_DIR / f"{stem}.json"


def shard_summary_name(index: int, count: int) -> str:
    """Shards may share one directory: each writes a summary of its own; `merge` joins them."""
    return SUMMARY if count == 1 else f"summary.shard-{index}-of-{count}.json"
