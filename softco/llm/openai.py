"""Any OpenAI-compatible chat endpoint, through the official ``openai`` client.

Structured steps ask for ``response_format={"type": "json_schema", ...}``. An endpoint that
rejects that gets JSON mode with the schema in the prompt, and one that rejects JSON mode too gets
the schema in the prompt alone; the fallback is remembered for the rest of the run.
429 / 5xx / timeouts / connection errors become :class:`TransientLLMError`, which
:mod:`softco.llm.structured` retries with backoff (honouring Retry-After), one board row per
attempt; the client's own silent retries are off.

Every call is bounded in time (:class:`CallTimeouts`): ``SOFTCO_CONNECT_TIMEOUT`` (default 10 s)
to connect, ``SOFTCO_READ_TIMEOUT`` (default: the whole bound) for the first byte of the answer and
between bytes, and ``SOFTCO_TIMEOUT`` (default 600 s) for the whole call, connecting, sending and
reading included: an endpoint that trickles a byte at a time is cut there, the request is cancelled
and its connection closed, and the attempt counts as a timeout (retried with backoff).

A role whose model settings name ``base_url_env`` (and optionally ``api_key_env``) is sent to the
endpoint in that environment variable, through one client per endpoint made on first use; each
endpoint remembers its own structured-output fallback.
"""

from __future__ import annotations

import asyncio
import json
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlparse

from softco.llm.base import (
    LLM,
    ChatMessage,
    LLMError,
    LLMRequest,
    LLMResponse,
    ModelSettings,
    TransientLLMError,
    Usage,
)
from softco.llm.testing import estimate_tokens
from softco.schemas import strict_compatible

if TYPE_CHECKING:  # the openai package takes ~0.3 s to import: only runs that call a model pay it
    import openai

DEFAULT_MODEL = "gpt-4o-mini"
LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1", "0.0.0.0"}
STEP_HEADER = "X-Softco-Step"

#: Tests set this to False (tests/conftest.py) so that no request can leave 127.0.0.1 by accident;
#: SOFTCO_LOCAL_ONLY=1 does the same for the softco processes the tests start.
ALLOW_REMOTE_REQUESTS = True


class EndpointNotConfigured(LLMError):
    pass


class TimeoutSettingError(EndpointNotConfigured):
    """A SOFTCO_*TIMEOUT variable is not a usable number of seconds."""


#: The whole call, connecting, sending and reading the answer (SOFTCO_TIMEOUT).
DEFAULT_TIMEOUT = 600.0
#: Connecting to the endpoint (SOFTCO_CONNECT_TIMEOUT).
DEFAULT_CONNECT_TIMEOUT = 10.0
#: The longest a timeout may be: a day.
MAX_TIMEOUT = 86_400.0


@dataclass(frozen=True)
class CallTimeouts:
    """How long one call may take, in seconds.

    ``read`` bounds the wait for the first byte of the answer and for each byte after it. A
    non-streamed answer starts only once the model has written all of it, so by default it is the
    whole bound; ``total`` caps everything together, however the bytes arrive.
    """

    total: float = DEFAULT_TIMEOUT
    connect: float = DEFAULT_CONNECT_TIMEOUT
    read: float = DEFAULT_TIMEOUT


def _seconds(env: Mapping[str, str], name: str) -> float | None:
    raw = env.get(name, "").strip()
    if not raw:
        return None
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and 0 < value <= MAX_TIMEOUT):
        raise TimeoutSettingError(
            f"{name}={raw[:40]!r} is not a number of seconds between 0 and {MAX_TIMEOUT:.0f}; "
            f"set it to e.g. {name}=120, or unset it for the default"
        )
    return value


def call_timeouts(env: Mapping[str, str] | None = None) -> CallTimeouts:
    """The timeouts the environment asks for, validated; connect and read never exceed the total."""
    env = os.environ if env is None else env
    total = _seconds(env, "SOFTCO_TIMEOUT") or DEFAULT_TIMEOUT
    connect = _seconds(env, "SOFTCO_CONNECT_TIMEOUT") or DEFAULT_CONNECT_TIMEOUT
    read = _seconds(env, "SOFTCO_READ_TIMEOUT") or total
    return CallTimeouts(total=total, connect=min(connect, total), read=min(read, total))


def is_local(url: str) -> bool:
    return (urlparse(url).hostname or "") in LOCAL_HOSTS


def make_client(base_url: str | None, api_key: str | None, timeouts: CallTimeouts | None = None) -> openai.AsyncOpenAI:
    """Build the client from arguments, falling back to the openai client's own env variables.

    Its HTTP timeouts are the connect and read parts of ``timeouts`` (default: from the
    environment); the whole-call bound is :class:`OpenAILLM`'s.
    """
    base_url = base_url or os.environ.get("OPENAI_BASE_URL") or None
    api_key = api_key or os.environ.get("OPENAI_API_KEY") or None
    if not api_key:
        if base_url and is_local(base_url):
            api_key = "not-needed"
        else:
            raise EndpointNotConfigured(
                "no LLM endpoint configured: set OPENAI_API_KEY (and OPENAI_BASE_URL for another "
                "provider), or pass --base-url http://127.0.0.1:PORT/v1 for a local server; "
                "`softco demo` runs offline"
            )
    t = timeouts or call_timeouts()
    import openai

    timeout = openai.Timeout(connect=t.connect, read=t.read, write=t.read, pool=t.total)
    return openai.AsyncOpenAI(base_url=base_url, api_key=api_key, max_retries=0, timeout=timeout)


