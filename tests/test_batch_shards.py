"""Shards of a batch: each input in exactly one, balanced by size, and their merged summary
the same as one process's."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest

from advisor.batch.shards import Shard, ShardError, assign, parse_shard, resolve_shard, select
from tests.batch_support import batch, lines, records, write_inputs
from tests.conftest import ROOT


def sized_files(folder: Path, sizes: list[int]) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, size in enumerate(sizes):
        path = folder / f"f{i:03d}.yaml"
        path.write_bytes(b"x" * size)
        paths.append(path)
    return paths


@pytest.mark.parametrize("count", [1, 2, 3, 7])
def test_every_input_in_exactly_one_shard_whatever_the_order(tmp_path: Path,
                                                             count: int) -> None:
    rng = random.Random(count)
    paths = sized_files(tmp_path, [rng.randrange(0, 5000) for _ in range(40)])
    shards = [[paths[i] for i in select(paths, Shard(k, count))] for k in range(count)]
    assert sorted(p for s in shards for p in s) == sorted(paths)  # all, none twice
    shuffled = paths[:]
    rng.shuffle(shuffled)
    again = [[shuffled[i] for i in select(shuffled, Shard(k, count))] for k in range(count)]
    assert [set(s) for s in again] == [set(s) for s in shards]  # order does not matter


def test_shards_are_balanced_by_size(tmp_path: Path) -> None:
    rng = random.Random(5)
    sizes = [rng.randrange(100, 20_000) for _ in range(60)]
    paths = sized_files(tmp_path, sizes)
    owner = assign(paths, 4)
    loads = [sum(s for s, o in zip(sizes, owner, strict=True) if o == k) for k in range(4)]
    # greedy onto the lightest shard, largest first: no two shards apart by more than a file
    assert max(loads) - min(loads) <= max(sizes)
    assert max(loads) <= sum(sizes) / 4 + max(sizes)


def test_shard_options() -> None:
    assert parse_shard("2/5") == Shard(2, 5)
    for bad in ("5/5", "a/b", "1", "-1/3", "0/0"):
        with pytest.raises(ShardError, match="--shard"):
            parse_shard(bad)
    assert resolve_shard(None, 4, {"JOB_COMPLETION_INDEX": "3"}) == Shard(3, 4)
    assert resolve_shard(None, None, {"JOB_COMPLETION_INDEX": "3"}) == Shard(0, 1)
    for env in ({}, {"JOB_COMPLETION_INDEX": "4"}, {"JOB_COMPLETION_INDEX": "x"}):
        with pytest.raises(ShardError, match="JOB_COMPLETION_INDEX"):
            resolve_shard(None, 4, env)


def test_local_shards_cover_every_input_once_and_merge_to_one_run(tmp_path: Path) -> None:
    inputs = write_inputs(tmp_path / "in", 5)
    count = 2
    procs = []
    for k in range(count):  # as an Indexed Job's pods: --shards N and the index from the env
        env = {**os.environ, "JOB_COMPLETION_INDEX": str(k)}
        procs.append(subprocess.Popen(
            [sys.executable, "-m", "advisor.cli", "batch", *inputs, "--shards", str(count),
             "-o", str(tmp_path / "shared"), "-j", "1"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT, env=env))
    single = batch([*inputs, "-o", str(tmp_path / "single"), "-j", "1"])
    outs = [p.communicate(timeout=120) for p in procs]
    assert single.returncode == 0, single.stderr
    assert [p.returncode for p in procs] == [0] * count, [e for _, e in outs]
    done = [x["file"] for out, _ in outs for x in lines(out)]
    assert sorted(done) == sorted(inputs)  # each input in exactly one shard
    assert set(records(tmp_path / "shared")) == set(inputs)
    for k in range(count):  # shards sharing a directory keep their own summaries
        assert (tmp_path / "shared" / f"summary.shard-{k}-of-{count}.json").is_file()
    merged = batch(["merge", str(tmp_path / "shared"), "-o", str(tmp_path / "merged")])
    assert merged.returncode == 0, merged.stderr
    expected = json.loads((tmp_path / "single" / "summary.json").read_text())
    assert json.loads(merged.stdout) == expected
    assert json.loads((tmp_path / "merged" / "summary.json").read_text()) == expected
    # directories that overlap: each input counted once, with a warning
    both = batch(["merge", str(tmp_path / "single"), str(tmp_path / "shared")])
    assert json.loads(both.stdout) == expected
    assert "warning" in both.stderr
    # a retried index with --resume solves nothing again
    env = {**os.environ, "JOB_COMPLETION_INDEX": "1"}
    retry = batch([*inputs, "--shards", str(count), "-o", str(tmp_path / "shared"),
                   "--resume"], env=env)
    assert retry.returncode == 0, retry.stderr
    assert lines(retry.stdout)
    assert all(x.get("resumed") for x in lines(retry.stdout))
