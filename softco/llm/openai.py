"""Any OpenAI-compatible chat endpoint, through the official ``openai`` client.

Structured steps ask for ``response_format={"type": "json_schema", ...}``. An endpoint that
rejects that (HTTP 400 or 422, or a 5xx whose body names ``response_format`` / ``json_schema``, as
llama-cpp-python's server answers) gets JSON mode with the schema in the prompt, and one that
rejects JSON mode too gets the schema in the prompt alone: one fallback each, never a retry loop.
What works is remembered per base URL (:class:`EndpointModes`, a JSON file in the output's
``.softco/`` directory when the run gives one) so the next run does not probe again;
``--structured schema|json|prompt``, ``SOFTCO_STRUCTURED`` or a role's ``model.structured`` forces
a mode. The schema sent is :func:`~softco.llm.structured.grammar_safe_schema` (no huge bounds that
grammar compilers unroll).
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
import functools
import ipaddress
import json
import os
import ssl
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlparse

from softco import config
from softco.llm import prices
from softco.llm.base import (
    LLM,
    STRUCTURED_MODES,
    ChatMessage,
    LLMError,
    LLMRequest,
    LLMResponse,
    ModelSettings,
    StructuredMode,
    TransientLLMError,
    Usage,
)
from softco.llm.strict import strict_compatible
from softco.llm.structured import bound_text, grammar_safe_schema
from softco.llm.tokens import count_all, count_tokens
from softco.text_file import read_text

if TYPE_CHECKING:  # the openai package takes ~0.3 s to import: only runs that call a model pay it
    import openai

DEFAULT_MODEL = config.DEFAULT_MODEL
LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1", "0.0.0.0"}
STEP_HEADER = "X-Softco-Step"

#: Tests set this to False (tests/conftest.py) so that no request can leave 127.0.0.1 by accident;
#: SOFTCO_LOCAL_ONLY=1 does the same for the softco processes the tests start.
ALLOW_REMOTE_REQUESTS = True


class EndpointNotConfigured(LLMError):
    pass


class TimeoutSettingError(EndpointNotConfigured):
    """A SOFTCO_*TIMEOUT variable is not a usable number of seconds."""


class StructuredSettingError(EndpointNotConfigured):
    """SOFTCO_STRUCTURED (or --structured) is not one of the modes."""


#: The structured-output modes as the wire has them, from the richest to none: the negotiation order.
WIRE_MODES = ("json_schema", "json_object", "prompt")
#: ``--structured`` / ``SOFTCO_STRUCTURED`` / a role's ``model.structured`` -> the wire mode.
WIRE_MODE: dict[str, str] = {"schema": "json_schema", "json": "json_object", "prompt": "prompt"}
SETTING_OF: dict[str, str] = {v: k for k, v in WIRE_MODE.items()}
#: How many calls softco makes at once to a server on this machine or the local network (unless
#: --concurrency says): such servers mostly answer one request at a time and queue the rest, so more
#: only pushes the queue towards the timeout.
LOCAL_CONCURRENCY = 2
#: The most bytes of the endpoints file softco reads; a larger one is ignored (and rewritten).
MAX_STATE_BYTES = 1_000_000


#: The whole call, connecting, sending and reading the answer (SOFTCO_TIMEOUT).
DEFAULT_TIMEOUT = config.DEFAULT_TIMEOUT
#: Connecting to the endpoint (SOFTCO_CONNECT_TIMEOUT).
DEFAULT_CONNECT_TIMEOUT = config.DEFAULT_CONNECT_TIMEOUT
#: The longest a timeout may be: a day.
MAX_TIMEOUT = config.MAX_TIMEOUT


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


def _settings(env: Mapping[str, str] | None) -> config.Config:
    """The settings in use, or those ``env`` alone gives (no file): validated, see :mod:`softco.config`."""
    return config.current() if env is None else config.load(env=env, use_file=False)


def call_timeouts(env: Mapping[str, str] | None = None) -> CallTimeouts:
    """The timeouts the settings ask for (default: those in use); connect and read never exceed the total."""
    try:
        settings = _settings(env)
    except config.ConfigError as exc:
        raise TimeoutSettingError(str(exc)) from None
    total = settings.timeout
    read = settings.read_timeout or total
    return CallTimeouts(total=total, connect=min(settings.connect_timeout, total), read=min(read, total))


def is_local(url: str) -> bool:
    return (urlparse(url).hostname or "") in LOCAL_HOSTS


def serves_locally(url: str) -> bool:
    """A server on this machine (loopback, ``localhost``) or named on the local network (``*.local``): one
    that likely answers one request at a time (see :data:`LOCAL_CONCURRENCY`)."""
    try:
        host = (urlparse(url).hostname or "").lower()
    except ValueError:
        return False
    if host in LOCAL_HOSTS or host.endswith(".local"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def structured_setting(value: str | None) -> StructuredMode | None:
    """A --structured / SOFTCO_STRUCTURED value, checked (None or "" means: negotiate)."""
    if not value:
        return None
    mode = value.strip().lower()
    if mode not in STRUCTURED_MODES:
        raise StructuredSettingError(
            f"structured output {bound_text(value, 40)!r} is not one of {', '.join(STRUCTURED_MODES)}: schema "
            "(response_format json_schema), json (JSON mode, schema in the prompt) or prompt (schema in the prompt)"
        )
    return mode  # type: ignore[return-value]  # checked against STRUCTURED_MODES above


def structured_from_env(env: Mapping[str, str] | None = None) -> StructuredMode | None:
    """``SOFTCO_STRUCTURED`` (or softco.toml's ``structured``), checked."""
    try:
        return _settings(env).structured
    except config.ConfigError as exc:
        raise StructuredSettingError(str(exc)) from None


class EndpointModes:
    """The structured-output mode that works, per base URL, remembered in a small JSON file (``path``; None
    keeps it for this process only) so the next run does not pay the probe::

        {"version": 1, "endpoints": {"http://127.0.0.1:8080/v1/": {"structured": "json_object", "at": 1.7e9}}}

    The file is softco's own state, but it is read as untrusted: unknown modes, wrong shapes or a file over
    :data:`MAX_STATE_BYTES` are ignored. Writing is best effort (a read-only directory only costs a probe).
    """

    def __init__(self, path: Path | None = None) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._modes: dict[str, str] = self._load() if path is not None else {}

    def _load(self) -> dict[str, str]:
        assert self.path is not None
        try:  # a FIFO (which would wait for a writer forever), a directory or a device is not read
            data = json.loads(read_text(self.path, MAX_STATE_BYTES, "it is softco's own state", regular_only=True))
        except (OSError, ValueError, RecursionError):  # RecursionError: JSON nested thousands deep
            return {}
        endpoints = data.get("endpoints") if isinstance(data, dict) else None
        if not isinstance(endpoints, dict):
            return {}
        return {
            str(url): entry["structured"]
            for url, entry in endpoints.items()
            if isinstance(entry, dict) and entry.get("structured") in WIRE_MODES
        }

    def get(self, url: str) -> str | None:
        return self._modes.get(url)

    def set(self, url: str, mode: str) -> None:
        with self._lock:
            self._modes[url] = mode
            if self.path is None:
                return
            now = time.time()
            data = {"version": 1, "endpoints": {u: {"structured": m, "at": now} for u, m in self._modes.items()}}
            tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                tmp.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
                os.replace(tmp, self.path)
            except OSError:
                tmp.unlink(missing_ok=True)


def make_client(base_url: str | None, api_key: str | None, timeouts: CallTimeouts | None = None) -> openai.AsyncOpenAI:
    """Build the client from arguments, falling back to the openai client's own env variables.

    Its HTTP timeouts are the connect and read parts of ``timeouts`` (default: from the
    environment); the whole-call bound is :class:`OpenAILLM`'s.
    """
    return client_maker(base_url, api_key, timeouts)()


def client_maker(
    base_url: str | None, api_key: str | None, timeouts: CallTimeouts | None = None
) -> Callable[[], openai.AsyncOpenAI]:
    """:func:`make_client` in two: what it checks is checked now (an endpoint is configured, the timeouts are
    valid), and the client, with the openai import it waits for, is made when the returned function is
    called: a run gets its project ready while the import finishes (softco.company.startup)."""
    base_url = base_url or config.current().base_url
    api_key = api_key or config.api_key()
    if not api_key:
        if base_url and is_local(base_url):
            api_key = "not-needed"
        else:
            raise EndpointNotConfigured(
                "no LLM endpoint configured: set OPENAI_API_KEY (and OPENAI_BASE_URL for another "
                "provider), or pass --base-url http://127.0.0.1:PORT/v1 for a local server; "
                "`softco demo` runs offline"
            )
    return functools.partial(_build_client, base_url, api_key, timeouts or call_timeouts())


def _build_client(base_url: str | None, api_key: str, t: CallTimeouts) -> openai.AsyncOpenAI:
    import openai

    timeout = openai.Timeout(connect=t.connect, read=t.read, write=t.read, pool=t.total)
    # the HTTP client openai would make (its defaults), which starts loading the prices once a request is sent
    hooks: dict[str, list[Callable[[Any], Any]]] = {"request": [_price_once_sent]}
    if base_url is not None and urlparse(base_url).scheme == "http":
        # plain HTTP (a local server) needs no certificates: loading them takes ~25 ms before the first call.
        # A redirect to HTTPS meets a context that trusts no one and fails, as it should, rather than go on.
        http = openai.DefaultAsyncHttpxClient(event_hooks=hooks, verify=ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT))
    else:
        http = openai.DefaultAsyncHttpxClient(event_hooks=hooks, verify=ssl_context())
    return openai.AsyncOpenAI(base_url=base_url, api_key=api_key, max_retries=0, timeout=timeout, http_client=http)


