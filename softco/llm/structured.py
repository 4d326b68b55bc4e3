"""Ask for a structured answer; re-ask with the validation error when it does not fit.

Re-asking sends the model its own bad answer and the exact error (instructor's way), never the
identical prompt again.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from pydantic import ValidationError

from softco.llm.base import LLM, ChatMessage, LLMError, LLMRequest, LLMResponse, TransientLLMError, Usage

T = TypeVar("T")
MAX_REASKS = 2
MAX_TRANSIENT = 6
BACKOFF_BASE = 0.5
BACKOFF_CAP = 30.0


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


def describe_error(exc: Exception) -> str:
    """A compact, model-readable account of why an answer was rejected."""
    if isinstance(exc, ValidationError):
        lines = []
        for err in exc.errors(include_url=False):
            loc = ".".join(str(p) for p in err["loc"]) or "(root)"
            lines.append(f"- {loc}: {err['msg']}")
        return "\n".join(lines)
    if isinstance(exc, json.JSONDecodeError):
        return f"- the answer is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
    return f"- {exc}"


def strip_fences(text: str) -> str:
    """Models sometimes wrap JSON in ```json fences despite being told not to."""
    t = text.strip()
    if t.startswith("```"):
        t = t.split("\n", 1)[1] if "\n" in t else ""
        if t.rstrip().endswith("```"):
            t = t.rstrip()[:-3]
    return t.strip()


async def ask_structured(
    llm: LLM,
    request: LLMRequest,
    parse: Callable[[str], T],
    max_reasks: int = MAX_REASKS,
    max_transient: int = MAX_TRANSIENT,
    on_retry: Callable[[Retry], None] | None = None,
) -> StructuredResult[T]:
    """Ask ``llm`` and parse the answer; re-ask at most ``max_reasks`` times with the error.

    Transient faults (rate limits, 5xx, timeouts) are retried at most ``max_transient`` times with
    backoff, each one told to ``on_retry`` before the wait, and each re-ask too (``Retry.reask``);
    every attempt, failed or not, is in the result (or the exception) for the board.
    """
    attempts: list[Attempt] = []
    current = request
    faults = 0
    n = 0
    while n <= max_reasks:
        started = time.time()
        try:
            response = await llm.complete(current)
        except TransientLLMError as exc:
            faults += 1
            failed = LLMResponse(content="", finish_reason="fault")
            attempts.append(Attempt(current, failed, started, time.time(), str(exc)))
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
            value = parse(strip_fences(response.content))
        except (ValidationError, ValueError) as exc:  # JSONDecodeError is a ValueError
            error = describe_error(exc)
            attempts.append(Attempt(current, response, started, finished, error))
            if n == max_reasks:
                raise InvalidAnswer(
                    f"step {request.step_key}: the model's answer failed validation "
                    f"{max_reasks + 1} times; last error: {' '.join(error.split(chr(10)))}",
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
        attempts.append(Attempt(current, response, started, finished))
        return StructuredResult(value, attempts)
    raise AssertionError("unreachable")  # pragma: no cover


def backoff(fault: int, retry_after: float | None) -> float:
    """Seconds to wait before retry number ``fault``: the server's word, else exponential with jitter."""
    if retry_after is not None:
        return min(retry_after, BACKOFF_CAP)
    return min(BACKOFF_CAP, BACKOFF_BASE * 2 ** (fault - 1)) * (0.5 + random.random() / 2)
