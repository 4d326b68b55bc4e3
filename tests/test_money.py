"""Money: one rule prices a call on the board and in the budget (the model that answered when the endpoint
names one, else the one requested); a call in flight when the run stops counts as unreported usage, its
bound, in the run's budget and in what `resume` finds spent."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest
from fake_server import FakeOpenAIServer, FakeReply, FakeRequest
from helpers import run_cli
from scripted_project import REQUIREMENT, answers

from softco.board import Board
from softco.company.run import spent
from softco.llm.base import ChatMessage, LLMRequest, LLMResponse, ModelSettings
from softco.llm.budget import Budget, BudgetedLLM, SharedLedger, cost_usd, prompt_bound
from softco.llm.openai import OpenAILLM, make_client
from softco.llm.prices import priced_model
from softco.steps.steering import request_cancel
from softco.steps.step import call_cost

PRD_STEP = "product_manager/write_prd/project"


def _request(max_tokens: int = 1000) -> LLMRequest:
    return LLMRequest(
        step_key="engineer/write_code/a.py",
        messages=[ChatMessage(role="user", content="Write the module. " * 20)],
        settings=ModelSettings(max_tokens=max_tokens),
    )


def test_the_board_and_the_budget_price_a_call_at_the_model_that_answered() -> None:
    """Asked for gpt-4o-mini, the endpoint answers as gpt-4o (a router, a snapshot): both count gpt-4o. Then
    it answers as a model without a price: the board says "unknown", the budget counts the requested model's
    price (it reserved with it), never $0."""
    request, budget = _request(), Budget(max_usd=5.0)
    replies = [
        FakeReply(content="ok", model="gpt-4o", prompt_tokens=10_000, completion_tokens=500),
        FakeReply(content="ok", model="no-such-model-7", prompt_tokens=10_000, completion_tokens=500),
    ]
    with FakeOpenAIServer(replies) as srv:

        async def main() -> list[LLMResponse]:
            llm = BudgetedLLM(OpenAILLM(make_client(srv.base_url, None), model="gpt-4o-mini"), budget)
            try:
                return [await llm.complete(request), await llm.complete(request)]
            finally:
                await llm.aclose()

        first, second = asyncio.run(main())
    assert (first.model, second.model) == ("gpt-4o", "no-such-model-7")
    answered, requested = cost_usd("gpt-4o", 10_000, 500), cost_usd("gpt-4o-mini", 10_000, 500)
    assert answered is not None and requested is not None and answered != requested
    assert call_cost(priced_model("gpt-4o-mini", first.model), first) == pytest.approx(answered)
    assert call_cost(priced_model("gpt-4o-mini", second.model), second) is None
    assert budget.spent_usd == pytest.approx(answered + requested) and budget.reserved_usd == pytest.approx(0.0)


def test_a_call_cancelled_in_flight_counts_its_bound_in_the_budget_and_the_shared_ledger() -> None:
    """The endpoint took the request and works on it when the run stops (Ctrl-C, a budget stop): it may be
    billed up to its bound, so that is what the run's budget and an eval's shared ledger count."""
    request = _request(max_tokens=700)
    budget, shared = Budget(max_tokens=100_000, max_usd=5.0), Budget(max_usd=5.0)
    ledger = SharedLedger(shared)
    with FakeOpenAIServer([FakeReply(silent=True)]) as srv:

        async def main() -> None:
            llm = BudgetedLLM(OpenAILLM(make_client(srv.base_url, None), model="gpt-4o-mini"), budget, ledger)
            try:
                call = asyncio.ensure_future(llm.complete(request))
                while not srv.chat_requests():  # the endpoint has it
                    await asyncio.sleep(0.01)
                call.cancel()
                with pytest.raises(asyncio.CancelledError):
                    await call
            finally:
                await llm.aclose()

        asyncio.run(main())
    bound = prompt_bound(request) + 700
    assert budget.spent_tokens == bound and budget.reserved_tokens == 0
    worst = cost_usd("gpt-4o-mini", prompt_bound(request), 700)
    assert worst is not None and budget.spent_usd == pytest.approx(worst)
    assert shared.spent_usd == pytest.approx(worst) and shared.reserved_usd == pytest.approx(0.0)


def test_a_call_in_flight_when_the_run_is_cancelled_counts_for_resume(tmp_path: Path) -> None:
    """The PM's call never answers; the run is cancelled (as Ctrl-C, here from `softco serve`'s page) while
    the endpoint holds it. Its row on the board keeps its prompt, unreported usage, so what `resume` finds
    spent holds the call's bound: a resume under the same budget does not pay for it again unseen."""
    out = tmp_path / "out"

    def cancel_then_hang(_request: FakeRequest) -> FakeReply:
        (board,) = out.glob("*/.softco/board.sqlite")
        with sqlite3.connect(board) as db:
            (run_id,) = db.execute("SELECT id FROM runs").fetchone()
        request_cancel(board.parent.parent, run_id)
        return FakeReply(silent=True)

    script = {**answers(), PRD_STEP: cancel_then_hang}
    with FakeOpenAIServer(script) as srv:
        res = run_cli(
            ["new", REQUIREMENT, "--output", str(out), "--model", "gpt-4o-mini", "--budget", "5"],
            cwd=tmp_path,
            env={"OPENAI_BASE_URL": srv.base_url, "OPENAI_API_KEY": ""},
        )
        asked = srv.chat_requests(PRD_STEP)
    assert res.exit_code == 130, res.stdout + res.stderr
    assert len(asked) == 1
    (project,) = (p.parent.parent for p in out.glob("*/.softco/board.sqlite"))
    board = Board(project / ".softco" / "board.sqlite", check=True)
    try:
        (row,) = [r for r in board.steps() if r.key == PRD_STEP]
        before = spent(board)
    finally:
        board.close()
    assert row.status == "cancelled" and row.usage_source == "estimated" and row.prompt_tokens > 0
    assert row.cost_usd is None  # estimated usage is never priced on the board
    request = LLMRequest.model_validate_json(row.request_json or "")
    bound = prompt_bound(request) + (request.settings.max_tokens or 4096)
    assert before.spent_tokens == bound
    worst = cost_usd("gpt-4o-mini", prompt_bound(request), bound - prompt_bound(request))
    assert worst is not None and before.spent_usd == pytest.approx(worst)


def test_only_a_call_to_an_endpoint_that_bills_counts_when_cancelled(tmp_path: Path) -> None:
    """A person (--human), a script or a recording costs nothing: cancelled, they count nothing."""
    from softco.llm.human import HumanLLM, RoutingLLM
    from softco.llm.testing import ScriptedLLM

    endpoint = OpenAILLM(make_client("http://127.0.0.1:9/v1", None), model="gpt-4o-mini")
    routed = BudgetedLLM(RoutingLLM(endpoint, {"product_manager": HumanLLM(tmp_path, interactive=False)}), Budget())
    assert routed.billed_for("engineer/write_code/a.py") and not routed.billed_for(PRD_STEP)
    assert not BudgetedLLM(ScriptedLLM({}), Budget()).billed_for(PRD_STEP)
