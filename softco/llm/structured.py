"""Ask for a structured answer; re-ask with the validation error when it does not fit.

Re-asking sends the model its own bad answer and the exact error (instructor's way), never the
identical prompt again. Answers are read leniently before they are validated (:func:`lenient_json`):
small models put raw newlines and control characters inside JSON strings, or wrap the object in a
code fence or a sentence; what is left is validated strictly, and re-asked with the error as before.
Every attempt is told to ``on_attempt`` as soon as it ends, so the board has it even if the step
never finishes.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from pydantic import ValidationError

from softco.llm.base import LLM, ChatMessage, LLMError, LLMRequest, LLMResponse, TransientLLMError, Usage
from softco.llm.budget import unanswered

T = TypeVar("T")
MAX_REASKS = 2
MAX_TRANSIENT = 6
BACKOFF_BASE = 0.5
BACKOFF_CAP = 30.0
#: Model or endpoint text quoted in an error: at most this many characters a line ...
QUOTE_CHARS = 300
#: ... and the whole account of a rejected answer (what the model is shown, and the error line) at most this.
ERROR_CHARS = 2000
#: Bounds a grammar compiler (llama.cpp's, turning a JSON schema into a grammar) unrolls one by one: a
#: ``maxLength`` of 200,000 crashes it. Larger bounds are left out of the schema the model is sent;
#: pydantic still checks them.
GRAMMAR_BOUND_LIMIT = 1000
_UNROLLED_BOUNDS = ("maxLength", "minLength", "maxItems", "minItems", "maxProperties", "minProperties")


class AttemptsError(LLMError):
    """A step failed for good; ``attempts`` holds every try, for the board."""

    def __init__(self, message: str, attempts: list[Attempt]) -> None:
        super().__init__(message)
        self.attempts = attempts


class InvalidAnswer(AttemptsError):
    """The model's answers kept failing validation."""


class EndpointFailing(AttemptsError):
    """The endpoint kept failing (rate limits, 5xx, timeouts) past the retry bound."""


@dataclass(frozen=True)
class Retry:
    """A transient fault about to be retried, for the terminal: retry ``number`` of ``limit`` in ``delay`` s;
    or, with ``reask``, an answer that failed validation, asked again at once with the error (``reason``)."""

    step_key: str
    number: int
    limit: int
    delay: float
    reason: str
    reask: bool = False

    def describe(self) -> str:
        if self.reask:
            return f"answer rejected ({self.reason}), re-ask {self.number}/{self.limit}: {self.step_key}"
        wait = f"{self.delay:.1f}" if self.delay < 10 else f"{self.delay:.0f}"
        retry = f"retry {self.number}/{self.limit} in {wait} s"
        return f"endpoint slow or unreachable ({self.reason}), {retry}: {self.step_key}"


@dataclass
class Attempt:
    request: LLMRequest
    response: LLMResponse
    started_at: float
    finished_at: float
    error: str | None = None


#: The ``finish_reason`` of a failed attempt: a transport fault (retried), or a call cancelled because the run
#: stopped (another step failed, Ctrl-C) while it waited for its answer.
FAULT, CANCELLED = "fault", "cancelled"


@dataclass
class StructuredResult(Generic[T]):
    value: T
    attempts: list[Attempt] = field(default_factory=list)

    @property
    def usage(self) -> Usage:
        total = Usage()
        for a in self.attempts:
            total = total + a.response.usage
        return total


def bound_text(text: str, limit: int = QUOTE_CHARS) -> str:
    """Model or endpoint text fit to quote in one line: whitespace runs as one space, other control
    characters escaped, at most ``limit`` characters (cut with "...")."""
    flat = " ".join(text.split())
    clean = "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in flat)
    return clean if len(clean) <= limit else clean[: max(0, limit - 3)] + "..."


def describe_error(exc: Exception) -> str:
    """A compact, model-readable account of why an answer was rejected (bounded: a validator's message
    may quote the answer)."""
    if isinstance(exc, ValidationError):
        lines = []
        for err in exc.errors(include_url=False):
            loc = bound_text(".".join(str(p) for p in err["loc"]) or "(root)", 120)
            lines.append(f"- {loc}: {bound_text(str(err['msg']))}")
        text = "\n".join(lines)
    elif isinstance(exc, json.JSONDecodeError):
        text = f"- the answer is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
    else:
        text = f"- {bound_text(str(exc))}"
    return text if len(text) <= ERROR_CHARS else text[: ERROR_CHARS - 4] + "\n..."


def strip_fences(text: str) -> str:
    """Models sometimes wrap JSON in ```json fences despite being told not to."""
    t = text.strip()
    if t.startswith("```"):
        t = t.split("\n", 1)[1] if "\n" in t else ""
        if t.rstrip().endswith("```"):
            t = t.rstrip()[:-3]
    return t.strip()


_LENIENT = json.JSONDecoder(strict=False)  # control characters (raw newlines, tabs) allowed inside strings


def lenient_json(text: str) -> str:
    """The JSON object in a model's answer, as strict JSON text, when a lenient reading finds one: control
    characters inside strings, a ``` fence, or prose before or after the object are forgiven. Anything else
    (no object, broken JSON) comes back as it was, so validating it gives the model the precise error.

    Only the syntax is forgiven; the object is then validated as strictly as any answer.
    """
    t = strip_fences(text)
    start = t.find("{")
    if start < 0:
        return t
    try:
        value, _ = _LENIENT.raw_decode(t, start)
    except (ValueError, RecursionError):  # JSONDecodeError, a number too long to convert, or nested too deep
        return t
    if not isinstance(value, dict):  # pragma: no cover - raw_decode at a "{" gives an object
        return t
    return json.dumps(value, ensure_ascii=False)


