"""Prices come from genai-prices' bundled data (offline), your SOFTCO_PRICES file overrides them, and a model
neither knows has no price: cost "unknown", never a guess."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from softco.llm.base import LLMResponse, Usage
from softco.llm.prices import PriceFileError, cost_usd, price_of
from softco.steps.step import call_cost


def test_models_the_old_table_lacked_are_priced_from_genai_prices() -> None:
    # the hand-written table had 7 OpenAI models; genai-prices knows hundreds, of many providers
    assert price_of("gpt-4") == pytest.approx((30.0, 60.0))
    assert cost_usd("gpt-4", 1000, 1000) == pytest.approx(0.09)
    assert cost_usd("gpt-3.5-turbo", 1_000_000, 0) == pytest.approx(0.5)
    assert price_of("claude-3-5-sonnet-latest") == pytest.approx((3.0, 15.0))
    assert price_of("gpt-4o-mini") == pytest.approx((0.15, 0.60))
    assert price_of("gpt-4o-mini-2024-07-18") == pytest.approx((0.15, 0.60))  # a dated snapshot


@pytest.mark.parametrize("model", ["local-model", "qwen2.5-coder:7b", "llama3.1", "my-gpt-4o", "gpt-4o-mini-custom"])
def test_a_model_no_one_prices_is_unknown_never_a_guess(model: str) -> None:
    assert price_of(model) is None
    assert cost_usd(model, 1000, 1000) is None


def test_your_prices_file_overrides_the_bundled_prices(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    prices = tmp_path / "prices.json"
    prices.write_text(json.dumps({"gpt-4o-mini": [1, 2], "local-model": [0, 0]}))
    monkeypatch.setenv("SOFTCO_PRICES", str(prices))
    assert price_of("gpt-4o-mini") == (1.0, 2.0)
    assert price_of("gpt-4o-mini-2024-07-18") == (1.0, 2.0)
    assert cost_usd("gpt-4o-mini", 1_000_000, 1_000_000) == pytest.approx(3.0)
    assert cost_usd("local-model", 5000, 5000) == 0.0  # a local model you say is free
    assert price_of("gpt-4") == pytest.approx((30.0, 60.0))  # the rest still come from genai-prices


def test_the_prices_file_can_be_named_in_softco_toml(tmp_path: Path) -> None:
    (tmp_path / "p.json").write_text(json.dumps({"house-model": [2, 4]}))
    (tmp_path / "softco.toml").write_text('prices = "p.json"\n')
    assert price_of("house-model") == (2.0, 4.0)


def test_a_bad_prices_file_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"m": [-1, 2]}))
    monkeypatch.setenv("SOFTCO_PRICES", str(bad))
    with pytest.raises(PriceFileError, match="finite and not negative"):
        price_of("gpt-4o")


def test_estimated_usage_is_never_priced() -> None:
    estimated = LLMResponse(content="x", usage=Usage(prompt_tokens=100, completion_tokens=100, source="estimated"))
    measured = LLMResponse(content="x", usage=Usage(prompt_tokens=1000, completion_tokens=1000, source="measured"))
    assert call_cost("gpt-4", estimated) is None
    assert call_cost("gpt-4", measured) == pytest.approx(0.09)


OFFLINE = """
import sys
attempts = []
def refuse(event, args):
    if event in ("socket.connect", "socket.getaddrinfo", "socket.gethostbyname"):
        attempts.append(event)
        raise OSError(f"network refused in this test: {event}")
sys.addaudithook(refuse)
from softco.llm.prices import cost_usd, warm_up
warm_up().join()
print(round(cost_usd("gpt-4", 1000, 1000), 6), cost_usd("gpt-4o", 1000, 0), cost_usd("no-such-model", 1, 1))
print("network attempts:", len(attempts))
"""


def test_prices_work_with_no_network() -> None:
    """genai-prices can fetch newer prices: softco never lets it, the bundled data is enough."""
    proc = subprocess.run([sys.executable, "-c", OFFLINE], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == ["0.09 0.0025 None", "network attempts: 0"]
