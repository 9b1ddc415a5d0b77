"""Benchmark instances from outside the project, as wire-format problems.

Everything is read in place from `../shared/bench-data` (next to this
repository; see its README for sources and commits). Nothing here imports the
advisor.

- **VBP generated** (`vbp-gen`, `generated_vbp_instances`): the larger spread, Panigrahy
  classes 1-9 at 120 and 250 items in 3 dimensions, two seeds each, drawn here by the
  published generator's rules (bench-data holds one instance per class and size of the
  1620), mapped as VBP below; no published optimum, so the reference is a lower bound.
- **VBP** (`vbp/panigrahy/*.vbp`, optima in `vbp/panigrahy_optima.tsv`): the d
  dimensions become `cpu` (the integer size in millicores, `"{size}m"`),
  `memory` (the size in bytes, a plain integer), then the extended resources
  `example.com/r3` ... `example.com/r10` (plain integers). Each item type is a
  container with `replicas` = its copies, `critical: false` (no SPOF incentive:
  pure packing) and no ports. The bins are one pool (`bin`) with the bin
  capacities, `pods` = the number of items (so the pod limit never binds) and
  `maxCount` = the number of items, no zones. Policy: `minWaste`, spread
  `none`. The instance keeps the paper's `LB`, `OPT` and `best_overall`.
- **Alibaba openb** (`alibaba-openb/*.csv`): the 1523 nodes are fixed nodes
  (`sn`, `cpu_milli`m, `memory_mib`Mi, and on GPU nodes
  `alibaba.com/gpu-milli` = 1000 x devices and `alibaba.com/gpu` = devices). The
  8152 pods are grouped by shape (cpu, memory, num_gpu, gpu_milli) into 151
  containers with `replicas` = pods of that shape, requesting cpu, memory,
  `alibaba.com/gpu-milli` = num_gpu x gpu_milli and, for whole-device pods
  (gpu_milli = 1000), `alibaba.com/gpu` = num_gpu. `critical: false`, spread
  `none`, `minWaste`. Arrival order (for the kube-scheduler baseline) is the
  trace's `creation_time`, ties by pod name.

  The GPU relaxation, stated plainly: the advisor's model knows amounts per
  node, not devices. A node's GPUs become one divisible pool of milli-GPUs, so
  two shared pods of 600 milli fit on a 2-GPU node (as in reality, one per
  device) but so do a whole-device pod and two shared pods of 500 on 2 GPUs
  (real only if both shared pods share one device). `alibaba.com/gpu` (whole
  devices) is implied by the milli-GPU pool (a pod of N whole devices asks N x
  1000 milli) and is kept only to name the need. Whether a node's placement can
  be realised device by device is checked afterwards for every method
  (`bench.fragmentation.device_infeasible_nodes`). The trace's `gpu_spec` is
  empty for every pod, so no GPU model constraint is lost. Pod overhead, qos and
  phases are ignored: all 8152 pods are to be placed at once.
- **Synthetic** (`synthetic_instance`): a seeded generator of microservice-like
  shapes (web, api, worker, cache, database cpu/memory mixes) with skewed
  replica counts, spread `node`, on one elastic pool of 16 cpu / 64Gi nodes:
  10,000 replicas over 200 shapes, and a quick 1,000 replicas over 50 shapes.
- **Core** (`core_instances`): `bench.generators.generate_problem` (about 100
  containers with hints on 20 fixed nodes), seeds 0-4, as `python -m bench core`.
"""

from __future__ import annotations

import csv
import fnmatch
import itertools
import math
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.baselines import forced_groups
from bench.generators import generate_problem
from models import parse_problem

DATA_DIR = Path(__file__).resolve().parents[2] / "shared" / "bench-data"
VBP_RESOURCES = ("cpu", "memory", *(f"example.com/r{k}" for k in range(3, 11)))
GPU_MILLI = "alibaba.com/gpu-milli"
GPU = "alibaba.com/gpu"
SUITES = ("vbp", "vbp-gen", "openb", "synthetic", "core")
DEFAULT_TIME_LIMITS = {"vbp": 10.0, "vbp-gen": 10.0, "openb": 60.0, "synthetic": 30.0,
                       "core": 10.0}
