"""FakeOpenAIServer: a real HTTP server that speaks OpenAI's chat completions API, for tests and benchmarks.

It drives the real ``openai`` client (and so softco's :class:`~softco.llm.openai.OpenAILLM`) over
a real socket: retries, headers, JSON-mode fallbacks and usage parsing are all exercised::

    with FakeOpenAIServer(answer={
        "product_manager/write_prd/project": ["not json", prd_dict],   # bad first, then good
        "architect/write_design/project": FakeReply.rate_limited(),    # 429, Retry-After: 0
    }) as srv:
        client = make_client(base_url=srv.base_url, api_key=None)     # a local URL needs no key
        ... run softco against it ...
    srv.requests        # every request, in arrival order (method, path, headers, body, step, times)
    srv.errors          # problems the server met (script exhausted, bad request body, ...)
    srv.assert_complete()

``answer`` is, like :class:`~softco.llm.testing.ScriptedLLM`'s answers (the same :class:`~softco.llm.testing.Script`
serves both), either

- a callable ``(FakeRequest) -> answer``, called for every request, or
- a mapping from step key (the ``X-Softco-Step`` header softco sends) to an answer or a list of
  answers served in order for that step, or
- a list of answers served in order, whatever the step.

An answer is a string (sent as is), a dict, list or pydantic model (sent as JSON), or a
:class:`FakeReply` for anything else: an HTTP error status with headers and an OpenAI-style error
body, a ``finish_reason`` such as ``"length"``, a delay, no ``usage`` in the body, or a slow
endpoint: one that trickles its reply a byte at a time, or accepts the request and stays silent
(:attr:`FakeOpenAIServer.hangups` then lists the requests whose client hung up on it). A request
no answer is left for gets HTTP 500 (with ``x-should-retry: false``, so the client fails at once)
and a line in ``errors``.

Only ``POST /v1/chat/completions`` without streaming is served; other paths get a 404 JSON error.
"""

from __future__ import annotations

import io
import itertools
import json
import select
import socket
import struct
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import unquote, urlsplit

from pydantic import BaseModel, ConfigDict, Field

from softco.llm.openai import STEP_HEADER
from softco.llm.testing import Script, to_text
from softco.llm.tokens import estimate_tokens

__all__ = ["Answer", "FakeOpenAIServer", "FakeReply", "FakeRequest", "ScriptAnswer"]

CHAT_PATH = "/v1/chat/completions"

_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    429: "rate_limit_error",
}


class FakeRequest(BaseModel):
    """One HTTP request the server received, as recorded in :attr:`FakeOpenAIServer.requests`."""

    model_config = ConfigDict(extra="forbid")
    method: str
    path: str = Field(description="the request path without the query string")
    headers: dict[str, str] = Field(description="request headers, names lower-cased")
    body: Any = Field(default=None, description="the parsed JSON body (None when there was none)")
    step: str | None = Field(default=None, description="the X-Softco-Step header, percent-decoded")
    received_at: float = Field(description="time.monotonic() when the request was read")
    finished_at: float | None = Field(default=None, description="time.monotonic() just before the reply was written")
    sent_at: float | None = Field(
        default=None, description="time.monotonic() once the whole reply was written (the end of the server's part)"
    )
    hung_up_at: float | None = Field(
        default=None, description="time.monotonic() when the client hung up on a trickled or silent reply"
    )

    @property
    def messages(self) -> list[dict[str, Any]]:
        """The chat messages of the request body (empty if there are none)."""
        if isinstance(self.body, dict) and isinstance(self.body.get("messages"), list):
            return [m for m in self.body["messages"] if isinstance(m, dict)]
        return []

    @property
    def response_format(self) -> dict[str, Any] | None:
        """The request's ``response_format``, if any."""
        if isinstance(self.body, dict) and isinstance(self.body.get("response_format"), dict):
            return self.body["response_format"]
        return None

    @property
    def last_user_message(self) -> str:
        """The text of the last ``user`` message ("" if there is none)."""
        for m in reversed(self.messages):
            if m.get("role") == "user":
                return _content_text(m.get("content"))
        return ""


RESET = 0  # the internal "status" of a reply that drops the connection
SILENT = -1  # the internal "status" of a reply that never comes