def retry_after(headers: Any) -> float | None:
    """Seconds the server asked us to wait (``retry-after-ms`` or ``Retry-After`` in seconds)."""
    for name, scale in (("retry-after-ms", 0.001), ("retry-after", 1.0)):
        value = headers.get(name) if headers is not None else None
        if value is None:
            continue
        try:
            return max(0.0, float(value) * scale)
        except ValueError:
            continue  # an HTTP date: fall back to our own backoff
    return None


def role_endpoint(settings: ModelSettings) -> tuple[str | None, str | None] | None:
    """The (base URL, API key) a role's settings route to, read from the env vars they name.

    None means the default endpoint. Raises :class:`EndpointNotConfigured` naming the variable to
    export when one the settings name is unset.
    """
    if settings.base_url_env is None and settings.api_key_env is None:
        return None
    url = None
    if settings.base_url_env:
        url = os.environ.get(settings.base_url_env) or None
        if url is None:
            raise EndpointNotConfigured(
                f"a role file says base_url_env: {settings.base_url_env}, but {settings.base_url_env} is not set; "
                f"export {settings.base_url_env}=https://HOST/v1, or remove base_url_env from the role's model"
            )
    key = None
    if settings.api_key_env:
        key = os.environ.get(settings.api_key_env) or None
        if key is None:
            raise EndpointNotConfigured(
                f"a role file says api_key_env: {settings.api_key_env}, but {settings.api_key_env} is not set; "
                "export it, or remove api_key_env from the role's model"
            )
    return url, key


def check_role_endpoints(settings: list[ModelSettings]) -> None:
    """Fail before any call when a role's settings name an endpoint variable that is not set."""
    for s in settings:
        endpoint = role_endpoint(s)
        if endpoint is not None:
            make_client(*endpoint)


def schema_instructions(name: str, schema: dict[str, Any]) -> str:
    return (
        f"Answer with one JSON object (no prose, no code fences) for `{name}` that follows this "
        f"JSON schema:\n{json.dumps(schema, indent=1)}"
    )


