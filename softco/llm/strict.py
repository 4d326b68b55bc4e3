"""What an OpenAI-compatible endpoint's strict structured outputs accept in a JSON schema.

:mod:`softco.schemas` builds request schemas from these keywords; :func:`strict_compatible` says
whether one can be sent with ``strict: true``.
"""

from __future__ import annotations

from typing import Any

#: The keywords a request schema keeps: those OpenAI's strict structured outputs accept.
KEPT_KEYWORDS = frozenset(
    {
        "type",
        "properties",
        "required",
        "additionalProperties",
        "items",
        "enum",
        "anyOf",
        "description",
        "pattern",
        "format",
        "minLength",
        "maxLength",
        "minItems",
        "maxItems",
        "minimum",
        "maximum",
        "exclusiveMinimum",
        "exclusiveMaximum",
        "multipleOf",
    }
)
MAX_DEPTH = 32


def strict_compatible(schema: dict[str, Any] | None) -> bool:
    """True when ``schema`` can be sent with ``strict: true``: every object lists all its properties as
    required and allows no others, and no keyword outside KEPT_KEYWORDS is used (as answer_schema makes)."""
    if not isinstance(schema, dict) or schema.get("type") != "object":
        return False
    return _strict(schema, 0)


def _strict(schema: Any, depth: int) -> bool:
    if not isinstance(schema, dict) or depth > MAX_DEPTH or not set(schema) <= KEPT_KEYWORDS:
        return False
    if schema.get("type") == "object" or "properties" in schema:
        props = schema.get("properties", {})
        if schema.get("additionalProperties") is not False or sorted(schema.get("required", [])) != sorted(props):
            return False
        if not all(_strict(p, depth + 1) for p in props.values()):
            return False
    if "items" in schema and not _strict(schema["items"], depth + 1):
        return False
    return all(_strict(s, depth + 1) for s in schema.get("anyOf", []))
