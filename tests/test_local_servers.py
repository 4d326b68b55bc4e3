"""Local model servers (issue 15): structured-output negotiation that survives real servers' answers,
remembered per base URL; lenient reading of small models' JSON; every attempt on the board as it ends;
a timed-out call cut, counted and not re-sent over the first; a local server's concurrency.

Everything runs against FakeOpenAIServer on 127.0.0.1 through the real openai client.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from fake_server import FakeOpenAIServer, FakeReply
from helpers import only_project, run_cli
from scripted_project import PRD, REQUIREMENT
from test_openai_provider import GOOD, STEP, Item, make_request, with_llm

from softco.artifacts import Code
from softco.board import Board, StepRow
from softco.company.run import DEFAULT_CONCURRENCY, NewOptions, pick_concurrency
from softco.defaults import ROLES_DIR
from softco.llm.base import LLM, LLMError, LLMRequest, LLMResponse, ModelSettings
from softco.llm.budget import Budget, BudgetedLLM, unreported_bound
from softco.llm.openai import EndpointModes, OpenAILLM, make_client, serves_locally
from softco.llm.structured import GRAMMAR_BOUND_LIMIT, StructuredResult, ask_structured, lenient_json
from softco.report.costs import cost_by_step
from softco.sandbox import Limits
from softco.sop.load import load_sop
from softco.steps.step import BoardView, Step, StepContext, run_llm_step


def ask_with(
    srv: FakeOpenAIServer, modes: EndpointModes | None = None, request: LLMRequest | None = None, **kw: Any
) -> StructuredResult[Item]:
    async def main() -> StructuredResult[Item]:
        llm = OpenAILLM(make_client(srv.base_url, None), "test-model", modes=modes, **kw)
        try:
            return await ask_structured(llm, request or make_request(), Item.model_validate_json)
        finally:
            await llm.aclose()

    return asyncio.run(main())


def formats(srv: FakeOpenAIServer) -> list[str | None]:
    return [(r.response_format or {}).get("type") for r in srv.chat_requests()]


# -- structured-output negotiation ------------------------------------------------------------------


@pytest.mark.parametrize("status", [500, 422])
def test_a_rejected_json_schema_falls_back_once_and_is_remembered_for_the_next_run(status: int, tmp_path: Path) -> None:
    """llama-cpp-python answers json_schema with a 500 naming response_format, others with a 422: one
    fallback to JSON mode, no retry loop, and a later run (a new provider on the same file) never probes."""
    state = tmp_path / ".softco" / "endpoints.json"
    notices: list[str] = []
    with FakeOpenAIServer(lambda req: GOOD, reject_json_schema=True, rejection_status=status) as srv:
        first = ask_with(srv, EndpointModes(state), on_notice=notices.append)
        assert formats(srv) == ["json_schema", "json_object"]  # one rejected probe, one answer: no retries
        assert [a.error for a in first.attempts] == [None]
        second = ask_with(srv, EndpointModes(state))
        assert formats(srv) == ["json_schema", "json_object", "json_object"]  # the next run skips the probe
        url = srv.base_url
    assert first.value == second.value == Item(**GOOD)
    assert json.loads(state.read_text())["endpoints"][url + "/"]["structured"] == "json_object"
    (notice,) = notices
    assert f"HTTP {status}" in notice and "JSON mode" in notice and str(state) in notice
    assert not srv.errors


def test_an_endpoint_that_rejects_json_mode_too_ends_at_the_prompt_alone(tmp_path: Path) -> None:
    state = tmp_path / "endpoints.json"
    with FakeOpenAIServer(
        lambda req: GOOD, reject_json_schema=True, reject_json_object=True, rejection_status=500
    ) as srv:
        ask_with(srv, EndpointModes(state))
        ask_with(srv, EndpointModes(state))
    assert formats(srv) == ["json_schema", "json_object", None, None]


def test_calls_refused_at_the_same_time_move_the_endpoint_on_once() -> None:
    """Two calls both refused for json_schema: the endpoint moves to JSON mode, not past it."""

    async def two(llm: OpenAILLM) -> list[StructuredResult[Item]]:
        requests = [make_request(step=f"engineer/write_code/{n}.py") for n in "ab"]
        return list(await asyncio.gather(*(ask_structured(llm, r, Item.model_validate_json) for r in requests)))

    with FakeOpenAIServer(lambda req: GOOD, reject_json_schema=True, latency=0.2) as srv:
        results = with_llm(srv, two)
    assert [r.value for r in results] == [Item(**GOOD)] * 2
    assert sorted(formats(srv), key=str) == ["json_object", "json_object", "json_schema", "json_schema"]


def test_a_server_error_that_does_not_name_response_format_is_still_retried() -> None:
    with FakeOpenAIServer({STEP: [FakeReply.server_error(500, retry_after=0), GOOD]}) as srv:
        result = ask_with(srv)
    assert formats(srv) == ["json_schema", "json_schema"]
    assert [a.response.finish_reason for a in result.attempts] == ["fault", "stop"]


def test_a_forced_mode_skips_the_probe_and_a_role_can_force_its_own() -> None:
    role_prompt = make_request().model_copy(update={"settings": ModelSettings(structured="prompt")})
    with FakeOpenAIServer(lambda req: GOOD) as srv:
        ask_with(srv, structured="json")
        ask_with(srv, request=role_prompt, structured="json")  # the role's setting wins
        ask_with(srv, structured="schema")
    assert formats(srv) == ["json_object", None, "json_schema"]
    requests = srv.chat_requests()
    assert "JSON schema" in requests[0].last_user_message and "JSON schema" in requests[1].last_user_message
    assert "JSON schema" not in requests[2].last_user_message


def test_a_forced_mode_the_endpoint_refuses_is_one_line_naming_the_way_out() -> None:
    with FakeOpenAIServer(lambda req: GOOD, reject_json_schema=True, rejection_status=500) as srv:
        with pytest.raises(LLMError) as info:
            ask_with(srv, structured="schema")
    message = str(info.value)
    assert "\n" not in message and "--structured schema" in message and "--structured json" in message
    assert formats(srv) == ["json_schema"]  # not retried


def test_the_schema_sent_has_no_bound_a_grammar_compiler_unrolls() -> None:
    """The Engineer's file content has maxLength 200,000, which crashes llama.cpp's grammar compiler: the
    schema sent leaves it out (in every mode), while validation still enforces it."""
    full = Code.model_json_schema()
    assert '"maxLength": 200000' in json.dumps(full)
    request = LLMRequest(step_key=STEP, messages=make_request().messages, schema_name="code", json_schema=full)

    def bounds(schema: Any) -> list[int]:
        if isinstance(schema, dict):
            own = [v for k, v in schema.items() if k.startswith(("max", "min")) and isinstance(v, int)]
            return own + [b for v in schema.values() for b in bounds(v)]
        return [b for v in schema for b in bounds(v)] if isinstance(schema, list) else []

    async def both(llm: OpenAILLM) -> None:
        await llm.complete(request)
        llm.structured = "json"
        await llm.complete(request)

    with FakeOpenAIServer(lambda req: {"path": "a.py", "content": "x = 1\n", "req_ids": []}) as srv:
        with_llm(srv, both)
    sent_schema, in_words = srv.chat_requests()
    assert sent_schema.response_format is not None
    sent = sent_schema.response_format["json_schema"]["schema"]
    assert max(bounds(sent), default=0) <= GRAMMAR_BOUND_LIMIT
    assert "200000" not in in_words.last_user_message
    assert sent["properties"]["content"]["type"] == "string"  # only the bound went
    with pytest.raises(ValueError, match="at most 200000"):
        Code.model_validate({"path": "a.py", "content": "x" * 200_001, "req_ids": []})


# -- lenient reading of small models' JSON ----------------------------------------------------------


def test_control_characters_in_strings_and_a_fenced_object_with_prose_are_accepted() -> None:
    """SmolLM-style answers: a raw newline and tab inside a string, a code fence, a sentence around it.
    Accepted at the first attempt, with no re-ask."""
    raw = 'Here is the JSON:\n```json\n{"name": "to\tdo\nlist", "count": 3}\n```\nHope this helps!'
    with FakeOpenAIServer({STEP: raw}) as srv:
        result = ask_with(srv)
    assert result.value == Item(name="to\tdo\nlist", count=3)
    assert len(srv.chat_requests()) == 1 and [a.error for a in result.attempts] == [None]
    srv.assert_complete()


def test_lenient_reading_forgives_syntax_only() -> None:
    assert json.loads(lenient_json('{"a": "x\ny"} trailing words')) == {"a": "x\ny"}
    assert lenient_json("no object here") == "no object here"
    assert lenient_json('{"a": ') == '{"a":'  # broken JSON is left for validation to explain
    with FakeOpenAIServer({STEP: ['{"name": "todo", "count": -1}', GOOD]}) as srv:
        result = ask_with(srv)
    assert "greater than or equal to 0" in (result.attempts[0].error or "")  # the schema is as strict as ever


# -- timeouts ---------------------------------------------------------------------------------------


def test_a_timed_out_call_is_closed_before_it_is_sent_again_and_its_tokens_count(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The first request is still being served (the server stays silent) when the call's deadline comes:
    its connection is closed before the retry is sent, and its tokens count as an estimate in the attempt
    (for the board), and as a bound in the budget (the prompt's bound and the answer's, which it may have used)."""
    monkeypatch.setenv("SOFTCO_TIMEOUT", "1")
    request = make_request().model_copy(update={"settings": ModelSettings(max_tokens=300)})
    budget = Budget()

    async def use(llm: OpenAILLM) -> StructuredResult[Item]:
        return await ask_structured(BudgetedLLM(llm, budget), request, Item.model_validate_json)

    with FakeOpenAIServer({STEP: [FakeReply(silent=True), GOOD]}) as srv:
        result = with_llm(srv, use)
    first, second = srv.chat_requests(STEP)
    assert first.hung_up_at is not None and first.hung_up_at <= second.received_at
    assert srv.hangups == [STEP]
    timed_out = result.attempts[0].response.usage
    assert timed_out.source == "estimated" and timed_out.prompt_tokens > 0 and timed_out.completion_tokens == 300
    answered = result.attempts[1].response.usage
    bound = unreported_bound(result.attempts[0].request, "", timed_out)
    assert bound.completion_tokens == 300 and bound.prompt_tokens >= timed_out.prompt_tokens
    assert budget.spent_tokens == bound.total + answered.total