CORE_SEEDS = (0, 1, 2, 3, 4)


class DataError(RuntimeError):
    """The shared benchmark data is missing or malformed."""


@dataclass(frozen=True)
class Instance:
    """One benchmark problem (wire format) and what is known about it."""

    suite: str
    name: str
    data: dict[str, Any]
    replicas: int
    # Container name of every replica in arrival order (the kube-scheduler baseline's
    # queue); None: container order, the replicas of a container one after another.
    arrival: list[str] | None = None
    opt: int | None = None  # proven optimum number of nodes (VBP)
    lower_bound: int | None = None  # a published lower bound (VBP)
    best_overall: int | None = None  # fewest bins any heuristic of the VBP paper reached
    gpu: bool = False  # report stranded GPU (openb)
    notes: dict[str, Any] = field(default_factory=dict)


def data_dir() -> Path:
    if not DATA_DIR.is_dir():
        raise DataError(
            f"benchmark data not found at {DATA_DIR}: the suites vbp and openb read "
            "../shared/bench-data (next to this repository) in place"
        )
    return DATA_DIR


def _policy(time_limit: float, spread: str = "none") -> dict[str, Any]:
    return {"objective": "minWaste", "spread": spread, "timeLimitSeconds": float(time_limit)}


# --- VBP ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class VbpOptimum:
    lower_bound: int
    opt: int | None
    best_overall: int


def vbp_optima() -> dict[str, VbpOptimum]:
    path = data_dir() / "vbp" / "panigrahy_optima.tsv"
    out: dict[str, VbpOptimum] = {}
    with path.open(encoding="utf-8") as fh:
        for row in csv.DictReader(fh, delimiter="\t"):
            opt = int(row["OPT"])
            out[row["instance_name"]] = VbpOptimum(
                lower_bound=int(row["LB"]), opt=opt if opt >= 0 else None,
                best_overall=int(row["best_overall"]))
    return out


def parse_vbp(text: str) -> tuple[list[int], list[tuple[list[int], int]]]:
    """(bin capacities, [(item sizes, copies)]) from the .vbp format."""
    numbers = [int(tok) for tok in text.split()]
    d = numbers[0]
    caps = numbers[1:1 + d]
    m = numbers[1 + d]
    items: list[tuple[list[int], int]] = []
    pos = 2 + d
    for _ in range(m):
        row = numbers[pos:pos + d + 1]
        if len(row) != d + 1:
            raise DataError("truncated .vbp file")
        items.append((row[:d], row[d]))
        pos += d + 1
    if d > len(VBP_RESOURCES):
        raise DataError(f"{d} dimensions: at most {len(VBP_RESOURCES)} are mapped")
    return caps, items


def _vbp_amounts(sizes: list[int]) -> dict[str, str]:
    out: dict[str, str] = {}
    for resource, size in zip(VBP_RESOURCES, sizes, strict=False):
        out[resource] = f"{size}m" if resource == "cpu" else str(size)
    return out


def vbp_problem(caps: list[int], items: list[tuple[list[int], int]],
                time_limit: float) -> dict[str, Any]:
    total = sum(copies for _, copies in items)
    width = len(str(len(items)))
    containers = [{"name": f"item-{k:0{width}d}", "requests": _vbp_amounts(sizes),
                   "replicas": copies, "critical": False}
                  for k, (sizes, copies) in enumerate(items)]
    pool = {"name": "bin", "allocatable": {**_vbp_amounts(caps), "pods": str(total)},
            "maxCount": total}
    return {"containers": containers, "pools": [pool], "policy": _policy(time_limit)}


def vbp_instances(time_limit: float, pattern: str = "*") -> list[Instance]:
    folder = data_dir() / "vbp" / "panigrahy"
    optima = vbp_optima()
    out = []
    for path in sorted(folder.glob("*.vbp"), key=_vbp_key):
        name = path.stem
        if not fnmatch.fnmatch(name, pattern):
            continue
        caps, items = parse_vbp(path.read_text(encoding="utf-8"))
        known = optima.get(name)
        out.append(Instance(
            suite="vbp", name=name, data=vbp_problem(caps, items, time_limit),
            replicas=sum(c for _, c in items),
            opt=known.opt if known else None,
            lower_bound=known.lower_bound if known else None,
            best_overall=known.best_overall if known else None,
            notes={"dimensions": len(caps), "item_types": len(items)}))
    return out


