"""A small JSON schema checker for tests: what a schema-constrained endpoint enforces on its output.

It knows the keywords softco's request schemas use (type, properties, required, additionalProperties,
items, enum, anyOf, pattern, minLength/maxLength, minItems/maxItems, minimum/maximum) and follows
``$ref`` into ``$defs``, so it judges today's and older schemas alike. Unknown keywords are ignored,
as lenient servers do.
"""

from __future__ import annotations

import re
from typing import Any

_TYPES: dict[str, tuple[type, ...]] = {
    "object": (dict,),
    "array": (list,),
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "null": (type(None),),
}


def schema_errors(schema: dict[str, Any], value: Any, where: str = "(root)", root: Any = None) -> list[str]:
    """What in ``value`` breaks ``schema`` (empty: it fits)."""
    root = schema if root is None else root
    if "$ref" in schema:
        name = str(schema["$ref"]).rsplit("/", 1)[-1]
        return schema_errors(root.get("$defs", {})[name], value, where, root)
    if "anyOf" in schema:
        if all(schema_errors(s, value, where, root) for s in schema["anyOf"]):
            return [f"{where}: fits none of anyOf"]
        return []
    kind = schema.get("type")
    if kind is not None:
        ok = isinstance(value, _TYPES[kind]) and not (kind in ("integer", "number") and isinstance(value, bool))
        if not ok:
            return [f"{where}: not of type {kind}"]
    errors: list[str] = []
    if "enum" in schema and value not in schema["enum"]:
        errors.append(f"{where}: {value!r} is not one of {schema['enum']}")
    if isinstance(value, str):
        if "pattern" in schema and not re.search(schema["pattern"], value):
            errors.append(f"{where}: {value!r} does not match {schema['pattern']}")
        if len(value) < schema.get("minLength", 0) or len(value) > schema.get("maxLength", len(value)):
            errors.append(f"{where}: length {len(value)} is out of bounds")
    if isinstance(value, int | float) and not isinstance(value, bool):
        if value < schema.get("minimum", value) or value > schema.get("maximum", value):
            errors.append(f"{where}: {value} is out of bounds")
    if isinstance(value, list):
        if len(value) < schema.get("minItems", 0) or len(value) > schema.get("maxItems", len(value)):
            errors.append(f"{where}: {len(value)} items is out of bounds")
        for i, item in enumerate(value):
            errors += schema_errors(schema.get("items", {}), item, f"{where}[{i}]", root)
    if isinstance(value, dict):
        props: dict[str, Any] = schema.get("properties", {})
        errors += [f"{where}: {name} is missing" for name in schema.get("required", []) if name not in value]
        if schema.get("additionalProperties") is False:
            errors += [f"{where}: {name} is not allowed" for name in value if name not in props]
        for name, item in value.items():
            if name in props:
                errors += schema_errors(props[name], item, f"{where}.{name}", root)
    return errors
