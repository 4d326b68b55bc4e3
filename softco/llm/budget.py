"""Token and cost accounting with a hard cap. A model with no known price costs "unknown", never $0.

Prices come from :mod:`softco.llm.prices` (genai-prices' bundled data, overridden by ``SOFTCO_PRICES``).

The budget rule (:class:`BudgetedLLM`): before a call starts, the most it can use is *reserved*: its
prompt bound plus its answer bound. The answer bound is the role's ``max_tokens`` or
:data:`DEFAULT_MAX_COMPLETION`, and that same number is sent to the endpoint as ``max_tokens``, so the
model cannot write more. The endpoint's tokenizer is unknown for most models (softco.llm.tokens counts
exactly only where tiktoken's encoding of the model ships in a package, and a local server may serve
anything under a name), so the prompt bound is the prompt's size in UTF-8 bytes, plus the answer schema
and a margin for the chat framing: a byte-level BPE tokenizer never makes more tokens than bytes. A call starts only if
what is spent, plus what the calls in flight have reserved, plus its own worst case fits the budget;
otherwise it waits for the calls in flight to settle (each gives back its reservation and adds what it
really used), and when nothing is in flight and it still does not fit, the run stops (exit 4).
So the budget holds at any ``--concurrency``.
"""

from __future__ import annotations

import asyncio
import json
import math
import threading
from dataclasses import dataclass
from typing import Protocol

from softco.errors import BudgetStop
from softco.llm.base import (
    LLM,
    LLMError,
    LLMRequest,
    LLMResponse,
    ModelSettings,
    TransientLLMError,
    Usage,
    WrapperLLM,
)
from softco.llm.prices import PriceFileError as PriceFileError  # the prices live in softco.llm.prices
from softco.llm.prices import cost_usd as cost_usd
from softco.llm.prices import counted_usd as counted_usd
from softco.llm.prices import price_of as price_of
from softco.llm.prices import prices as prices
from softco.llm.tokens import estimate_tokens

#: The longest answer of a role whose model settings give no ``max_tokens``: sent to the endpoint as
#: ``max_tokens`` and the answer's part of every call's worst case.
DEFAULT_MAX_COMPLETION = 4096
#: Tokens the chat format adds around each message (role markers, separators), and around the request.
MESSAGE_OVERHEAD = 8
REQUEST_OVERHEAD = 64


def format_usd(amount: float) -> str:
    """Money with enough digits to be read: $1,234.50, $0.25, $0.004, $0.0014, $0.000012."""
    if not math.isfinite(amount):
        return f"${amount}"
    if amount == 0:
        return "$0.00"
    sign = "-" if amount < 0 else ""
    a = abs(amount)
    if a >= 0.1:
        return f"{sign}${a:,.2f}"
    decimals = 2 - math.floor(math.log10(a))  # three significant digits
    text = f"{a:.{decimals}f}".rstrip("0")
    if len(text.split(".")[1]) < 2:
        text = f"{a:.2f}"
    return f"{sign}${text}"


def completion_bound(settings: ModelSettings) -> int:
    """The longest answer a call with these settings may get: the role's max_tokens or the default."""
    return settings.max_tokens or DEFAULT_MAX_COMPLETION


def prompt_bound(request: LLMRequest) -> int:
    """At most this many prompt tokens: the UTF-8 bytes of every message and of the answer schema (also
    as the prompt fallbacks send it), plus the chat framing. Never fewer than a byte-level BPE counts."""
    size = sum(len(m.content.encode("utf-8")) + MESSAGE_OVERHEAD for m in request.messages)
    if request.json_schema is not None:
        size += len(json.dumps(request.json_schema, indent=1).encode("utf-8")) + 256 + MESSAGE_OVERHEAD
    return size + REQUEST_OVERHEAD


