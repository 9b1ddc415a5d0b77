"""The CP-SAT model deciding grouping and placement together.

Variables (per unit u = containers hard hints force into one pod, candidate node k):
  m[u,k]    replicas of u's pod on node k (0/1 under hard spreading)
  on[u,k]   u has at least one replica on k
  used[k]   node k hosts a pod (pool nodes: the node is provisioned)
  join[v,s] unit v joins the pod of the earlier unit s (grouping decision);
            join[v,v] means v leads a pod of its own
Every constraint family and objective term is a named method below.
"""

from __future__ import annotations

import itertools
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from ortools.sat.python import cp_model

from advisor.bounds import nodes_lower_bound
from advisor.errors import OutOfTimeError
from advisor.greedy import Assignment
from advisor.prepare import Instance
from models.problem import Objective, Spread

LinearExpr = cp_model.LinearExprT


@dataclass(frozen=True)
class Weights:
    """Objective weights; an average node costs 1000, one critical component's full SPOF `spof`."""

    spof: int
    node: int
    traffic: int = 10
    # Per critical component that the worst node failure takes down with it (half for the
    # worst zone): at `balanced`, half an average node, so that one more node is worth
    # keeping two more components out of the worst failure.
    blast: int = 0
    unplaced: int = 1_000_000_000
    keep: int = 1  # per replica left where the current layout has it: a tie-breaker


def blast_weight(w: Weights, paid_anyway: int) -> int:
    """Weight of one more critical component lost with the worst node: the objective's,
    and always above the tie-breakers of all `paid_anyway` nodes together, so that
    emptying nodes paid for anyway never buys a larger blast radius."""
    return max(w.blast, paid_anyway + 1)


WEIGHTS = {
    Objective.BALANCED: Weights(spof=4000, node=1, blast=500),
    Objective.MIN_SPOF: Weights(spof=1_000_000, node=1, blast=250_000),
    Objective.MIN_WASTE: Weights(spof=1000, node=100, blast=250),
    # The frontier trades the two apart (advisor/frontier.py); a single plan asked of it is
    # the balanced one.
    Objective.FRONTIER: Weights(spof=4000, node=1, blast=500),
}


@dataclass(frozen=True)
class CurrentPod:
    """One pod of the current layout: the units it is made of (leader first; empty when its
    containers are no union of units, so it cannot stay) and its replicas per node."""

    units: tuple[int, ...]
    counts: dict[int, int]


@dataclass
class Current:
    """The user's current layout, in model terms: what `term_moves` rewards keeping, and
    what the move budget (`add_move_budget`) counts against."""

    counts: dict[int, dict[int, int]]  # unit -> node -> replicas there today
    together: set[tuple[int, int]]  # (v, s): unit v shares a pod with earlier unit s today
    pods: list[CurrentPod] = field(default_factory=list)
    max_moves: int | None = None  # policy.maxMoves: replicas that may leave their node


@dataclass
class Progress:
    objective: float | None
    bound: float | None
    elapsed: float
    solutions: int


class _Values(Protocol):
    """What a solver and a solution callback both offer: the values of the current solution."""

    def value(self, expression: LinearExpr) -> int: ...

    def boolean_value(self, literal: cp_model.LiteralT) -> bool: ...


@dataclass
class SolveResult:
    status: str  # OPTIMAL | FEASIBLE | INFEASIBLE | UNKNOWN | MODEL_INVALID
    assignment: Assignment | None
    objective: float | None
    bound: float | None
    terms: dict[str, int] = field(default_factory=dict)  # objective by named term


class _Copied:
    """One solution's values, copied out of the search (a flat list, by variable index), so
    that turning it into an Assignment can wait until someone asks for it."""

    def __init__(self, solution: list[int]) -> None:
        self.solution = solution

    def value(self, expression: LinearExpr) -> int:
        assert isinstance(expression, cp_model.IntVar)
        return self.solution[expression.index]

    def boolean_value(self, literal: cp_model.LiteralT) -> bool:
        index = literal.index  # type: ignore[union-attr]  # a literal of this model, not a bool
        return bool(self.solution[index]) if index >= 0 else not self.solution[-index - 1]


Snapshot = Callable[[], Assignment]


class _Callback(cp_model.CpSolverSolutionCallback):
    def __init__(self, on_progress: Callable[[Progress], None] | None,
                 on_solution: Callable[[Snapshot, float, float], None] | None,
                 extract: Callable[[_Values], Assignment],
                 should_stop: Callable[[], bool] | None = None) -> None:
        super().__init__()
        self.should_stop = should_stop
        self.on_progress = on_progress
        self.on_solution = on_solution
        self.extract = extract
        self.started = time.monotonic()
        self.solutions = 0

    def on_solution_callback(self) -> None:
        if self.should_stop is not None and self.should_stop():
            # A stop asked while solve() was starting up: CP-SAT ignores stop_search() then.
            self.stop_search()
        self.solutions += 1
        if self.on_progress is not None:
            self.on_progress(Progress(self.objective_value, self.best_objective_bound,
                                      time.monotonic() - self.started, self.solutions))
        if self.on_solution is not None:
            # Every improving solution, copied in one vectorised step (microseconds for
            # thousands of variables); reading it variable by variable would hold the search.
            copied = _Copied(list(self.response_proto.solution))
            extract = self.extract
            self.on_solution(lambda: extract(copied), self.objective_value,
                             self.best_objective_bound)


