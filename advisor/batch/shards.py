"""Which inputs a shard owns: the same answer in every shard, each input in exactly one.

Inputs are dealt by size, largest first, each to the shard with the fewest bytes so far
(ties: the lower index), so that shards take about as long as one another; files of one
size go in path order. Every shard sees the whole list, so none needs to talk to another.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

INDEX_VARIABLE = "JOB_COMPLETION_INDEX"  # set by Kubernetes in each pod of an Indexed Job
MAX_SHARDS = 100_000


class ShardError(ValueError):
    """A shard option the batch cannot use; the message names the option."""


@dataclass(frozen=True)
class Shard:
    index: int  # 0-based, as JOB_COMPLETION_INDEX
    count: int


def parse_shard(text: str) -> Shard:
    """`I/N` with 0 <= I < N."""
    index, sep, count = text.partition("/")
    try:
        shard = Shard(int(index), int(count))
    except ValueError:
        raise ShardError(f"--shard {text}: expected I/N, e.g. 0/4 (I counts from 0)") from None
    if not sep or not 1 <= shard.count <= MAX_SHARDS or not 0 <= shard.index < shard.count:
        raise ShardError(f"--shard {text}: expected I/N with 0 <= I < N <= {MAX_SHARDS}")
    return shard


def resolve_shard(shard: str | None, shards: int | None,
                  environ: Mapping[str, str] = os.environ) -> Shard:
    """The shard asked for: `--shard I/N`; or `--shards N` with the index from
    JOB_COMPLETION_INDEX; or the whole batch."""
    if shard is not None and shards is not None:
        raise ShardError("--shard and --shards: give one of them")
    if shard is not None:
        return parse_shard(shard)
    if shards is None:
        return Shard(0, 1)
    if not 1 <= shards <= MAX_SHARDS:
        raise ShardError(f"--shards {shards}: expected 1 to {MAX_SHARDS}")
    raw = environ.get(INDEX_VARIABLE)
    if raw is None:
        raise ShardError(f"--shards {shards}: {INDEX_VARIABLE} is not set (give --shard I/N "
                         "outside an Indexed Job)")
    try:
        index = int(raw)
    except ValueError:
        raise ShardError(f"--shards {shards}: {INDEX_VARIABLE}={raw!r} is not an integer"
                         ) from None
    if not 0 <= index < shards:
        raise ShardError(f"--shards {shards}: {INDEX_VARIABLE}={index} is not below {shards}")
    return Shard(index, shards)


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:  # missing or unreadable: its error is reported by the shard owning it
        return 0


def assign(paths: Sequence[Path], count: int) -> list[int]:
    """The shard of each input (by position), balanced by size."""
    order = sorted(range(len(paths)), key=lambda i: (-_size(paths[i]), str(paths[i]), i))
    loads = [0] * count
    owner = [0] * len(paths)
    for i in order:
        lightest = min(range(count), key=lambda s: (loads[s], s))
        owner[i] = lightest
        loads[lightest] += _size(paths[i]) + 1  # +1: empty files still spread out
    return owner


def select(paths: Sequence[Path], shard: Shard) -> list[int]:
    """Positions of the inputs this shard owns, in argument order."""
    if shard.count == 1:
        return list(range(len(paths)))
    owner = assign(paths, shard.count)
    return [i for i in range(len(paths)) if owner[i] == shard.index]