def unreported_bound(request: LLMRequest, answer: str, estimate: Usage) -> Usage:
    """The most a call whose usage the endpoint did not report can have used (its ``estimate`` may count
    fewer): the prompt's bound, and the answer's UTF-8 bytes within its bound (a byte-level BPE tokenizer
    never makes more tokens than bytes). For an answer that never came, the answer bound."""
    longest = completion_bound(request.settings)
    written = len(answer.encode("utf-8")) if answer else longest
    return Usage(
        prompt_tokens=max(estimate.prompt_tokens, prompt_bound(request)),
        completion_tokens=min(longest, max(estimate.completion_tokens, written)),
        source="estimated",
    )


def unanswered(request: LLMRequest) -> Usage:
    """The usage of a call cancelled before its answer came (the run stopped while the endpoint worked on it):
    its prompt, estimated, as an endpoint that reports no usage; the budget counts :func:`unreported_bound`."""
    return Usage(prompt_tokens=sum(estimate_tokens(m.content) for m in request.messages), source="estimated")


class BudgetExceeded(LLMError, BudgetStop):
    """The next call could cross the budget; the run stops before it (exit 4, resumable)."""


@dataclass
class Budget:
    max_usd: float | None = None
    max_tokens: int | None = None
    spent_usd: float = 0.0
    spent_tokens: int = 0
    #: What the calls in flight may still use at most (their worst cases), not yet spent.
    reserved_usd: float = 0.0
    reserved_tokens: int = 0


@dataclass(frozen=True)
class WorstCase:
    """The most one call can use: ``prompt`` (a bound, see :func:`prompt_bound`) + ``completion``."""

    prompt: int
    completion: int
    usd: float | None

    @property
    def tokens(self) -> int:
        return self.prompt + self.completion


#: How long a call waits before asking a shared ledger again when other runs' calls hold its room.
LEDGER_WAIT_S = 0.05


@dataclass(frozen=True)
class Grant:
    """A ledger's answer to a reservation: ``ok``; or not, and ``stop`` says why the whole budget stops
    (None: wait, calls in flight elsewhere may give room back)."""

    ok: bool
    stop: str | None = None


class Ledger(Protocol):
    """A budget several runs share (``softco eval``: threads in one process, or a Ray actor): the same
    reserve-the-worst-case / settle rule as :class:`BudgetedLLM`, counted across every run."""

    def reserve(self, tokens: int, usd: float | None) -> Grant: ...

    def settle(self, tokens: int, usd: float, used_tokens: int, used_usd: float) -> None: ...


class SharedLedger:
    """A thread-safe :class:`Ledger` in one process. Once a call could not fit while nothing was in flight
    anywhere, every later reservation is refused with the same reason: every run stops before its next call."""

    def __init__(self, budget: Budget, resume_hint: str = "run the same command again with a higher --budget") -> None:
        self.budget = budget
        self.in_flight = 0
        self.stopped: str | None = None
        self.hint = resume_hint
        self._lock = threading.Lock()

    def _over(self, tokens: int, usd: float | None, reserved: bool) -> str | None:
        b = self.budget
        used_tokens = b.spent_tokens + (b.reserved_tokens if reserved else 0)
        if b.max_tokens is not None and used_tokens + tokens > b.max_tokens:
            return (
                f"shared token budget: a call could use up to {tokens:,} tokens and {b.spent_tokens:,} of "
                f"{b.max_tokens:,} are spent; {self.hint}"
            )
        if b.max_usd is not None and usd is None:
            return (
                "shared budget: a call goes to a model whose price is unknown, so it cannot be counted against "
                "--budget; name its price in SOFTCO_PRICES (or softco.toml's prices), then run the same command again"
            )
        used_usd = b.spent_usd + (b.reserved_usd if reserved else 0.0)
        if b.max_usd is not None and usd is not None and used_usd + usd > b.max_usd:
            return (
                f"shared budget: a call could cost up to {format_usd(usd)} and {format_usd(b.spent_usd)} of "
                f"{format_usd(b.max_usd)} is spent; {self.hint}"
            )
        return None

    def reserve(self, tokens: int, usd: float | None) -> Grant:
        with self._lock:
            if self.stopped is not None:
                return Grant(False, self.stopped)
            if self._over(tokens, usd, reserved=True) is None:
                self.in_flight += 1
                self.budget.reserved_tokens += tokens
                self.budget.reserved_usd += usd or 0.0
                return Grant(True)
            if self.in_flight > 0:
                return Grant(False)
            self.stopped = self._over(tokens, usd, reserved=False) or "the shared budget is used up"
            return Grant(False, self.stopped)

    def stop(self, reason: str) -> None:
        """Refuse every reservation from now on (Ctrl-C of the eval), with this reason."""
        with self._lock:
            self.stopped = self.stopped or reason

    def stop_reason(self) -> str | None:
        with self._lock:
            return self.stopped

    def spent(self) -> tuple[float, int]:
        """(USD, tokens) spent so far."""
        with self._lock:
            return self.budget.spent_usd, self.budget.spent_tokens

    def settle(self, tokens: int, usd: float, used_tokens: int, used_usd: float) -> None:
        with self._lock:
            self.in_flight -= 1
            self.budget.reserved_tokens -= tokens
            self.budget.reserved_usd -= usd
            self.budget.spent_tokens += used_tokens
            self.budget.spent_usd += used_usd