def test_a_call_with_no_byte_within_the_read_timeout_counts_its_tokens_too(monkeypatch: pytest.MonkeyPatch) -> None:
    """Cut by SOFTCO_READ_TIMEOUT (the client's own timeout) rather than the whole-call bound: the same."""
    monkeypatch.setenv("SOFTCO_TIMEOUT", "30")
    monkeypatch.setenv("SOFTCO_READ_TIMEOUT", "0.5")
    request = make_request().model_copy(update={"settings": ModelSettings(max_tokens=100)})
    with FakeOpenAIServer({STEP: [FakeReply(silent=True), GOOD]}) as srv:
        result = with_llm(srv, lambda llm: ask_structured(llm, request, Item.model_validate_json))
    assert "SOFTCO_READ_TIMEOUT" in (result.attempts[0].error or "")
    usage = result.attempts[0].response.usage
    assert usage.source == "estimated" and usage.prompt_tokens > 0 and usage.completion_tokens == 100
    assert srv.hangups == [STEP]


# -- every attempt on the board when it ends ---------------------------------------------------------


class _BadThenHang(LLM):
    """Answers once with JSON that fails validation, then never answers (until cancelled)."""

    model = "test-model"

    def __init__(self) -> None:
        self.calls = 0
        self.hanging = asyncio.Event()

    async def complete(self, request: LLMRequest) -> LLMResponse:
        self.calls += 1
        if self.calls == 1:
            return LLMResponse(content='{"project_name": 1}')
        self.hanging.set()
        await asyncio.Event().wait()
        raise AssertionError("unreachable")


