"""What the workers of one eval share (softco/eval/coordinator.py), without a cluster: the budget across
runs, a dead worker's reservations, the requests-per-minute cap, checkpoints."""

from __future__ import annotations

import pytest

from softco.eval.coordinator import BUDGET_RETRY_S, RATE_WINDOW_S, EvalCoordinator
from softco.eval.shipping import ProjectPack
from softco.llm.budget import Budget, Grant


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_the_budget_is_shared_by_every_run_and_stops_them_all() -> None:
    c = EvalCoordinator(Budget(max_tokens=1000))
    assert c.reserve("a", 400, 0.0) == Grant(True)
    assert c.reserve("b", 400, 0.0) == Grant(True)
    # run c's call would cross the budget beside the two in flight: it waits (they may use less)
    assert c.reserve("c", 400, 0.0) == Grant(False, None)
    c.settle("a", 400, 0.0, 100, 0.0)
    assert c.reserve("c", 400, 0.0) == Grant(True)  # a gave back 300 of its 400
    c.settle("b", 400, 0.0, 400, 0.0)
    c.settle("c", 400, 0.0, 400, 0.0)
    assert c.totals()["spent_tokens"] == 900 and c.totals()["in_flight"] == 0
    # nothing in flight and the next call does not fit: every run stops, each with the same reason
    stop = c.reserve("a", 200, 0.0)
    assert not stop.ok and stop.stop is not None and "1,000" in stop.stop
    assert c.reserve("b", 1, 0.0) == Grant(False, stop.stop)


def test_a_dead_workers_calls_count_as_spent_and_stop_holding_the_others() -> None:
    c = EvalCoordinator(Budget(max_usd=1.0))
    assert c.reserve("dead", 100, 0.6).ok
    assert c.reserve("live", 100, 0.3).ok
    c.settle("live", 100, 0.3, 50, 0.1)
    assert c.reserve("live", 100, 0.5) == Grant(False, None)  # waits on the dead run's call
    assert c.write_off("dead") == 1
    assert c.totals()["spent_usd"] == pytest.approx(0.7) and c.totals()["in_flight"] == 0  # its worst case
    late = c.reserve("live", 100, 0.5)  # no longer waits for a call that will never settle: it stops
    assert not late.ok and late.stop is not None
    c.settle("dead", 100, 0.6, 1, 0.2)  # a settle that arrives after the write-off counts nothing twice
    assert c.totals()["spent_usd"] == pytest.approx(0.7)


def test_the_rate_cap_counts_calls_started_in_the_last_minute_across_runs() -> None:
    clock = Clock()
    c = EvalCoordinator(Budget(), rpm=2, clock=clock)
    assert c.reserve("a", 10, 0.0).ok
    clock.now += 1
    assert c.reserve("b", 10, 0.0).ok
    assert c.reserve("c", 10, 0.0) == Grant(False, None)  # a third call in the same minute waits
    c.settle("a", 10, 0.0, 10, 0.0)
    assert c.reserve("c", 10, 0.0) == Grant(False, None)  # a call ending gives back budget, not rate
    clock.now += RATE_WINDOW_S - 1  # the first call started 60 s ago
    assert c.reserve("c", 10, 0.0).ok
    assert c.reserve("a", 10, 0.0) == Grant(False, None)
    assert c.totals()["calls"] == 3


def test_no_rate_cap_and_a_bad_one() -> None:
    c = EvalCoordinator(Budget())
    assert all(c.reserve("a", 10, 0.0).ok for _ in range(500))
    with pytest.raises(ValueError):
        EvalCoordinator(Budget(), rpm=0)


def test_the_last_checkpoint_of_a_run_is_kept_until_taken() -> None:
    c = EvalCoordinator(Budget())
    c.checkpoint("a", ProjectPack(board=b"1"))
    c.checkpoint("a", ProjectPack(board=b"2"))
    c.checkpoint("b", ProjectPack(board=b"3"))
    first = c.take_checkpoint("a")
    assert first is not None and first.board == b"2"
    assert c.take_checkpoint("a") is None


def test_a_waiting_call_is_told_how_long_to_wait_before_asking_again() -> None:
    clock = Clock()
    c = EvalCoordinator(Budget(max_tokens=100), rpm=1, clock=clock)
    assert c.ask("a", 60, 0.0) == (Grant(True), 0.0)
    clock.now += 15
    assert c.ask("b", 60, 0.0) == (Grant(False, None), RATE_WINDOW_S - 15)  # until the window has room
    clock.now += RATE_WINDOW_S
    assert c.ask("b", 60, 0.0) == (Grant(False, None), BUDGET_RETRY_S)  # rate room, but a's call holds the budget
    c.settle("a", 60, 0.0, 60, 0.0)
    grant, wait = c.ask("b", 60, 0.0)  # nothing in flight and it does not fit: stop, no waiting
    assert grant.stop is not None and wait == 0.0
