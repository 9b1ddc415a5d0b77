"""A seeded generator of realistic, consistent microservice layout problems.

`generate_problem(seed, containers=100, nodes=20)` returns a wire-format dict
(camelCase, as in CONTRACT.md) with exactly `containers` containers:

- main services of four shapes: small web front ends, medium APIs,
  memory-heavy caches and a few big databases; replicas 1-4 on mains, some
  mains non-critical;
- 0-2 helpers per main, attached by sidecar / ambassador / adapter hints, with
  ports distinct from their main's and from each other;
- a few samePod, separatePods, sameNode and separateNodes hints between mains
  (every main in at most one of them, so they cannot contradict each other),
  and traffic hints between chatty mains;
- `nodes` fixed nodes of three sizes (4/16Gi, 8/32Gi, 16/64Gi) spread over
  three zones, sized so that the busier of cpu and memory is 60-75 % requested.

Every problem is checked by `check_problem` before it is returned; an attempt
that fails the check is discarded and the next attempt (a derived seed) tried,
so a seed always yields the same problem.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bench.baselines import bins, first_fit_decreasing, forced_groups
from bench.checks import port_clashes
from models import GroupHint, Problem, ProblemError, parse_problem

ZONES = ("zone-a", "zone-b", "zone-c")
UTILISATION = (0.60, 0.75)
MAX_ATTEMPTS = 50


class GeneratorError(RuntimeError):
    """No consistent problem could be generated for these parameters."""


@dataclass(frozen=True)
class NodeType:
    name: str
    cpu: int  # cores
    memory_gi: int


NODE_TYPES = (
    NodeType("small-4x16", 4, 16),
    NodeType("medium-8x32", 8, 32),
    NodeType("large-16x64", 16, 64),
)
NODE_TYPE_WEIGHTS = (0.3, 0.5, 0.2)


@dataclass(frozen=True)
class Shape:
    cpu_m: tuple[int, int]
    memory_mi: tuple[int, int]
    replicas: tuple[int, ...]
    replica_weights: tuple[float, ...]
    ports: tuple[int, ...]
    helpers: tuple[str, ...]  # helper templates this kind of service may carry
    non_critical_share: float


SHAPES: dict[str, Shape] = {
    "web": Shape((100, 500), (128, 1024), (2, 3, 4), (0.4, 0.4, 0.2), (8080, 8443, 3000),
                 ("logs", "proxy", "metrics"), 0.15),
    "api": Shape((500, 1500), (512, 2048), (1, 2, 3, 4), (0.2, 0.4, 0.3, 0.1),
                 (8080, 9090, 50051), ("proxy", "logs", "metrics"), 0.1),
    "cache": Shape((200, 1000), (2048, 8192), (1, 2, 3), (0.3, 0.4, 0.3), (6379, 11211),
                   ("metrics", "logs"), 0.0),
    "db": Shape((2000, 4000), (4096, 16384), (1, 2, 3), (0.4, 0.4, 0.2), (5432, 3306, 27017),
                ("metrics", "backup"), 0.0),
}
# Shares of the mains that are not databases; databases are a fixed few.
KIND_WEIGHTS = {"web": 0.5, "api": 0.35, "cache": 0.15}
HELPER_COUNT_WEIGHTS = (0.4, 0.4, 0.2)  # 0, 1 or 2 helpers per main


@dataclass(frozen=True)
class HelperTemplate:
    hint: str  # sidecar | ambassador | adapter
    cpu_m: tuple[int, int]
    memory_mi: tuple[int, int]
    ports: tuple[int, int] | None  # inclusive range to draw a port from
    volume: str | None  # suffix of a volume shared with the main
    critical: bool


HELPERS: dict[str, HelperTemplate] = {
    "logs": HelperTemplate("sidecar", (20, 100), (32, 128), None, "logs", False),
    "backup": HelperTemplate("sidecar", (50, 200), (64, 256), None, "data", False),
    "proxy": HelperTemplate("ambassador", (50, 200), (64, 256), (15000, 15010), None, True),
    "metrics": HelperTemplate("adapter", (20, 100), (32, 128), (9100, 9199), None, False),
}


@dataclass
class Spec:
    """One container as it is being generated (integers: millicores and MiB)."""

    name: str
    cpu_m: int
    memory_mi: int
    ports: list[int]
    replicas: int | None
    critical: bool
    volumes: list[str] = field(default_factory=list)

    def to_wire(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "name": self.name,
            "requests": {"cpu": f"{self.cpu_m}m", "memory": f"{self.memory_mi}Mi"},
        }
        if self.ports:
            out["ports"] = list(self.ports)
        if self.volumes:
            out["volumes"] = list(self.volumes)
        if self.replicas is not None:
            out["replicas"] = self.replicas
        if not self.critical:
            out["critical"] = False
        return out


@dataclass
class Service:
    kind: str
    main: Spec
    helpers: list[tuple[str, Spec]]  # (hint type, helper)

    @property
    def replicas(self) -> int:
        return self.main.replicas or 1

    @property
    def ports(self) -> set[int]:
        return {p for s in (self.main, *(h for _, h in self.helpers)) for p in s.ports}

    @property
    def cpu_m(self) -> int:
        return self.main.cpu_m + sum(h.cpu_m for _, h in self.helpers)

    @property
    def memory_mi(self) -> int:
        return self.main.memory_mi + sum(h.memory_mi for _, h in self.helpers)


def _draw(rng: random.Random, bounds: tuple[int, int], step: int) -> int:
    low, high = bounds
    return rng.randrange(low // step, high // step + 1) * step


def _service(rng: random.Random, kind: str, index: int, n_helpers: int) -> Service:
    shape = SHAPES[kind]
    name = f"{kind}-{index}"
    main = Spec(
        name=name,
        cpu_m=_draw(rng, shape.cpu_m, 50),
        memory_mi=_draw(rng, shape.memory_mi, 64),
        ports=[rng.choice(shape.ports)],
        replicas=rng.choices(shape.replicas, weights=shape.replica_weights)[0],
        critical=rng.random() >= shape.non_critical_share,
    )
    helpers: list[tuple[str, Spec]] = []
    used_ports = set(main.ports)
    for suffix in rng.sample(shape.helpers, n_helpers):
        tpl = HELPERS[suffix]
        ports: list[int] = []
        if tpl.ports is not None:
            port = rng.randint(*tpl.ports)
            while port in used_ports:
                port = rng.randint(*tpl.ports)
            used_ports.add(port)
            ports = [port]
        helper = Spec(
            name=f"{name}-{suffix}",
            cpu_m=_draw(rng, tpl.cpu_m, 10),
            memory_mi=_draw(rng, tpl.memory_mi, 16),
            ports=ports,
            replicas=None,  # helpers follow their main's pod
            critical=tpl.critical,
        )
        if tpl.volume is not None:
            volume = f"{name}-{tpl.volume}"
            helper.volumes.append(volume)
            main.volumes.append(volume)
        helpers.append((tpl.hint, helper))
    return Service(kind=kind, main=main, helpers=helpers)


def _services(rng: random.Random, total: int) -> list[Service]:
    """Mains with their helpers, exactly `total` containers, in shuffled order."""
    n_db = max(1, round(total / 35))
    kinds = list(KIND_WEIGHTS)
    weights = [KIND_WEIGHTS[k] for k in kinds]
    counters: dict[str, int] = {}
    services: list[Service] = []
    count = 0
    while count < total:
        kind = "db" if counters.get("db", 0) < n_db else rng.choices(kinds, weights=weights)[0]
        counters[kind] = counters.get(kind, 0) + 1
        wanted = rng.choices((0, 1, 2), weights=HELPER_COUNT_WEIGHTS)[0]
        n_helpers = min(wanted, total - count - 1, len(SHAPES[kind].helpers))
        services.append(_service(rng, kind, counters[kind], n_helpers))
        count += 1 + n_helpers
    rng.shuffle(services)
    return services


def _pick_pair(rng: random.Random, services: list[Service], taken: set[str],
               ok: Callable[[Service, Service], bool]) -> tuple[Service, Service] | None:
    free = [s for s in services if s.main.name not in taken]
    pairs = [(a, b) for i, a in enumerate(free) for b in free[i + 1:] if ok(a, b)]
    if not pairs:
        return None
    a, b = rng.choice(pairs)
    taken.update((a.main.name, b.main.name))
    return a, b


def _group_hints(rng: random.Random, services: list[Service]) -> list[dict[str, Any]]:
    """samePod, separatePods, sameNode, separateNodes over disjoint pairs of mains."""
    per_type = max(1, round(len(services) / 20))
    taken: set[str] = set()
    hints: list[dict[str, Any]] = []
    light = {"web", "api"}

    def same_pod(a: Service, b: Service) -> bool:
        return ({a.kind, b.kind} <= light and not a.ports & b.ports
                and a.cpu_m + b.cpu_m <= 2000 and a.memory_mi + b.memory_mi <= 3072)

    def same_node(a: Service, b: Service) -> bool:
        return {a.kind, b.kind} <= light and a.cpu_m + b.cpu_m <= 1500

    def separate_nodes(a: Service, b: Service) -> bool:
        return a.kind == b.kind and a.kind in ("db", "cache")

    def separate_pods(a: Service, b: Service) -> bool:
        return a.kind != "db" and b.kind != "db"

    for _ in range(per_type):
        pair = _pick_pair(rng, services, taken, same_pod)
        if pair is not None:
            a, b = pair
            b.main.replicas = a.main.replicas  # a pod is replicated as a whole
            hints.append({"type": "samePod", "containers": [a.main.name, b.main.name]})
    for _ in range(per_type):
        pair = _pick_pair(rng, services, taken, separate_pods)
        if pair is not None:
            hints.append({"type": "separatePods",
                          "containers": [pair[0].main.name, pair[1].main.name]})
    for _ in range(per_type):
        pair = _pick_pair(rng, services, taken, same_node)
        if pair is not None:
            hints.append({"type": "sameNode", "containers": [pair[0].main.name, pair[1].main.name]})
    for _ in range(per_type):
        pair = (_pick_pair(rng, services, taken, separate_nodes)
                or _pick_pair(rng, services, taken, lambda a, b: {a.kind, b.kind} <= light))
        if pair is not None:
            hints.append({"type": "separateNodes",
                          "containers": [pair[0].main.name, pair[1].main.name]})
    return hints


def _traffic_hints(rng: random.Random, services: list[Service],
                   group_hints: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Callers (web, api) talking to callees (api, cache, db); never inside one forced pod."""
    same_pod = {frozenset(h["containers"]) for h in group_hints if h["type"] == "samePod"}
    callers = [s for s in services if s.kind in ("web", "api")]
    callees = [s for s in services if s.kind in ("api", "cache", "db")]
    wanted = max(2, len(services) // 5)
    seen: set[frozenset[str]] = set()
    hints: list[dict[str, Any]] = []
    for _ in range(wanted * 10):
        if len(hints) >= wanted or not callers or not callees:
            break
        a, b = rng.choice(callers), rng.choice(callees)
        pair = frozenset((a.main.name, b.main.name))
        if a is b or pair in seen or pair in same_pod:
            continue
        seen.add(pair)
        hints.append({"type": "traffic", "containers": [a.main.name, b.main.name],
                      "weight": rng.choice((1, 2, 5, 10))})
    return hints


def _demand(services: list[Service]) -> tuple[int, int]:
    """Total requested millicores and MiB over all replicas."""
    cpu = sum(s.replicas * s.cpu_m for s in services)
    memory = sum(s.replicas * s.memory_mi for s in services)
    return cpu, memory


def _node_sizes(rng: random.Random, services: list[Service], count: int,
                window: tuple[float, float]) -> list[int] | None:
    """Node type indices whose capacity puts the busier resource inside the window."""
    cpu, memory = _demand(services)
    sizes = [rng.choices(range(len(NODE_TYPES)), weights=NODE_TYPE_WEIGHTS)[0]
             for _ in range(count)]
    low, high = window
    for _ in range(20 * count):
        cap_cpu = sum(NODE_TYPES[s].cpu * 1000 for s in sizes)
        cap_mem = sum(NODE_TYPES[s].memory_gi * 1024 for s in sizes)
        util = max(cpu / cap_cpu, memory / cap_mem)
        if util > high:
            grow = [i for i, s in enumerate(sizes) if s < len(NODE_TYPES) - 1]
            if not grow:
                return None
            sizes[rng.choice(grow)] += 1
        elif util < low:
            shrink = [i for i, s in enumerate(sizes) if s > 0]
            if not shrink:
                return None
            sizes[rng.choice(shrink)] -= 1
        else:
            return sizes
    return None


def _nodes(rng: random.Random, sizes: list[int]) -> list[dict[str, Any]]:
    order = list(sizes)
    rng.shuffle(order)
    nodes = []
    for i, s in enumerate(order):
        kind = NODE_TYPES[s]
        nodes.append({
            "name": f"node-{i + 1:02d}",
            "allocatable": {"cpu": str(kind.cpu), "memory": f"{kind.memory_gi}Gi", "pods": 110},
            "zone": ZONES[i % len(ZONES)],
            "labels": {"instance-type": kind.name},
            # The benchmark asks how few nodes a plan needs: a node it empties is saved.
            "releasable": True,
        })
    return nodes


def _attempt(rng: random.Random, containers: int, nodes: int,
             time_limit_seconds: float, window: tuple[float, float]) -> dict[str, Any] | None:
    services = _services(rng, containers)
    group_hints = _group_hints(rng, services)  # may equalise samePod replicas: before sizing
    sizes = _node_sizes(rng, services, nodes, window)
    if sizes is None:
        return None
    hints: list[dict[str, Any]] = [
        {"type": hint, "container": helper.name, "main": s.main.name}
        for s in services for hint, helper in s.helpers
    ]
    hints += group_hints
    hints += _traffic_hints(rng, services, group_hints)
    wire_containers = [spec.to_wire() for s in services
                       for spec in (s.main, *(h for _, h in s.helpers))]
    return {
        "containers": wire_containers,
        "hints": hints,
        "nodes": _nodes(rng, sizes),
        "policy": {"objective": "balanced", "timeLimitSeconds": time_limit_seconds, "seed": 0},
    }


def generate_problem(seed: int, containers: int = 100, nodes: int = 20, *,
                     time_limit_seconds: float = 10.0,
                     utilisation: tuple[float, float] = UTILISATION) -> dict[str, Any]:
    """A consistent problem for `seed`; the same arguments always give the same problem."""
    if containers < 1 or nodes < 1:
        raise GeneratorError("give at least one container and one node")
    last: list[str] = ["no node mix reaches the utilisation window"]
    for attempt in range(MAX_ATTEMPTS):
        rng = random.Random(f"pod-layout-bench:{seed}:{containers}:{nodes}:{attempt}")
        data = _attempt(rng, containers, nodes, time_limit_seconds, utilisation)
        if data is None:
            continue
        issues = check_problem(data, utilisation=utilisation)
        if not issues:
            return data
        last = issues
    raise GeneratorError(
        f"no consistent problem with {containers} containers on {nodes} nodes for seed {seed} "
        f"after {MAX_ATTEMPTS} attempts: {'; '.join(last)}"
    )


@dataclass(frozen=True)
class ProblemStats:
    containers: int
    mains: int
    helpers: int
    pods: int  # forced groups: one pod each unless the advisor merges some
    replicas: int  # replicas of those pods
    hints: dict[str, int]
    nodes: int
    utilisation: dict[str, float]  # requested / allocatable, summed over all nodes


def problem_stats(data: dict[str, Any]) -> ProblemStats:
    problem = parse_problem(data)
    groups = forced_groups(problem)
    helper_types = ("sidecar", "ambassador", "adapter")
    hint_counts: dict[str, int] = {}
    for hint in problem.hints:
        hint_counts[hint.type] = hint_counts.get(hint.type, 0) + 1
    helpers = sum(n for t, n in hint_counts.items() if t in helper_types)
    caps = bins(problem)
    util: dict[str, float] = {}
    for r in ("cpu", "memory"):
        need = sum(g.replicas * g.demand.get(r, 0) for g in groups)
        have = sum(b.capacity.get(r, 0) for b in caps)
        util[r] = round(need / have, 4) if have else 0.0
    return ProblemStats(
        containers=len(problem.containers), mains=len(problem.containers) - helpers,
        helpers=helpers, pods=len(groups), replicas=sum(g.replicas for g in groups),
        hints=hint_counts, nodes=len(caps), utilisation=util,
    )


def _relation_issues(problem: Problem, group_of: dict[str, str]) -> list[str]:
    """Pair hints inside one forced pod, and pod pairs both sameNode and separateNodes."""
    issues: list[str] = []
    relations: dict[frozenset[str], set[str]] = {}
    for hint in problem.hints:
        if not isinstance(hint, GroupHint) or hint.type == "samePod":
            continue
        pods = [group_of[c] for c in hint.containers]
        for i, a in enumerate(pods):
            for b in pods[i + 1:]:
                if a == b:
                    issues.append(f"{hint.type} {hint.containers} inside the forced pod {a}")
                else:
                    relations.setdefault(frozenset((a, b)), set()).add(hint.type)
    for pair, kinds in relations.items():
        if {"sameNode", "separateNodes"} <= kinds:
            issues.append(f"{' and '.join(sorted(pair))} are both sameNode and separateNodes")
    return issues


def check_problem(data: dict[str, Any], *,
                  utilisation: tuple[float, float] | None = UTILISATION) -> list[str]:
    """Why `data` is not a consistent, feasible benchmark problem (empty when it is).

    Independent of the advisor: the problem parses; containers forced into one pod
    agree on replicas and use distinct ports; no separatePods/separateNodes pair is
    forced into one pod; no pair of pods is both sameNode and separateNodes; a
    first-fit placement honouring capacity and the node hints places every replica;
    and, if given, the busier of cpu and memory is requested inside the window.
    """
    try:
        problem = parse_problem(data)
    except ProblemError as exc:
        return [f"does not parse: {exc}"]
    issues: list[str] = []
    groups = forced_groups(problem)
    group_of = {c: g.name for g in groups for c in g.containers}
    by_name = {c.name: c for c in problem.containers}
    for g in groups:
        declared = {by_name[c].replicas for c in g.containers} - {None}
        if len(declared) > 1:
            issues.append(f"pod {g.name} mixes replica counts {sorted(x or 0 for x in declared)}")
        issues += port_clashes(g.name, [by_name[c] for c in g.containers])
    issues += _relation_issues(problem, group_of)
    caps = bins(problem)
    for g in groups:
        if not any(all(b.capacity.get(r, 0) >= d for r, d in g.demand.items()) for b in caps):
            issues.append(f"pod {g.name} fits on no node")
    if not issues:
        witness = first_fit_decreasing(problem)
        if not witness.complete:
            issues.append(f"first fit leaves {witness.unplaced} replica(s) unplaced")
    if utilisation is not None:
        stats = problem_stats(data)
        busiest = max(stats.utilisation.values())
        low, high = utilisation
        if not low <= busiest <= high:
            issues.append(f"utilisation {busiest:.2f} outside {low:.2f}-{high:.2f}")
    return issues