# The Panigrahy classes as the published generator draws them
# (Vectorpack/experiments_vector_paper, data/scripts/generate_Panigrahy_multidim.py):
# classes 1-6 uniform sizes in [lo, hi] on bins of `cap` in every dimension.
PANIGRAHY_UNIFORM = {1: (1000, 100, 400), 2: (1000, 1, 1000), 3: (1000, 200, 800),
                     4: (1000, 50, 200), 5: (1000, 25, 100), 6: (150, 20, 100)}
GENERATED_SIZES = (120, 250)
GENERATED_SEEDS = (0, 1)


def panigrahy_items(cls: int, n: int, d: int, rng: random.Random
                    ) -> tuple[list[int], list[list[int]]]:
    """(bin capacities, item sizes) of one instance of a Panigrahy class, drawn with `rng`
    by the published generator's rules (class 9 keeps its n + 1 items)."""
    if cls in PANIGRAHY_UNIFORM:
        cap, lo, hi = PANIGRAHY_UNIFORM[cls]
        return [cap] * d, [[rng.randint(lo, hi) for _ in range(d)] for _ in range(n)]
    if cls in (7, 8):  # correlated (7) or anti-correlated (8) pairs of dimensions
        dims: list[list[int]] = []
        for _ in range(d // 2):
            first = [rng.randrange(20, 100) for _ in range(n)]
            dims.append(first)
            dims.append([rng.randint(x - 10, x + 10) if cls == 7 else rng.randint(110 - x, 130 - x)
                         for x in first])
        if d % 2:
            dims.append([rng.randrange(20, 100) for _ in range(n)])
        return [150] * d, [list(sizes) for sizes in zip(*dims, strict=True)]
    if cls == 9:  # a few dimensions large, the others near zero
        items: list[list[int]] = []
        while len(items) <= n:
            counts = [0] * d
            for _ in range(2 * d):
                counts[rng.randrange(d)] += 1
            s = rng.randint(10, 40)
            sizes = [s * x + rng.randint(0, 1) for x in counts]
            if max(sizes) <= 100:
                items.append(sizes)
        return [100] * d, items
    raise DataError(f"no Panigrahy class {cls}")


def generated_vbp_instances(time_limit: float, pattern: str = "*") -> list[Instance]:
    """Panigrahy classes 1-9 at 120 and 250 items, 3 dimensions, seeds 0 and 1: drawn here
    (seeded) by the published generator's rules, so without published optima."""
    out = []
    for cls, n, seed in itertools.product(range(1, 10), GENERATED_SIZES, GENERATED_SEEDS):
        name = f"gen-class{cls}_{n}_3_s{seed}"
        if not fnmatch.fnmatch(name, pattern):
            continue
        caps, sizes = panigrahy_items(cls, n, 3, random.Random(f"panigrahy:{cls}:{n}:3:{seed}"))
        merged: dict[tuple[int, ...], int] = {}
        for item in sizes:
            merged[tuple(item)] = merged.get(tuple(item), 0) + 1
        items = [(list(k), c) for k, c in merged.items()]
        out.append(Instance(suite="vbp-gen", name=name,
                            data=vbp_problem(caps, items, time_limit),
                            replicas=len(sizes), notes={"dimensions": 3,
                                                         "item_types": len(items)}))
    return out


def _vbp_key(path: Path) -> tuple[int, int, int, int, str]:
    # class{c}_{items}_{dims}_{k}: class, items, dims, index
    parts = path.stem.replace("class", "").split("_")
    try:
        c, n, d, k = (int(p) for p in parts)
    except ValueError:
        return (10**9, 0, 0, 0, path.stem)
    return (c, n, d, k, path.stem)


# --- Alibaba openb -------------------------------------------------------------------------


def openb_instance(time_limit: float) -> Instance:
    folder = data_dir() / "alibaba-openb"
    nodes: list[dict[str, Any]] = []
    with (folder / "openb_node_list_all_node.csv").open(encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            alloc = {"cpu": f"{int(row['cpu_milli'])}m", "memory": f"{int(row['memory_mib'])}Mi"}
            gpus = int(row["gpu"])
            if gpus:
                alloc[GPU_MILLI] = str(1000 * gpus)
                alloc[GPU] = str(gpus)
            nodes.append({"name": row["sn"], "allocatable": alloc})
    pods: list[tuple[int, str, tuple[int, int, int, int]]] = []
    with (folder / "openb_pod_list_default.csv").open(encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            shape = (int(row["cpu_milli"]), int(row["memory_mib"]), int(row["num_gpu"]),
                     int(row["gpu_milli"]))
            pods.append((int(row["creation_time"]), row["name"], shape))
    pods.sort()
    names: dict[tuple[int, int, int, int], str] = {}
    counts: dict[tuple[int, int, int, int], int] = {}
    for _, _, shape in pods:  # containers in order of first arrival
        if shape not in names:
            cpu, mem, ngpu, milli = shape
            names[shape] = f"s{len(names):03d}-c{cpu}-m{mem}-g{ngpu}x{milli}"
        counts[shape] = counts.get(shape, 0) + 1
    containers = []
    for shape, name in names.items():
        cpu, mem, ngpu, milli = shape
        requests = {"cpu": f"{cpu}m", "memory": f"{mem}Mi"}
        if ngpu and milli:
            requests[GPU_MILLI] = str(ngpu * milli)
            if milli >= 1000:
                requests[GPU] = str(ngpu)
        containers.append({"name": name, "requests": requests, "replicas": counts[shape],
                           "critical": False})
    data = {"containers": containers, "nodes": nodes, "policy": _policy(time_limit)}
    return Instance(suite="openb", name="openb-default", data=data, replicas=len(pods),
                    arrival=[names[shape] for _, _, shape in pods], gpu=True,
                    notes={"nodes": len(nodes), "shapes": len(names)})


# --- Synthetic --------------------------------------------------------------------------

SYNTH_POOL = {"cpu": 16_000, "memory_mi": 64 * 1024}
# kind: (weight, cpu millicores range, memory MiB range)
SYNTH_KINDS: dict[str, tuple[float, tuple[int, int], tuple[int, int]]] = {
    "web": (0.35, (50, 300), (128, 1024)),
    "api": (0.30, (100, 1000), (256, 2048)),
    "worker": (0.15, (500, 2000), (512, 4096)),
    "cache": (0.15, (250, 1000), (2048, 8192)),
    "db": (0.05, (2000, 4000), (4096, 16384)),
}
SYNTH_VARIANTS = {"synthetic-10k": (10_000, 200), "synthetic-1k": (1_000, 50)}
MAX_SYNTH_REPLICAS = 300


def _split(total: int, weights: list[float], cap: int) -> list[int]:
    """`total` over len(weights) parts, at least 1 and at most `cap` each, largest remainder."""
    n = len(weights)
    if not n <= total <= n * cap:
        raise ValueError("cannot split")
    counts = [1] * n
    left = total - n
    while left:
        room = [k for k in range(n) if counts[k] < cap]
        share = sum(weights[k] for k in room)
        raw = {k: left * weights[k] / share for k in room}
        add = {k: min(cap - counts[k], math.floor(raw[k])) for k in room}
        if sum(add.values()) == 0:  # hand out the remainders, largest first
            for k in sorted(room, key=lambda k: (-(raw[k] % 1), k))[:left]:
                add[k] = 1
        for k, a in add.items():
            counts[k] += a
        left = total - sum(counts)
    return counts


def synthetic_problem(replicas: int, shapes: int, seed: int,
                      time_limit: float) -> dict[str, Any]:
    rng = random.Random(f"pod-layout-bench:synthetic:{seed}:{replicas}:{shapes}")
    kinds = list(SYNTH_KINDS)
    weights = [SYNTH_KINDS[k][0] for k in kinds]
    containers: list[dict[str, Any]] = []
    skew = [rng.paretovariate(1.2) for _ in range(shapes)]
    counts = _split(replicas, skew, min(MAX_SYNTH_REPLICAS, replicas // 40))
    for k in range(shapes):
        kind = rng.choices(kinds, weights)[0]
        _, (c_lo, c_hi), (m_lo, m_hi) = SYNTH_KINDS[kind]
        cpu = rng.randrange(c_lo, c_hi + 1, 50)
        mem = rng.randrange(m_lo, m_hi + 1, 64)
        containers.append({"name": f"{kind}-{k:03d}",
                           "requests": {"cpu": f"{cpu}m", "memory": f"{mem}Mi"},
                           "replicas": counts[k], "critical": False})
    cpu_total = sum(int(c["requests"]["cpu"][:-1]) * c["replicas"] for c in containers)
    mem_total = sum(int(c["requests"]["memory"][:-2]) * c["replicas"] for c in containers)
    lower = max(math.ceil(cpu_total / SYNTH_POOL["cpu"]),
                math.ceil(mem_total / SYNTH_POOL["memory_mi"]), *counts)
    pool = {"name": "node", "allocatable": {"cpu": str(SYNTH_POOL["cpu"] // 1000),
                                             "memory": f"{SYNTH_POOL['memory_mi'] // 1024}Gi"},
            "maxCount": min(5000, 2 * lower)}
    return {"containers": containers, "pools": [pool], "policy": _policy(time_limit, "node")}


def synthetic_instance(name: str, time_limit: float, seed: int = 0) -> Instance:
    replicas, shapes = SYNTH_VARIANTS[name]
    data = synthetic_problem(replicas, shapes, seed, time_limit)
    return Instance(suite="synthetic", name=name, data=data, replicas=replicas,
                    notes={"shapes": shapes, "seed": seed})


# --- Core -------------------------------------------------------------------------------


def core_instance(seed: int, time_limit: float) -> Instance:
    data = generate_problem(seed, 100, 20, time_limit_seconds=time_limit)
    # Replicas of the forced pods (helpers ride in their main's pod), as `bench core` counts.
    replicas = sum(g.replicas for g in forced_groups(parse_problem(data)))
    return Instance(suite="core", name=f"core-seed{seed}", data=data, replicas=replicas,
                    notes={"seed": seed, "containers": len(data["containers"])})


# --- Suites -----------------------------------------------------------------------------


def suite_names(suite: str, pattern: str = "*") -> list[str]:
    """Instance names of a suite (matching the glob), without building the problems."""
    if suite == "vbp":
        names = [p.stem for p in sorted((data_dir() / "vbp" / "panigrahy").glob("*.vbp"),
                                        key=_vbp_key)]
    elif suite == "vbp-gen":
        names = [f"gen-class{c}_{n}_3_s{s}" for c, n, s in
                 itertools.product(range(1, 10), GENERATED_SIZES, GENERATED_SEEDS)]
    elif suite == "openb":
        data_dir()
        names = ["openb-default"]
    elif suite == "synthetic":
        names = ["synthetic-1k", "synthetic-10k"]
    elif suite == "core":
        names = [f"core-seed{s}" for s in CORE_SEEDS]
    else:
        raise DataError(f"unknown suite {suite!r} (one of {', '.join(SUITES)})")
    return [n for n in names if fnmatch.fnmatch(n, pattern)]


def load_instance(suite: str, name: str, time_limit: float) -> Instance:
    if suite == "vbp":
        found = vbp_instances(time_limit, name)
        if len(found) != 1:
            raise DataError(f"no VBP instance {name!r}")
        return found[0]
    if suite == "vbp-gen":
        found = generated_vbp_instances(time_limit, name)
        if len(found) != 1:
            raise DataError(f"no generated VBP instance {name!r}")
        return found[0]
    if suite == "openb":
        return openb_instance(time_limit)
    if suite == "synthetic":
        if name not in SYNTH_VARIANTS:
            raise DataError(f"no synthetic instance {name!r}")
        return synthetic_instance(name, time_limit)
    if suite == "core":
        return core_instance(int(name.removeprefix("core-seed")), time_limit)
    raise DataError(f"unknown suite {suite!r}")
