"""Token and cost accounting. A model with no known price costs "unknown", never $0."""

from __future__ import annotations

# USD per million tokens (input, output). Extend as needed; unknown models report no cost.
PRICES: dict[str, tuple[float, float]] = {
    "gpt-4o": (2.50, 10.00),
    "gpt-4o-mini": (0.15, 0.60),
    "gpt-4.1": (2.00, 8.00),
    "gpt-4.1-mini": (0.40, 1.60),
    "gpt-4.1-nano": (0.10, 0.40),
    "o4-mini": (1.10, 4.40),
    "o3": (2.00, 8.00),
}


def price_of(model: str) -> tuple[float, float] | None:
    if model in PRICES:
        return PRICES[model]
    # dated snapshots, e.g. gpt-4o-mini-2024-07-18
    for name in sorted(PRICES, key=len, reverse=True):
        if model.startswith(name + "-"):
            return PRICES[name]
    return None


def cost_usd(model: str, prompt_tokens: int, completion_tokens: int) -> float | None:
    price = price_of(model)
    if price is None:
        return None
    return (prompt_tokens * price[0] + completion_tokens * price[1]) / 1_000_000
