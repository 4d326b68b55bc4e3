"""The budget holds under concurrency: each call's worst case is reserved before it starts and the real
usage settled after; the worst case is a real bound (the role's max_tokens, sent to the endpoint);
money is shown with enough digits; bad prices are refused."""

from __future__ import annotations

import asyncio
import sqlite3
import sys
from pathlib import Path
from typing import Any

import pytest
from fake_server import FakeOpenAIServer, FakeReply, FakeRequest
from helpers import run_cli
from scripted_project import REQUIREMENT, answers

from softco.llm.base import ChatMessage, LLMRequest, ModelSettings
from softco.llm.budget import Budget, BudgetedLLM, BudgetExceeded
from softco.llm.openai import OpenAILLM, make_client

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))

PROMPT = "Write the module. " * 5  # 90 bytes


def request(i: int, max_tokens: int | None = 1000) -> LLMRequest:
    return LLMRequest(
        step_key=f"engineer/write_code/f{i}.py",
        messages=[ChatMessage(role="user", content=PROMPT)],
        settings=ModelSettings(max_tokens=max_tokens),
    )


async def _all_at_once(
    base_url: str, budget: Budget, n: int, max_tokens: int | None, model: str = "local-model"
) -> list[Any]:
    llm = BudgetedLLM(OpenAILLM(make_client(base_url, None), model=model), budget)
    try:
        return await asyncio.gather(*(llm.complete(request(i, max_tokens)) for i in range(n)), return_exceptions=True)
    finally:
        await llm.aclose()


def test_sixteen_concurrent_calls_stay_within_the_token_budget() -> None:
    """The issue's reproduction: 16 calls at once, each of a worst case over 1,000 tokens, against a
    3,000-token budget. Each answer really uses 900 completion tokens."""

    def slow_large(req: FakeRequest) -> FakeReply:
        return FakeReply(content="ok", delay=0.3, completion_tokens=900)

    budget = Budget(max_tokens=3000)
    with FakeOpenAIServer(slow_large) as srv:
        results = asyncio.run(_all_at_once(srv.base_url, budget, 16, 1000))
        made = len(srv.chat_requests())
    refused = [r for r in results if isinstance(r, BudgetExceeded)]
    assert budget.spent_tokens <= 3000, f"{made} calls were made, {budget.spent_tokens} tokens spent"
    assert made == 16 - len(refused) and 1 <= made <= 3
    assert "token budget" in str(refused[0]) and "engineer" in str(refused[0])
    assert budget.reserved_tokens == 0  # every reservation was given back


def test_the_answer_bound_is_sent_to_the_endpoint_as_max_tokens() -> None:
    with FakeOpenAIServer(lambda req: "ok") as srv:
        asyncio.run(_all_at_once(srv.base_url, Budget(max_tokens=100_000), 1, None))
        asyncio.run(_all_at_once(srv.base_url, Budget(max_tokens=100_000), 1, 777))
        sent = [r.body.get("max_tokens") for r in srv.chat_requests()]
    assert sent == [4096, 777]  # the documented default, then the role's own


def test_a_reasoning_model_gets_the_bound_as_max_completion_tokens() -> None:
    """OpenAI's o-series and gpt-5 refuse max_tokens: the bound must reach them all the same."""
    with FakeOpenAIServer(lambda req: "ok") as srv:
        asyncio.run(_all_at_once(srv.base_url, Budget(max_usd=1.0), 1, None, model="o4-mini"))
        (body,) = [r.body for r in srv.chat_requests()]
    assert body.get("max_completion_tokens") == 4096 and "max_tokens" not in body


def test_a_small_usd_budget_runs_a_cheap_project_and_says_the_cap_readably(tmp_path: Path) -> None:
    """--budget 0.004 used to refuse the first call (every answer priced at 8,192 tokens) and print the
    cap as $0.00. A run of the scripted project costs well under it."""
    with FakeOpenAIServer(lambda req: answers()[req.step or ""]) as srv:
        env = {"OPENAI_BASE_URL": srv.base_url}
        res = run_cli(
            ["new", REQUIREMENT, "--output", "out", "--budget", "0.004", "--model", "gpt-4o-mini"], tmp_path, env
        )
        assert res.exit_code == 0, res.stdout + res.stderr
        res = run_cli(
            ["new", REQUIREMENT, "--output", "out2", "--budget", "0.0005", "--model", "gpt-4o-mini"], tmp_path, env
        )
    assert res.exit_code == 4, res.stdout + res.stderr
    assert "of $0.0005 is spent" in res.stderr and "could cost up to $0.00" in res.stderr


def board_spent(project: Path) -> int:
    db = sqlite3.connect(project / ".softco" / "board.sqlite")
    sql = "SELECT sum(prompt_tokens + completion_tokens) FROM steps WHERE status != 'cached'"
    (spent,) = db.execute(sql).fetchone()
    db.close()
    return int(spent or 0)


def test_a_sixteen_wide_run_stops_within_its_token_budget_and_resumes(tmp_path: Path) -> None:
    """The 8-file synthetic project: after the design, 16 steps are ready at once (--concurrency 16). A full
    run uses 26,194 tokens; with --token-budget 20000 each call is reserved before it starts, so the board
    never holds more than 20,000, the run stops with exit 4, and a resume with more finishes it."""
    synthetic = pytest.importorskip("synthetic")
    proj = synthetic.project(8)

    with FakeOpenAIServer(lambda req: proj.answer(req.step or ""), latency=0.3) as srv:
        env = {"OPENAI_BASE_URL": srv.base_url}
        args = ["new", proj.requirement, "--name", "shop", "--output", "out", "--concurrency", "16"]
        res = run_cli([*args, "--model", "local-model", "--token-budget", "20000"], tmp_path, env)
        assert res.exit_code == 4, res.stdout + res.stderr
        assert "token budget" in res.stderr and "softco resume" in res.stderr
        project = tmp_path / "out" / "shop"
        stopped_at = len(srv.chat_requests())
        assert board_spent(project) <= 20_000
        assert stopped_at < 17  # a full run makes 17 calls
        res = run_cli(["resume", str(project), "--token-budget", "200000"], tmp_path, env)
        assert res.exit_code == 0, res.stdout + res.stderr
        steps = [r.step for r in srv.chat_requests()]
    assert len(steps) == len(set(steps)) == 17  # nothing asked twice across the stop
    assert board_spent(project) <= 200_000


def test_dry_run_shows_each_steps_answer_bound(tmp_path: Path) -> None:
    res = run_cli(["new", REQUIREMENT, "--dry-run", "--output", "out"], tmp_path)
    assert res.exit_code == 0, res.stdout + res.stderr
    line = next(x for x in res.stdout.splitlines() if "dry run: product_manager/write_prd/project" in x)
    assert "prompt tokens (estimate)" in line and "answer at most 4,096 tokens (max_tokens)" in line
    assert "no tokenizer" in res.stdout


@pytest.mark.parametrize(
    ("amount", "shown"),
    [(0.0014, "$0.0014"), (0.004, "$0.004"), (0.0005, "$0.0005"), (0.000012, "$0.000012"), (0.05, "$0.05")]
    + [(0.25, "$0.25"), (5, "$5.00"), (1234.5, "$1,234.50"), (0, "$0.00"), (0.123456, "$0.12")],
)
def test_money_is_shown_with_enough_digits_to_read(amount: float, shown: str) -> None:
    from softco.llm.budget import format_usd

    assert format_usd(amount) == shown
