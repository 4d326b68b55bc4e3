"""The JSON schema a step sends with its request: what its answer must look like, as far as JSON schema
can say it.

An endpoint that constrains its output to the schema (OpenAI's strict structured outputs, vLLM,
llama.cpp's grammars) can then only write answers that the artifact's validators accept, instead of
a well-formed answer that is rejected three times. :func:`answer_schema` builds it from the kind's
pydantic model for one step:

- rules the validators enforce become schema keywords: patterns (paths, REQ ids, the package name,
  test file names and ids, dependencies), ``minItems``/``maxItems``, small ``minLength``/``maxLength``;
- a field that must name a design file or a REQ id of the PRD (``x-softco-refers-to``) becomes an
  ``enum`` of the files and ids on the board, when they are known (so the schema differs per project);
- a field only some actions may fill (``x-softco-only-on``: ``Code.disputed_tests`` exists for fixes)
  is left out of the schema of the others;
- it is made fit for strict mode: every object lists all its properties as required and allows no
  others, ``$ref`` is inlined, and only keywords OpenAI's strict mode supports are kept (no ``title``,
  ``default`` or ``x-`` keys);
- bounds too big to help (``maxLength: 200000`` on a file's content) are dropped: grammar compilers
  choke on them (llama.cpp's crashes), and pydantic still enforces them.

What JSON schema cannot say stays with the validators alone: paths unique in a design, a design's
``depends_on`` naming its own files, REQ ids in order, no ``tests/`` or ``docs/`` files in a design,
test cases defined in the test file's content.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from pydantic import BaseModel

from softco.artifacts import MAX_PATH_CHARS, ONLY_ON_KEY, PATH_PATTERN, REFERS_TO_KEY, REQ_ID_PATTERN, Refs
from softco.llm.strict import KEPT_KEYWORDS, MAX_DEPTH

#: Bounds above this are left out of the request schema (pydantic still checks them).
MAX_SENT_BOUND = 1000
_BOUNDS = ("minLength", "maxLength", "minItems", "maxItems")


def answer_schema(cls: type[BaseModel], refs: Refs | None = None, triggers: Iterable[str] = ()) -> dict[str, Any]:
    """The request schema of ``cls`` for a step triggered by ``triggers``, with the board's ``refs``."""
    raw = cls.model_json_schema()
    defs: dict[str, Any] = raw.get("$defs", {})
    return _Builder(defs, refs or Refs(), set(triggers)).node(raw, 0)


class _Builder:
    def __init__(self, defs: dict[str, Any], refs: Refs, triggers: set[str]) -> None:
        self.defs = defs
        self.refs = refs
        self.triggers = triggers

    def node(self, schema: dict[str, Any], depth: int) -> dict[str, Any]:
        if depth > MAX_DEPTH:
            raise ValueError("the answer schema is nested too deeply (a recursive model?)")
        if "$ref" in schema:
            target = self.defs[str(schema["$ref"]).rsplit("/", 1)[-1]]
            siblings = {k: v for k, v in schema.items() if k != "$ref"}
            return self.node({**target, **siblings}, depth + 1)
        schema = dict(schema)
        refers = schema.pop(REFERS_TO_KEY, None)
        if refers is not None:
            if schema.get("type") == "array":  # a list field of a custom kind carries it on the list
                schema["items"] = {**schema.get("items", {}), REFERS_TO_KEY: refers}
            else:
                schema = self.reference(schema, str(refers))
        if "const" in schema:
            schema["enum"] = [schema.pop("const")]
        out: dict[str, Any] = {}
        for key, value in schema.items():
            if key not in KEPT_KEYWORDS:
                continue
            if key in _BOUNDS and isinstance(value, int) and value > MAX_SENT_BOUND:
                continue
            if key == "properties":
                out[key] = {name: self.node(sub, depth + 1) for name, sub in value.items() if self.wanted(sub)}
            elif key == "items" and isinstance(value, dict):
                out[key] = self.node(value, depth + 1)
            elif key == "anyOf":
                out[key] = [self.node(sub, depth + 1) for sub in value]
            else:
                out[key] = value
        if out.get("type") == "object" or "properties" in out:
            out.setdefault("properties", {})
            out["required"] = list(out["properties"])  # strict mode: every property is required...
            out["additionalProperties"] = False  # ...and there is no other
        return out

    def wanted(self, prop: dict[str, Any]) -> bool:
        """False for a field only other actions fill (ONLY_ON_KEY names the trigger kinds it is for)."""
        only = prop.get(ONLY_ON_KEY)
        return only is None or bool(self.triggers & set(only))

    def reference(self, schema: dict[str, Any], refers: str) -> dict[str, Any]:
        """A string naming a design file or a REQ id: an enum of the known ones, else their pattern."""
        for key in ("pattern", "maxLength", "minLength", "enum"):
            schema.pop(key, None)
        if refers == "design_file":
            known = sorted(self.refs.design_paths or ())
            return (
                {**schema, "enum": known} if known else {**schema, "pattern": PATH_PATTERN, "maxLength": MAX_PATH_CHARS}
            )
        if refers == "requirement":
            ids = sorted(self.refs.req_ids or (), key=lambda r: (len(r), r))
            return {**schema, "enum": ids} if ids else {**schema, "pattern": REQ_ID_PATTERN}
        return schema