class FakeReply(BaseModel):
    """A scripted reply that needs more than a body: an HTTP error, a finish reason, a delay.

    With ``status`` below 400 the server sends a chat completion whose message is ``content``;
    from 400 up it sends OpenAI's error shape ``{"error": {"message", "type", "param", "code"}}``.
    """

    model_config = ConfigDict(extra="forbid")
    content: str | dict[str, Any] | list[Any] | None = Field(
        default=None, description="the assistant message; dicts and lists are sent as JSON"
    )
    status: int = Field(default=200, ge=100, le=599)
    headers: dict[str, str] = Field(default_factory=dict, description="extra response headers")
    finish_reason: str = "stop"
    delay: float = Field(default=0.0, ge=0, description="seconds to wait before replying")
    reset: bool = Field(default=False, description="drop the connection without any reply (a connection reset)")
    error: str | None = Field(default=None, description="error message (status >= 400)")
    error_type: str | None = Field(default=None, description="error type; derived from the status if unset")
    error_code: str | None = None
    error_param: str | None = None
    prompt_tokens: int | None = Field(default=None, ge=0, description="override the estimated usage")
    completion_tokens: int | None = Field(default=None, ge=0, description="override the estimated usage")
    no_usage: bool = Field(default=False, description="send no `usage` in the body, as some endpoints do")
    model: str | None = Field(default=None, description="the model the reply says answered (default: the one asked)")
    trickle: float = Field(
        default=0.0, ge=0, description="send the reply (status line, headers, body) one byte every this many seconds"
    )
    silent: bool = Field(default=False, description="read the request, then send nothing until the client hangs up")

    @classmethod
    def rate_limited(cls, retry_after: float = 0, message: str = "Rate limit reached (fake)") -> FakeReply:
        """A 429 with ``Retry-After``, as OpenAI sends it."""
        return cls(
            status=429,
            headers={"Retry-After": _num(retry_after)},
            error=message,
            error_type="requests",
            error_code="rate_limit_exceeded",
        )

    @classmethod
    def server_error(cls, status: int = 500, retry_after: float | None = 0, message: str = "") -> FakeReply:
        """A 5xx; ``retry_after`` (seconds, or None for no header) sets ``Retry-After``."""
        headers = {} if retry_after is None else {"Retry-After": _num(retry_after)}
        return cls(status=status, headers=headers, error=message or f"The server had an error (fake HTTP {status})")

    def error_body(self) -> dict[str, Any]:
        """The OpenAI-style error body sent for this reply."""
        return _error_body(
            self.error or f"fake error (HTTP {self.status})",
            self.error_type or _ERROR_TYPES.get(self.status, "server_error" if self.status >= 500 else "api_error"),
            code=self.error_code,
            param=self.error_param,
        )


#: What a script may answer: text, JSON-able data, a pydantic model or a :class:`FakeReply`.
Answer = str | dict[str, Any] | list[Any] | BaseModel | FakeReply
#: A script entry: an answer, or a callable computing one from the request.
ScriptAnswer = Answer | Callable[[FakeRequest], Answer]


