"""The OpenAI provider end to end: real ``openai.AsyncOpenAI`` client -> real socket -> FakeOpenAIServer.

Nothing here leaves 127.0.0.1; OPENAI_API_KEY and OPENAI_BASE_URL are removed for every test.
"""

from __future__ import annotations

import asyncio
import json
import time
import urllib.request
from collections.abc import Awaitable, Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any, TypeVar
from urllib.error import HTTPError

import pytest
from fake_server import FakeOpenAIServer, FakeReply, FakeRequest
from helpers import run_cli
from pydantic import BaseModel, ConfigDict, Field

from softco.llm.base import ChatMessage, LLMError, LLMRequest, LLMResponse, Usage
from softco.llm.openai import (
    MAX_REPORTED_TOKENS,
    CallTimeouts,
    EndpointNotConfigured,
    OpenAILLM,
    TimeoutSettingError,
    call_timeouts,
    make_client,
    reported_usage,
    schema_instructions,
)
from softco.llm.structured import MAX_TRANSIENT, EndpointFailing, InvalidAnswer, StructuredResult, ask_structured
from softco.llm.tokens import estimate_tokens

T = TypeVar("T")
STEP = "product_manager/write_prd/project"
GOOD: dict[str, Any] = {"name": "todo", "count": 3}


class Item(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    count: int = Field(ge=0)


@pytest.fixture(autouse=True)
def _no_real_endpoint(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)


def make_request(step: str = STEP, schema: bool = True) -> LLMRequest:
    return LLMRequest(
        step_key=step,
        messages=[
            ChatMessage(role="system", content="You are a product manager."),
            ChatMessage(role="user", content="Write the item for: a todo app."),
        ],
        schema_name="Item" if schema else None,
        json_schema=Item.model_json_schema() if schema else None,
    )


def with_llm(srv: FakeOpenAIServer, use: Callable[[OpenAILLM], Awaitable[T]]) -> T:
    """Build the provider on a client pointed at ``srv``, run ``use`` and close the client."""

    async def main() -> T:
        llm = OpenAILLM(make_client(base_url=srv.base_url, api_key=None), model="test-model")
        try:
            return await use(llm)
        finally:
            await llm.aclose()

    return asyncio.run(main())


def ask(srv: FakeOpenAIServer, request: LLMRequest | None = None) -> StructuredResult[Item]:
    return with_llm(srv, lambda llm: ask_structured(llm, request or make_request(), Item.model_validate_json))


def user_messages(req: FakeRequest) -> list[str]:
    return [m["content"] for m in req.messages if m["role"] == "user"]


def assistant_messages(req: FakeRequest) -> list[str]:
    return [m["content"] for m in req.messages if m["role"] == "assistant"]


# -- structured outputs ---------------------------------------------------------------------------


def test_structured_request_sends_json_schema_and_step_header() -> None:
    with FakeOpenAIServer({STEP: GOOD}) as srv:
        result = ask(srv)
    assert result.value == Item(name="todo", count=3)
    (req,) = srv.requests
    assert (req.method, req.path) == ("POST", "/v1/chat/completions")
    assert req.headers["x-softco-step"] == STEP
    assert req.step == STEP
    assert req.body["model"] == "test-model"
    assert req.body["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "Item", "schema": Item.model_json_schema(), "strict": False},
    }
    assert req.messages == [m.model_dump() for m in make_request().messages]  # no schema text added
    srv.assert_complete()


def test_step_key_with_non_ascii_or_newline_is_percent_encoded() -> None:
    steps = ["engineer/write_code/app/café.py", "engineer/write_code/app/a\nb.py"]

    async def each(llm: OpenAILLM) -> list[str]:
        return [(await llm.complete(make_request(step=s, schema=False))).content for s in steps]

    with FakeOpenAIServer(dict.fromkeys(steps, "plain text")) as srv:
        assert with_llm(srv, each) == ["plain text"] * 2
    assert [r.step for r in srv.requests] == steps
    assert [r.headers["x-softco-step"] for r in srv.requests] == [
        "engineer/write_code/app/caf%C3%A9.py",
        "engineer/write_code/app/a%0Ab.py",
    ]
    srv.assert_complete()


def test_rejected_json_schema_falls_back_to_json_mode_and_remembers_it() -> None:
    schema_text = schema_instructions("Item", Item.model_json_schema())

    async def twice(llm: OpenAILLM) -> list[StructuredResult[Item]]:
        return [await ask_structured(llm, make_request(), Item.model_validate_json) for _ in range(2)]

    with FakeOpenAIServer(lambda req: GOOD, reject_json_schema=True) as srv:
        results = with_llm(srv, twice)
    assert [r.value for r in results] == [Item(**GOOD)] * 2
    first, second, third = srv.requests  # the fallback is remembered: no second rejected request
    assert first.response_format is not None and first.response_format["type"] == "json_schema"
    for req in (second, third):
        assert req.response_format == {"type": "json_object"}
        assert req.messages[-1] == {"role": "user", "content": schema_text}
        assert json.dumps(Item.model_json_schema(), indent=1) in req.last_user_message
    assert not srv.errors


def test_endpoint_without_json_mode_gets_the_schema_in_the_prompt_only() -> None:
    with FakeOpenAIServer(lambda req: GOOD, reject_json_schema=True, reject_json_object=True) as srv:
        result = ask(srv)
    assert result.value == Item(**GOOD)
    assert [(r.response_format or {}).get("type") for r in srv.requests] == ["json_schema", "json_object", None]
    assert srv.requests[-1].last_user_message == schema_instructions("Item", Item.model_json_schema())


# -- re-asking with the error ---------------------------------------------------------------------


def test_bad_answers_are_reasked_with_the_answer_and_the_error() -> None:
    not_json = "Sure! Here is the item: {name: todo"
    wrong = {"name": "todo", "count": -1}
    with FakeOpenAIServer({STEP: [not_json, wrong, GOOD]}) as srv:
        result = ask(srv)
    assert result.value == Item(**GOOD)
    assert [a.error is None for a in result.attempts] == [False, False, True]
    json_error, schema_error = result.attempts[0].error, result.attempts[1].error
    assert json_error is not None and "Invalid JSON" in json_error
    assert schema_error is not None and "count" in schema_error and "greater than or equal to 0" in schema_error

    first, second, third = srv.requests
    original = [m.model_dump() for m in make_request().messages]
    assert first.messages == original
    # each re-ask: the original prompt, the model's own bad answer, then the exact error
    assert second.messages[: len(original)] == original
    assert assistant_messages(second) == [not_json]
    assert json_error in user_messages(second)[-1]
    assert third.messages[: len(original)] == original
    assert assistant_messages(third) == [json.dumps(wrong)]
    assert schema_error in user_messages(third)[-1]
    assert second.body != first.body and third.body != second.body  # never the identical prompt
    srv.assert_complete()


def test_three_bad_answers_raise_invalid_answer_with_the_error() -> None:
    with FakeOpenAIServer({STEP: ["nope", "{}", {"name": "todo"}]}) as srv, pytest.raises(InvalidAnswer) as info:
        ask(srv)
    assert "failed validation 3 times" in str(info.value)
    assert "count: Field required" in str(info.value)
    assert len(info.value.attempts) == 3
    assert len(srv.requests) == 3
    srv.assert_complete()


def test_cut_off_answer_is_reasked() -> None:
    cut = FakeReply(content='{"name": "to', finish_reason="length")
    with FakeOpenAIServer({STEP: [cut, GOOD]}) as srv:
        result = ask(srv)
    assert result.value == Item(**GOOD)
    assert result.attempts[0].response.finish_reason == "length"
    assert "cut off" in srv.requests[1].last_user_message


# -- transport errors and retries -----------------------------------------------------------------


def test_rate_limit_with_retry_after_zero_is_survived() -> None:
    with FakeOpenAIServer({STEP: [FakeReply.rate_limited(retry_after=0), GOOD]}) as srv:
        result = ask(srv)
    assert result.value == Item(**GOOD)
    assert len(srv.requests) == 2
    # every attempt is kept for the board: the rate-limited one, then the answer
    assert [a.response.finish_reason for a in result.attempts] == ["fault", "stop"]
    assert "HTTP 429" in (result.attempts[0].error or "")
    srv.assert_complete()


def test_endpoint_that_keeps_failing_stops_with_every_attempt() -> None:
    faults = [FakeReply.server_error(503, retry_after=0) for _ in range(MAX_TRANSIENT + 1)]
    with FakeOpenAIServer({STEP: faults}) as srv, pytest.raises(EndpointFailing, match="gave up after 7") as info:
        ask(srv)
    assert len(srv.requests) == MAX_TRANSIENT + 1
    assert len(info.value.attempts) == MAX_TRANSIENT + 1
    assert all("HTTP 503" in (a.error or "") for a in info.value.attempts)


def test_server_error_then_success_is_survived() -> None:
    with FakeOpenAIServer({STEP: [FakeReply.server_error(500, retry_after=0), GOOD]}) as srv:
        result = ask(srv)
    assert result.value == Item(**GOOD)
    assert len(srv.requests) == 2
    srv.assert_complete()


def test_refused_request_is_an_llm_error_not_a_fallback() -> None:
    refusal = FakeReply(status=400, error="The model `nope` does not exist", error_code="model_not_found")
    with FakeOpenAIServer({STEP: refusal}) as srv, pytest.raises(LLMError, match="refused the request.*does not exist"):
        ask(srv)
    assert len(srv.requests) == 1


def test_exhausted_script_fails_fast_and_is_recorded() -> None:
    with FakeOpenAIServer({STEP: GOOD}) as srv:
        ask(srv)
        started = time.monotonic()
        with pytest.raises(LLMError, match="HTTP 500.*no scripted answer left"):
            ask(srv)
        assert time.monotonic() - started < 1  # x-should-retry: false, so no backoff
    assert len(srv.requests) == 2
    assert len(srv.errors) == 1 and "no scripted answer left for step" in srv.errors[0]
    with pytest.raises(AssertionError, match="no scripted answer left"):
        srv.assert_complete()


def test_unknown_path_is_a_json_404() -> None:
    with FakeOpenAIServer() as srv:
        with pytest.raises(HTTPError) as info:
            urllib.request.urlopen(f"{srv.base_url}/models", timeout=5)
        with info.value as err:
            assert err.code == 404
            assert "Unknown path GET /v1/models" in json.load(err)["error"]["message"]
    assert [r.path for r in srv.requests] == ["/v1/models"]


# -- usage and timing -----------------------------------------------------------------------------


def test_usage_comes_back_in_the_response() -> None:
    request = make_request(schema=False)
    with FakeOpenAIServer(
        {STEP: ["Hello there, this is the answer.", FakeReply(content="x", prompt_tokens=120, completion_tokens=7)]}
    ) as srv:
        estimated = with_llm(srv, lambda llm: llm.complete(request))
        given = with_llm(srv, lambda llm: llm.complete(request))
    assert isinstance(estimated, LLMResponse)
    # the fake endpoint's own figures are its estimate, but softco sees an endpoint that reported usage
    assert estimated.usage == Usage(
        prompt_tokens=sum(estimate_tokens(m.content) for m in request.messages),
        completion_tokens=estimate_tokens("Hello there, this is the answer."),
        source="measured",
    )
    assert estimated.model == "test-model" and estimated.finish_reason == "stop"
    assert given.usage == Usage(prompt_tokens=120, completion_tokens=7, source="measured")


def test_structured_usage_adds_up_the_attempts() -> None:
    reply = FakeReply(content="not json", prompt_tokens=100, completion_tokens=10)
    with FakeOpenAIServer({STEP: [reply, FakeReply(content=GOOD, prompt_tokens=130, completion_tokens=20)]}) as srv:
        result = ask(srv)
    assert result.usage == Usage(prompt_tokens=230, completion_tokens=30, source="measured")


def test_latency_and_concurrency() -> None:
    text = "x" * 400  # 100 completion tokens

    async def many(llm: OpenAILLM) -> list[LLMResponse]:
        return await asyncio.gather(*(llm.complete(make_request(f"s/{i}", schema=False)) for i in range(6)))

    with FakeOpenAIServer(lambda req: text, latency=0.05, per_token_latency=0.001) as srv:
        started = time.monotonic()
        responses = with_llm(srv, many)
        elapsed = time.monotonic() - started
    assert [r.content for r in responses] == [text] * 6
    durations = [r.finished_at - r.received_at for r in srv.requests if r.finished_at is not None]
    assert len(durations) == 6 and min(durations) >= 0.15  # 0.05 + 100 * 0.001
    assert elapsed < 0.15 * 6  # served concurrently
    assert sorted(r.step for r in srv.requests if r.step) == [f"s/{i}" for i in range(6)]


# -- configuration --------------------------------------------------------------------------------


def test_local_base_url_needs_no_key() -> None:
    with FakeOpenAIServer({STEP: GOOD}) as srv:
        ask(srv)
    assert srv.requests[0].headers["authorization"] == "Bearer not-needed"


def test_local_base_url_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    async def call() -> LLMResponse:
        llm = OpenAILLM(make_client(None, None))
        try:
            return await llm.complete(make_request(schema=False))
        finally:
            await llm.aclose()

    with FakeOpenAIServer({STEP: "hi"}) as srv:
        monkeypatch.setenv("OPENAI_BASE_URL", srv.base_url)
        assert asyncio.run(call()).content == "hi"
    srv.assert_complete()


def test_no_endpoint_configured_says_how_to_configure() -> None:
    with pytest.raises(EndpointNotConfigured) as info:
        make_client(None, None)
    message = str(info.value)
    for hint in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "--base-url", "softco demo"):
        assert hint in message
    with pytest.raises(EndpointNotConfigured):
        make_client("https://llm.example.com/v1", None)  # a remote URL still needs a key


