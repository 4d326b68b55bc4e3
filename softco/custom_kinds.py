"""Artifact kinds declared in YAML: a role file's ``kinds:`` section becomes pydantic models.

A role file may declare new kinds next to its actions::

    kinds:
      review:
        description: Security findings for one source file.
        subject: path                      # the field that names what the artifact is about
        fields:
          path: {type: string, refers_to: design_file, description: The file reviewed}
          findings:
            type: list[object]
            required: false                # an empty list when the model leaves it out
            fields:
              line: {type: integer}
              severity: {type: string, choices: [low, medium, high]}
              message: {type: string}

softco builds a model for each kind with :func:`pydantic.create_model` (``extra="forbid"``, a
subclass of :class:`softco.artifacts.Artifact`), so answers are validated and re-asked like the
built-in kinds, the JSON schema the model is sent carries every description, and the kind gets
``docs/`` files from :func:`softco.views.doc_files`.
"""

from __future__ import annotations

import keyword
import re
from typing import Annotated, Any, ClassVar, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationInfo,
    create_model,
    field_validator,
    model_validator,
)

from softco.artifacts import REFERS_TO_KEY, Artifact, _check_design_path, _check_req_ids, check_relative_path

SCALARS = ("string", "integer", "number", "boolean")
FieldType = Literal[
    "string",
    "integer",
    "number",
    "boolean",
    "object",
    "list[string]",
    "list[integer]",
    "list[number]",
    "list[boolean]",
    "list[object]",
]
KIND_NAME = r"^[a-z][a-z0-9_]*$"
KindName = Annotated[str, StringConstraints(pattern=KIND_NAME)]
#: REFERS_TO_KEY (from softco.artifacts): the JSON schema key saying what a field refers to; the request
#: schema turns it into an enum of the design's files or the PRD's REQ ids (softco/schemas.py).
__all__ = ["REFERS_TO_KEY", "FieldSpec", "KindSpec", "build_kind"]
_PY: dict[str, type] = {"string": str, "integer": int, "number": float, "boolean": bool}


class FieldSpec(BaseModel):
    """One field of a kind declared in YAML."""

    model_config = ConfigDict(extra="forbid")
    type: FieldType = Field(
        description="string, integer, number, boolean, object, or list[...] of those (list[object] needs fields)"
    )
    description: str = Field(default="", description="what the model should put here; it is sent in the schema")
    required: bool = Field(
        default=True, description="false: the model may leave it out ([] for lists, empty/none otherwise)"
    )
    choices: list[str | int | float] | None = Field(default=None, description="the only values allowed")
    fields: dict[str, FieldSpec] | None = Field(
        default=None, description="the fields of an object, or of each object in a list[object]"
    )
    refers_to: Literal["design_file", "requirement"] | None = Field(
        default=None,
        description="design_file: must be a file of the design; requirement: must be a REQ id of the PRD",
    )

    @model_validator(mode="after")
    def _consistent(self) -> FieldSpec:
        objecty = self.type in ("object", "list[object]")
        if objecty and not self.fields:
            raise ValueError(f"type {self.type} needs 'fields'")
        if not objecty and self.fields is not None:
            raise ValueError(f"only object and list[object] have 'fields', not {self.type}")
        base = self.type.removeprefix("list[").removesuffix("]")
        if self.choices is not None:
            if base not in ("string", "integer", "number") or not self.choices:
                raise ValueError("choices need a string, integer or number type and at least one value")
            want: dict[str, tuple[type, ...]] = {"string": (str,), "integer": (int,), "number": (int, float)}
            bad = [c for c in self.choices if not isinstance(c, want[base]) or isinstance(c, bool)]
            if bad:
                raise ValueError(f"choices {bad} are not of type {base}")
        if self.refers_to is not None and base != "string":
            raise ValueError("refers_to needs a string or list[string] field")
        return self

    @field_validator("fields")
    @classmethod
    def _names(cls, v: dict[str, FieldSpec] | None) -> dict[str, FieldSpec] | None:
        for name in v or {}:
            check_field_name(name)
        return v


class KindSpec(BaseModel):
    """A new artifact kind: its fields, and which field names its subject."""

    model_config = ConfigDict(extra="forbid")
    description: str = Field(default="", description="what this artifact is; sent to the model in the schema")
    subject: str | None = Field(
        default=None,
        description="a required string field naming what the artifact is about (e.g. path); its value is the "
        "subject of the steps it triggers, so they run once per value. Without it the subject is 'project'",
    )
    title: str | None = Field(default=None, description="a field whose value is the artifact's title in git and docs")
    fields: dict[str, FieldSpec] = Field(min_length=1, description="field name -> field")

    @field_validator("fields")
    @classmethod
    def _names(cls, v: dict[str, FieldSpec]) -> dict[str, FieldSpec]:
        for name in v:
            check_field_name(name)
        return v

    @model_validator(mode="after")
    def _subject_title(self) -> KindSpec:
        for key in ("subject", "title"):
            name = getattr(self, key)
            if name is None:
                continue
            f = self.fields.get(name)
            if f is None:
                raise ValueError(f"{key} {name!r} is not one of the fields {sorted(self.fields)}")
            if f.type != "string" or not f.required:
                raise ValueError(f"{key} {name!r} must be a required string field")
        return self

    def bounded_subjects(self) -> bool:
        """True when the subjects of this kind form a set fixed by the design, not by the model."""
        if self.subject is None:
            return True
        f = self.fields[self.subject]
        return f.refers_to is not None or f.choices is not None


