"""Model prices: genai-prices' bundled data (hundreds of models, kept current by its releases), overridden
by a JSON file of your own (``SOFTCO_PRICES`` or softco.toml's ``prices``): ``{"my-model": [0.5, 1.5]}``,
USD per million input / output tokens, finite and not negative.

A model is priced by its name: your file first (the exact name, or a dated snapshot of a name in it,
``gpt-4o-mini-2024-07-18``), then genai-prices' own matching of the names its providers use. A model
neither knows has no price: its cost is "unknown", never a guess and never $0. Estimated usage is never
priced (the callers do not ask).

genai-prices is used offline: its bundled snapshot only, never its ``UpdatePrices`` fetcher. Importing
its data takes ~0.2 s, so nothing here imports it before a price is needed; :func:`warm_up` loads it in
a background thread while a run waits for its first answer.
"""

from __future__ import annotations

import json
import math
import re
import threading
from decimal import Decimal
from functools import cache
from pathlib import Path

from softco import config, warmup
from softco.errors import UsageError
from softco.text_file import read_text

#: Tokens a per-million price is measured on: small, so a tiered price gives its first tier.
_SAMPLE_TOKENS = 1000


#: The suffix of a model's dated snapshot or version: 2024-07-18, 20241022, 0613 (not "mini", "large").
_SNAPSHOT = re.compile(r"\d{4}(-?\d{2}-?\d{2})?|v\d+(\.\d+)*|latest|preview(-\d{2}-\d{2})?")


class PriceFileError(UsageError):
    pass


def _price(label: str, path: str, model: object, value: object) -> tuple[float, float]:
    pair = value if isinstance(value, list) else None
    if (
        not isinstance(model, str)
        or not model
        or pair is None
        or len(pair) != 2
        or not all(isinstance(v, int | float) and not isinstance(v, bool) for v in pair)
    ):
        raise PriceFileError(
            f"{label}{path}: {model!r} must map to [input, output], two numbers in USD per million tokens"
        )
    try:
        inp, out = float(pair[0]), float(pair[1])
    except OverflowError:  # an integer of hundreds of digits
        inp = out = math.inf
    if not (math.isfinite(inp) and math.isfinite(out) and inp >= 0 and out >= 0):
        raise PriceFileError(
            f"{label}{path}: the prices of {model!r} must be finite and not negative, got {pair}; fix the file"
        )
    return inp, out


#: The largest prices file read: a price list of every model there is fits in a few hundred KiB.
MAX_FILE_BYTES = 16 * 1024 * 1024


@cache
def _user_prices(path: str, label: str = "SOFTCO_PRICES=") -> dict[str, tuple[float, float]]:
    try:  # a FIFO would wait for a writer forever, /dev/zero never end: a regular file of at most 16 MiB
        text = read_text(Path(path), MAX_FILE_BYTES, "name a JSON file of prices", regular_only=True)
    except ValueError as exc:
        raise PriceFileError(f"{label}{exc}") from None
    try:
        data = json.loads(text)
    except (ValueError, RecursionError) as exc:  # RecursionError: JSON nested thousands deep
        raise PriceFileError(
            f'{label}{path}: expected a JSON object {{"model": [input, output]}} in USD per million '
            f"tokens ({type(exc).__name__}: {str(exc)[:200]})"
        ) from None
    if not isinstance(data, dict):
        raise PriceFileError(f'{label}{path}: expected a JSON object {{"model": [input, output]}}')
    return {k: _price(label, path, k, v) for k, v in data.items()}


def prices() -> dict[str, tuple[float, float]]:
    """Your prices (the file the settings name), checked: :class:`PriceFileError` for a file that is not valid.
    The bundled prices are not listed here; ask :func:`price_of` for a model's."""
    path: Path | None = config.current().prices
    return dict(_user_prices(str(path), config.named("prices"))) if path is not None else {}


def _user_price(model: str) -> tuple[float, float] | None:
    table = prices()
    if model in table:
        return table[model]
    for name in sorted(table, key=len, reverse=True):  # dated snapshots, e.g. gpt-4o-mini-2024-07-18
        if model.startswith(name + "-") and _SNAPSHOT.fullmatch(model[len(name) + 1 :]):
            return table[name]
    return None


def _library_cost(model: str, prompt_tokens: int, completion_tokens: int) -> Decimal | None:
    """genai-prices' price of this usage, from its bundled data; None when it knows no such model."""
    from genai_prices import Usage, calc_price  # the first call imports the data (~0.2 s)

    try:
        result = calc_price(Usage(input_tokens=prompt_tokens, output_tokens=completion_tokens), model)
    except LookupError:  # no provider has a model of that name
        return None
    return result.total_price


def cost_usd(model: str, prompt_tokens: int, completion_tokens: int) -> float | None:
    """What ``prompt_tokens`` in and ``completion_tokens`` out cost on ``model`` in USD; None: no price known."""
    own = _user_price(model)
    if own is not None:
        return (prompt_tokens * own[0] + completion_tokens * own[1]) / 1_000_000
    total = _library_cost(model, prompt_tokens, completion_tokens)
    return None if total is None else float(total)


def priced_model(requested: str, answered: str) -> str:
    """The model a call is priced at, on the board and in the budget alike: the one the endpoint says answered
    when it names one (a dated snapshot, a router's choice), else the one requested."""
    return answered or requested


def counted_usd(requested: str, answered: str, prompt_tokens: int, completion_tokens: int) -> float:
    """What a budget counts for a call: its cost at :func:`priced_model`; where that model has no known price
    (the board then says "unknown"), at the requested model's, which the budget reserved with; else 0."""
    for model in (priced_model(requested, answered), requested):
        usd = cost_usd(model, prompt_tokens, completion_tokens)
        if usd is not None:
            return usd
    return 0.0


def price_of(model: str) -> tuple[float, float] | None:
    """``model``'s (input, output) price in USD per million tokens (the first tier of a tiered price), or None."""
    own = _user_price(model)
    if own is not None:
        return own
    inp = _library_cost(model, _SAMPLE_TOKENS, 0)
    out = _library_cost(model, 0, _SAMPLE_TOKENS)
    if inp is None or out is None:
        return None
    scale = 1_000_000 // _SAMPLE_TOKENS
    return float(inp) * scale, float(out) * scale


_loaded = False


def _load_data() -> None:
    global _loaded
    try:
        from genai_prices import Usage, calc_price

        calc_price(Usage(input_tokens=0, output_tokens=0), "gpt-4o-mini")  # imports the data, builds its lookup
    finally:
        _loaded = True  # tried once: pricing a call does it again, and says what failed


def warm_up() -> threading.Thread | None:
    """Load genai-prices' data in softco's warm-up thread (:mod:`softco.warmup`), once a process: the first model
    call starts it, so the ~0.2 s of imports run while its answer is awaited, not before the call. Returns the
    thread (None: loaded already, nothing else to run)."""
    if not _loaded:
        warmup.add("prices", _load_data)
    return warmup.start()