def test_every_attempt_is_on_the_board_as_it_ends_even_when_the_step_is_cancelled(tmp_path: Path) -> None:
    """A step whose first answer was rejected and whose re-ask is cancelled (a sibling failed, Ctrl-C):
    both attempts are on the board, the rejected one before the step ends."""
    sop = load_sop()
    board = Board(tmp_path / "board.sqlite")
    requirement = board.publish("run1", "requirement", "project", "customer", "publish", "r", {"text": "a todo app"})
    view = BoardView()
    view.add(requirement)
    pm = sop.role("product_manager")
    step = Step(pm, pm.actions[0], "project", requirement)
    llm = _BadThenHang()
    ctx = StepContext(sop, llm, board, "run1", view, tmp_path, 0, Limits())

    async def main() -> list[StepRow]:
        task = asyncio.create_task(run_llm_step(ctx, step))
        await llm.hanging.wait()
        during = board.steps()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        return during

    during = asyncio.run(main())
    assert [r.status for r in during] == ["invalid"]
    rows = board.steps()
    assert [(r.key, r.attempt, r.status) for r in rows] == [(step.key, 1, "invalid"), (step.key, 2, "cancelled")]
    assert all(r.request_hash for r in rows)
    board.close()


def test_show_cost_counts_transport_retries_apart_from_re_asks() -> None:
    def row(n: int, status: str) -> StepRow:
        return StepRow(
            n,
            "pm/write_prd/project",
            "r",
            "pm",
            "write_prd",
            "project",
            n,
            status,
            "h",
            10,
            5,
            None,
            0.0,
            1.0,
            None,
            None,
        )

    (costs,) = cost_by_step([row(1, "fault"), row(2, "fault"), row(3, "invalid"), row(4, "ok")])
    assert (costs.calls, costs.reasks, costs.retries) == (4, 1, 2)