RESERVED = frozenset(n for n in dir(Artifact) if not n.startswith("__")) | {"kind", "spec"}


def check_field_name(name: str) -> str:
    if not name.isidentifier() or keyword.iskeyword(name) or name.startswith("_"):
        raise ValueError(f"field name {name!r} must be a Python identifier not starting with '_'")
    if name in RESERVED or name.startswith("model_"):
        raise ValueError(
            f"field name {name!r} is reserved by softco (every artifact has a {name!r} attribute); "
            f"choose another name, e.g. {name}_text"
        )
    return name


class CustomArtifact(Artifact):
    """Base of the kinds declared in YAML; ``spec`` is the declaration."""

    spec: ClassVar[KindSpec]

    def subject(self) -> str:
        name = self.spec.subject
        return str(getattr(self, name)) if name else "project"

    def title(self) -> str:
        name = self.spec.title or self.spec.subject
        head = str(getattr(self, name)) if name else self.kind
        counts = [
            f"{fname}: {len(getattr(self, fname))}"
            for fname, f in self.spec.fields.items()
            if f.type.startswith("list")
        ]
        return f"{head} ({', '.join(counts)})" if counts else head


def _design_path(v: str, info: ValidationInfo) -> str:
    return _check_design_path(check_relative_path(v), info)


def _design_paths(v: list[str], info: ValidationInfo) -> list[str]:
    return [_design_path(p, info) for p in v]


def _req_id(v: str, info: ValidationInfo) -> str:
    _check_req_ids([v], info)
    return v


def _camel(name: str) -> str:
    return "".join(p.capitalize() for p in re.split(r"[_\W]+", name) if p) or "Kind"


def _annotation(owner: str, name: str, f: FieldSpec) -> Any:
    base = f.type.removeprefix("list[").removesuffix("]")
    inner: Any
    if base == "object":
        assert f.fields is not None
        inner = _object_model(f"{owner}{_camel(name)}", f.fields)
    elif f.choices is not None:
        inner = Literal[tuple(f.choices)]
    else:
        inner = _PY[base]
    is_list = f.type.startswith("list[")
    if f.refers_to == "design_file":
        return (
            Annotated[list[inner], AfterValidator(_design_paths)]
            if is_list
            else Annotated[inner, AfterValidator(_design_path)]
        )
    if f.refers_to == "requirement":
        return (
            Annotated[list[inner], AfterValidator(_check_req_ids)]
            if is_list
            else Annotated[inner, AfterValidator(_req_id)]
        )
    return list[inner] if is_list else inner


def _field(owner: str, name: str, f: FieldSpec, subject: bool = False) -> tuple[Any, Any]:
    ann = _annotation(owner, name, f)
    extra = {REFERS_TO_KEY: f.refers_to} if f.refers_to else None
    kw: dict[str, Any] = {"description": f.description or None, "json_schema_extra": extra}
    if subject:
        kw["min_length"] = 1
    if f.required:
        return ann, Field(**kw)
    if f.type.startswith("list["):
        return ann, Field(default_factory=list, **kw)
    if f.type == "string" and f.choices is None:
        return ann, Field(default="", **kw)
    return ann | None, Field(default=None, **kw)


def _object_model(name: str, fields: dict[str, FieldSpec]) -> type[BaseModel]:
    defs: dict[str, Any] = {n: _field(name, n, f) for n, f in fields.items()}
    model: type[BaseModel] = create_model(name, __config__=ConfigDict(extra="forbid"), **defs)
    return model


def build_kind(name: str, spec: KindSpec) -> type[CustomArtifact]:
    """The pydantic model of the kind ``name`` declared by ``spec``."""
    cls_name = _camel(name)
    base: type[CustomArtifact] = type(
        f"{cls_name}Base", (CustomArtifact,), {"kind": name, "spec": spec, "__module__": __name__}
    )
    defs: dict[str, Any] = {n: _field(cls_name, n, f, subject=n == spec.subject) for n, f in spec.fields.items()}
    model: type[CustomArtifact] = create_model(
        cls_name, __base__=base, __doc__=spec.description or f"A {name} artifact.", __module__=__name__, **defs
    )
    return model
