"""Token and cost accounting with a hard cap. A model with no known price costs "unknown", never $0.

Prices are USD per million tokens (input, output). Extend or override them with a JSON file named
by ``SOFTCO_PRICES``: ``{"my-model": [0.5, 1.5]}``.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from functools import cache

from softco.llm.base import LLM, LLMError, LLMRequest, LLMResponse, TransientLLMError, Usage
from softco.llm.testing import estimate_tokens

PRICES: dict[str, tuple[float, float]] = {
    "gpt-4o": (2.50, 10.00),
    "gpt-4o-mini": (0.15, 0.60),
    "gpt-4.1": (2.00, 8.00),
    "gpt-4.1-mini": (0.40, 1.60),
    "gpt-4.1-nano": (0.10, 0.40),
    "o4-mini": (1.10, 4.40),
    "o3": (2.00, 8.00),
}
#: What a call may write at most when the role sets no max_tokens: the basis of the pre-call check.
DEFAULT_MAX_COMPLETION = 8192


class PriceFileError(Exception):
    pass


@cache
def _user_prices(path: str) -> dict[str, tuple[float, float]]:
    try:
        data = json.loads(open(path, encoding="utf-8").read())  # noqa: SIM115
        return {str(k): (float(v[0]), float(v[1])) for k, v in data.items()}
    except (OSError, ValueError, TypeError, IndexError, AttributeError) as exc:
        raise PriceFileError(
            f'SOFTCO_PRICES={path}: expected a JSON object {{"model": [input, output]}} in USD per million '
            f"tokens ({exc})"
        ) from None


def prices() -> dict[str, tuple[float, float]]:
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


class BudgetExceeded(LLMError):
    """The next call could cross the budget; the run stops before it (exit 4, resumable)."""


@dataclass
class Budget:
    max_usd: float | None = None
    max_tokens: int | None = None
    spent_usd: float = 0.0
    spent_tokens: int = 0


class BudgetedLLM(LLM):
    """Checks each call against the most it can cost before making it, and counts it after."""

    def __init__(self, inner: LLM, budget: Budget) -> None:
        self.inner = inner
        self.model = inner.model
        self.budget = budget

    def _worst_case(self, request: LLMRequest) -> tuple[int, float | None]:
        prompt = sum(estimate_tokens(m.content) for m in request.messages)
        if request.json_schema is not None:
            prompt += estimate_tokens(json.dumps(request.json_schema))
        completion = request.settings.max_tokens or DEFAULT_MAX_COMPLETION
        return prompt + completion, cost_usd(request.settings.model or self.model, prompt, completion)

    async def complete(self, request: LLMRequest) -> LLMResponse:
        b = self.budget
        tokens, usd = self._worst_case(request)
        role, _, rest = request.step_key.partition("/")
        where = f"role {role}, step {rest}"
        if b.max_tokens is not None and b.spent_tokens + tokens > b.max_tokens:
            raise BudgetExceeded(
                f"token budget: {where} could use up to {tokens:,} tokens and {b.spent_tokens:,} of "
                f"{b.max_tokens:,} are spent; continue with `softco resume DIR --token-budget N` (a higher N)"
            )
        if b.max_usd is not None and usd is not None and b.spent_usd + usd > b.max_usd:
            raise BudgetExceeded(
                f"budget: {where} could cost up to ${usd:.4f} and ${b.spent_usd:.4f} of ${b.max_usd:.2f} is "
                "spent; continue with `softco resume DIR --budget USD` (a higher USD)"
            )
        try:
            response = await self.inner.complete(request)
        except TransientLLMError as exc:  # a call cut off while the endpoint worked on it still used something
            self._spend(request, exc.usage)
            raise
        self._spend(request, response.usage)
        return response

    def _spend(self, request: LLMRequest, usage: Usage) -> None:
        self.budget.spent_tokens += usage.prompt_tokens + usage.completion_tokens
        model = request.settings.model or self.model
        self.budget.spent_usd += cost_usd(model, usage.prompt_tokens, usage.completion_tokens) or 0.0

    async def aclose(self) -> None:
        await self.inner.aclose()
