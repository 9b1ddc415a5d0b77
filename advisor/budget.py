"""The time limit of one solve, as an object: a named share for every phase, and the clock.

A solve prepares the problem, finds a first plan (greedy and packing heuristics), prices
it with a small model, builds the exact model, runs CP-SAT, then extracts, scores and
checks N-1. The first plan takes a share of the limit. Building a model cannot be cut
short from outside, so it starts only when `affords` says a model of that size fits in
its share of what remains. CP-SAT takes the rest, less a `reserve` kept for extraction
and scoring, which must run whatever happened before.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from advisor.model import MIN_SEARCH_SECONDS
from advisor.prepare import Instance


@dataclass(frozen=True)
class Shares:
    """Every time share of a solve. `*_of_rest` shares are fractions of what remains when
    the phase starts (after the reserve); the others are fractions of the whole limit."""

    # The first plan (greedy and packing heuristics), at most `first_plan_seconds`: on
    # 10,000 replicas one packing variant takes half a second on an idle machine, three
    # or four on a busy one. The heuristics stop at `Budget.deadline()` in any case.
    first_plan: float = 0.15
    first_plan_seconds: float = 8.0
    # Plain vector packing of `pure_packing_replicas` replicas or more: CP-SAT improved none
    # of the 250-item benchmark instances within 10 s, while more noisy node-filling runs
    # did (docs/benchmarks.md), so the heuristics get more.
    pure_packing: float = 0.4
    pure_packing_replicas: int = 200
    # Plain vector packing of `search_replicas` replicas or more: the fixed-node-count search
    # (advisor/cns.py) runs alone for this share of what remains before the exact model is
    # built (its plan is the hint and caps the pool nodes), then beside CP-SAT
    # (docs/benchmarks.md has the measurements).
    search_first_of_rest: float = 0.5
    search_replicas: int = 60
    # Building the small model that prices the first plan (and caps the pools).
    probe_of_rest: float = 0.3
    # Building the exact model.
    build_of_rest: float = 0.4
    # Replicas left out: the strict model is tried only when it builds within this share
    # (a big model that may well be infeasible costs a build and half the time), and
    # searches for at most `strict_search_of_rest`.
    strict_build_of_rest: float = 1 / 6
    strict_search_of_rest: float = 0.5
    # Naming the hints that clash, at most `conflicts_seconds`.
    conflicts_of_rest: float = 0.3
    conflicts_seconds: float = 10.0
    # A build is abandoned once it has used this share of what remained when it started
    # (it was expected to take at most `build_of_rest`).
    abandon_build_of_rest: float = 0.6
    # Kept back for extraction, scoring and CP-SAT's own shutdown, which take longer on
    # big models: CP-SAT overran a 60 s limit by up to 0.2 s on 230,000 unit-node pairs.
    reserve_seconds: float = 0.5
    reserve_of_limit: float = 0.01
    reserve_per_cell: float = 1e-5
    reserve_cap_of_limit: float = 0.08
    # Scoring, findings and the N-1 check cost about 0.1 ms per replica: always kept back,
    # whatever the cap above says (they cannot be skipped).
    score_per_replica: float = 1.5e-4
    # Building the model costs about this much per (unit, node) pair that could host it
    # (docs/benchmarks.md); raised by what builds actually take on this machine.
    build_per_cell: float = 5e-5
    # CP-SAT loads a model and checks the hint before it first looks at its clock, and
    # stops some time after its limit: per variable, about this long each (a model of
    # 370,000 variables took 4 s to load and stopped 3-4 s late on two busy cores; one of
    # 30,000, 0.1 s and 0.2 s).
    search_start_per_variable: float = 1.2e-5
    search_stop_per_variable: float = 1e-5
    # CP-SAT is given at least this long (LayoutModel.solve never gives it less).
    min_search_seconds: float = MIN_SEARCH_SECONDS


SHARES = Shares()
# Builds smaller than this say little about the machine's speed.
CALIBRATION_CELLS = 2000


class Budget:
    """The clock of one solve: how long each phase may take, from the time limit."""

    def __init__(self, limit: float, *, started: float | None = None, cells: int = 0,
                 replicas: int = 0, shares: Shares = SHARES,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.limit = limit
        self.shares = shares
        self.clock = clock
        self.started = clock() if started is None else started
        s = shares
        capped = min(s.reserve_seconds + limit * s.reserve_of_limit + cells * s.reserve_per_cell,
                     limit * s.reserve_cap_of_limit)
        self.reserve = max(capped, replicas * s.score_per_replica)
        self.per_cell = s.build_per_cell

    @classmethod
    def for_instance(cls, inst: Instance, started: float | None = None) -> Budget:
        return cls(inst.problem.policy.time_limit_seconds, started=started,
                   cells=len(inst.units) * len(inst.candidates),
                   replicas=sum(u.replicas for u in inst.units))

    def elapsed(self) -> float:
        return self.clock() - self.started

    def remaining(self) -> float:
        """What the search phases may still use: the limit less the time spent and the
        reserve (never below CP-SAT's minimum)."""
        return max(self.shares.min_search_seconds, self.limit - self.elapsed() - self.reserve)

    def deadline(self, seconds: float | None = None) -> float:
        """The clock time (time.monotonic) by which a phase given `seconds` must stop:
        never later than the limit less the reserve."""
        end = self.started + self.limit - self.reserve
        return end if seconds is None else min(self.clock() + seconds, end)

    def first_plan_seconds(self, pure_packing: bool, replicas: int) -> float:
        s = self.shares
        many = pure_packing and replicas >= s.pure_packing_replicas
        return min(self.limit * (s.pure_packing if many else s.first_plan),
                   s.first_plan_seconds)

    def search_first_deadline(self) -> float:
        """When the fixed-node-count search before the build stops (Shares.search_first_of_rest)."""
        return self.deadline(self.remaining() * self.shares.search_first_of_rest)

    def build_seconds(self, cells: int) -> float:
        """Expected time to build a model of `cells` (unit, node) pairs."""
        return cells * self.per_cell

    def affords(self, cells: int, share: float | None = None) -> bool:
        """Whether a model of `cells` pairs builds within `share` (default: the build
        share) of what remains."""
        share = self.shares.build_of_rest if share is None else share
        return self.build_seconds(cells) <= share * self.remaining()

    def build_deadline(self) -> float:
        """When a build starting now is abandoned (see Shares.abandon_build_of_rest)."""
        return self.clock() + self.shares.abandon_build_of_rest * self.remaining()

    def measured_build(self, cells: int, seconds: float) -> None:
        """A build took `seconds` for `cells`: later estimates are never below that rate."""
        if cells >= CALIBRATION_CELLS:
            self.per_cell = max(self.per_cell, seconds / cells)

    def search_seconds(self, variables: int, share: float = 1.0) -> float | None:
        """The time limit to give CP-SAT on a model of `variables` for `share` of what
        remains, less how late it stops; None when that is shorter than it takes to start."""
        s = self.shares
        seconds = self.remaining() * share - variables * s.search_stop_per_variable
        if seconds < variables * s.search_start_per_variable:
            return None
        return max(s.min_search_seconds, seconds)

    def conflicts_seconds(self) -> float:
        return min(self.remaining() * self.shares.conflicts_of_rest,
                   self.shares.conflicts_seconds)

    def outline(self, cells: int, first_plan_seconds: float) -> dict[str, float]:
        """How the limit would split if every phase took its share from now on: seconds
        per phase, adding up to the limit."""
        first = min(first_plan_seconds, max(0.0, self.limit - self.reserve))
        rest = max(0.0, self.limit - self.reserve - first)
        build = min(self.build_seconds(cells), self.shares.build_of_rest * rest)
        return {"first plan": first, "model build": build, "CP-SAT": rest - build,
                "extraction and scoring": self.limit - first - rest}
