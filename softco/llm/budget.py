"""Token and cost accounting with a hard cap. A model with no known price costs "unknown", never $0.

Prices are USD per million tokens (input, output). Extend or override them with a JSON file named
by ``SOFTCO_PRICES``: ``{"my-model": [0.5, 1.5]}`` (finite, non-negative numbers).

The budget rule (:class:`BudgetedLLM`): before a call starts, the most it can use is *reserved*: its
prompt bound plus its answer bound. The answer bound is the role's ``max_tokens`` or
:data:`DEFAULT_MAX_COMPLETION`, and that same number is sent to the endpoint as ``max_tokens``, so the
model cannot write more. No tokenizer is available offline (tiktoken downloads its encodings at first
use), so the prompt bound is the prompt's size in UTF-8 bytes, plus the answer schema and a margin for
the chat framing: a byte-level BPE tokenizer never makes more tokens than bytes. A call starts only if
what is spent, plus what the calls in flight have reserved, plus its own worst case fits the budget;
otherwise it waits for the calls in flight to settle (each gives back its reservation and adds what it
really used), and when nothing is in flight and it still does not fit, the run stops (exit 4).
So the budget holds at any ``--concurrency``.
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import threading
from dataclasses import dataclass
from functools import cache
from typing import Protocol

from softco.errors import BudgetStop, UsageError
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

PRICES: dict[str, tuple[float, float]] = {
    "gpt-4o": (2.50, 10.00),
    "gpt-4o-mini": (0.15, 0.60),
    "gpt-4.1": (2.00, 8.00),
    "gpt-4.1-mini": (0.40, 1.60),
    "gpt-4.1-nano": (0.10, 0.40),
    "o4-mini": (1.10, 4.40),
    "o3": (2.00, 8.00),
}
#: The longest answer of a role whose model settings give no ``max_tokens``: sent to the endpoint as
#: ``max_tokens`` and the answer's part of every call's worst case.
DEFAULT_MAX_COMPLETION = 4096
#: Tokens the chat format adds around each message (role markers, separators), and around the request.
MESSAGE_OVERHEAD = 8
REQUEST_OVERHEAD = 64


class PriceFileError(UsageError):
    pass


def _price(path: str, model: object, value: object) -> tuple[float, float]:
    pair = value if isinstance(value, list) else None
    if (
        not isinstance(model, str)
        or not model
        or pair is None
        or len(pair) != 2
        or not all(isinstance(v, int | float) and not isinstance(v, bool) for v in pair)
    ):
        raise PriceFileError(
            f"SOFTCO_PRICES={path}: {model!r} must map to [input, output], two numbers in USD per million tokens"
        )
    try:
        inp, out = float(pair[0]), float(pair[1])
    except OverflowError:  # an integer of hundreds of digits
        inp = out = math.inf
    if not (math.isfinite(inp) and math.isfinite(out) and inp >= 0 and out >= 0):
        raise PriceFileError(
            f"SOFTCO_PRICES={path}: the prices of {model!r} must be finite and not negative, got {pair}; fix the file"
        )
    return inp, out


@cache
def _user_prices(path: str) -> dict[str, tuple[float, float]]:
    try:
        with open(path, encoding="utf-8") as f:
            data = json.loads(f.read())
    except (OSError, ValueError, RecursionError) as exc:  # RecursionError: JSON nested thousands deep
        raise PriceFileError(
            f'SOFTCO_PRICES={path}: expected a JSON object {{"model": [input, output]}} in USD per million '
            f"tokens ({type(exc).__name__}: {str(exc)[:200]})"
        ) from None
    if not isinstance(data, dict):
        raise PriceFileError(f'SOFTCO_PRICES={path}: expected a JSON object {{"model": [input, output]}}')
    return {k: _price(path, k, v) for k, v in data.items()}


def prices() -> dict[str, tuple[float, float]]:
    """The price table; raises :class:`PriceFileError` for a SOFTCO_PRICES file that is not valid."""
    path = os.environ.get("SOFTCO_PRICES")
    return {**PRICES, **_user_prices(path)} if path else dict(PRICES)


def price_of(model: str) -> tuple[float, float] | None:
    table = prices()
    if model in table:
        return table[model]
    for name in sorted(table, key=len, reverse=True):  # dated snapshots, e.g. gpt-4o-mini-2024-07-18
        if model.startswith(name + "-"):
            return table[name]
    return None


def cost_usd(model: str, prompt_tokens: int, completion_tokens: int) -> float | None:
    price = price_of(model)
    if price is None:
        return None
    return (prompt_tokens * price[0] + completion_tokens * price[1]) / 1_000_000


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

    def reserve(self, tokens: int, usd: float) -> Grant: ...

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

    def _over(self, tokens: int, usd: float, reserved: bool) -> str | None:
        b = self.budget
        used_tokens = b.spent_tokens + (b.reserved_tokens if reserved else 0)
        if b.max_tokens is not None and used_tokens + tokens > b.max_tokens:
            return (
                f"shared token budget: a call could use up to {tokens:,} tokens and {b.spent_tokens:,} of "
                f"{b.max_tokens:,} are spent; {self.hint}"
            )
        used_usd = b.spent_usd + (b.reserved_usd if reserved else 0.0)
        if b.max_usd is not None and used_usd + usd > b.max_usd:
            return (
                f"shared budget: a call could cost up to {format_usd(usd)} and {format_usd(b.spent_usd)} of "
                f"{format_usd(b.max_usd)} is spent; {self.hint}"
            )
        return None

    def reserve(self, tokens: int, usd: float) -> Grant:
        with self._lock:
            if self.stopped is not None:
                return Grant(False, self.stopped)
            if self._over(tokens, usd, reserved=True) is None:
                self.in_flight += 1
                self.budget.reserved_tokens += tokens
                self.budget.reserved_usd += usd
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
            grant = self.ledger.reserve(worst.tokens, worst.usd or 0.0)
            if grant.ok:
                break
            if grant.stop is not None:  # the shared budget stops every run: this one once its calls settle
                self._stopped = grant.stop
                continue
            await asyncio.sleep(LEDGER_WAIT_S)  # other runs' calls in flight may give room back
        self.in_flight += 1
        self.budget.reserved_tokens += worst.tokens
        self.budget.reserved_usd += worst.usd or 0.0

    def _release(self, worst: WorstCase, usage: Usage | None, model: str) -> None:
        b = self.budget
        self.in_flight -= 1
        b.reserved_tokens -= worst.tokens
        b.reserved_usd -= worst.usd or 0.0
        used_tokens, used_usd = 0, 0.0
        if usage is not None:
            used_tokens = usage.prompt_tokens + usage.completion_tokens
            used_usd = cost_usd(model, usage.prompt_tokens, usage.completion_tokens) or 0.0
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
        try:
            response = await self.inner.complete(request)
            used = response.usage
            return response
        except TransientLLMError as exc:  # a call cut off while the endpoint worked on it (a timeout) still used
            used = exc.usage  # something: its estimate counts
            raise
        finally:  # also when the call failed or was cancelled: its reservation is given back
            self._release(worst, used, request.settings.model or self.model)
            settled, self._settled = self._settled, None
            if settled is not None:
                settled.set()

    async def aclose(self) -> None:
        self._settled = None
        await self.inner.aclose()
