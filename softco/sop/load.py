"""The SOP: role definitions (roles/*.yaml) and their prompt templates (sop_templates/*.j2).

A user's SOP directory may hold any subset of the files; the rest come from the defaults shipped
in the wheel. Role files are validated into models that reject unknown keys, and problems name the
file and line.
"""

from __future__ import annotations

import hashlib
import stat
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Annotated, Any

import yaml
from jinja2.sandbox import SandboxedEnvironment
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, field_validator, model_validator

from softco.artifacts import KINDS, Artifact
from softco.custom_kinds import KindName, KindSpec, build_kind
from softco.defaults import ROLES_DIR, TEMPLATES_DIR
from softco.errors import UsageError
from softco.llm.base import ModelSettings
from softco.sop.prompts import make_env
from softco.sop.tools import TOOLS, check_tool_name, described

#: The names a ``when:`` expression may use (see softco.company.scheduler.Company._when).
WHEN_VARIABLES = ("trigger", "item", "subject")


@dataclass(frozen=True)
class Problem:
    """One problem of a SOP, shown as one line ``file:line: message``."""

    file: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {' '.join(self.message.split())}"


class SopError(UsageError):
    """The SOP is broken; each line of the message is `file:line: problem`."""

    def __init__(self, message: str | list[Problem]) -> None:
        self.problems: list[Problem] = message if isinstance(message, list) else []
        self.lines = tuple(str(p) for p in self.problems)
        super().__init__("\n".join(str(p) for p in message) if isinstance(message, list) else message)


class ActionSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(description="the action's name; the middle part of its step keys role/action/subject")
    trigger: list[str] = Field(description="kind(s) whose messages start this action")
    publishes: str = Field(description="the kind of artifact it publishes")
    template: str | None = Field(default=None, description="the prompt template (sop_templates/NAME.j2): an LLM step")
    tool: Annotated[str | None, BeforeValidator(check_tool_name)] = Field(
        default=None,
        description=f"a built-in tool instead of a template: {described()}",
        json_schema_extra={"enum": [*TOOLS, None]},
    )
    for_each: str | None = Field(default=None, description="a list field of the trigger artifact: one step per item")
    after_dependencies: bool = Field(
        default=False,
        description="with for_each: start an item's step only once the steps of the items in its depends_on "
        "have published (needed when the template reads their output); otherwise all items start at once and "
        "only publish in dependency order",
    )
    batch: bool = Field(
        default=False,
        description="run once over all new trigger messages, when nothing that publishes them is still to run",
    )
    when: str | None = Field(
        default=None, description="Jinja expression over trigger, item and subject; the step runs if true"
    )
    max_rounds: int | None = Field(
        default=None, ge=1, description="at most this many steps of this action per project (a bound for loops)"
    )

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
    id: str = Field(default="", description="the file name without .yaml; the first part of its step keys")
    name: str = Field(description="The person, e.g. Alice")
    title: str = Field(description="The job, e.g. Product Manager")
    order: int = Field(default=100, description="roles run in this order when several are ready")
    profile: str = Field(description="who the role is; in the system prompt")
    goal: str = Field(description="what the role is for; in the system prompt")
    constraints: list[str] = Field(default_factory=list, description="rules it follows; in the system prompt")
    watches: list[str] = Field(description="the kinds it reacts to; every action trigger must be one of them")
    actions: list[ActionSpec] = Field(min_length=1, description="what it does when a watched kind is published")
    model: ModelSettings = Field(
        default_factory=ModelSettings,
        description="model, temperature, max_tokens, base_url_env, api_key_env, structured for this role's LLM steps",
    )
    kinds: dict[KindName, KindSpec] = Field(
        default_factory=dict, description="new artifact kinds this role declares (see softco/custom_kinds.py)"
    )

    @property
    def author(self) -> str:
        return f"{self.name} ({self.title})"

    @property
    def email(self) -> str:
        return f"{self.id.replace('_', '-')}@softco.local"


def default_dirs() -> tuple[Path, Path]:
    """The shipped roles and templates (package data in :mod:`softco.defaults`)."""
    return ROLES_DIR, TEMPLATES_DIR


#: PyYAML's C parser (libyaml, in its wheels) when it has one: the same safe loading, ~10x faster than the
#: pure-Python one, which was half the time of checking the SOP before every run.
_SAFE_LOADER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


#: Values (mappings, lists and scalars, each alias counted again) a role file may hold. A SOP is shared code:
#: ten lines of YAML aliases, each naming the one before it nine times, stand for 9**9 values, which validating
#: the file walked one by one (minutes of CPU, gigabytes of memory). The default roles hold a few hundred.
MAX_YAML_VALUES = 100_000