# The shortest time limit CP-SAT is ever given, however little time is left.
MIN_SEARCH_SECONDS = 0.05


def cp_solver(seconds: float, *, workers: int = 1, seed: int = 0,
              objective: bool = True) -> cp_model.CpSolver:
    """The one place a CpSolver is configured, for the layout model and the conflict cores."""
    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = max(MIN_SEARCH_SECONDS, seconds)
    solver.parameters.num_workers = workers
    if workers == 1 and objective:
        # Alone, the LP-heavy search proves the node-count bound far sooner.
        solver.parameters.linearization_level = 2
    solver.parameters.random_seed = seed
    # Ctrl-C is the caller's to handle (SolveControl.stop); CP-SAT's own handler
    # cannot run in a worker thread.
    solver.parameters.catch_sigint_signal = False
    return solver


class LayoutModel:
    def __init__(self, inst: Instance, allowed: list[int], weights: Weights, *,
                 allow_unplaced: bool = False, with_capacity: bool = True,
                 assumptions: bool = False, hint: Assignment | None = None,
                 current: Current | None = None, symmetry_cuts: bool = True,
                 deadline: float | None = None) -> None:
        """`deadline` (time.monotonic() seconds): building cannot be interrupted from outside,
        so it looks at the clock itself and raises OutOfTimeError once past it."""
        self.inst = inst
        self.deadline = deadline
        self.allowed = allowed
        self.w = weights
        self.allow_unplaced = allow_unplaced
        self.model = cp_model.CpModel()
        self.hints: dict[int, int] = {}  # variable index -> hinted value
        self.last_solution: list[int] | None = None  # every variable's value, last solve
        # name -> [(coef, const, sign, var)]: the term adds coef * (const + sign * var)
        self.terms: dict[str, list[tuple[int, int, int, cp_model.IntVar]]] = {}
        self.assumption_of: dict[str, cp_model.IntVar] = {}
        self.use_assumptions = assumptions
        self.hint = hint
        self.current = current
        # Pool nodes the current layout uses stay individually choosable (moves reward them).
        self.pinned = {k for per_node in (current.counts.values() if current else [])
                       for k in per_node}
        self.last_bin = self._bin_limits() if symmetry_cuts else {}
        if hint is not None:
            self.hint = self._relabel(hint)
        steps: list[Callable[[], None]] = [self._variables, self.add_placement_counts,
                                           self.add_presence_links]
        if with_capacity:
            steps.append(self.add_capacity)
            if not allow_unplaced:
                steps.append(self.add_capacity_cover)
        steps += [self.add_spread, self.add_grouping, self.add_same_node, self.add_one_node,
                  self.add_separate_nodes, self.add_pool_symmetry, self.term_node_cost,
                  self.term_spof, self.term_blast_radius, self.term_traffic]
        if current is not None:
            steps.append(lambda: self.term_moves(current))
            steps.append(lambda: self.add_move_budget(current))
        if allow_unplaced:
            steps.append(self.term_unplaced)
        for step in [*steps, self._objective]:
            self._on_time()
            step()

    def _on_time(self) -> None:
        """Raise OutOfTimeError once the build is past its deadline (looked at between constraint
        families, and per unit or node inside the ones that grow with the model)."""
        if self.deadline is not None:
            late = time.monotonic() - self.deadline
            if late > 0:
                raise OutOfTimeError("building the CP-SAT model", late)

    # ---- symmetry of identical pool nodes ---------------------------------------------
    def _pool_groups(self) -> list[list[int]]:
        """Interchangeable nodes: one pool and zone, not pinned by the current layout; by rank."""
        by_key: dict[tuple[str, str | None], list[int]] = {}
        for k in self.allowed:
            cand = self.inst.candidates[k]
            if cand.pool is not None and k not in self.pinned:
                by_key.setdefault((cand.pool, cand.zone), []).append(k)
        return [sorted(ks, key=lambda k: self.inst.candidates[k].pool_rank)
                for ks in by_key.values()]

    def _size_order(self, group: list[int]) -> list[int]:
        """Units that may use the group, largest first (the bin-packing order that makes
        the symmetry cut strongest)."""
        inst = self.inst
        top = [max((inst.candidates[k].capacity[r] for k in group), default=1) or 1
               for r in range(len(inst.resources))]
        units = [u for u, unit in enumerate(inst.units) if unit.eligible[group[0]]]
        return sorted(units, key=lambda u: (-max(
            (d / top[r] for r, d in enumerate(inst.units[u].demand)), default=0.0), u))

    def _bin_limits(self) -> dict[tuple[int, int], bool]:
        """(unit, node) pairs the symmetry cut rules out.

        Number the replicas of a group's units 0, 1, ... in size order, and the group's
        nodes by the smallest replica number they hold: node b then holds only replicas
        numbered b or more, so the replicas of unit u (numbered below C_u, the replicas of
        u and of every unit before it) never need a node ranked C_u or later. Every layout
        has such a numbering of its identical nodes (`_relabel` gives the hint one)."""
        out: dict[tuple[int, int], bool] = {}
        for group in self._pool_groups():
            placed = 0
            for u in self._size_order(group):
                placed += self.inst.units[u].replicas
                for k in group[placed:]:
                    out[u, k] = True
        return out

    def _relabel(self, hint: Assignment) -> Assignment:
        """The hint with each group's nodes renumbered by the first unit (in size order)
        they hold, so that it keeps the symmetry cut."""
        counts = [dict(c) for c in hint.counts]
        for group in self._pool_groups():
            position = {u: i for i, u in enumerate(self._size_order(group))}
            first: dict[int, int] = {}
            members = set(group)
            for u in range(len(self.inst.units)):
                lead = hint.leader[u] if hint.leader else u
                for k, n in counts[lead].items():
                    if n > 0 and k in members and u in position:
                        first[k] = min(first.get(k, len(position)), position[u])
            used = sorted(first, key=lambda k: (first[k], k))
            mapping = dict(zip(used, group, strict=False))
            counts = [{mapping.get(k, k): n for k, n in per_node.items()} for per_node in counts]
        return Assignment(counts=counts, unplaced=dict(hint.unplaced), leader=list(hint.leader))

    # ---- variables -------------------------------------------------------------------
    def _new_int(self, lb: int, ub: int, name: str, hint: int) -> cp_model.IntVar:
        var = self.model.new_int_var(lb, ub, name)
        self.hints[var.index] = max(lb, min(ub, hint))
        return var

    def _new_bool(self, name: str, hint: bool) -> cp_model.IntVar:
        var = self.model.new_bool_var(name)
        self.hints[var.index] = int(hint)
        return var

    def _hint_count(self, u: int, k: int) -> int:
        if self.hint is None:
            return 0
        return self.hint.counts[self.hint.leader[u]].get(k, 0) if self.hint.leader[u] != u \
            else self.hint.counts[u].get(k, 0)

    def _variables(self) -> None:
        inst = self.inst
        # 0/1 replica counts enforce spreading by construction, except when conflicts are
        # being named: then spreading is a constraint behind the policy.spread assumption.
        spread = inst.spread != Spread.NONE and not self.use_assumptions
        self.m: list[dict[int, cp_model.IntVar]] = []
        self.on: list[dict[int, cp_model.IntVar]] = []
        for u, unit in enumerate(inst.units):
            self._on_time()
            mu: dict[int, cp_model.IntVar] = {}
            onu: dict[int, cp_model.IntVar] = {}
            for k in self.allowed:
                if not unit.eligible[k] or self.last_bin.get((u, k), False):
                    continue
                h = self._hint_count(u, k)
                if spread:
                    var = self._new_bool(f"m[{u},{k}]", h > 0)
                    mu[k] = onu[k] = var
                else:
                    # No more replicas than fit on the node alone: tighter, and keeps every
                    # capacity sum far inside int64 whatever the amounts.
                    cap = inst.candidates[k].capacity
                    fit = min(cap[r] // d for r, d in enumerate(unit.demand) if d > 0)
                    ub = min(unit.replicas, fit)
                    mu[k] = self._new_int(0, ub, f"m[{u},{k}]", min(h, ub))
                    onu[k] = self._new_bool(f"on[{u},{k}]", h > 0)
            self.m.append(mu)
            self.on.append(onu)
        self.used = {
            k: self._new_bool(
                f"used[{k}]", any(self._hint_count(u, k) for u in range(len(inst.units)))
            )
            for k in self.allowed
        }
        self.placed: list[LinearExpr] = []
        for u, unit in enumerate(inst.units):
            if self.allow_unplaced:
                h = unit.replicas - (self.hint.unplaced.get(u, 0) if self.hint else unit.replicas)
                self.placed.append(self._new_int(0, unit.replicas, f"placed[{u}]", h))
            else:
                self.placed.append(unit.replicas)
        # Grouping: join[v][s] for the earlier units v may join; lead[v] = join[v][v].
        self.join: dict[int, dict[int, cp_model.IntVar]] = {}
        for v, options in self._join_options().items():
            leader = self.hint.leader[v] if self.hint else v
            self.join[v] = {s: self._new_bool(f"join[{v},{s}]", leader == s) for s in [v, *options]}

    def _join_options(self) -> dict[int, list[int]]:
        """Earlier units each unit may join: the instance's, and under a move budget the
        groupings of today's layout too (keeping those moves nothing, coupled or not)."""
        options = {v: list(opts) for v, opts in self.inst.merge_options.items()}
        if self.current is None or self.current.max_moves is None:
            return options
        for pod in self.current.pods:
            for v in pod.units[1:]:
                lead = pod.units[0]
                if lead not in options.get(v, []) and (lead, v) not in self.inst.incompatible:
                    options.setdefault(v, []).append(lead)
        return options

    def _assumption(self, label: str) -> cp_model.IntVar | None:
        if not self.use_assumptions:
            return None
        if label not in self.assumption_of:
            lit = self.model.new_bool_var(f"assume {label}")
            self.assumption_of[label] = lit
            self.hints[lit.index] = 1
        return self.assumption_of[label]

    # ---- constraint families ---------------------------------------------------------
    def add_placement_counts(self) -> None:
        """Every replica of every pod runs on exactly one node (or is counted unplaced)."""
        for u in range(len(self.inst.units)):
            self.model.add(sum(self.m[u].values()) == self.placed[u])

    def add_presence_links(self) -> None:
        """on[u,k] is 1 exactly when u has a replica on k; used[k] when anything runs on k."""
        if self.inst.spread == Spread.NONE or self.use_assumptions:
            for u, unit in enumerate(self.inst.units):
                self._on_time()
                for k, var in self.m[u].items():
                    self.model.add(var <= unit.replicas * self.on[u][k])
                    self.model.add(var >= self.on[u][k])
        per_node: dict[int, list[cp_model.IntVar]] = {k: [] for k in self.allowed}
        for u in range(len(self.inst.units)):
            for k, var in self.on[u].items():
                self.model.add_implication(var, self.used[k])
                per_node[k].append(var)
        for k, vars_ in per_node.items():
            self.model.add(self.used[k] <= sum(vars_))

    def add_capacity(self) -> None:
        """Per node and resource, the replicas' summed requests fit in allocatable (pods: count)."""
        inst = self.inst
        pods_r = inst.pods_index
        for k in self.allowed:
            self._on_time()
            cap = inst.candidates[k].capacity
            for r in range(len(inst.resources)):
                if r == pods_r:
                    load = self._pod_count(k)
                else:
                    load = sum(inst.units[u].demand[r] * self.m[u][k]
                               for u in range(len(inst.units))
                               if k in self.m[u] and inst.units[u].demand[r] > 0)
                if isinstance(load, int):
                    continue
                self.model.add(load <= cap[r] * self.used[k])

    def add_capacity_cover(self) -> None:
        """Redundant cuts for the bound: used nodes must cover the total request per resource,
        and number at least the lower bound (replicas that cannot share a node, among others)."""
        inst = self.inst
        self.model.add(sum(self.used.values()) >= nodes_lower_bound(inst))
        for r in range(len(inst.resources)):
            if r == inst.pods_index and self.join:
                continue  # merged units make fewer pods than units
            need = sum(u.replicas * u.demand[r] for u in inst.units)
            # More than all nodes together is infeasible anyway; the cap keeps it in int64.
            need = min(need, sum(inst.candidates[k].capacity[r] for k in self.allowed) + 1)
            if need > 0:
                self.model.add(
                    sum(inst.candidates[k].capacity[r] * self.used[k] for k in self.allowed)
                    >= need
                )

    def _pod_count(self, k: int) -> LinearExpr:
        terms: list[LinearExpr] = []
        for u, unit in enumerate(self.inst.units):
            if k not in self.m[u]:
                continue
            if u not in self.join:
                terms.append(self.m[u][k])
                continue
            # A unit that joins another pod adds no pod of its own: q >= m - r * (1 - lead).
            q = self._new_int(0, unit.replicas, f"pods[{u},{k}]", self._hint_count(u, k)
                              if self.hint is None or self.hint.leader[u] == u else 0)
            self.model.add(q >= self.m[u][k] - unit.replicas * (1 - self.join[u][u]))
            terms.append(q)
        return sum(terms) if terms else 0

    def add_spread(self) -> None:
        """policy.spread: node is enforced by 0/1 m; zone also caps each zone at ceil(r/Z)."""
        inst = self.inst
        if inst.spread == Spread.NONE:
            return
        lit = self._assumption("policy.spread")
        if lit is not None:
            for u in range(len(inst.units)):
                for var in self.m[u].values():
                    self.model.add(var <= 1).only_enforce_if(lit)
        if inst.spread != Spread.ZONE or not inst.zones:
            return
        for u in range(len(inst.units)):
            cap = inst.zone_cap(u)
            if cap is None:
                continue
            for zone in inst.zones_for(u):
                vars_ = [v for k, v in self.m[u].items() if inst.candidates[k].zone == zone]
                if len(vars_) > cap:
                    ct = self.model.add(sum(vars_) <= cap)
                    if lit is not None:
                        ct.only_enforce_if(lit)

    def add_grouping(self) -> None:
        """Each unit leads its pod or joins one earlier unit's pod, sharing its placement."""
        inst = self.inst
        joiners: dict[int, list[int]] = {}
        for v, options in self.join.items():
            self.model.add_exactly_one(options.values())
            for s, lit in options.items():
                if s == v:
                    continue
                joiners.setdefault(s, []).append(v)
                if s in self.join:
                    self.model.add_implication(lit, self.join[s][s])
                for k in set(self.m[v]) | set(self.m[s]):
                    a = self.m[v].get(k, 0)
                    b = self.m[s].get(k, 0)
                    self.model.add(a == b).only_enforce_if(lit)
                if self.allow_unplaced:
                    self.model.add(self.placed[v] == self.placed[s]).only_enforce_if(lit)
        # Units that may never share a pod cannot both join the same one.
        for s, vs in joiners.items():
            for i, a in enumerate(vs):
                for b in vs[i + 1:]:
                    if (min(a, b), max(a, b)) in inst.incompatible:
                        self.model.add_at_most_one([self.join[a][s], self.join[b][s]])

    def add_same_node(self) -> None:
        """sameNode: every node hosting the pod with fewer replicas also hosts the other."""
        for small, big, label in self.inst.same_node:
            lit = self._assumption(label)
            ways = [(small, big)]
            if self.inst.units[small].replicas == self.inst.units[big].replicas:
                ways.append((big, small))  # equal counts: either pod may follow the other
            picks: list[cp_model.IntVar] = []
            for follower, leader in ways:
                pick = self._new_bool(f"follows[{follower},{leader}]",
                                      self._hint_follows(follower, leader))
                picks.append(pick)
                for k, here in self.on[follower].items():
                    there = self.on[leader].get(k)
                    ct = self.model.add(here <= (there if there is not None else 0))
                    ct.only_enforce_if([pick, lit] if lit is not None else pick)
            ct = self.model.add_bool_or(picks)
            if lit is not None:
                ct.only_enforce_if(lit)

    def add_one_node(self) -> None:
        """A ReadWriteOnce volume: every replica of every pod mounting it on one node."""
        for g, (group, _) in enumerate(self.inst.one_node):
            nodes = sorted(set().union(*(self.m[u] for u in group)))
            first = next((k for k in nodes if self._hint_count(group[0], k)), None)
            chosen = {k: self._new_bool(f"volume_node[{g},{k}]", k == first) for k in nodes}
            self.model.add(sum(chosen.values()) <= 1)
            for u in group:
                replicas = self.inst.units[u].replicas
                for k, var in self.m[u].items():
                    self.model.add(var <= replicas * chosen[k])

    def _hint_follows(self, follower: int, leader: int) -> bool:
        if self.hint is None:
            return True
        return all(self._hint_count(leader, k) > 0 for k in self.on[follower]
                   if self._hint_count(follower, k) > 0)

    def add_separate_nodes(self) -> None:
        """separateNodes: no node hosts replicas of both."""
        for a, b, label in self.inst.separate_nodes:
            lit = self._assumption(label)
            for k in set(self.on[a]) & set(self.on[b]):
                ct = self.model.add(self.on[a][k] + self.on[b][k] <= 1)
                if lit is not None:
                    ct.only_enforce_if(lit)

    def add_pool_symmetry(self) -> None:
        """Identical pool nodes of one zone are used in order (the greedy opens them so too)."""
        by_key: dict[tuple[str, str | None], list[int]] = {}
        for k in self.allowed:
            cand = self.inst.candidates[k]
            if cand.pool is not None and k not in self.pinned:
                by_key.setdefault((cand.pool, cand.zone), []).append(k)
        for ks in by_key.values():
            ks.sort(key=lambda k: self.inst.candidates[k].pool_rank)
            for a, b in itertools.pairwise(ks):
                self.model.add(self.used[a] >= self.used[b])

    # ---- objective terms ---------------------------------------------------------------
    def _term(self, name: str, var: cp_model.IntVar, coef: int, *, const: int = 0,
              sign: int = 1) -> None:
        self.terms.setdefault(name, []).append((coef, const, sign, var))

    def _paid_anyway(self, k: int) -> bool:
        """A fixed node the user cannot give back, in a problem with critical components:
        emptying it saves nothing that could be worth a larger blast radius."""
        cand = self.inst.candidates[k]
        return not cand.releasable and any(u.critical_components for u in self.inst.units)

    def term_node_cost(self) -> None:
        """Cost (or size) of every node used; +1 each so that, at equal cost, fewer nodes win.
        A node paid for anyway counts the +1 only."""
        for k, var in self.used.items():
            cost = 0 if self._paid_anyway(k) else self.inst.candidates[k].cost_weight
            self._term("node_cost", var, cost * self.w.node + 1)

    def term_blast_radius(self) -> None:
        """The most critical components one node (one zone, at half weight) failure takes
        down at once. Counted exactly for pods of one replica; pods with more are kept off a
        single node by the SPOF term (and by spreading, when asked). Weighted above every
        tie-breaker of nodes paid for anyway, so that consolidating onto those never raises it."""
        inst = self.inst
        lone: dict[int, int] = {}  # unit -> its components that have one replica in all
        for units in inst.components.values():
            if len(units) == 1 and inst.units[units[0]].replicas == 1:
                lone[units[0]] = lone.get(units[0], 0) + 1
        single = sorted(lone.items())
        if not single or self.w.blast <= 0:
            return
        weight = blast_weight(self.w, sum(1 for k in self.allowed if self._paid_anyway(k)))
        total = sum(crit for _, crit in single)
        domains: dict[str, dict[str, list[int]]] = {"node": {}, "zone": {}}
        for k in self.allowed:
            cand = inst.candidates[k]
            domains["node"].setdefault(cand.name, []).append(k)
            domains["zone"].setdefault(cand.zone or cand.name, []).append(k)
        levels = [("node", weight)]
        if len(inst.zones) >= 2:
            levels.append(("zone", max(1, weight // 2)))
        for level, coef in levels:
            loads = {
                domain: [(crit, self.on[u][k]) for u, crit in single for k in ks
                         if k in self.on[u]]
                for domain, ks in domains[level].items()
            }
            hint = max((sum(crit for u, crit in single for k in ks if self._hint_count(u, k))
                        for ks in domains[level].values()), default=0)
            worst = self._new_int(0, total, f"blast_{level}", hint)
            for terms in loads.values():
                if terms:
                    self.model.add(worst >= sum(crit * var for crit, var in terms))
            self._term(f"blast_radius_{level}", worst, coef)

    def _component_groups(self) -> dict[tuple[int, ...], int]:
        """Units of one critical component (several for a Service over workloads) -> how
        many components share exactly those units: their exposures are one variable."""
        groups: dict[tuple[int, ...], int] = {}
        for units in self.inst.components.values():
            key = tuple(units)
            groups[key] = groups.get(key, 0) + 1
        return groups

    def _not_all_in(self, units: tuple[int, ...], nodes: list[int], ok: cp_model.IntVar,
                    most: LinearExpr | int | None = None) -> None:
        """When `ok`: the nodes together hold at most `most` replicas of the units (default:
        one fewer than are placed: never all of them)."""
        held = [self.m[u][k] for u in units for k in nodes if k in self.m[u]]
        if not held:
            return
        limit = most if most is not None else sum(self.placed[u] for u in units) - 1
        self.model.add(sum(held) <= limit).only_enforce_if(ok)

    def term_spof(self) -> None:
        """Critical components exposed to one node failure (full), one zone failure (half),
        or bundled with another critical component in one pod (a quarter); a quarter too when
        one node holds more of a disruption budget's replicas than it allows down."""
        inst = self.inst
        full = self.w.spof
        for units, crit in self._component_groups().items():
            if sum(inst.units[u].replicas for u in units) < 2:
                continue  # a single replica is exposed whatever the placement
            label = ",".join(map(str, units))
            nodes = sorted({k for u in units for k in self.m[u]})
            if inst.spread == Spread.NONE or len(units) > 1:
                ok = self._new_bool(f"spread_ok[{label}]", self._hint_spread_ok(units, None))
                for k in nodes:
                    # Against the replicas placed: one placed replica is exposed too.
                    self._not_all_in(units, [k], ok)
                self._term("spof_one_node", ok, crit * full, const=1, sign=-1)
            if len(inst.zones) >= 2 and (inst.spread != Spread.ZONE or len(units) > 1):
                okz = self._new_bool(f"zone_ok[{label}]", self._hint_spread_ok(units, "zone"))
                for zone in inst.zones:
                    self._not_all_in(units, [k for k in nodes
                                             if inst.candidates[k].zone == zone], okz)
                self._term("spof_one_zone", okz, crit * full // 2, const=1, sign=-1)
        for budget, covered in inst.budgets:
            total = sum(inst.units[u].replicas for u in covered)
            allowed = budget.allowed_down(total)
            crit = len({c for u in covered for c in inst.units[u].critical_components})
            if total < 2 or not 1 <= allowed < total or crit == 0:
                continue
            okb = self._new_bool(f"budget_ok[{budget.name}]",
                                 self._hint_budget_ok(tuple(covered), allowed))
            for k in sorted({k for u in covered for k in self.m[u]}):
                self._not_all_in(tuple(covered), [k], okb, allowed)
            self._term("spof_budget", okb, crit * full // 4, const=1, sign=-1)
        for v, options in self.join.items():
            for s, lit in options.items():
                crit_v = set(inst.units[v].critical_components)
                crit_s = set(inst.units[s].critical_components)
                if s != v and crit_v and crit_s and len(crit_v | crit_s) >= 2:
                    self._term("spof_bundled", lit, len(crit_v | crit_s) * full // 4)

    def _hint_budget_ok(self, units: tuple[int, ...], allowed: int) -> bool:
        if self.hint is None:
            return False
        nodes = {k for u in units for k in self.m[u]}
        return all(sum(self._hint_count(u, k) for u in units if k in self.m[u]) <= allowed
                   for k in nodes)

    def _hint_spread_ok(self, units: tuple[int, ...], level: str | None) -> bool:
        if self.hint is None:
            return False
        counts: dict[object, int] = {}
        placed = 0
        for u in units:
            for k in self.m[u]:
                c = self._hint_count(u, k)
                placed += c
                key = self.inst.candidates[k].zone if level == "zone" else k
                if level != "zone" or key is not None:
                    counts[key] = counts.get(key, 0) + c
        return max(counts.values(), default=0) <= placed - 1

    def term_traffic(self) -> None:
        """Chatty pairs: reward replicas that share a node, and more for sharing a pod."""
        inst = self.inst
        for u, v, weight, _ in inst.traffic:
            coef = max(1, round(self.w.traffic * weight))
            for k in set(self.m[u]) & set(self.m[v]):
                hint = min(self._hint_count(u, k), self._hint_count(v, k))
                co = self._new_int(0, min(inst.units[u].replicas, inst.units[v].replicas),
                                   f"co[{u},{v},{k}]", hint)
                self.model.add(co <= self.m[u][k])
                self.model.add(co <= self.m[v][k])
                self._term("traffic_on_node", co, -coef)
            lit = self.join.get(v, {}).get(u)
            if lit is not None:
                self._term("traffic_in_pod", lit, -coef * inst.units[v].replicas)

    def term_moves(self, current: Current) -> None:
        """Fewer changes against the current layout: reward replicas left on their node
        and units left together."""
        for u, per_node in current.counts.items():
            for k, today in per_node.items():
                if k not in self.m[u]:
                    continue
                hint = min(today, self._hint_count(u, k))
                kept = self._new_int(0, today, f"kept[{u},{k}]", hint)
                self.model.add(kept <= self.m[u][k])
                self._term("moves", kept, -self.w.keep)
        for v, s in current.together:
            lit = self.join.get(v, {}).get(s)
            if lit is not None:
                self._term("moves", lit, -self.w.keep * self.inst.units[v].replicas)

    def add_move_budget(self, current: Current) -> None:
        """policy.maxMoves: at most that many of today's replicas leave their node. A pod
        keeps replicas only while its units stay exactly one pod (`_intact`); each node then
        keeps at most as many as both layouts run there, as the migration counts."""
        if current.max_moves is None:
            return
        kept: list[cp_model.IntVar] = []
        for p, pod in enumerate(current.pods):
            intact = self._intact(p, pod.units) if pod.units else None
            if intact is None:
                continue
            lead = pod.units[0]
            hinted = self._hint_intact(pod.units)
            for k, today in pod.counts.items():
                if k not in self.m[lead]:
                    continue
                var = self._new_int(0, today, f"stays[{p},{k}]",
                                    min(today, self._hint_count(lead, k)) if hinted else 0)
                self.model.add(var <= self.m[lead][k])
                self.model.add(var == 0).only_enforce_if(intact.negated())
                kept.append(var)
        total = sum(sum(pod.counts.values()) for pod in current.pods)
        self.model.add(sum(kept) >= total - current.max_moves)

    def _intact(self, p: int, units: tuple[int, ...]) -> cp_model.IntVar | None:
        """A literal true only when exactly `units` form one pod, led by the first; None
        when the grouping options cannot form it."""
        lead, rest = units[0], units[1:]
        if any(lead not in self.join.get(v, {}) for v in rest):
            return None
        intact = self._new_bool(f"intact[{p}]", self._hint_intact(units))
        if lead in self.join:
            self.model.add_implication(intact, self.join[lead][lead])
        for v in rest:
            self.model.add_implication(intact, self.join[v][lead])
        for w, options in self.join.items():
            if w not in units and lead in options:
                self.model.add_implication(intact, options[lead].negated())
        return intact

    def _hint_intact(self, units: tuple[int, ...]) -> bool:
        if self.hint is None:
            return False
        lead = units[0]
        return {u for u, s in enumerate(self.hint.leader) if s == lead} == set(units) \
            and self.hint.leader[lead] == lead

    def term_unplaced(self) -> None:
        """Replicas left out: critical ones weigh more than all non-critical ones together,
        so that critical pods are placed first whatever the sizes."""
        others = sum(u.replicas for u in self.inst.units if not u.critical_components)
        critical = sum(u.replicas for u in self.inst.units if u.critical_components)
        factor = others + 1
        if self.w.unplaced * factor * max(1, critical) > 2**60:
            factor = 2  # strict priority would overflow int64: critical count double instead
        for u, unit in enumerate(self.inst.units):
            weight = self.w.unplaced * (factor if unit.critical_components else 1)
            placed = self.placed[u]
            assert isinstance(placed, cp_model.IntVar)
            self._term("unplaced", placed, weight, const=unit.replicas, sign=-1)

    def _objective(self) -> None:
        expr = sum(coef * (const + sign * var)
                   for terms in self.terms.values() for coef, const, sign, var in terms)
        self.objective_expr = expr
        self.model.minimize(expr)
        # In two calls: one append per variable costs seconds on models of 100,000 cells.
        self.model.proto.solution_hint.vars.extend(self.hints.keys())
        self.model.proto.solution_hint.values.extend(self.hints.values())

    # ---- evaluation --------------------------------------------------------------------
    def hinted_terms(self) -> dict[str, int]:
        """The objective of the hint (the greedy plan) by named term, evaluated exactly."""
        return {
            name: sum(coef * (const + sign * self.hints[var.index])
                      for coef, const, sign, var in terms)
            for name, terms in self.terms.items()
        }

    def hinted_objective(self) -> int:
        return sum(self.hinted_terms().values())

    def term_expr(self, names: tuple[str, ...]) -> cp_model.LinearExpr:
        """The named terms added up (0 when none is in the model)."""
        return cp_model.LinearExpr.sum([coef * (const + sign * var) for name in names
                                        for coef, const, sign, var in self.terms.get(name, [])])

    def term_ceiling(self, names: tuple[str, ...]) -> int:
        """The most the named terms can add up to, from their variables' domains."""
        top = 0
        for name in names:
            for coef, const, sign, var in self.terms.get(name, []):
                domain = list(self.model.proto.variables[var.index].domain)
                top += max(coef * (const + sign * domain[0]), coef * (const + sign * domain[-1]))
        return max(0, top)

    def retarget(self, expr: LinearExpr, hint: list[int] | None = None) -> None:
        """Minimise `expr` instead, from `hint` (a full solution of this model) when given."""
        self.model.minimize(expr)
        self.objective_expr = expr  # type: ignore[assignment]  # any linear expression
        if hint is not None:
            self.model.proto.solution_hint.vars.clear()
            self.model.proto.solution_hint.values.clear()
            self.model.proto.solution_hint.vars.extend(range(len(hint)))
            self.model.proto.solution_hint.values.extend(hint)

    def cap_objective(self, value: int) -> None:
        """No worse than a known plan (the greedy): prunes and guarantees the promise."""
        self.model.add(self.objective_expr <= value)

    def solve(self, *, time_limit: float, workers: int, seed: int,
              on_progress: Callable[[Progress], None] | None = None,
              stop_flag: Callable[[cp_model.CpSolver], None] | None = None,
              on_solution: Callable[[Snapshot, float, float], None] | None = None,
              should_stop: Callable[[], bool] | None = None) -> SolveResult:
        """Solve; `on_solution` receives every improving plan during the search (as a snapshot
        to build on demand), with its objective and the bound at that time."""
        solver = cp_solver(time_limit, workers=workers, seed=seed)
        if stop_flag is not None:
            stop_flag(solver)
        if should_stop is not None and should_stop():
            return SolveResult(status="UNKNOWN", assignment=None, objective=None, bound=None)
        callback = _Callback(on_progress, on_solution, self._extract, should_stop)
        status = solver.solve(self.model, callback)
        name = solver.status_name(status)
        result = SolveResult(status=name, assignment=None, objective=None, bound=None)
        if status in (cp_model.OPTIMAL, cp_model.FEASIBLE):
            # Every coefficient is an integer: report integers (the bound rounded up, as any
            # integer objective at least the bound is at least its ceiling).
            result.objective = float(round(solver.objective_value))
            result.bound = float(math.ceil(solver.best_objective_bound - 1e-6))
            result.terms = {
                name: sum(coef * (const + sign * solver.value(var))
                          for coef, const, sign, var in terms)
                for name, terms in self.terms.items()
            }
            result.assignment = self._extract(solver)
            self.last_solution = list(solver.response_proto.solution)
        return result

    def _extract(self, solver: _Values) -> Assignment:
        inst = self.inst
        counts: list[dict[int, int]] = []
        for u in range(len(inst.units)):
            counts.append({k: int(solver.value(v)) for k, v in self.m[u].items()
                           if solver.value(v) > 0})
        leader = list(range(len(inst.units)))
        for v, options in self.join.items():
            for s, lit in options.items():
                if solver.boolean_value(lit):
                    leader[v] = s
        unplaced = {u: unit.replicas - sum(counts[u].values())
                    for u, unit in enumerate(inst.units)
                    if sum(counts[u].values()) < unit.replicas}
        return Assignment(counts=counts, unplaced=unplaced, leader=leader)