# -- errors that say what to do, bounded ------------------------------------------------------------


def test_a_base_url_without_v1_gets_a_hint() -> None:
    async def call(url: str) -> None:
        llm = OpenAILLM(make_client(url, None), "m")
        try:
            await llm.complete(make_request())
        finally:
            await llm.aclose()

    with FakeOpenAIServer(lambda req: GOOD) as srv:
        bare = srv.base_url.removesuffix("/v1")
        with pytest.raises(LLMError) as info:
            asyncio.run(call(bare))
    message = str(info.value)
    assert "HTTP 404" in message and f"did you mean --base-url {bare}/v1?" in message
    assert [r.path for r in srv.requests] == ["/chat/completions"]


def test_an_endpoint_error_quoting_huge_text_is_bounded() -> None:
    huge = "model says: " + "blah\n\x1b[31m" * 20_000
    with FakeOpenAIServer({STEP: FakeReply(status=400, error=huge)}) as srv:
        with pytest.raises(LLMError) as info:
            ask_with(srv)
    message = str(info.value)
    assert len(message) < 600 and "\n" not in message and "\x1b" not in message
    assert "refused the request" in message


# -- concurrency for a local server ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "local"),
    [
        ("http://127.0.0.1:8080/v1", True),
        ("http://localhost:11434/v1", True),
        ("http://[::1]:8000/v1", True),
        ("http://127.0.0.2:8000/v1", True),
        ("http://gpu-box.local:1234/v1", True),
        ("https://api.openai.com/v1", False),
        ("http://192.168.1.5:8000/v1", False),
    ],
)
def test_a_local_server_gets_a_small_documented_concurrency(url: str, local: bool) -> None:
    assert serves_locally(url) is local
    concurrency, why = pick_concurrency(NewOptions("x", base_url=url))
    assert concurrency == (2 if local else DEFAULT_CONCURRENCY)
    assert (why is not None) is local
    assert pick_concurrency(NewOptions("x", base_url=url, concurrency=5)) == (5, None)  # the flag wins
    assert pick_concurrency(NewOptions("x", base_url=url, llm="script:a.json"))[0] == DEFAULT_CONCURRENCY