def _safe_load(text: str, path: Path) -> Any:
    """The YAML of the role file ``path``; :class:`SopError` when its aliases expand past MAX_YAML_VALUES."""
    data = yaml.load(text, Loader=_SAFE_LOADER)  # noqa: S506  (a safe loader)
    todo, seen = [data], 0
    while todo:  # the values as validation walks them: an alias counts each time it is used
        item = todo.pop()
        seen += 1
        if seen > MAX_YAML_VALUES:
            why = f"it holds over {MAX_YAML_VALUES:,} values once its YAML aliases (*name) are expanded"
            raise SopError([Problem(str(path), 1, f"{why}; write the values out, or use fewer aliases")])
        if isinstance(item, dict):
            todo.extend(item.keys())
            todo.extend(item.values())
        elif isinstance(item, list):
            todo.extend(item)
    return data


def _yaml_line(text: str, key_path: tuple[Any, ...]) -> int:
    """Best-effort line of a key path in a YAML document (1-based)."""
    try:  # libyaml's composer (bounded nesting), as the file was loaded: the pure-Python one recursed past the stack
        node = yaml.compose(text, Loader=_SAFE_LOADER)  # noqa: S506  (a safe loader)
    except (yaml.YAMLError, RecursionError):
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


def read_sop_file(path: Path) -> str:
    """A role file's or template's text; :class:`SopError` naming the file when it cannot be read as UTF-8 text
    (a directory, a FIFO, a dangling or looping link, bytes that are not UTF-8)."""
    try:
        if not stat.S_ISREG(path.stat().st_mode):
            raise SopError([Problem(str(path), 1, "not a regular file; make it a YAML or Jinja file, or remove it")])
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise SopError([Problem(str(path), 1, f"cannot read it ({exc.strerror}); fix it or remove it")]) from None
    except UnicodeDecodeError:
        raise SopError([Problem(str(path), 1, "not UTF-8 text; save it as UTF-8")]) from None


def load_role(path: Path) -> RoleSpec:
    text = read_sop_file(path)
    try:
        data = _safe_load(text, path)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark else 1
        raise SopError([Problem(str(path), line, f"YAML syntax error: {getattr(exc, 'problem', exc)}")]) from None
    if not isinstance(data, dict):
        raise SopError([Problem(str(path), 1, "a role file must be a mapping of keys to values")])
    data.setdefault("id", path.stem)
    try:
        return RoleSpec.model_validate(data)
    except ValidationError as exc:
        lines = []
        for err in exc.errors(include_url=False):
            loc = tuple(err["loc"])
            where = _yaml_line(text, loc)
            key = ".".join(str(p) for p in loc) or "(file)"
            msg = "unknown key" if err["type"] == "extra_forbidden" else str(err["msg"]).removeprefix("Value error, ")
            lines.append(Problem(str(path), where, f"{key}: {msg}"))
        raise SopError(lines) from None


@lru_cache(maxsize=8)
def _shared_env(
    dirs: tuple[str, ...], sop_hash: str, listing: tuple[tuple[str, int, int], ...]
) -> SandboxedEnvironment:
    """One environment per (template directories, SOP content, every file under them: path, mtime, size);
    ``sop_hash`` and ``listing`` are only the cache's key."""
    return make_env([Path(d) for d in dirs])


def _listing(dirs: list[Path]) -> tuple[tuple[str, int, int], ...]:
    """Every file under ``dirs`` (an included template need not be a top-level ``*.j2``): path, mtime, size."""
    out: list[tuple[str, int, int]] = []
    for d in dirs:
        for p in sorted(d.rglob("*")) if d.is_dir() else []:
            try:
                st = p.stat()
            except OSError:
                continue
            out.append((str(p), st.st_mtime_ns, st.st_size))
    return tuple(out)