class FakeOpenAIServer:
    """A local OpenAI-compatible chat completions server on 127.0.0.1 and a free port.

    Args:
        answer: a callable ``(FakeRequest) -> answer``, a mapping from step key to an answer or a
            list of answers, or a list of answers served in order (see the module docstring).
        model: the model name reported when the request names none.
        reject_json_schema: answer 400 to any request with ``response_format`` type
            ``json_schema``, as endpoints without structured outputs do.
        reject_json_object: likewise for ``response_format`` type ``json_object`` (JSON mode).
        rejection_status: the HTTP status of those rejections: 400 as OpenAI-style endpoints answer, 422 as
            some validating servers do, or 500 as llama-cpp-python's server does (its error handler turns
            the request's validation error into a 500, with ``response_format`` named in the message).
        latency: seconds to wait before every reply.
        per_token_latency: extra seconds per completion token (about ``len(text) // 4`` tokens).

    Attributes:
        requests: every request received, in arrival order (read under :attr:`lock` if the
            server is still busy).
        errors: problems met while answering (script exhausted, an answer callable raised, an
            unreadable body); a test should usually end with ``assert not srv.errors``.
        base_url: ``http://127.0.0.1:PORT/v1``, once started.
    """

    def __init__(
        self,
        answer: Callable[[FakeRequest], Answer]
        | Mapping[str, ScriptAnswer | Sequence[ScriptAnswer]]
        | Sequence[ScriptAnswer] = (),
        *,
        model: str = "fake-model",
        reject_json_schema: bool = False,
        reject_json_object: bool = False,
        rejection_status: int = 400,
        latency: float = 0.0,
        per_token_latency: float = 0.0,
    ) -> None:
        self.model = model
        self.reject_json_schema = reject_json_schema
        self.reject_json_object = reject_json_object
        self.rejection_status = rejection_status
        self.latency = latency
        self.per_token_latency = per_token_latency
        self.requests: list[FakeRequest] = []
        self.errors: list[str] = []
        #: the step of each request whose client hung up before its (trickled or silent) reply was done
        self.hangups: list[str | None] = []
        self.lock = threading.Lock()
        self._func: Callable[[FakeRequest], Answer] | None = None
        self._script = Script(())
        if callable(answer) and not isinstance(answer, BaseModel | Mapping):
            self._func = answer
        elif isinstance(answer, str):
            raise TypeError("answer must be a callable, a mapping or a list of answers, not a str")
        else:
            self._script = Script(answer)  # ScriptedLLM's queue: the same answers, served the same way
        self._ids = itertools.count(1)
        self._stop = threading.Event()
        self._httpd: _Server | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> FakeOpenAIServer:
        """Bind a free port on 127.0.0.1 and serve in a daemon thread."""
        if self._httpd is not None:
            raise RuntimeError("FakeOpenAIServer is already started")
        self._stop.clear()
        httpd = _Server(("127.0.0.1", 0), _Handler)
        httpd.fake = self
        self._httpd = httpd
        self._thread = threading.Thread(
            target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, name="FakeOpenAIServer", daemon=True
        )
        self._thread.start()
        return self

    def close(self) -> None:
        """Stop serving, wake delayed replies, wait for handler threads and close the socket."""
        httpd, thread = self._httpd, self._thread
        if httpd is None:
            return
        self._stop.set()
        httpd.shutdown()
        httpd.server_close()  # joins the handler threads (they are not daemonic)
        if thread is not None:
            thread.join()
        self._httpd = self._thread = None

    def __enter__(self) -> FakeOpenAIServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    @property
    def port(self) -> int:
        """The port the server listens on."""
        if self._httpd is None:
            raise RuntimeError("FakeOpenAIServer is not started: use `with FakeOpenAIServer(...) as srv`")
        return int(self._httpd.server_address[1])

    @property
    def base_url(self) -> str:
        """The base URL to give the openai client: ``http://127.0.0.1:PORT/v1``."""
        return f"http://127.0.0.1:{self.port}/v1"

    # -- inspection --------------------------------------------------------------------------

    def chat_requests(self, step: str | None = None) -> list[FakeRequest]:
        """The chat completion requests received, optionally only those of one step."""
        with self.lock:
            reqs = [r for r in self.requests if r.path == CHAT_PATH]
        return [r for r in reqs if step is None or r.step == step]

    def remaining(self) -> list[str]:
        """Scripted answers not yet served, described."""
        return self._script.remaining()

    def assert_complete(self) -> None:
        """Fail if a scripted answer was never asked for or the server met a problem."""
        left = self.remaining()
        if left or self.errors:
            raise AssertionError(f"FakeOpenAIServer: answers never used: {left}; errors: {self.errors}")

    # -- answering (called from handler threads) ---------------------------------------------

    def _record(self, req: FakeRequest) -> None:
        with self.lock:
            self.requests.append(req)

    def _problem(self, message: str) -> None:
        with self.lock:
            self.errors.append(message)

    def _hangup(self, req: FakeRequest) -> None:
        with self.lock:
            req.hung_up_at = time.monotonic()
            self.hangups.append(req.step)

    def _next_answer(self, req: FakeRequest) -> Answer:
        if self._func is not None:
            return self._func(req)
        entry = self._script.next(req.step or "")
        if callable(entry) and not isinstance(entry, BaseModel):
            return entry(req)
        return entry

    def _wait(self, seconds: float) -> None:
        if seconds > 0:
            self._stop.wait(seconds)

    def _rejection(self, req: FakeRequest) -> tuple[int, dict[str, Any]] | None:
        fmt = (req.response_format or {}).get("type")
        rejected = {"json_schema": self.reject_json_schema, "json_object": self.reject_json_object}
        if not rejected.get(str(fmt), False):
            return None
        status = self.rejection_status
        if status >= 500:  # llama-cpp-python: a validation error of the request body, as a server error
            message = (
                "1 validation error for CreateChatCompletionRequest\nresponse_format.type\n  Input should be 'text' "
                f"or 'json_object' [type=literal_error, input_value='{fmt}', input_type=str]"
            )
            return status, _error_body(message, "internal_server_error")
        message = f"Invalid parameter: 'response_format' of type '{fmt}' is not supported with this model."
        return status, _error_body(message, "invalid_request_error", param="response_format")

    def _reply(self, req: FakeRequest) -> tuple[int, dict[str, str], dict[str, Any], float]:
        """Status, extra headers, JSON body and trickle interval for one chat completion request."""
        if not isinstance(req.body, dict) or not isinstance(req.body.get("messages"), list):
            msg = "request body must be a JSON object with a `messages` list"
            self._problem(f"{req.method} {req.path}: {msg}")
            return 400, {}, _error_body(msg, "invalid_request_error", param="messages"), 0.0
        if req.body.get("stream"):
            msg = "FakeOpenAIServer does not stream; send stream=false"
            self._problem(f"step {req.step!r}: {msg}")
            return 400, {}, _error_body(msg, "invalid_request_error", param="stream"), 0.0
        rejected = self._rejection(req)
        if rejected is not None:
            self._wait(self.latency)
            return rejected[0], {}, rejected[1], 0.0
        try:
            answer = self._next_answer(req)
            reply = answer if isinstance(answer, FakeReply) else FakeReply(content=_as_text(answer))
        except Exception as exc:  # a script problem, not the client's: say so and stop retries
            msg = f"FakeOpenAIServer cannot answer step {req.step!r}: {exc}"
            self._problem(msg)
            return 500, {"x-should-retry": "false"}, _error_body(msg, "server_error", code="fake_script_error"), 0.0
        if reply.silent:
            return SILENT, {}, {}, 0.0
        if reply.reset:
            self._wait(self.latency + reply.delay)
            return RESET, {}, {}, 0.0
        if reply.status >= 400:
            self._wait(self.latency + reply.delay)
            return reply.status, reply.headers, reply.error_body(), reply.trickle
        text = _as_text(reply.content) if reply.content is not None else ""
        completion = reply.completion_tokens if reply.completion_tokens is not None else estimate_tokens(text)
        prompt = reply.prompt_tokens
        if prompt is None:
            prompt = sum(estimate_tokens(_content_text(m.get("content"))) for m in req.messages)
        self._wait(self.latency + reply.delay + self.per_token_latency * completion)
        body = {
            "id": f"chatcmpl-fake-{next(self._ids)}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": reply.model or str(req.body.get("model") or self.model),
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": text},
                    "logprobs": None,
                    "finish_reason": reply.finish_reason,
                }
            ],
            "usage": {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion},
        }
        if reply.no_usage:
            del body["usage"]
        return reply.status, reply.headers, body, reply.trickle