# -- the command line -------------------------------------------------------------------------------


def test_cli_negotiates_once_remembers_it_and_says_so(tmp_path: Path) -> None:
    """Two `softco new` runs against a server that answers json_schema with a 500 (llama-cpp-python's
    way): the first falls back once and says so, the second asks in JSON mode from the start. The
    architect's call is refused so each run stops early (exit 1, one line)."""
    stop = FakeReply(status=400, error="stop here (test)")
    script = {"product_manager/write_prd/project": [PRD, PRD], "architect/write_design/project": [stop, stop]}
    args = ["new", REQUIREMENT, "--output", "out", "--model", "fake-model", "--no-cache"]
    with FakeOpenAIServer(script, reject_json_schema=True, rejection_status=500) as srv:
        first = run_cli(args, tmp_path, env={"OPENAI_BASE_URL": srv.base_url})
        after_first = formats(srv)
        second = run_cli(args, tmp_path, env={"OPENAI_BASE_URL": srv.base_url})
        srv.assert_complete()
        url = srv.base_url
    assert first.exit_code == second.exit_code == 1, first.stdout + first.stderr
    assert first.stderr.count("\n") == 1 and "stop here (test)" in first.stderr
    assert f"concurrency 2: {url} is a local server" in first.stdout
    assert "refused response_format json_schema (HTTP 500)" in first.stdout
    assert after_first == ["json_schema", "json_object", "json_object"]
    assert formats(srv)[3:] == ["json_object", "json_object"]  # no probe on the second run
    assert "refused response_format" not in second.stdout
    state = json.loads((tmp_path / "out" / ".softco" / "endpoints.json").read_text())
    assert state["endpoints"][url + "/"]["structured"] == "json_object"


def test_cli_refuses_a_bad_structured_setting_creating_nothing(tmp_path: Path) -> None:
    base = ["new", "a todo app", "--output", "out", "--base-url", "http://127.0.0.1:9/v1"]
    for extra, env, named in (
        ([], {"SOFTCO_STRUCTURED": "xml"}, "SOFTCO_STRUCTURED"),
        (["--structured", "grammar"], {}, "--structured"),
    ):
        res = run_cli(base + extra, tmp_path, env=env)
        assert res.exit_code == 2, res.stderr
        assert res.stderr.count("\n") == 1 and "Traceback" not in res.stderr
        assert named in res.stderr and "schema, json, prompt" in res.stderr
    assert not (tmp_path / "out").exists()


def test_sop_validate_takes_a_role_structured_setting(tmp_path: Path) -> None:
    roles = tmp_path / "sop" / "roles"
    roles.mkdir(parents=True)
    pm = (ROLES_DIR / "product_manager.yaml").read_text()
    (roles / "product_manager.yaml").write_text(pm + "model:\n  structured: json\n")
    ok = run_cli(["sop", "validate", "sop"], tmp_path)
    assert ok.exit_code == 0, ok.stdout + ok.stderr
    assert load_sop(tmp_path / "sop").role("product_manager").model.structured == "json"
    (roles / "product_manager.yaml").write_text(pm + "model:\n  structured: xml\n")
    bad = run_cli(["sop", "validate", "sop"], tmp_path)
    assert bad.exit_code == 2
    assert "product_manager.yaml:" in bad.stdout + bad.stderr and "model.structured" in bad.stdout + bad.stderr


def test_the_chosen_concurrency_is_saved_for_resume(tmp_path: Path) -> None:
    stop = FakeReply(status=400, error="stop here (test)")
    with FakeOpenAIServer({"product_manager/write_prd/project": stop}) as srv:
        res = run_cli(["new", REQUIREMENT, "--output", "out"], tmp_path, env={"OPENAI_BASE_URL": srv.base_url})
    assert res.exit_code == 1
    db = sqlite3.connect(only_project(tmp_path / "out") / ".softco" / "board.sqlite")
    (settings,) = db.execute("SELECT settings_json FROM runs").fetchone()
    db.close()
    assert json.loads(settings)["concurrency"] == 2
