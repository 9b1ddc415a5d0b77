"""Measures computed the same way for every method's plan (advisor and baselines).

Independent of advisor/: everything is derived from the problem and the plan's
pods and placements.

- `lower_bound`: a node-count lower bound: for each resource (and the pod
  count), the fewest nodes, largest first (fixed nodes, then every node a pool
  may add), whose allocatable covers the summed requests; with `spread: node`
  or `zone`, at least the most replicas of one pod. For VBP the paper's LB and
  OPT are used instead.
- **Stranded GPU** (openb): the free milli-GPUs of a node on which no
  GPU-requesting pod shape of the workload fits any more, in the same relaxed
  per-node model the plans obey (every resource: cpu, memory, milli-GPU, whole
  devices, pod count). It is the capacity that no pod of the trace could ever
  use on that node: typically a GPU left free where cpu or memory ran out, or a
  sliver of GPU smaller than every request. This follows the spirit of Weng et
  al.'s fragmentation (ATC'23: GPU capacity that cannot serve the target
  workload), with the workload's shapes as the target and without their
  popularity weighting or per-device accounting. `idle GPU` is all free GPU
  on GPU nodes.
- **Device-infeasible nodes** (openb): nodes whose relaxed GPU load cannot be
  realised device by device: the whole-device pods take their devices, and the
  shared pods' milli-GPUs must then pack (bin packing, 1000 per device) into
  the devices left. Decided exactly by a small search (first fit decreasing
  first); the count is 0 when every plan is realisable as the trace's simulator
  would place it.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from bench.baselines import DEFAULT_MAX_PODS, forced_groups
from bench.checks import allocatable_of
from models import Plan, Problem
from models.quantity import to_units

GPU_MILLI = "alibaba.com/gpu-milli"
GPU = "alibaba.com/gpu"


def lower_bound(problem: Problem) -> int:
    groups = forced_groups(problem)
    resources = sorted({r for g in groups for r in g.demand})
    capacities: list[dict[str, int]] = []

    def caps(alloc: dict[str, Decimal]) -> dict[str, int]:
        out = {r: to_units(r, alloc.get(r, Decimal(0)), round_up=False) for r in resources}
        pods = alloc.get("pods")
        out["pods"] = DEFAULT_MAX_PODS if pods is None else int(pods)
        return out

    capacities += [caps(n.allocatable) for n in problem.nodes]
    for pool in problem.pools:
        capacities += [caps(pool.allocatable)] * pool.max_count
    best = 0
    for r in resources:
        need = sum(g.replicas * g.demand.get(r, 0) for g in groups)
        if need <= 0:
            continue
        have = 0
        for k, cap in enumerate(sorted((c[r] for c in capacities), reverse=True), start=1):
            have += cap
            if have >= need:
                best = max(best, k)
                break
        else:
            best = max(best, len(capacities))
    if problem.policy.spread.value in ("node", "zone"):
        best = max(best, max((g.replicas for g in groups), default=0))
    return best


@dataclass(frozen=True)
class GpuReport:
    capacity: float  # GPUs in the cluster
    requested_placed: float  # GPUs the placed pods request
    idle: float  # free GPUs on GPU nodes
    stranded: float  # free GPUs on nodes where no GPU shape fits any more
    stranded_nodes: int
    device_infeasible_nodes: int

    @property
    def stranded_share(self) -> float:
        return self.stranded / self.capacity if self.capacity else 0.0


def _units(problem: Problem) -> tuple[list[str], dict[str, list[int]]]:
    resources = sorted({r for c in problem.containers for r in c.requests}
                       | {r for n in problem.nodes for r in n.allocatable}
                       | {r for p in problem.pools for r in p.allocatable})
    resources = [r for r in resources if r != "pods"] + ["pods"]
    demand = {c.name: [to_units(r, c.requests.get(r, Decimal(0)), round_up=True)
                       for r in resources[:-1]] + [0] for c in problem.containers}
    return resources, demand


def node_loads(problem: Problem, plan: Plan) -> tuple[list[str], dict[str, list[int]],
                                                      dict[str, list[list[int]]]]:
    """(resources, per node the summed request vector, per node each replica's vector)."""
    resources, demand = _units(problem)
    pods = {p.name: p for p in plan.pods}
    per_pod = {}
    for p in plan.pods:
        vec = [0] * len(resources)
        for c in p.containers:
            vec = [a + b for a, b in zip(vec, demand[c], strict=True)]
        vec[-1] = 1
        per_pod[p.name] = vec
    loads: dict[str, list[int]] = {}
    items: dict[str, list[list[int]]] = {}
    for placed in plan.placements:
        if placed.pod not in pods:
            continue
        vec = per_pod[placed.pod]
        load = loads.setdefault(placed.node, [0] * len(resources))
        for k, v in enumerate(vec):
            load[k] += v
        items.setdefault(placed.node, []).append(vec)
    return resources, loads, items


def _packs(sizes: list[int], bins: int, capacity: int) -> bool:
    """Whether `sizes` pack into `bins` bins of `capacity` (exact, small search)."""
    if sum(sizes) > bins * capacity:
        return False
    if not sizes:
        return True
    if bins <= 0:
        return False
    order = sorted(sizes, reverse=True)
    free = [capacity] * bins
    for s in order:  # first fit decreasing decides most cases at once
        for k in range(bins):
            if free[k] >= s:
                free[k] -= s
                break
        else:
            break
    else:
        return True
    budget = [200_000]

    def place(i: int, free: list[int]) -> bool:
        if i == len(order):
            return True
        budget[0] -= 1
        if budget[0] < 0:
            return False  # undecided within the budget: counted as infeasible
        tried: set[int] = set()
        for k in range(bins):
            if free[k] >= order[i] and free[k] not in tried:
                tried.add(free[k])
                free[k] -= order[i]
                if place(i + 1, free):
                    return True
                free[k] += order[i]
        return False

    return place(0, [capacity] * bins)


def gpu_report(problem: Problem, plan: Plan) -> GpuReport:
    resources, loads, items = node_loads(problem, plan)
    if GPU_MILLI not in resources:
        return GpuReport(0.0, 0.0, 0.0, 0.0, 0, 0)
    milli = resources.index(GPU_MILLI)
    whole = resources.index(GPU) if GPU in resources else None
    _, demand = _units(problem)
    shapes = [[*vec[:-1], 1] for vec in demand.values() if vec[milli] > 0]
    allocatable = allocatable_of(problem)

    def capacity(node: str) -> list[int] | None:
        alloc = allocatable(node)
        if alloc is None:
            return None
        out = [to_units(r, alloc.get(r, Decimal(0)), round_up=False) for r in resources[:-1]]
        pods = alloc.get("pods")
        return [*out, DEFAULT_MAX_PODS if pods is None else int(pods)]

    names: Iterable[str] = [n.name for n in problem.nodes] + [
        f"{p.name}-{k}" for p in problem.pools for k in range(1, p.max_count + 1)
        if f"{p.name}-{k}" in loads]
    total = idle = stranded = 0
    stranded_nodes = infeasible = 0
    for node in names:
        cap = capacity(node)
        if cap is None or cap[milli] <= 0:
            continue
        load = loads.get(node, [0] * len(resources))
        free = [c - u for c, u in zip(cap, load, strict=True)]
        total += cap[milli]
        idle += free[milli]
        if free[milli] > 0 and not any(
                all(f >= s for f, s in zip(free, shape, strict=True)) for shape in shapes):
            stranded += free[milli]
            stranded_nodes += 1
        if whole is not None:
            devices = cap[whole] // 1000
            taken = 0
            shared = []
            for vec in items.get(node, []):
                if vec[whole] > 0:
                    taken += math.ceil(vec[whole] / 1000)
                elif vec[milli] > 0:
                    shared.append(vec[milli] // 1000)
            if not _packs(shared, devices - taken, 1000):
                infeasible += 1
    requested = sum(load[milli] for load in loads.values())
    scale = 1000 * 1000  # units are thousandths of a milli-GPU count
    return GpuReport(capacity=total / scale, requested_placed=requested / scale,
                     idle=idle / scale, stranded=stranded / scale,
                     stranded_nodes=stranded_nodes, device_infeasible_nodes=infeasible)
