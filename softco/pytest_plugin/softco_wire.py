"""What both sides of softco's import proxy agree on (``softco_remote.py``, the trusted side, and
``softco_remote_child.py``, the project's process): the operators a proxy forwards, and how an int, a
float and the standard library's immutable values are written on the wire.

Standard library only, and no state: each side loads this file by its path, from the directory it was
loaded from itself, under a private name: never through ``sys.path`` (the child's starts with the project,
which could shadow the name) and never into ``sys.modules`` (where the project could find or replace it).
"""

from __future__ import annotations

import datetime
import decimal
import fractions
import math
from typing import Any

#: comparisons, forwarded as ``__eq__`` ... (the child applies :mod:`operator`'s function of that name)
COMPARISONS = ("eq", "ne", "lt", "le", "gt", "ge")
#: binary operators, forwarded as ``__add__`` and reflected as ``__radd__`` ("radd": the child swaps them)
ARITHMETIC = (
    "add",
    "sub",
    "mul",
    "truediv",
    "floordiv",
    "mod",
    "pow",
    "matmul",
    "and",
    "or",
    "xor",
    "lshift",
    "rshift",
)
#: unary operators, forwarded as ``__neg__`` ...
UNARY = ("neg", "pos", "abs", "invert", "round")

#: An int wider than this many bits is written as hex text (``{"n": "-1f"}``), not as a JSON number: a
#: decimal int over 4,300 digits is refused by Python's int/str conversion limit (and a project may lower
#: that limit in its process), while hex conversion is linear and has no limit.
INT_BITS = 63


def encode_int(value: int) -> Any:
    """An int (not a bool) on the wire: a JSON number when it is small, else ``{"n": HEX}``."""
    return value if value.bit_length() <= INT_BITS else {"n": format(value, "x")}


def decode_int(text: str) -> int:
    """The other side of :func:`encode_int`'s ``{"n": HEX}``; ValueError for anything but signed lowercase hex."""
    digits = text.removeprefix("-")
    if not digits or digits.strip("0123456789abcdef"):
        raise ValueError("not a hex int")
    return int(text, 16)


def encode_float(value: float) -> Any:
    """A float on the wire: a JSON number, or ``{"f": "nan" | "inf" | "-inf"}`` (JSON has neither)."""
    if math.isfinite(value):
        return value
    return {"f": "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")}


def encode_stdlib(value: Any) -> Any:
    """A date, time, datetime (naive or with a fixed offset), timedelta, Decimal, Fraction or complex as
    ``{"v": [kind, payload]}``; None for anything else (it goes by reference)."""
    t = type(value)
    if (
        t in (datetime.datetime, datetime.time)
        and value.tzinfo is not None
        and type(value.tzinfo) is not datetime.timezone
    ):
        return None  # a zone the other side may not have: by reference
    if t is datetime.datetime or t is datetime.date or t is datetime.time:
        return {"v": [t.__name__, value.isoformat()]}
    if t is datetime.timedelta:
        return {"v": ["timedelta", [value.days, value.seconds, value.microseconds]]}
    if t is decimal.Decimal:
        return {"v": ["Decimal", str(value)]}
    if t is fractions.Fraction:
        return {"v": ["Fraction", [encode_int(value.numerator), encode_int(value.denominator)]]}
    if t is complex:
        return {"v": ["complex", [encode_float(value.real), encode_float(value.imag)]]}
    return None