class _Server(ThreadingHTTPServer):
    """Non-daemonic handler threads, so ``server_close`` waits for them; a deeper listen queue."""

    daemon_threads = False
    block_on_close = True
    request_queue_size = 128
    fake: FakeOpenAIServer

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Record instead of printing a traceback to stderr."""
        exc = sys.exc_info()[1]
        if not isinstance(exc, ConnectionError):  # a client that hung up is not a problem
            self.fake._problem(f"handler error: {exc!r}")


class _Handler(BaseHTTPRequestHandler):
    """One connection, one request (HTTP/1.0 style close), so shutdown leaves no sockets open."""

    server: _Server
    server_version = "FakeOpenAI/1.0"

    def log_message(self, format: str, *args: Any) -> None:
        """Stay quiet: no access log on stderr."""

    def do_POST(self) -> None:
        self._handle()

    def do_GET(self) -> None:
        self._handle()

    def _handle(self) -> None:
        fake = self.server.fake
        received = time.monotonic()
        headers = {k.lower(): v for k, v in self.headers.items()}
        length = int(headers.get("content-length") or 0)
        raw = self.rfile.read(length) if length > 0 else b""
        body: Any = None
        bad_json: str | None = None
        if raw:
            try:
                body = json.loads(raw)
            except ValueError as exc:
                bad_json = f"request body is not JSON: {exc}"
        step = headers.get(STEP_HEADER.lower())
        req = FakeRequest(
            method=self.command,
            path=urlsplit(self.path).path,
            headers=headers,
            body=body,
            step=unquote(step) if step is not None else None,
            received_at=received,
        )
        fake._record(req)
        extra: dict[str, str] = {}
        trickle = 0.0
        if req.path != CHAT_PATH:
            status, payload = 404, _error_body(f"Unknown path {req.method} {req.path}", "invalid_request_error")
        elif self.command != "POST":
            status, payload = 405, _error_body(f"{req.method} {req.path} is not supported", "invalid_request_error")
        elif bad_json is not None:
            fake._problem(f"{req.method} {req.path}: {bad_json}")
            status, payload = 400, _error_body(bad_json, "invalid_request_error")
        else:
            status, extra, payload, trickle = fake._reply(req)
        if status == SILENT:
            self._stay_silent(req)
            return
        req.finished_at = time.monotonic()
        if status == RESET:  # hang up with a TCP reset, no HTTP reply at all
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.close_connection = True
            return
        self._send(status, extra, payload, trickle, req)

    def _send(
        self, status: int, headers: Mapping[str, str], payload: dict[str, Any], trickle: float, req: FakeRequest
    ) -> None:
        data = json.dumps(payload).encode()
        if trickle > 0:  # buffer the status line and headers, to trickle them with the body
            self.wfile = _Buffer()
        try:
            self.send_response(status, _reason(status))
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.send_header("Connection", "close")
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)
            if isinstance(self.wfile, _Buffer):
                self._trickle(self.wfile.getvalue(), trickle, req)
            req.sent_at = time.monotonic()
        except ConnectionError:  # the client gave up (timeout); nothing to tell it
            pass
        self.close_connection = True

    def _trickle(self, data: bytes, interval: float, req: FakeRequest) -> None:
        """Send ``data`` one byte every ``interval`` seconds; stop when the client hangs up or the server closes."""
        fake = self.server.fake
        for i in range(len(data)):
            if fake._stop.wait(interval):
                return
            try:
                self.connection.sendall(data[i : i + 1])
            except OSError:  # reset or broken pipe: the client closed the connection
                fake._hangup(req)
                return

    def _stay_silent(self, req: FakeRequest) -> None:
        """Send nothing; return when the client hangs up (recorded) or the server closes."""
        fake = self.server.fake
        self.close_connection = True
        while not fake._stop.is_set():
            ready, _, _ = select.select([self.connection], [], [], 0.05)
            if ready:
                try:
                    closed = self.connection.recv(1, socket.MSG_PEEK) == b""
                except OSError:
                    closed = True
                if closed:
                    fake._hangup(req)
                    return
                fake._stop.wait(0.05)  # more bytes from the client: ignore them


class _Buffer(io.BytesIO):
    """Where a trickled reply is assembled before it is sent byte by byte."""


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Fake Status"


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def _error_body(message: str, type_: str, *, code: str | None = None, param: str | None = None) -> dict[str, Any]:
    return {"error": {"message": message, "type": type_, "param": param, "code": code}}


def _as_text(answer: Any) -> str:
    """Text a model would have sent for a scripted answer (as :func:`softco.llm.testing.answer_text`)."""
    if isinstance(answer, FakeReply):
        raise TypeError("a FakeReply cannot be the content of another FakeReply")
    return to_text(answer)


def _content_text(content: Any) -> str:
    """The text of a message's content: a string, or a list of ``{"type": "text", "text": ...}`` parts."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(p.get("text", "") for p in content if isinstance(p, dict) and isinstance(p.get("text"), str))
    return ""