class BudgetedLLM(WrapperLLM):
    """Reserves each call's worst case before it starts, settles the real usage after (see the module)."""

    def __init__(self, inner: LLM, budget: Budget, ledger: Ledger | None = None) -> None:
        super().__init__(inner)
        self.budget = budget
        #: a budget shared with other runs (``softco eval``): asked after this run's own budget
        self.ledger = ledger
        self.in_flight = 0
        self._stopped: str | None = None
        #: Set (and replaced) whenever a call settles: what a call waiting for room waits on.
        self._settled: asyncio.Event | None = None

    def worst_case(self, request: LLMRequest) -> WorstCase:
        prompt, completion = prompt_bound(request), completion_bound(request.settings)
        if self.budget.max_usd is None and self.ledger is None:  # no money cap: no price (nor genai-prices' data)
            return WorstCase(prompt, completion, None)
        return WorstCase(prompt, completion, cost_usd(request.settings.model or self.model, prompt, completion))

    def _over(self, request: LLMRequest, worst: WorstCase, reserved: bool) -> str | None:
        """Why this call does not fit (counting the reservations in flight when ``reserved``), or None."""
        b = self.budget
        role, _, rest = request.step_key.partition("/")
        where = f"role {role}, step {rest}"
        bound = (
            f"a prompt of at most {worst.prompt:,} (its size in bytes: no tokenizer for this model here) and an "
            f"answer of at most {worst.completion:,} (max_tokens)"
        )
        tokens_in_use = b.spent_tokens + (b.reserved_tokens if reserved else 0)
        if b.max_tokens is not None and tokens_in_use + worst.tokens > b.max_tokens:
            return (
                f"token budget: {where} could use up to {worst.tokens:,} tokens ({bound}) and {b.spent_tokens:,} of "
                f"{b.max_tokens:,} are spent; continue with `softco resume DIR --token-budget N` (a higher N)"
            )
        if b.max_usd is None:
            return None
        model = request.settings.model or self.model
        if worst.usd is None:
            return f"budget: {where} uses model {model!r}, whose price is unknown; name its price in SOFTCO_PRICES"
        usd_in_use = b.spent_usd + (b.reserved_usd if reserved else 0.0)
        if usd_in_use + worst.usd > b.max_usd:
            return (
                f"budget: {where} could cost up to {format_usd(worst.usd)} ({bound}) and {format_usd(b.spent_usd)} "
                f"of {format_usd(b.max_usd)} is spent; continue with `softco resume DIR --budget USD` (a higher USD)"
            )
        return None

    async def _reserve(self, request: LLMRequest, worst: WorstCase) -> None:
        """Reserve ``worst`` once it fits; raise :class:`BudgetExceeded` when it never can. Runs on one event
        loop: nothing else runs between the check and the reservation (no await between them)."""
        while True:
            while self._stopped is not None or self._over(request, worst, reserved=True) is not None:
                if self.in_flight == 0:  # nothing in flight can give anything back: stop here
                    self._stopped = (
                        self._stopped or self._over(request, worst, reserved=False) or "the budget is used up"
                    )
                    raise BudgetExceeded(self._stopped)
                # it does not fit beside the calls in flight (or the run is stopping): wait for one to settle
                if self._settled is None:
                    self._settled = asyncio.Event()
                await self._settled.wait()
            if self.ledger is None:
                break
            grant = self.ledger.reserve(worst.tokens, worst.usd)
            if grant.ok:
                break
            if grant.stop is not None:  # the shared budget stops every run: this one once its calls settle
                self._stopped = grant.stop
                continue
            await asyncio.sleep(LEDGER_WAIT_S)  # other runs' calls in flight may give room back
        self.in_flight += 1
        self.budget.reserved_tokens += worst.tokens
        self.budget.reserved_usd += worst.usd or 0.0

    def _release(self, worst: WorstCase, usage: Usage | None, requested: str, answered: str) -> None:
        b = self.budget
        self.in_flight -= 1
        b.reserved_tokens -= worst.tokens
        b.reserved_usd -= worst.usd or 0.0
        used_tokens, used_usd = 0, 0.0
        if usage is not None:
            used_tokens = usage.prompt_tokens + usage.completion_tokens
            if b.max_usd is not None or self.ledger is not None:  # prices load only when a dollar cap needs them
                used_usd = counted_usd(requested, answered, usage.prompt_tokens, usage.completion_tokens)
            b.spent_tokens += used_tokens
            b.spent_usd += used_usd
        if self.ledger is not None:
            self.ledger.settle(worst.tokens, worst.usd or 0.0, used_tokens, used_usd)

    async def complete(self, request: LLMRequest) -> LLMResponse:
        worst = self.worst_case(request)
        if request.settings.max_tokens is None:  # the bound is only a bound if the endpoint is told it
            settings = request.settings.model_copy(update={"max_tokens": worst.completion})
            request = request.model_copy(update={"settings": settings})
        await self._reserve(request, worst)
        used: Usage | None = None
        answered = ""
        try:
            response = await self.inner.complete(request)
            used, answered = self._counted(request, response.usage, response.content), response.model
            return response
        except TransientLLMError as exc:  # a call cut off while the endpoint worked on it (a timeout) still used
            used = self._counted(request, exc.usage, "")  # something: its bound counts
            raise
        except asyncio.CancelledError:  # Ctrl-C, a budget stop, a failed step: an endpoint may be writing the
            if self.inner.billed_for(request.step_key):  # answer, up to its bound: that counts
                used = unreported_bound(request, "", unanswered(request))
            raise
        finally:  # also when the call failed or was cancelled: its reservation is given back
            self._release(worst, used, request.settings.model or self.model, answered)
            settled, self._settled = self._settled, None
            if settled is not None:
                settled.set()

    def _counted(self, request: LLMRequest, usage: Usage, answer: str) -> Usage:
        """What the budget counts for a call: what the endpoint measured; for an endpoint that did not say,
        :func:`unreported_bound` (scripted and replayed answers, which cost nothing, count as they are)."""
        unreported = usage.source == "estimated" and usage.total > 0
        if unreported and self.inner.cache_id_for(request.step_key) is not None:  # a real endpoint answered
            return unreported_bound(request, answer, usage)
        return usage

    async def aclose(self) -> None:
        self._settled = None
        await self.inner.aclose()