def test_server_is_not_usable_before_start() -> None:
    srv = FakeOpenAIServer()
    with pytest.raises(RuntimeError, match="not started"):
        _ = srv.base_url
    srv.close()  # harmless


def test_a_connection_reset_is_retried_and_kept_for_the_board() -> None:
    with FakeOpenAIServer({STEP: [FakeReply(reset=True), GOOD]}) as srv:
        result = ask(srv)
    assert result.value == Item(**GOOD)
    assert len(srv.requests) == 2
    assert [a.response.finish_reason for a in result.attempts] == ["fault", "stop"]
    assert "cannot reach the endpoint" in (result.attempts[0].error or "")


# -- the time bound of one call -------------------------------------------------------------------


@pytest.mark.parametrize("slow", ["trickle", "silent"])
def test_a_slow_endpoint_is_cut_at_the_call_deadline_and_the_retry_is_shown(
    slow: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A server that sends a byte every 0.05 s never trips httpx's per-read timeout, and one that stays
    silent holds the connection: both are cut at SOFTCO_TIMEOUT, the connection is closed (the server
    sees the client hang up), and each retry is told as it happens."""
    monkeypatch.setenv("SOFTCO_TIMEOUT", "1")
    reply = FakeReply(content=GOOD, trickle=0.05) if slow == "trickle" else FakeReply(silent=True)
    retries: list[str] = []
    with FakeOpenAIServer({STEP: [reply, reply, GOOD]}) as srv:
        result = with_llm(
            srv,
            lambda llm: ask_structured(
                llm, make_request(), Item.model_validate_json, on_retry=lambda r: retries.append(r.describe())
            ),
        )
    assert result.value == Item(**GOOD)
    assert len(srv.chat_requests(STEP)) == 3
    assert srv.hangups == [STEP, STEP]  # the client closed both connections; nothing kept running
    assert [a.error for a in result.attempts[:2]] == [
        f"step {STEP}: the endpoint did not answer within 1 s (SOFTCO_TIMEOUT)"
    ] * 2
    assert len(retries) == 2
    assert retries[0].startswith("endpoint slow or unreachable (no answer within 1 s), retry 1/6 in ")
    assert retries[1].startswith("endpoint slow or unreachable (no answer within 1 s), retry 2/6 in ")
    assert all(r.endswith(f"s: {STEP}") for r in retries)


def test_timeouts_come_from_validated_settings() -> None:
    assert call_timeouts({}) == CallTimeouts(total=600, connect=10, read=600)
    assert call_timeouts({"SOFTCO_TIMEOUT": "5"}) == CallTimeouts(total=5, connect=5, read=5)
    env = {"SOFTCO_TIMEOUT": "120", "SOFTCO_CONNECT_TIMEOUT": "3", "SOFTCO_READ_TIMEOUT": "60"}
    assert call_timeouts(env) == CallTimeouts(total=120, connect=3, read=60)
    for name in ("SOFTCO_TIMEOUT", "SOFTCO_CONNECT_TIMEOUT", "SOFTCO_READ_TIMEOUT"):
        for bad in ("ten", "nan", "inf", "-1", "0", "1e9"):
            with pytest.raises(TimeoutSettingError) as info:
                call_timeouts({name: bad})
            message = str(info.value)
            assert "\n" not in message and name in message and "seconds" in message


def test_a_bad_timeout_setting_is_one_line_and_creates_nothing(tmp_path: Path) -> None:
    res = run_cli(
        ["new", "a todo app", "--output", "out", "--base-url", "http://127.0.0.1:9/v1"],
        tmp_path,
        env={"SOFTCO_TIMEOUT": "ten"},
    )
    assert res.exit_code == 2
    assert res.stderr.count("\n") == 1 and "SOFTCO_TIMEOUT='ten'" in res.stderr and "Traceback" not in res.stderr
    assert not (tmp_path / "out").exists()


# -- measured or estimated usage ------------------------------------------------------------------


def test_usage_is_measured_only_when_the_endpoint_reports_it() -> None:
    request = make_request(schema=False)
    with FakeOpenAIServer({STEP: [FakeReply(content="an answer", no_usage=True), "an answer"]}) as srv:
        silent = with_llm(srv, lambda llm: llm.complete(request))
        told = with_llm(srv, lambda llm: llm.complete(request))
    assert silent.usage == Usage(
        prompt_tokens=sum(estimate_tokens(m.content) for m in request.messages),
        completion_tokens=estimate_tokens("an answer"),
        source="estimated",
    )
    assert told.usage.source == "measured"


def test_reported_usage_is_bounded() -> None:
    hostile = SimpleNamespace(prompt_tokens=-5, completion_tokens=10**15)
    assert reported_usage(hostile) == Usage(prompt_tokens=0, completion_tokens=MAX_REPORTED_TOKENS, source="measured")
    assert reported_usage(SimpleNamespace(prompt_tokens="many", completion_tokens=None)) is None
    assert reported_usage(None) is None


def test_clients_of_one_process_share_the_ssl_context(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every run makes its client: the CA bundle is loaded once a process (about 25 ms of CPU each time
    otherwise), again only for another SSL_CERT_FILE / SSL_CERT_DIR, which the HTTP library honours."""
    import ssl

    from softco.llm import openai as softco_openai

    loads: list[object] = []
    load = ssl.SSLContext.load_verify_locations

    def counting(self: ssl.SSLContext, *a: Any, **k: Any) -> None:
        loads.append(a or k)
        load(self, *a, **k)

    monkeypatch.setattr(ssl.SSLContext, "load_verify_locations", counting)
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    softco_openai._ssl_context.cache_clear()
    for _ in range(3):  # made, never connected
        asyncio.run(make_client("https://api.example.com/v1", "sk-test").close())
    assert len(loads) == 1
    asyncio.run(make_client("http://127.0.0.1:9/v1", None).close())  # plain HTTP: no certificates at all
    assert len(loads) == 1
    bundle = ssl.get_default_verify_paths().openssl_cafile
    if Path(bundle).is_file():  # another CA file: a context of its own, which loads that file
        monkeypatch.setenv("SSL_CERT_FILE", bundle)
        asyncio.run(make_client("https://api.example.com/v1", "sk-test").close())
        assert len(loads) == 2 and loads[-1][0] == bundle  # type: ignore[index]
    softco_openai._ssl_context.cache_clear()