def ssl_context() -> Any:
    """The verifying SSL context openai's HTTP library makes by default, made once a process for the
    ``SSL_CERT_FILE`` / ``SSL_CERT_DIR`` it honours (loading the CA bundle costs ~25 ms of CPU: once a run
    otherwise); ``True`` (the library makes its own) where that library has no ``create_ssl_context``."""
    return _ssl_context(os.environ.get("SSL_CERT_FILE"), os.environ.get("SSL_CERT_DIR"))


@functools.lru_cache(maxsize=4)
def _ssl_context(cert_file: str | None, cert_dir: str | None) -> Any:
    import openai._base_client as base

    lib = getattr(base, "httpx2", None) or getattr(base, "httpx", None)
    make = getattr(lib, "create_ssl_context", None)
    return make() if callable(make) else True


async def _price_once_sent(request: Any) -> None:
    """The HTTP client's request hook: trace the request (httpcore's ``trace`` extension) to learn when it is
    sent. A call's usage is priced when its answer comes, so genai-prices' data (~0.2 s of imports) loads in a
    thread from then on (:func:`softco.llm.prices.warm_up`, once a process): while the answer is awaited, not
    while the request is being made."""
    request.extensions["trace"] = _on_http_event


async def _on_http_event(event: str, info: Any) -> None:
    if event == "http11.send_request_body.complete":
        prices.warm_up()  # and whatever else the run asked to have ready before the next step (softco.warmup)


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
        url = config.env_named(settings.base_url_env)
        if url is None:
            raise EndpointNotConfigured(
                f"a role file says base_url_env: {settings.base_url_env}, but {settings.base_url_env} is not set; "
                f"export {settings.base_url_env}=https://HOST/v1, or remove base_url_env from the role's model"
            )
        if urlparse(url.strip()).scheme not in ("http", "https"):
            # the role file may come from anyone: its variable's value is not repeated (it may be a secret)
            raise EndpointNotConfigured(
                f"a role file says base_url_env: {settings.base_url_env}, but {settings.base_url_env} does not hold "
                "an http(s):// URL; set it to the endpoint's URL, or remove base_url_env from the role's model"
            )
    key = None
    if settings.api_key_env:
        key = config.env_named(settings.api_key_env)
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
            client_maker(*endpoint)


