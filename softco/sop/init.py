"""`softco sop init DIR`: a copy of the default SOP to edit, with a README generated from the code.

The README's tables come from the same definitions the engine uses (the role file models in
:mod:`softco.sop.load`, the kind declaration models in :mod:`softco.custom_kinds`, the template
variables in :data:`softco.sop.prompts.TEMPLATE_VARIABLES`), so they cannot drift from what runs.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from pydantic import BaseModel

from softco.custom_kinds import FieldSpec, KindSpec
from softco.defaults import EXAMPLES_DIR
from softco.errors import UsageError
from softco.llm.base import ModelSettings
from softco.sop.check_templates import ENGINE_TEMPLATES
from softco.sop.load import WHEN_VARIABLES, ActionSpec, RoleSpec, Sop, default_dirs, load_sop
from softco.sop.prompts import TEMPLATE_VARIABLES


class SopInitError(UsageError):
    """The SOP directory cannot be made; the message says what to do."""


def init_sop_dir(dest: Path) -> list[Path]:
    """Copy the default roles and templates into ``dest`` with a README; never overwrite anything."""
    if dest.exists() and not dest.is_dir():
        raise SopInitError(f"{dest} is a file; choose a new directory for the SOP")
    if dest.is_dir() and any(dest.iterdir()):
        raise SopInitError(f"{dest} is not empty; softco never overwrites files there: choose a new directory")
    roles_src, templates_src = default_dirs()
    try:
        dest.mkdir(parents=True, exist_ok=True)
        shutil.copytree(roles_src, dest / "roles", ignore=shutil.ignore_patterns("__pycache__"))
        shutil.copytree(templates_src, dest / "sop_templates", ignore=shutil.ignore_patterns("__pycache__"))
        readme = dest / "README.md"
        readme.write_text(sop_readme(load_sop()), encoding="utf-8")
    except OSError as exc:
        raise SopInitError(f"cannot write the SOP into {dest}: {exc.strerror or exc}") from None
    return sorted(p for p in dest.rglob("*") if p.is_file())


def examples_dir() -> Path:
    """The example SOPs (package data in :mod:`softco.defaults`)."""
    return EXAMPLES_DIR


def example_names() -> list[str]:
    root = examples_dir()
    return sorted(p.name for p in root.iterdir() if (p / "roles").is_dir()) if root.is_dir() else []


def init_example(dest: Path, name: str) -> list[Path]:
    """Copy the example SOP ``name`` (``examples/<name>``) into ``dest``; never overwrite anything."""
    names = example_names()
    if name not in names:
        raise SopInitError(f"no example SOP {name!r}; the examples are: {', '.join(names) or '(none installed)'}")
    if dest.exists() and not dest.is_dir():
        raise SopInitError(f"{dest} is a file; choose a new directory for the SOP")
    if dest.is_dir() and any(dest.iterdir()):
        raise SopInitError(f"{dest} is not empty; softco never overwrites files there: choose a new directory")
    try:
        shutil.copytree(examples_dir() / name, dest, ignore=shutil.ignore_patterns("__pycache__"), dirs_exist_ok=True)
    except OSError as exc:
        raise SopInitError(f"cannot write the SOP into {dest}: {exc.strerror or exc}") from None
    return sorted(p for p in dest.rglob("*") if p.is_file())


def _first_comment(path: Path) -> str:
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("#"):
            return line.lstrip("# ").strip()
        if line.strip():
            break
    return ""


def _keys_table(model: type[BaseModel], skip: tuple[str, ...] = ()) -> str:
    rows = ["| key | required | what |", "|---|---|---|"]
    for name, info in model.model_fields.items():
        if name in skip:
            continue
        desc = (info.description or "").replace("|", "\\|")
        rows.append(f"| `{name}` | {'yes' if info.is_required() else 'no'} | {desc} |")
    return "\n".join(rows)


def _action_line(a: ActionSpec) -> str:
    how = f"template `{a.template}`" if a.template else f"tool `{a.tool}`"
    notes = [
        n for n, on in (("batch", a.batch), (f"for_each {a.for_each}", a.for_each), (f"when `{a.when}`", a.when)) if on
    ]
    extra = f"; {', '.join(notes)}" if notes else ""
    return f"`{a.name}`: {', '.join(a.trigger)} → {a.publishes} ({how}{extra})".replace("|", "\\|")


def sop_readme(sop: Sop) -> str:
    """The README of an SOP directory: its files, their keys, and what each template gets."""
    out = [
        "# A softco SOP",
        "",
        "A copy of softco's default company, to edit. Roles are YAML files in `roles/`; their prompts are",
        "Jinja2 templates in `sop_templates/`. Use it with:",
        "",
        "```bash",
        "softco sop validate DIR                       # every problem as file:line: message; exit 2 if any",
        "softco sop graph DIR                          # the company as a mermaid flowchart",
        "softco sop graph DIR --html graph.html        # ... drawn, in one HTML file that works offline",
        'softco new "a todo app" --sop DIR --dry-run   # every step run against placeholders: no model, no cost',
        'softco new "a todo app" --sop DIR',
        "```",
        "",
        "A file missing here falls back to softco's default, so you may keep only the files you change",
        "(a role file named like a default one replaces it; a new name adds a role; a file named like a",
        "default role that holds only `removed: true` leaves that role out of the company). `softco new`",
        "checks the SOP first, the same way `softco sop validate` does, and stops with the problems if any.",
        "",
        "## roles/",
        "",
        "| file | role | what it does | actions (trigger → publishes) |",
        "|---|---|---|---|",
    ]
    for role in sop.roles:
        path = sop.role_files[role.id]
        actions = "<br>".join(_action_line(a) for a in role.actions)
        out.append(f"| `{path.name}` | {role.author} | {_first_comment(path)} | {actions} |")
    out += [
        "",
        "A role runs an action when a kind it watches is published on the board. A step's key is",
        "`role/action/subject` (the subject of the artifact that triggered it, or the item of a `for_each`",
        "list, or `round-N` for a `batch` action) and a step runs once per key, so an action triggered by",
        "`code` runs once per file.",
        "",
        "### Keys of a role file",
        "",
        _keys_table(RoleSpec),
        "",
        "### Keys of an action",
        "",
        _keys_table(ActionSpec),
        "",
        f"A `when` expression gets {', '.join(f'`{v}`' for v in WHEN_VARIABLES)}, e.g. "
        '`when: "trigger.findings | length > 0"`.',
        "",
        "### `model:` (per-role model settings)",
        "",
        _keys_table(ModelSettings),
        "",
        "A role's `base_url_env` / `api_key_env` name environment variables (never the URL or key itself),",
        "so a cheap model can write the PRD and a strong one the code:",
        "",
        "```yaml",
        "model: {model: gpt-4o, temperature: 0.2, max_tokens: 4000, base_url_env: CODER_BASE_URL}",
        "```",
        "",
        "### `kinds:` (new artifact kinds, no Python needed)",
        "",
        _keys_table(KindSpec),
        "",
        "Each field:",
        "",
        _keys_table(FieldSpec),
        "",
        "```yaml",
        "kinds:",
        "  review:",
        "    description: A security review of one source file.",
        "    subject: path            # steps it triggers run once per path",
        "    fields:",
        "      path: {type: string, refers_to: design_file}",
        "      findings:",
        "        type: list[object]",
        "        required: false",
        "        fields:",
        "          line: {type: integer}",
        "          severity: {type: string, choices: [low, medium, high]}",
        "          problem: {type: string}",
        "```",
        "",
        "softco validates the model's answers against the kind (re-asking with the error), commits it",
        "as `docs/<kind>.md` + `.json` (or `docs/<kind>/<subject>.md` when it has a subject) and shows",
        "it like any other artifact.",
        "",
        "## sop_templates/",
        "",
        "| template | rendered for | `trigger` is a | `item` |",
        "|---|---|---|---|",
    ]
    for name, (_, what) in ENGINE_TEMPLATES.items():
        if name in sop.template_names():
            out.append(f"| `{name}` | {what} | (the step's trigger) | (as the step) |")
    for role in sop.roles:
        for a in role.actions:
            if a.template is None:
                continue
            trig = ", ".join(
                f"{t} ({', '.join(sop.kinds[t].model_fields)})" if t in sop.kinds else t for t in a.trigger
            )
            item = f"one of `trigger.{a.for_each}`" if a.for_each else "None"
            out.append(f"| `{a.template}` | {role.id}.{a.name} → {a.publishes} | {trig} | {item} |")
    rendered = {*ENGINE_TEMPLATES, *(a.template for r in sop.roles for a in r.actions if a.template)}
    for name in sorted(set(sop.template_names()) - rendered):
        out.append(f'| `{name}` | imported by the templates above (`{{% from "{name}" import ... %}}`) | | |')
    out += [
        "",
        "### Variables every template gets",
        "",
        "| name | what it holds |",
        "|---|---|",
        *[f"| `{k}` | {v} |" for k, v in TEMPLATE_VARIABLES.items()],
        "",
        "Templates render in a sandboxed Jinja2 environment with `StrictUndefined`: a variable the step",
        "does not provide is an error naming the template and line, found by `softco sop validate`",
        "before any call. The model is told the answer's JSON schema separately (`response_format`), so a",
        "template need only say what to write.",
        "",
        "The sandbox also bounds what a template may build (`softco/sop/template_limits.py`): a `range()` of at",
        "most 100,000 items, strings and lists of at most 1,000,000 characters or items from `*`, `+`, `~`,",
        "`%`, `format`, `join`, `center`, `indent`, ..., 1,000,000 loop iterations and 1,000,000 written",
        "characters per render. Lists and dicts cannot be changed in place (`.append`): accumulate with",
        "`namespace()`. Going past a limit is an error naming the template and line: `softco sop validate`",
        "finds it where it needs no data, a run where it does.",
        "",
    ]
    return "\n".join(out)
