"""Token counts softco has to estimate (no usage from the endpoint, a dry run, an interface budget).

Every figure from here is an estimate and is labelled so (``Usage.source == "estimated"``); it is
never priced.
"""

from __future__ import annotations


def estimate_tokens(text: str) -> int:
    """A rough token count: 4 characters a token, at least 1."""
    return max(1, len(text) // 4)
