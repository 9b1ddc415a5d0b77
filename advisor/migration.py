"""A migration plan: ordered steps from the current layout to the advised one.

At every step every node's capacity holds (a node the current layout already overcommits
may stay as full as it starts, never fuller), and every critical component keeps the ready
replicas its disruption budget requires (one without a budget; never fewer than it starts
with when it starts lower): create before delete, as a Deployment's rolling update surges.
Replicas that stay (same containers, same node) are not touched; a re-grouped pod's
replicas all move.

The steps are chosen greedily, one at a time, cheapest first: create an advised replica
where it fits on a node in use; delete a current replica that frees room for one, or that
helps empty a node the advised layout leaves (before new nodes come into use, so fewer are
in use at the peak); add a node of the advised layout and create on it; delete the rest.
When no step keeps the rules, one blocked replica runs temporarily elsewhere: in the room a
node in use has beyond what the advised layout still needs there, else on an idle node, a
new pool node, or a surge node. It is deleted once its replica runs where it belongs; an
empty temporary node serves the next temporary replica and is removed before another node
comes into use, or at the end. Taking only room the advised layout does not need is what
guarantees an end: once every advised replica runs (at home or temporarily) every delete
keeps the budgets, and every remaining create fits.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import count

from advisor.layout import LayoutView
from advisor.prepare import Candidate, Instance, node_admits
from models.plan import Migration, MigrationStep
from models.problem import DisruptionBudget

Key = tuple[int, int]  # (pod index in its layout, replica)


@dataclass
class _Host:
    """A node as the migration sees it: present or not, its load, why it may go."""

    name: str
    order: int  # candidate index; added surge nodes come after every candidate
    capacity: list[int]
    template: Candidate  # the labels and taints it admits pods by
    pool: str | None
    present: bool = False
    load: list[int] = field(default_factory=list)
    bound: list[int] = field(default_factory=list)  # the most each resource may reach
    reserved: list[int] = field(default_factory=list)  # advised replicas still to come
    hosted: int = 0
    added: bool = False
    touched: bool = False  # hosted a replica during the migration
    advised: bool = False  # the advised layout runs replicas here
    removable: bool = False
    temporary: bool = False


def plan_migration(inst: Instance, current: LayoutView, advised: LayoutView) -> Migration:
    """The steps from `current` to `advised` (both views of `inst`), see the module doc."""
    return _Migrator(inst, current, advised).run()


class _Migrator:
    def __init__(self, inst: Instance, current: LayoutView, advised: LayoutView) -> None:
        self.inst, self.cur, self.adv = inst, current, advised
        self.steps: list[MigrationStep] = []
        self.notes: list[str] = []
        self.hosts: dict[str, _Host] = {}
        self.in_use: set[str] = set()
        self.temps: dict[Key, str] = {}  # advised replica -> node it runs on for now
        self.temporary_nodes: list[tuple[_Host, int, str]] = []  # host, step, label
        self.peak = 0
        width = len(inst.resources)
        self.scale = [max((c.capacity[r] for c in inst.candidates), default=1) or 1
                      for r in (0, 1)]
        for k in sorted({*current.provisioned, *(k for _, _, k in current.placements)}):
            self._host(k).present = True
        for _, _, k in advised.placements:
            self._host(k).advised = True
        for p, _, k in current.placements:
            host = self._host(k)
            _add(host.load, current.pods[p].demand, 1)
            host.hosted += 1
            host.touched = True
        for host in self.hosts.values():
            host.bound = [max(c, x) for c, x in zip(host.capacity, host.load, strict=True)]
            host.reserved = [0] * width
            self._track(host)
        self.start_nodes = len(self.in_use)
        self.creates, self.deletes = self._diff()
        self.create_order = sorted(self.creates, key=lambda q: (advised.pods[q[0]].name, q[1]))
        for key, name in self.creates.items():
            _add(self.hosts[name].reserved, advised.pods[key[0]].demand, 1)
        self.moves = len(self.deletes)
        self.comp_of = {c: cont.component or cont.name
                        for c, cont in enumerate(inst.problem.containers)
                        if cont.critical and cont.name not in inst.helper_main}
        self.ready = self._count(current, placed=True)
        self.need = self._needs()
        self._note_start()

    # -- set-up ------------------------------------------------------------------------
    def _host(self, k: int) -> _Host:
        cand = self.inst.candidates[k]
        if cand.name not in self.hosts:
            self.hosts[cand.name] = _Host(
                name=cand.name, order=k, capacity=list(cand.capacity), template=cand,
                pool=cand.pool, removable=cand.releasable,
                load=[0] * len(self.inst.resources))
        return self.hosts[cand.name]

    def _diff(self) -> tuple[dict[Key, str], list[tuple[int, int, str]]]:
        """Advised replicas to create (-> node) and current ones to delete: per node and
        container set, as many as both layouts run there stay (the same replica numbers
        first, so that the replica deleted is the one the advice moves)."""
        olds: dict[tuple[int, frozenset[int]], list[Key]] = {}
        news: dict[tuple[int, frozenset[int]], list[Key]] = {}
        for view, into in ((self.cur, olds), (self.adv, news)):
            for p, r, k in view.placements:
                into.setdefault((k, frozenset(view.pods[p].containers)), []).append((p, r))
        creates: dict[Key, str] = {}
        deletes: list[tuple[int, int, str]] = []
        for where in sorted({*olds, *news}, key=lambda w: (w[0], sorted(w[1]))):
            old, new = _paired(olds.get(where, []), news.get(where, []))
            keep = min(len(old), len(new))
            name = self.inst.candidates[where[0]].name
            deletes += [(p, r, name) for p, r in old[keep:]]
            creates.update({key: name for key in new[keep:]})
        deletes.sort(key=lambda d: (self.hosts[d[2]].order, self.cur.pods[d[0]].name, d[1]))
        return creates, deletes

    def _holds(self, view: LayoutView, p: int) -> set[str]:
        return {self.comp_of[c] for c in view.pods[p].containers if c in self.comp_of}

    def _count(self, view: LayoutView, placed: bool) -> dict[str, int]:
        """Per critical component: its ready replicas (placed), or its declared ones."""
        out = {name: 0 for name in sorted(set(self.comp_of.values()))}
        if placed:
            for p, _, _ in view.placements:
                for comp in self._holds(view, p):
                    out[comp] += 1
        else:
            for p, pod in enumerate(view.pods):
                for comp in self._holds(view, p):
                    out[comp] += pod.replicas
        return out

    def _needs(self) -> dict[str, int]:
        """The fewest ready replicas each component may have at any step: its budget's
        minimum available (one without a budget) under the current and the advised replica
        count, whichever is lower, and never more than it has at the start or the end."""
        totals = (self._count(self.cur, placed=False), self._count(self.adv, placed=False))
        final = self._count(self.adv, placed=True)
        need: dict[str, int] = {}
        for comp, ready in self.ready.items():
            names = {self.inst.container_names[c] for c, n in self.comp_of.items() if n == comp}
            budgets = [b for b in self.inst.problem.disruption_budgets if names & set(b.containers)]
            before, after = (_least(budgets, t[comp]) for t in totals)
            need[comp] = min(before, after, ready, final[comp])
            if ready < before:
                self.notes.append(
                    f"component {comp} starts with {ready} ready replica(s), below the {before} "
                    "its disruption budget requires: no step lowers it further")
        return need

    def _note_start(self) -> None:
        for host in sorted(self.hosts.values(), key=lambda h: h.order):
            over = [self.inst.resources[r] for r, (x, c) in enumerate(
                zip(host.load, host.capacity, strict=True)) if x > c]
            if over:
                self.notes.append(
                    f"node {host.name} starts overcommitted ({', '.join(over)}): no step raises "
                    "its requests above where they start")

    # -- the loop ----------------------------------------------------------------------
    def run(self) -> Migration:
        actions = (self._create_in_use, self._delete_urgent, self._create_on_new_node,
                   self._delete_any, self._temporary)
        while self.creates or self.deletes:
            if not any(action() for action in actions):
                self.notes.append(
                    f"the migration stops short: {len(self.creates)} advised replica(s) have no "
                    f"room and {len(self.deletes)} current replica(s) cannot stop without "
                    "breaking a disruption budget")
                break
        self._drop_parked()
        for host, step, label in self.temporary_nodes:
            gone = next((i + 1 for i, s in enumerate(self.steps)
                         if s.action == "removeNode" and s.node == host.name), None)
            self.notes.append(
                f"step {step} adds {label} for the migration only: a replica had to start "
                "before others could stop, and no node had room for it"
                + (f"; step {gone} removes it" if gone is not None else ""))
        final_nodes = len({k for _, _, k in self.adv.placements})
        return Migration(steps=self.steps, moves=self.moves, peak_nodes=self.peak,
                         extra_nodes=max(0, self.peak - max(self.start_nodes, final_nodes)),
                         notes=self.notes)

    def _create_in_use(self) -> bool:
        for key in self.create_order:
            name = self.creates.get(key)
            if name is not None and name in self.in_use and self._fits(self.hosts[name], key):
                self._create(key)
                return True
        return False

    def _delete_urgent(self) -> bool:
        """A delete that frees room an advised replica waits for, or empties a node the
        advised layout leaves (before new nodes come into use: fewer nodes at the peak)."""
        waiting = {name for name in self.creates.values() if name in self.in_use}
        for item in self.deletes:
            host = self.hosts[item[2]]
            urgent = host.name in waiting or not host.advised
            if urgent and self._safe(self._holds(self.cur, item[0])):
                self._delete(item)
                return True
        return False

    def _create_on_new_node(self) -> bool:
        for key in self.create_order:
            name = self.creates.get(key)
            if name is not None and name not in self.in_use and self._fits(self.hosts[name], key):
                self._create(key)
                return True
        return False

    def _delete_any(self) -> bool:
        for item in self.deletes:
            if self._safe(self._holds(self.cur, item[0])):
                self._delete(item)
                return True
        return False

    def _temporary(self) -> bool:
        """Run one blocked advised replica temporarily elsewhere: one of a component that
        keeps a current replica from stopping, the smallest first."""
        blocking: set[str] = set()
        for p, _, _ in self.deletes:
            blocking |= {c for c in self._holds(self.cur, p) if self.ready[c] - 1 < self.need[c]}
        options = [key for key in self.create_order
                   if key in self.creates and key not in self.temps
                   and self._holds(self.adv, key[0]) & blocking]
        if not options:
            return False
        key = min(options, key=lambda k: (-len(self._holds(self.adv, k[0]) & blocking),
                                          self._size(k[0])))
        host = self._temporary_host(key)
        q, r = key
        self._run_on(host, self.adv.pods[q].demand, self._holds(self.adv, q), 1)
        self.temps[key] = host.name
        self._emit("create", host, pod=self.adv.pods[q].name, replica=r, temporary=True)
        return True

    # -- where a temporary replica runs ------------------------------------------------
    def _temporary_host(self, key: Key) -> _Host:
        q = key[0]
        in_use = sorted((self.hosts[n] for n in self.in_use),
                        key=lambda h: (not h.advised, h.order))
        host = self._room_on(q, in_use)
        if host is None:
            self._drop_parked()  # another node comes into use
            idle = sorted((h for h in self.hosts.values()
                           if h.present and h.name not in self.in_use), key=lambda h: h.order)
            host = self._room_on(q, idle)
        if host is None:
            host = self._pool_node(q) or self._surge_node(q, self.hosts[self.creates[key]])
            self._add_node(host)
        return host

    def _room_on(self, q: int, hosts: list[_Host]) -> _Host | None:
        """The first host with room for a replica of advised pod `q` beyond what the advised
        layout still needs there: a temporary replica never blocks a create."""
        demand = self.adv.pods[q].demand
        for host in hosts:
            spare = zip(host.capacity, host.load, host.reserved, demand, strict=True)
            if self._admits(q, host.template) and all(x + w + d <= c for c, x, w, d in spare):
                return host
        return None

    def _pool_node(self, q: int) -> _Host | None:
        """A new node of the cheapest (then smallest) pool that admits the replica and may
        still grow, counting the nodes the advised layout will add."""
        best: tuple[tuple[int, int, int, str], _Host] | None = None
        for pool in self.inst.problem.pools:
            ks = self.inst.pool_candidates.get(pool.name) or []
            if not ks:
                continue
            cand = self.inst.candidates[ks[0]]
            if not self._admits(q, cand) or any(
                    d > c for d, c in zip(self.adv.pods[q].demand, cand.capacity, strict=True)):
                continue
            mine = [h for h in self.hosts.values() if h.pool == pool.name]
            if sum(1 for h in mine if h.present or h.advised) >= pool.max_count:
                continue
            name = next((f"{pool.name}-{i}" for i in range(1, pool.max_count + 1)
                         if f"{pool.name}-{i}" not in self.hosts), None)
            if name is None:
                continue
            rank = (cand.cost_weight, cand.capacity[0], cand.capacity[1], pool.name)
            if best is None or rank < best[0]:
                host = _Host(name=name, order=len(self.inst.candidates) + len(self.hosts),
                             capacity=list(cand.capacity), template=cand, pool=pool.name)
                best = (rank, host)
        return None if best is None else best[1]

    def _surge_node(self, q: int, home: _Host) -> _Host:
        """A node outside the inventory, a copy of the largest fixed node that admits the
        replica (of the node it belongs on, when none does)."""
        demand = self.adv.pods[q].demand
        fixed = [c for c in self.inst.candidates if c.pool is None and self._admits(q, c)
                 and all(d <= x for d, x in zip(demand, c.capacity, strict=True))]
        like = max(fixed, key=lambda c: (c.capacity[0], c.capacity[1], -c.index),
                   default=home.template)
        pools = {p.name for p in self.inst.problem.pools}
        prefix = "surge" if "surge" not in pools else "surge-node"
        name = next(f"{prefix}-{i}" for i in count(1) if f"{prefix}-{i}" not in self.hosts)
        return _Host(name=name, order=len(self.inst.candidates) + len(self.hosts),
                     capacity=list(like.capacity), template=like, pool=None)

    # -- steps -------------------------------------------------------------------------
    def _create(self, key: Key) -> None:
        q, r = key
        host = self.hosts[self.creates.pop(key)]
        if host.name not in self.in_use:
            self._drop_parked()
        if not host.present:
            self._add_node(host)
        demand = self.adv.pods[q].demand
        _add(host.reserved, demand, -1)
        self._run_on(host, demand, self._holds(self.adv, q), 1)
        self._emit("create", host, pod=self.adv.pods[q].name, replica=r)
        if key in self.temps:
            # Its replica runs where it belongs: the temporary one stops (same components).
            temp = self.hosts[self.temps.pop(key)]
            self._run_on(temp, demand, self._holds(self.adv, q), -1)
            self._emit("delete", temp, pod=self.adv.pods[q].name, replica=r, temporary=True)
            self._release(temp)

    def _delete(self, item: tuple[int, int, str]) -> None:
        self.deletes.remove(item)
        p, r, name = item
        host = self.hosts[name]
        self._run_on(host, self.cur.pods[p].demand, self._holds(self.cur, p), -1)
        self._emit("delete", host, pod=self.cur.pods[p].name, replica=r)
        self._release(host)

    def _add_node(self, host: _Host) -> None:
        temporary = not host.advised
        self.hosts[host.name] = host
        host.present = host.added = host.touched = True
        host.temporary = host.removable = temporary or host.removable
        width = len(self.inst.resources)
        host.load = host.load or [0] * width
        host.reserved = host.reserved or [0] * width
        host.bound = list(host.capacity)
        inst = self.inst
        allocatable = {inst.resources[r]: inst.fmt(r, v) for r, v in enumerate(host.capacity)
                       if v > 0}
        self._emit("addNode", host, temporary=temporary, pool=host.pool, allocatable=allocatable)
        if temporary:
            label = f"pool node {host.name}" if host.pool is not None else (
                f"surge node {host.name} (a copy of node {host.template.name})"
                if host.template.pool is None
                else f"surge node {host.name} (shaped like a node of pool {host.template.pool})")
            self.temporary_nodes.append((host, len(self.steps), label))

    def _release(self, host: _Host) -> None:
        """Remove a node left empty that the advised layout does not use and that can go.
        An empty temporary node is kept for the next temporary replica, until another node
        comes into use or the migration ends (one surge node, not one per swap)."""
        if host.temporary:
            return
        if host.present and host.hosted == 0 and host.touched and not host.advised \
                and host.removable:
            host.present = False
            self._emit("removeNode", host, temporary=host.temporary)

    def _drop_parked(self) -> None:
        for host in sorted(self.hosts.values(), key=lambda h: h.order):
            if host.temporary and host.present and host.hosted == 0:
                host.present = False
                self._emit("removeNode", host, temporary=True)

    def _run_on(self, host: _Host, demand: list[int], comps: set[str], sign: int) -> None:
        _add(host.load, demand, sign)
        host.hosted += sign
        host.touched = True
        for comp in comps:
            self.ready[comp] += sign

    def _emit(self, action: str, host: _Host, **fields: object) -> None:
        self.steps.append(MigrationStep.model_validate({"action": action, "node": host.name,
                                                        **fields}))
        self._track(host)

    def _track(self, host: _Host) -> None:
        if host.present and (host.hosted > 0 or host.added):
            self.in_use.add(host.name)
        else:
            self.in_use.discard(host.name)
        self.peak = max(self.peak, len(self.in_use))

    # -- rules -------------------------------------------------------------------------
    def _fits(self, host: _Host, key: Key) -> bool:
        """Room for an advised replica on its own node (admitted there by the plan)."""
        demand = self.adv.pods[key[0]].demand
        bound = host.bound if host.present else host.capacity
        return all(x + d <= b for x, d, b in zip(host.load, demand, bound, strict=True))

    def _admits(self, q: int, cand: Candidate) -> bool:
        members = [self.inst.problem.containers[c] for c in self.adv.pods[q].containers]
        selector = {k: v for c in members for k, v in c.node_selector.items()}
        return node_admits(members, selector, cand)

    def _size(self, q: int) -> float:
        """A replica's cpu and memory, each as a share of the largest node's."""
        demand = self.adv.pods[q].demand
        return sum(d / s for d, s in zip(demand, self.scale, strict=False))

    def _safe(self, comps: set[str]) -> bool:
        return all(self.ready[c] - 1 >= self.need[c] for c in comps)


def _paired(old: list[Key], new: list[Key]) -> tuple[list[Key], list[Key]]:
    """Both layouts' replicas on one node (one container set), in the order they pair: the
    replica numbers both run there first, then the lowest."""
    shared = {r for _, r in old} & {r for _, r in new}

    def order(key: Key) -> tuple[bool, int, int]:
        return key[1] not in shared, key[1], key[0]

    return sorted(old, key=order), sorted(new, key=order)


def _least(budgets: list[DisruptionBudget], total: int) -> int:
    """Ready replicas out of `total` the strictest budget requires (one without a budget)."""
    return max((total - b.allowed_down(total) for b in budgets), default=min(1, total))


def _add(row: list[int], demand: list[int], sign: int) -> None:
    for r, d in enumerate(demand):
        row[r] += sign * d
