"""An eval-wide --budget: every run, in this process or in worker processes, reserves each call's worst
case in one shared ledger, so the eval stops (exit 4) before any call could cross the budget, and the
same command with a higher budget continues."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from eval_helpers import invoke, results, write_task
from fake_server import FakeOpenAIServer
from scripted_project import REQUIREMENT, answers

from softco.llm.budget import Budget, Grant, SharedLedger

#: USD per million tokens: a token costs $0.001, a call's worst case (a 4,096-token answer bound) over $4
PRICE = 1000.0


def spent_usd(out: Path) -> float:
    total = 0.0
    for board in out.glob("runs/*/*/*/.softco/board.sqlite"):
        db = sqlite3.connect(board)
        try:
            total += float(db.execute("SELECT COALESCE(SUM(cost_usd), 0) FROM steps").fetchone()[0])
        finally:
            db.close()
    return total


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_eval_budget_stops_every_run_before_a_call_could_cross_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, jobs: str
) -> None:
    prices = tmp_path / "prices.json"
    prices.write_text(json.dumps({"m": [PRICE, PRICE]}))
    monkeypatch.setenv("SOFTCO_PRICES", str(prices))
    suite = tmp_path / "suite"
    for task in ("calc-a", "calc-b", "calc-c"):  # three requirements: the step cache answers none of them
        write_task(suite, task, requirement=f"{REQUIREMENT} ({task})")
    out = tmp_path / "ev"
    args = ["eval", "--suite", str(suite), "--model", "m", "--output", str(out), "--jobs", jobs]
    with FakeOpenAIServer(lambda req: answers()[req.step]) as srv:
        code, text = invoke(*args, "--budget", "8", "--base-url", srv.base_url)
        assert code == 4, text
        first = results(out)
        assert 0 < spent_usd(out) <= 8.0
        statuses = [r.status for r in first.records]
        assert "done" not in statuses[-1:] and set(statuses) <= {"done", "budget", "not_started"}, statuses
        partway = [r.task_id for r in first.records if r.status == "budget" and r.llm_calls > 0]
        assert partway, first.records
        assert "higher --budget" in text
        calls = len(srv.requests)
        # the same command with a higher budget: the runs go on from where they stopped
        code, text = invoke(*args, "--budget", "100", "--base-url", srv.base_url)
        assert code == 0, text
        assert not srv.errors, srv.errors
        later = [r.model_dump_json() for r in srv.requests[calls:] if r.step == "product_manager/write_prd/project"]
    second = results(out)
    assert [(r.status, r.executability) for r in second.records] == [("done", 4)] * 3
    assert spent_usd(out) <= 100.0
    for r_first, r_second in zip(first.records, second.records, strict=True):
        if r_first.status == "done":
            assert r_second == r_first  # finished: not run nor paid again
    # a run the budget stopped part way was resumed: its PRD was not asked (nor paid) again
    assert not [b for b in later for task in partway if f"({task})" in b]
    assert len(later) == sum(r.status == "not_started" or r.llm_calls == 0 for r in first.records)


def test_shared_ledger_counts_every_runs_reservations() -> None:
    """Reservations of calls in flight (any run's) count: a call that does not fit beside them waits; one that
    does not fit with nothing in flight stops the ledger for every run, with the same reason each time."""
    ledger = SharedLedger(Budget(max_usd=10.0))
    assert ledger.reserve(100, 4.0) == Grant(True)  # run 1
    assert ledger.reserve(100, 4.0) == Grant(True)  # run 2
    assert ledger.reserve(100, 4.0) == Grant(False)  # 12 > 10 with 8 reserved: wait, do not stop
    ledger.settle(100, 4.0, 50, 1.0)
    assert ledger.reserve(100, 4.0) == Grant(True)  # 1 spent + 4 + 4 reserved
    ledger.settle(100, 4.0, 50, 3.0)
    ledger.settle(100, 4.0, 50, 3.0)
    assert ledger.spent() == (7.0, 150) and ledger.in_flight == 0
    refused = ledger.reserve(100, 4.0)  # 7 + 4 > 10 and nothing in flight anywhere: the eval stops
    assert not refused.ok and refused.stop is not None and "higher --budget" in refused.stop
    assert ledger.reserve(1, 0.01) == refused  # every later call of every run, even one that would fit
    assert ledger.stop_reason() == refused.stop



def test_eval_budget_refuses_a_call_whose_price_is_unknown(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A call to a model with no price cannot be counted against the eval's --budget: up front (the eval's
    model) the command refuses to start; in the ledger (a role's own model) the call is refused, not counted as 0."""
    monkeypatch.delenv("SOFTCO_PRICES", raising=False)
    suite = tmp_path / "suite"
    write_task(suite, "calc-a")
    code, text = invoke(
        "eval", "--suite", str(suite), "--model", "no-such-model-xyz", "--output", str(tmp_path / "ev"),
        "--budget", "8", "--base-url", "http://127.0.0.1:9/v1",
    )
    assert code == 2 and "none is known for model 'no-such-model-xyz'" in text, text
    ledger = SharedLedger(Budget(max_usd=1.0))
    grant = ledger.reserve(100, None)
    assert not grant.ok and grant.stop is not None and "price is unknown" in grant.stop
    assert ledger.budget.reserved_usd == 0.0 and ledger.in_flight == 0
    assert SharedLedger(Budget(max_tokens=1000)).reserve(100, None).ok  # no money cap: no price needed