@dataclass
class Sop:
    """The company's roles in order, and the template environment they render with."""

    roles: list[RoleSpec]
    role_files: dict[str, Path]
    template_dirs: list[Path]
    custom_kinds: dict[str, type[Artifact]] = field(default_factory=dict)
    #: default roles this SOP does without (role id -> its `removed: true` file)
    removed: dict[str, Path] = field(default_factory=dict)

    @cached_property
    def removed_roles(self) -> dict[str, RoleSpec]:
        """The default roles this SOP removes, as the defaults define them (what they watched and published)."""
        return {rid: load_role(default_dirs()[0] / f"{rid}.yaml") for rid in self.removed}

    @cached_property
    def env(self) -> SandboxedEnvironment:
        """The environment of these template directories with this exact content (:attr:`sop_hash`): shared
        by every run of the process with the same SOP, so its templates are compiled once a process, not
        once a run (a changed, added or removed file is a new hash, so a new environment)."""
        return _shared_env(tuple(str(d) for d in self.template_dirs), self.sop_hash, _listing(self.template_dirs))

    @cached_property
    def sop_hash(self) -> str:
        h = hashlib.sha256()
        for rid in sorted(self.role_files):
            h.update(rid.encode() + b"\0" + self.role_files[rid].read_bytes())
        for rid in sorted(self.removed):
            h.update(b"removed\0" + rid.encode())
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
        """The artifact kinds this company knows: the built-in ones and those its role files declare."""
        return {**KINDS, **self.custom_kinds}

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
    problems: list[Problem] = []
    removed = _removed_roles(files, {p.stem for p in def_roles.glob("*.yaml")}, problems)
    for rid in removed:
        del files[rid]
    for p in files.values():
        try:
            role = load_role(p)
        except SopError as exc:
            problems.extend(exc.problems)
            continue
        if role.id != p.stem:
            line = _yaml_line(read_sop_file(p), ("id",))
            problems.append(
                Problem(str(p), line, f"id: {role.id!r} is not the file name; a role's id is its file name")
            )
            continue
        roles.append(role)
    roles.sort(key=lambda r: (r.order, r.id))
    custom = _custom_kinds(roles, files, problems)
    if user_dir is not None:
        problems.extend(_unreadable_templates(user_dir / "sop_templates"))
    if problems:
        raise SopError(problems)
    return Sop(roles=roles, role_files=files, template_dirs=template_dirs, custom_kinds=custom, removed=removed)


def _unreadable_templates(directory: Path) -> list[Problem]:
    """A SOP's templates that are not regular files (a directory, a FIFO, a dangling or looping link): the
    template loader skipped them for the default template of that name, without a word."""
    out: list[Problem] = []
    for path in sorted(directory.glob("*.j2")) if directory.is_dir() else []:
        try:
            if stat.S_ISREG(path.stat().st_mode):
                continue
            why = "not a regular file; make it a Jinja file, or remove it"
        except OSError as exc:
            why = f"cannot read it ({exc.strerror}); fix it or remove it"
        out.append(Problem(str(path), 1, why))
    return out


def _removed_roles(files: dict[str, Path], defaults: set[str], problems: list[Problem]) -> dict[str, Path]:
    """Role files that say only ``removed: true``: the SOP does without that default role. A file that
    tries to but is wrong is reported here and left out too, so it is not reported again as a role."""
    out: dict[str, Path] = {}
    for rid, path in files.items():
        try:
            text = read_sop_file(path)
            data = _safe_load(text, path)
        except (SopError, yaml.YAMLError):
            continue  # load_role reports it
        if not isinstance(data, dict) or "removed" not in data:
            continue
        line = _yaml_line(text, ("removed",))
        if data != {"removed": True}:
            problems.append(Problem(str(path), line, "removed: a file that removes a role holds only `removed: true`"))
        elif rid not in defaults:
            names = ", ".join(sorted(defaults))
            problems.append(Problem(str(path), line, f"removed: there is no default role {rid!r} to remove ({names})"))
        out[rid] = path
    return out


def _custom_kinds(roles: list[RoleSpec], files: dict[str, Path], problems: list[Problem]) -> dict[str, type[Artifact]]:
    """Build the kinds the role files declare; a name declared twice or clashing with a built-in is a problem."""
    out: dict[str, type[Artifact]] = {}
    owner: dict[str, str] = {}
    for role in roles:
        path = files[role.id]
        for name, spec in role.kinds.items():
            line = _yaml_line(path.read_text(encoding="utf-8"), ("kinds", name))
            if name in KINDS:
                problems.append(
                    Problem(str(path), line, f"kinds.{name}: {name} is a built-in kind; choose another name")
                )
                continue
            if name in owner:
                problems.append(
                    Problem(str(path), line, f"kinds.{name}: already declared by {files[owner[name]]}; declare it once")
                )
                continue
            owner[name] = role.id
            out[name] = build_kind(name, spec)
    return out


def kinds_for_reading(sop_dirs: list[str | None]) -> tuple[dict[str, type[Artifact]], bool]:
    """The kinds a reader of a board (`softco show`, `report`, `runs`) checks its messages against: the
    built-in kinds and those of the SOPs its runs were made with (``sop_dirs``, None for the default SOP).
    The flag is True when a SOP could not be loaded (moved, or changed since): a kind none of these know may
    then be one of its custom kinds, and is let through."""
    kinds: dict[str, type[Artifact]] = dict(KINDS)
    unsure = False
    for d in sorted({d for d in sop_dirs if d}):
        try:
            kinds.update(load_sop(Path(d)).custom_kinds)
        except (SopError, OSError, ValueError):
            unsure = True
    return kinds, unsure