def rejects_response_format(status: int, body: str) -> bool:
    """Whether an error answer refuses the request's ``response_format``: a 400 or 422 that names it (or the
    schema), or a 5xx whose body names ``response_format`` / ``json_schema`` / ``json_object`` (llama-cpp-python
    answers 500 to a type it does not take)."""
    text = body.lower()
    if status in (400, 422):
        return any(w in text for w in ("response_format", "json_schema", "json_object", "schema"))
    if status >= 500:
        return any(w in text for w in ("response_format", "json_schema", "json_object"))
    return False


def hide_key(text: str, client: openai.AsyncOpenAI) -> str:
    """``text`` with the client's API key shown as ``***``: an endpoint's error may quote the key it refused,
    and its message reaches the terminal and the board."""
    key = client.api_key
    return text.replace(key, "***") if key and len(key) >= 8 else text


def _error_text(exc: Any) -> str:
    """What an error answer said, for matching: its message and its body."""
    body = getattr(exc, "body", None)
    try:
        dumped = json.dumps(body)[:20_000] if body is not None else ""
    except (TypeError, ValueError):
        dumped = ""
    return f"{getattr(exc, 'message', '')} {dumped}"


def not_found_hint(base_url: str) -> str:
    """What to try after a 404: a base URL whose path does not end in /v1 most likely misses it."""
    base = base_url.rstrip("/")
    if not urlparse(base).path.endswith("/v1"):
        return f"did you mean --base-url {base}/v1? OpenAI-compatible servers serve /v1/chat/completions"
    return "check --base-url and the model name"


