"""The SOP: role definitions (roles/*.yaml) and their prompt templates (sop_templates/*.j2).

A user's SOP directory may hold any subset of the files; the rest come from the defaults shipped
in the wheel. Role files are validated into models that reject unknown keys, and problems name the
file and line.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import cached_property
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import yaml
from jinja2.sandbox import SandboxedEnvironment
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from softco.artifacts import KINDS, Artifact
from softco.llm.base import ModelSettings
from softco.prompts import make_env

TOOLS = ("run_tests", "triage")


class SopError(Exception):
    """The SOP is broken; each line of the message is `file:line: problem`."""


class ActionSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    trigger: list[str] = Field(description="kind(s) whose messages start this action")
    publishes: str
    template: str | None = None
    tool: Literal["run_tests", "triage"] | None = None
    for_each: str | None = Field(default=None, description="a list field of the trigger artifact: one step per item")
    batch: bool = Field(
        default=False,
        description="run once over all new trigger messages, when nothing that publishes them is still to run",
    )
    when: str | None = Field(default=None, description="Jinja expression; the step runs if true")

    @field_validator("trigger", mode="before")
    @classmethod
    def _one_or_many(cls, v: Any) -> Any:
        return [v] if isinstance(v, str) else v

    @model_validator(mode="after")
    def _template_or_tool(self) -> ActionSpec:
        if (self.template is None) == (self.tool is None):
            raise ValueError(f"action {self.name!r} needs exactly one of 'template' or 'tool'")
        return self


class RoleSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str = ""
    name: str = Field(description="The person, e.g. Alice")
    title: str = Field(description="The job, e.g. Product Manager")
    order: int = 100
    profile: str
    goal: str
    constraints: list[str] = Field(default_factory=list)
    watches: list[str]
    actions: list[ActionSpec] = Field(min_length=1)
    model: ModelSettings = Field(default_factory=ModelSettings)

    @model_validator(mode="after")
    def _triggers_watched(self) -> RoleSpec:
        for a in self.actions:
            missing = [k for k in a.trigger if k not in self.watches]
            if missing:
                raise ValueError(f"action {a.name!r} is triggered by {missing}, which the role does not watch")
        return self

    @property
    def author(self) -> str:
        return f"{self.name} ({self.title})"

    @property
    def email(self) -> str:
        return f"{self.id.replace('_', '-')}@softco.local"


def default_dirs() -> tuple[Path, Path]:
    """Where the shipped roles and templates are: inside the wheel, or the source checkout."""
    packaged = Path(str(resources.files("softco"))) / "_defaults"
    if (packaged / "roles").is_dir():
        return packaged / "roles", packaged / "sop_templates"
    root = Path(__file__).resolve().parent.parent
    return root / "roles", root / "sop_templates"


def _yaml_line(text: str, key_path: tuple[Any, ...]) -> int:
    """Best-effort line of a key path in a YAML document (1-based)."""
    try:
        node = yaml.compose(text)
    except yaml.YAMLError:
        return 1
    line = 1
    for key in key_path:
        if isinstance(node, yaml.MappingNode):
            for k, v in node.value:
                if k.value == key:
                    line = k.start_mark.line + 1
                    node = v
                    break
            else:
                return line
        elif isinstance(node, yaml.SequenceNode) and isinstance(key, int) and key < len(node.value):
            node = node.value[key]
            line = node.start_mark.line + 1
        else:
            return line
    return line


def load_role(path: Path) -> RoleSpec:
    text = path.read_text(encoding="utf-8")
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark else 1
        raise SopError(f"{path}:{line}: YAML syntax error: {getattr(exc, 'problem', exc)}") from None
    if not isinstance(data, dict):
        raise SopError(f"{path}:1: a role file must be a mapping of keys to values")
    data.setdefault("id", path.stem)
    try:
        return RoleSpec.model_validate(data)
    except ValidationError as exc:
        lines = []
        for err in exc.errors(include_url=False):
            loc = tuple(err["loc"])
            where = _yaml_line(text, loc)
            key = ".".join(str(p) for p in loc) or "(file)"
            msg = "unknown key" if err["type"] == "extra_forbidden" else err["msg"]
            lines.append(f"{path}:{where}: {key}: {msg}")
        raise SopError("\n".join(lines)) from None


@dataclass
class Sop:
    """The company's roles in order, and the template environment they render with."""

    roles: list[RoleSpec]
    role_files: dict[str, Path]
    template_dirs: list[Path]

    @cached_property
    def env(self) -> SandboxedEnvironment:
        return make_env(self.template_dirs)

    @cached_property
    def sop_hash(self) -> str:
        h = hashlib.sha256()
        for rid in sorted(self.role_files):
            h.update(rid.encode() + b"\0" + self.role_files[rid].read_bytes())
        for name in sorted(self.template_names()):
            h.update(name.encode() + b"\0" + self.template_path(name).read_bytes())
        return h.hexdigest()[:16]

    def template_names(self) -> set[str]:
        names: set[str] = set()
        for d in self.template_dirs:
            if d.is_dir():
                names.update(p.name for p in d.glob("*.j2"))
        return names

    def template_path(self, name: str) -> Path:
        for d in self.template_dirs:
            if (d / name).is_file():
                return d / name
        raise SopError(f"{name}: template not found in {[str(d) for d in self.template_dirs]}")

    @cached_property
    def kinds(self) -> dict[str, type[Artifact]]:
        """The artifact kinds this company knows: the built-in ones (custom kinds join here)."""
        return dict(KINDS)

    def kind(self, name: str) -> type[Artifact]:
        try:
            return self.kinds[name]
        except KeyError:
            raise SopError(f"unknown artifact kind {name!r}; known kinds: {sorted(self.kinds)}") from None

    def role(self, role_id: str) -> RoleSpec:
        for r in self.roles:
            if r.id == role_id:
                return r
        raise KeyError(role_id)


def load_sop(user_dir: Path | None = None) -> Sop:
    """Load the SOP from ``user_dir`` (any subset of roles/ and sop_templates/) over the defaults."""
    def_roles, def_templates = default_dirs()
    files: dict[str, Path] = {p.stem: p for p in sorted(def_roles.glob("*.yaml"))}
    template_dirs = [def_templates]
    if user_dir is not None:
        if not user_dir.is_dir():
            raise SopError(f"{user_dir}: SOP directory not found; create one with `softco sop init {user_dir}`")
        for p in sorted((user_dir / "roles").glob("*.yaml")):
            files[p.stem] = p
        template_dirs.insert(0, user_dir / "sop_templates")
    roles: list[RoleSpec] = []
    problems: list[str] = []
    for p in files.values():
        try:
            roles.append(load_role(p))
        except SopError as exc:
            problems.append(str(exc))
    if problems:
        raise SopError("\n".join(problems))
    roles.sort(key=lambda r: (r.order, r.id))
    return Sop(roles=roles, role_files=files, template_dirs=template_dirs)