def grammar_safe_schema(schema: Any) -> Any:
    """The schema to send a model: ``schema`` without length and count bounds above
    :data:`GRAMMAR_BOUND_LIMIT`, which grammar compilers unroll (llama.cpp's crashes on a ``maxLength`` of
    200,000). The last pass over a schema before it leaves softco; validation still uses the full schema."""
    if isinstance(schema, dict):
        return {
            k: grammar_safe_schema(v)
            for k, v in schema.items()
            if not (k in _UNROLLED_BOUNDS and isinstance(v, int) and v > GRAMMAR_BOUND_LIMIT)
        }
    if isinstance(schema, list):
        return [grammar_safe_schema(v) for v in schema]
    return schema


async def ask_structured(
    llm: LLM,
    request: LLMRequest,
    parse: Callable[[str], T],
    max_reasks: int = MAX_REASKS,
    max_transient: int = MAX_TRANSIENT,
    on_retry: Callable[[Retry], None] | None = None,
    on_attempt: Callable[[Attempt], None] | None = None,
) -> StructuredResult[T]:
    """Ask ``llm`` and parse the answer; re-ask at most ``max_reasks`` times with the error.

    The answer is read with :func:`lenient_json` before ``parse`` sees it. Transient faults (rate
    limits, 5xx, timeouts) are retried at most ``max_transient`` times with backoff, each one told to
    ``on_retry`` before the wait, and each re-ask too (``Retry.reask``). Every attempt, failed or not,
    is told to ``on_attempt`` as soon as it ends (a call cancelled while it waited for its answer too)
    and is in the result (or the exception) for the board.
    """
    attempts: list[Attempt] = []

    def ended(attempt: Attempt) -> None:
        attempts.append(attempt)
        if on_attempt is not None:
            on_attempt(attempt)

    current = request
    faults = 0
    n = 0
    while n <= max_reasks:
        started = time.time()
        try:
            response = await llm.complete(current)
        except asyncio.CancelledError:  # an endpoint may have worked on it: its prompt counts, as unreported usage
            usage = unanswered(current) if llm.billed_for(current.step_key) else Usage()
            cancelled = LLMResponse(content="", finish_reason=CANCELLED, usage=usage)
            why = "cancelled: the run stopped before the answer came"
            ended(Attempt(current, cancelled, started, time.time(), why))
            raise
        except TransientLLMError as exc:
            faults += 1
            failed = LLMResponse(content="", finish_reason=FAULT, usage=exc.usage)
            ended(Attempt(current, failed, started, time.time(), str(exc)))
            if faults > max_transient:
                raise EndpointFailing(
                    f"{exc}; gave up after {faults} attempts. Check the endpoint, then `softco resume`", attempts
                ) from None
            delay = backoff(faults, exc.retry_after)
            if on_retry is not None:
                on_retry(Retry(request.step_key, faults, max_transient, delay, exc.reason))
            await asyncio.sleep(delay)
            continue
        finished = time.time()
        try:
            if response.finish_reason == "length":
                raise ValueError("the answer was cut off (token limit); answer more concisely")
            if not response.content.strip():
                raise ValueError("the answer was empty")
            value = parse(lenient_json(response.content))
        except (ValidationError, ValueError) as exc:  # JSONDecodeError is a ValueError
            if response.cached:  # a kept answer today's schema refuses: ask the model (the step cache lets it)
                continue
            error = describe_error(exc)
            ended(Attempt(current, response, started, finished, error))
            if n == max_reasks:
                raise InvalidAnswer(
                    f"step {request.step_key}: the model's answer failed validation "
                    f"{max_reasks + 1} times; last error: {bound_text(error, 500)}",
                    attempts,
                ) from None
            if on_retry is not None:
                # the error may quote the answer: the terminal shows it as text (softco.safe_text)
                first = error.splitlines()[0].removeprefix("- ").removeprefix("(root): ")[:120] if error else "invalid"
                on_retry(Retry(request.step_key, n + 1, max_reasks, 0.0, first, reask=True))
            current = request.model_copy(
                update={
                    "messages": [
                        *request.messages,
                        ChatMessage(role="assistant", content=response.content[:20000]),
                        ChatMessage(
                            role="user",
                            content="Your answer was rejected:\n"
                            f"{error}\n"
                            "Answer again with the whole corrected JSON object, nothing else.",
                        ),
                    ],
                    "attempt": n + 2,
                }
            )
            n += 1
            continue
        ended(Attempt(current, response, started, finished))
        llm.accepted(request, response)
        return StructuredResult(value, attempts)
    raise AssertionError("unreachable")  # pragma: no cover


def backoff(fault: int, retry_after: float | None) -> float:
    """Seconds to wait before retry number ``fault``: the server's word, else exponential with jitter."""
    if retry_after is not None:
        return min(retry_after, BACKOFF_CAP)
    return min(BACKOFF_CAP, BACKOFF_BASE * 2.0 ** (fault - 1)) * (0.5 + random.random() / 2)