class OpenAILLM(LLM):
    """An OpenAI-compatible endpoint. Pass ``client`` to point it anywhere (tests do)."""

    def __init__(
        self, client: openai.AsyncOpenAI, model: str = DEFAULT_MODEL, timeouts: CallTimeouts | None = None
    ) -> None:
        self.client = client
        self.model = model
        self.timeouts = timeouts or call_timeouts()
        self.cache_id = f"openai|{client.base_url}|{model}"
        #: one client per endpoint a role's settings route to: (base URL, key variable) -> client
        self._clients: dict[tuple[str | None, str | None], openai.AsyncOpenAI] = {}
        self._modes: dict[str, str] = {}  # base URL -> "json_schema" -> "json_object" -> "prompt"

    @property
    def _mode(self) -> str:
        """The structured-output mode of the default endpoint."""
        return self._modes.get(str(self.client.base_url), "json_schema")

    def client_for(self, settings: ModelSettings) -> openai.AsyncOpenAI:
        """The client for a request: the default one, or the endpoint its role's settings name."""
        endpoint = role_endpoint(settings)
        if endpoint is None:
            return self.client
        key = (endpoint[0], settings.api_key_env)
        if key not in self._clients:
            self._clients[key] = make_client(*endpoint)
        return self._clients[key]

    async def complete(self, request: LLMRequest) -> LLMResponse:
        import openai

        try:
            client = self.client_for(request.settings)
        except EndpointNotConfigured as exc:
            raise LLMError(f"step {request.step_key}: {exc}") from None
        while True:
            try:
                return await self._call(client, request)
            except openai.BadRequestError as exc:
                if request.json_schema is None or not self._downgrade(client, exc):
                    raise LLMError(f"step {request.step_key}: the endpoint refused the request: {exc}") from None
            except TimeoutError:  # the whole-call bound: the request was cancelled, its connection closed
                total = self.timeouts.total
                raise TransientLLMError(
                    f"step {request.step_key}: the endpoint did not answer within {total:g} s (SOFTCO_TIMEOUT)",
                    reason=f"no answer within {total:g} s",
                ) from None
            except openai.APITimeoutError:
                t = self.timeouts
                raise TransientLLMError(
                    f"step {request.step_key}: the endpoint timed out (no connection within {t.connect:g} s or no "
                    f"byte within {t.read:g} s: SOFTCO_CONNECT_TIMEOUT / SOFTCO_READ_TIMEOUT)",
                    reason="timed out",
                ) from None
            except openai.APIConnectionError as exc:
                raise TransientLLMError(
                    f"step {request.step_key}: cannot reach the endpoint ({exc}); check --base-url / OPENAI_BASE_URL",
                    reason="connection failed",
                ) from None
            except openai.APIStatusError as exc:
                message = f"step {request.step_key}: the endpoint answered HTTP {exc.status_code}: {exc.message}"
                should_retry = exc.response.headers.get("x-should-retry", "")
                if should_retry != "false" and (exc.status_code in (408, 409, 429) or exc.status_code >= 500):
                    raise TransientLLMError(
                        message, retry_after(exc.response.headers), reason=f"HTTP {exc.status_code}"
                    ) from None
                raise LLMError(message) from None

    def _downgrade(self, client: openai.AsyncOpenAI, exc: openai.BadRequestError) -> bool:
        """Move this endpoint to the next structured-output fallback; False when none is left."""
        text = str(exc).lower()
        if not any(w in text for w in ("response_format", "json_schema", "json_object", "schema")):
            return False
        order = ["json_schema", "json_object", "prompt"]
        url = str(client.base_url)
        i = order.index(self._modes.get(url, "json_schema"))
        if i + 1 >= len(order):
            return False
        self._modes[url] = order[i + 1]
        return True

    async def _call(self, client: openai.AsyncOpenAI, request: LLMRequest) -> LLMResponse:
        local_only = not ALLOW_REMOTE_REQUESTS or os.environ.get("SOFTCO_LOCAL_ONLY") == "1"
        if local_only and not is_local(str(client.base_url)):
            raise LLMError(f"a model request to {client.base_url} was refused: SOFTCO_LOCAL_ONLY allows 127.0.0.1 only")
        mode = self._modes.get(str(client.base_url), "json_schema")
        messages = list(request.messages)
        kwargs: dict[str, Any] = {}
        schema = request.json_schema
        if schema is not None:
            name = request.schema_name or "answer"
            if mode == "json_schema":
                kwargs["response_format"] = {
                    "type": "json_schema",
                    # strict (the endpoint keeps to the schema) when the schema fits strict mode, as
                    # softco's answer schemas do (softco/schemas.py)
                    "json_schema": {"name": name, "schema": schema, "strict": strict_compatible(schema)},
                }
            else:
                if mode == "json_object":
                    kwargs["response_format"] = {"type": "json_object"}
                messages.append(ChatMessage(role="user", content=schema_instructions(name, schema)))
        s = request.settings
        if s.temperature is not None:
            kwargs["temperature"] = s.temperature
        if s.max_tokens is not None:  # OpenAI's reasoning models refuse max_tokens and take max_completion_tokens
            reasoning = (s.model or self.model).startswith(("o1", "o3", "o4", "gpt-5"))
            kwargs["max_completion_tokens" if reasoning else "max_tokens"] = s.max_tokens
        model = s.model or self.model
        async with asyncio.timeout(self.timeouts.total):  # cancels the request (and closes its connection)
            resp = await client.chat.completions.create(
                model=model,
                messages=[m.model_dump() for m in messages],  # type: ignore[misc]
                # percent-encoded: a subject (a generated file path) may hold non-ASCII or newlines,
                # which HTTP headers cannot carry
                extra_headers={STEP_HEADER: quote(request.step_key, safe="/")},
                **kwargs,
            )
        if not resp.choices:
            empty = reported_usage(resp.usage) or Usage()
            return LLMResponse(content="", model=model, finish_reason="empty", usage=empty)
        choice = resp.choices[0]
        content = choice.message.content or ""
        usage = reported_usage(resp.usage)
        if usage is None:  # the endpoint did not say: estimate, and say so
            prompt = sum(estimate_tokens(m.content) for m in messages)
            usage = Usage(prompt_tokens=prompt, completion_tokens=estimate_tokens(content), source="estimated")
        return LLMResponse(
            content=content,
            usage=usage,
            model=resp.model or model,
            finish_reason=choice.finish_reason or "stop",
        )

    async def aclose(self) -> None:
        for client in [self.client, *self._clients.values()]:
            await client.close()


#: The most tokens one call's usage may claim; an endpoint's figure is clamped to 0..this.
MAX_REPORTED_TOKENS = 10_000_000


def reported_usage(usage: Any) -> Usage | None:
    """The usage an endpoint reported, as "measured" and bounded; None when it reported none."""
    if usage is None:
        return None

    def tokens(value: Any) -> int:
        return min(max(value, 0), MAX_REPORTED_TOKENS) if isinstance(value, int) else 0

    prompt, completion = getattr(usage, "prompt_tokens", None), getattr(usage, "completion_tokens", None)
    if not isinstance(prompt, int) and not isinstance(completion, int):
        return None
    return Usage(prompt_tokens=tokens(prompt), completion_tokens=tokens(completion), source="measured")