def schema_instructions(name: str, schema: dict[str, Any]) -> str:
    return (
        f"Answer with one JSON object (no prose, no code fences) for `{name}` that follows this "
        f"JSON schema:\n{json.dumps(schema, indent=1)}"
    )


class OpenAILLM(LLM):
    """An OpenAI-compatible endpoint. Pass ``client`` to point it anywhere (tests do), or a function that makes
    it (:func:`client_maker`), called when the client is first needed: a call, or the step cache's key."""

    def __init__(
        self,
        client: openai.AsyncOpenAI | Callable[[], openai.AsyncOpenAI],
        model: str = DEFAULT_MODEL,
        timeouts: CallTimeouts | None = None,
        structured: StructuredMode | None = None,
        modes: EndpointModes | None = None,
        on_notice: Callable[[str], None] | None = None,
    ) -> None:
        # an AsyncOpenAI is not callable: a callable is the function that makes one
        self._client: openai.AsyncOpenAI | None = None if callable(client) else client
        self._make_client = client if callable(client) else None
        self.model = model
        self.timeouts = timeouts or call_timeouts()
        #: one client per endpoint a role's settings route to: (base URL, key variable) -> client
        self._clients: dict[tuple[str | None, str | None], openai.AsyncOpenAI] = {}
        #: the structured-output mode every request uses (--structured / SOFTCO_STRUCTURED); None: negotiate
        self.structured = structured
        #: base URL -> the wire mode that works: "json_schema", "json_object" or "prompt" (WIRE_MODES)
        self.modes = modes or EndpointModes()
        #: told (one line) when an endpoint's structured-output mode changes
        self.on_notice = on_notice

    @property
    def client(self) -> openai.AsyncOpenAI:
        """The default endpoint's client, made the first time it is asked for."""
        if self._client is None:
            assert self._make_client is not None
            self._client = self._make_client()
        return self._client

    def cache_id_for(self, step_key: str) -> str | None:
        if self.cache_id is None:
            self.cache_id = f"openai|{config.redact_url(str(self.client.base_url))}|{self.model}"
        return self.cache_id

    def caches(self) -> bool:
        return True  # a model's answers, whichever endpoint gives them

    def remember_modes_in(self, path: Path) -> None:
        """Keep the structured-output modes that work in ``path`` (read now, written when one changes)."""
        self.modes = EndpointModes(path)

    def mode_for(self, client: openai.AsyncOpenAI, request: LLMRequest) -> tuple[str, bool]:
        """The wire mode for ``request`` and whether it is forced (by the role's settings, else by
        --structured / SOFTCO_STRUCTURED); otherwise what the endpoint is known to take."""
        forced = request.settings.structured or self.structured
        if forced is not None:
            return WIRE_MODE[forced], True
        return self.modes.get(config.redact_url(str(client.base_url))) or WIRE_MODES[0], False

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
        mode, forced = self.mode_for(client, request)
        while True:
            try:
                return await self._call(client, request, mode)
            except TimeoutError:  # the whole-call bound: the request was cancelled, its connection closed
                total = self.timeouts.total
                raise TransientLLMError(
                    f"step {request.step_key}: the endpoint did not answer within {total:g} s (SOFTCO_TIMEOUT)",
                    reason=f"no answer within {total:g} s",
                    usage=self._abandoned(request, mode, client),
                ) from None
            except openai.APITimeoutError as exc:
                t = self.timeouts
                connecting = type(exc.__cause__).__name__ == "ConnectTimeout"  # httpx's, never sent
                raise TransientLLMError(
                    f"step {request.step_key}: the endpoint timed out (no connection within {t.connect:g} s or no "
                    f"byte within {t.read:g} s: SOFTCO_CONNECT_TIMEOUT / SOFTCO_READ_TIMEOUT)",
                    reason="timed out",
                    usage=None if connecting else self._abandoned(request, mode, client),
                ) from None
            except openai.APIConnectionError as exc:
                why = bound_text(hide_key(str(exc), client), 200)
                raise TransientLLMError(
                    f"step {request.step_key}: cannot reach the endpoint ({why}); check --base-url / OPENAI_BASE_URL",
                    reason="connection failed",
                ) from None
            except openai.APIStatusError as exc:
                status = exc.status_code
                said = hide_key(exc.message, client)  # a proxy may quote the key it refused
                if mode != "prompt" and request.json_schema is not None:
                    if rejects_response_format(status, _error_text(exc)):
                        if forced:
                            raise LLMError(self._refused_forced(request, mode, status, said)) from None
                        mode = self._downgrade(client, mode, status)
                        continue
                message = f"step {request.step_key}: the endpoint answered HTTP {status}: {bound_text(said)}"
                if status == 404:
                    message += f"; {not_found_hint(config.redact_url(str(client.base_url)))}"
                should_retry = exc.response.headers.get("x-should-retry", "")
                if should_retry != "false" and (status in (408, 409, 429) or status >= 500):
                    wait = retry_after(exc.response.headers)
                    raise TransientLLMError(message, wait, reason=f"HTTP {status}") from None
                if status in (400, 422):
                    message = f"step {request.step_key}: the endpoint refused the request: {bound_text(said)}"
                raise LLMError(message) from None

    def _refused_forced(self, request: LLMRequest, mode: str, status: int, said: str) -> str:
        """One line for a forced structured-output mode the endpoint refuses: who forced it, what to try."""
        setting = SETTING_OF[mode]
        who = f"the role's model.structured: {setting}" if request.settings.structured else f"--structured {setting}"
        others = " or ".join(f"--structured {SETTING_OF[m]}" for m in WIRE_MODES[WIRE_MODES.index(mode) + 1 :])
        return (
            f"step {request.step_key}: the endpoint refused response_format {mode} (HTTP {status}), which {who} "
            f"asks for: {bound_text(said)}; use {others} instead"
        )

    def _abandoned(self, request: LLMRequest, mode: str, client: openai.AsyncOpenAI) -> Usage:
        """What a call cut off while the endpoint worked on it may have used: its prompt (as sent) and the
        longest answer it allowed (its max_tokens), an estimate (the prompt counted with tiktoken when the
        model's encoding is installed, see :mod:`softco.llm.tokens`)."""
        model = request.settings.model or self.model
        prompt = count_all([m.content for m in self._messages(request, mode)], model, str(client.base_url)).tokens
        return Usage(prompt_tokens=prompt, completion_tokens=request.settings.max_tokens or 0, source="estimated")

    def _downgrade(self, client: openai.AsyncOpenAI, refused: str, status: int) -> str:
        """The next structured-output mode after ``refused`` for this endpoint, remembered (and told). Calls
        that were refused at once move the endpoint on once: a mode already past ``refused`` stays."""
        url = config.redact_url(str(client.base_url))
        following = WIRE_MODES[WIRE_MODES.index(refused) + 1]
        current = self.modes.get(url) or WIRE_MODES[0]
        if WIRE_MODES.index(current) >= WIRE_MODES.index(following):
            return current
        self.modes.set(url, following)
        if self.on_notice is not None:
            how = "the schema in the prompt"
            if following == "json_object":
                how = "JSON mode with " + how
            where = f" (remembered in {self.modes.path})" if self.modes.path is not None else ""
            self.on_notice(
                f"the endpoint {url} refused response_format {refused} (HTTP {status}): using {how} from now on"
                f"{where}; --structured {SETTING_OF[following]} skips the probe"
            )
        return following

    def _messages(self, request: LLMRequest, mode: str) -> list[ChatMessage]:
        """The messages sent: the request's, plus the schema in words unless ``response_format`` carries it."""
        messages = list(request.messages)
        if request.json_schema is not None and mode != "json_schema":
            words = schema_instructions(request.schema_name or "answer", grammar_safe_schema(request.json_schema))
            messages.append(ChatMessage(role="user", content=words))
        return messages

    async def _call(self, client: openai.AsyncOpenAI, request: LLMRequest, mode: str) -> LLMResponse:
        local_only = not ALLOW_REMOTE_REQUESTS or config.current().local_only
        if local_only and not is_local(str(client.base_url)):
            url = config.redact_url(str(client.base_url))
            raise LLMError(f"a model request to {url} was refused: SOFTCO_LOCAL_ONLY allows 127.0.0.1 only")
        messages = self._messages(request, mode)
        kwargs: dict[str, Any] = {}
        schema = request.json_schema
        if schema is not None:
            name = request.schema_name or "answer"
            if mode == "json_schema":
                kwargs["response_format"] = {
                    "type": "json_schema",
                    # strict (the endpoint keeps to the schema) when the schema fits strict mode, as
                    # softco's answer schemas do (softco/schemas.py); never a bound grammar compilers unroll
                    "json_schema": {
                        "name": name,
                        "schema": grammar_safe_schema(schema),
                        "strict": strict_compatible(schema),
                    },
                }
            elif mode == "json_object":
                kwargs["response_format"] = {"type": "json_object"}
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
        if usage is None:  # the endpoint did not say: count (tiktoken when it can) or estimate, and say so:
            # even an exact count of the text misses the chat framing and any hidden reasoning tokens
            url = str(client.base_url)
            prompt = count_all([m.content for m in messages], model, url).tokens
            completion = count_tokens(content, model, url).tokens
            usage = Usage(prompt_tokens=prompt, completion_tokens=completion, source="estimated")
        return LLMResponse(
            content=content,
            usage=usage,
            model=resp.model or model,
            finish_reason=choice.finish_reason or "stop",
        )

    async def aclose(self) -> None:
        for client in [*([self._client] if self._client is not None else []), *self._clients.values()]:
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
