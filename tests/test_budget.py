"""Budget: the time limit split into named shares, on a clock the tests move by hand."""

from __future__ import annotations

import pytest

from advisor.budget import SHARES, Budget, Shares
from advisor.prepare import prepare
from models import parse_problem
from tests.support import container, node, problem


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.mark.parametrize("limit", [0.5, 2.0, 10.0, 60.0, 3600.0])
@pytest.mark.parametrize("cells", [0, 1_000, 200_000])
def test_shares_add_up_to_the_limit(limit: float, cells: int) -> None:
    budget = Budget(limit, cells=cells, replicas=cells // 10, clock=FakeClock())
    outline = budget.outline(cells, budget.first_plan_seconds(False, cells // 10))
    assert set(outline) == {"first plan", "model build", "CP-SAT", "extraction and scoring"}
    assert all(seconds >= 0 for seconds in outline.values()), outline
    assert sum(outline.values()) == pytest.approx(limit)


def test_every_share_is_a_fraction() -> None:
    for name, value in vars(SHARES).items():
        if name.endswith(("_of_rest", "_of_limit")) or name in ("first_plan", "pure_packing"):
            assert 0 < value <= 1, name
    # The phases that share what remains, one after another, never ask for more than it.
    s = SHARES
    assert s.strict_build_of_rest + s.strict_search_of_rest + s.conflicts_of_rest <= 1
    assert s.build_of_rest < s.abandon_build_of_rest <= 1


def test_remaining_decreases_with_the_clock_and_keeps_the_reserve() -> None:
    clock = FakeClock()
    budget = Budget(10.0, clock=clock)
    first = budget.remaining()
    assert first == pytest.approx(10.0 - budget.reserve)
    clock.now += 3.0
    assert budget.remaining() == pytest.approx(first - 3.0)
    assert budget.elapsed() == pytest.approx(3.0)
    clock.now += 100.0  # past the limit: CP-SAT still gets its minimum, never a negative time
    assert budget.remaining() == SHARES.min_search_seconds


def test_started_before_the_budget_counts() -> None:
    clock = FakeClock()
    budget = Budget(10.0, started=clock.now - 4.0, clock=clock)
    assert budget.elapsed() == pytest.approx(4.0)
    assert budget.remaining() == pytest.approx(6.0 - budget.reserve)


def test_deadline_is_never_past_the_limit_less_the_reserve() -> None:
    clock = FakeClock()
    budget = Budget(10.0, clock=clock)
    end = clock.now + 10.0 - budget.reserve
    assert budget.deadline() == pytest.approx(end)
    assert budget.deadline(2.0) == pytest.approx(clock.now + 2.0)
    assert budget.deadline(50.0) == pytest.approx(end)


def test_reserve_grows_with_the_model_and_always_covers_scoring() -> None:
    small = Budget(10.0, cells=100, clock=FakeClock())
    big = Budget(10.0, cells=50_000, clock=FakeClock())
    assert small.reserve < big.reserve <= 10.0 * SHARES.reserve_cap_of_limit
    # Scoring 10,000 replicas cannot be skipped: kept back whatever the cap says.
    many = Budget(2.0, cells=100, replicas=10_000, clock=FakeClock())
    assert many.reserve == pytest.approx(10_000 * SHARES.score_per_replica)


def test_affords_small_models_and_refuses_huge_ones() -> None:
    budget = Budget(10.0, clock=FakeClock())
    assert budget.affords(1_000)
    assert not budget.affords(10_000_000)
    # A smaller share affords less.
    cells = next(c for c in range(1_000, 10_000_000, 1_000) if not budget.affords(c))
    assert not budget.affords(cells - 1_000, share=0.1)


def test_affords_less_as_time_passes() -> None:
    clock = FakeClock()
    budget = Budget(10.0, clock=clock)
    cells = 20_000
    assert budget.affords(cells)
    clock.now += 9.0
    assert not budget.affords(cells)


def test_a_slow_build_raises_later_estimates() -> None:
    budget = Budget(10.0, clock=FakeClock())
    before = budget.build_seconds(10_000)
    budget.measured_build(100, 50.0)  # too small to say anything about the machine
    assert budget.build_seconds(10_000) == before
    budget.measured_build(10_000, 4 * before)
    assert budget.build_seconds(10_000) == pytest.approx(4 * before)
    budget.measured_build(10_000, before / 10)  # a fast build never lowers the estimate
    assert budget.build_seconds(10_000) == pytest.approx(4 * before)


def test_search_seconds_leave_room_for_cp_sat_to_stop() -> None:
    budget = Budget(10.0, clock=FakeClock())
    seconds = budget.search_seconds(100_000)
    assert seconds is not None
    assert seconds == pytest.approx(budget.remaining() - 100_000 * SHARES.search_stop_per_variable)
    half = budget.search_seconds(100_000, 0.5)
    assert half is not None
    assert half < seconds
    assert budget.search_seconds(10_000_000) is None  # it would not even load in time


def test_first_plan_share() -> None:
    budget = Budget(10.0, clock=FakeClock())
    assert budget.first_plan_seconds(False, 10_000) == pytest.approx(1.5)
    assert budget.first_plan_seconds(True, 100) == pytest.approx(1.5)
    assert budget.first_plan_seconds(True, 10_000) == pytest.approx(4.0)
    long = Budget(600.0, clock=FakeClock())
    assert long.first_plan_seconds(True, 10_000) == SHARES.first_plan_seconds


def test_custom_shares() -> None:
    budget = Budget(10.0, shares=Shares(build_per_cell=1.0), clock=FakeClock())
    assert not budget.affords(10)


def test_budget_for_an_instance() -> None:
    inst = prepare(parse_problem(problem(
        [container("a", replicas=3), container("b")], [node("n1"), node("n2")],
        timeLimitSeconds=7)))
    budget = Budget.for_instance(inst)
    assert budget.limit == 7
    assert 0 < budget.reserve < 7
    assert 0 < budget.remaining() <= 7 - budget.reserve


def test_the_search_before_the_build_leaves_the_model_its_share() -> None:
    clock = FakeClock()
    budget = Budget(10.0, clock=clock)
    clock.now += 1.5  # the first plan
    end = budget.search_first_deadline()
    share = SHARES.search_first_of_rest
    assert end - clock.now == pytest.approx(share * budget.remaining())
    assert end < budget.deadline()  # CP-SAT gets the rest, the search beside it
    clock.now += 100.0  # past the limit: no time at all, however small the minimum
    assert budget.search_first_deadline() <= budget.deadline()
