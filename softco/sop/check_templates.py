"""Checking the SOP's templates before any call: each one against what its step gives it.

Missing files, Jinja syntax, variables a template uses that its step does not get
(:data:`softco.sop.prompts.TEMPLATE_VARIABLES`), fields of ``trigger`` / ``item`` its kind does not have,
templates it includes or imports (checked the same way), what the render limits refuse, templates nobody
uses; and the ``when:`` expressions of actions, which are Jinja expressions too.
"""

from __future__ import annotations

import difflib
import traceback
from collections.abc import Iterator
from typing import get_args, get_origin

import jinja2
from jinja2 import meta, nodes
from jinja2.sandbox import SandboxedEnvironment
from pydantic import BaseModel

from softco.artifacts import Artifact
from softco.sop.load import WHEN_VARIABLES, ActionSpec, Problem, Sop, SopError
from softco.sop.problems import RoleLines, kind_list
from softco.sop.prompts import TEMPLATE_VARIABLES

#: Templates the engine renders itself (not named by any action), with the variables they get
#: besides TEMPLATE_VARIABLES: system.j2 for every LLM step, feedback.j2 when a person asks for
#: changes (softco.steps.step.build_request).
ENGINE_TEMPLATES: dict[str, tuple[frozenset[str], str]] = {
    "system.j2": (frozenset(), "every LLM step: the system message"),
    "feedback.j2": (
        frozenset({"feedback", "previous"}),
        "a step redone because a person asked for changes; also gets `feedback` (their requests, oldest "
        "first) and `previous` (the answer they are about)",
    ),
}
#: Names that are methods of the payload dict, not fields.
_DICT_METHODS = frozenset({"get", "items", "keys", "values"})


def item_fields(cls: type[Artifact], field: str) -> set[str] | None:
    """The fields of the objects in list field ``field`` of ``cls``, if they have a path or id."""
    info = cls.model_fields.get(field)
    if info is None:
        return None
    ann = info.annotation
    while get_origin(ann) is not None and get_origin(ann) is not list:  # Annotated[list[X], ...]
        ann = get_args(ann)[0]
    if get_origin(ann) is not list:
        return None
    (inner,) = get_args(ann)
    if not (isinstance(inner, type) and issubclass(inner, BaseModel)):
        return None
    names = set(inner.model_fields)
    return names if names & {"path", "id"} else None


def trigger_fields(sop: Sop, a: ActionSpec) -> dict[str, set[str]]:
    return {t: set(sop.kinds[t].model_fields) for t in a.trigger if t in sop.kinds}


class _TemplateChecker:
    """Checks templates against what a step gives them; each (template, action) once."""

    def __init__(self, sop: Sop) -> None:
        self.sop = sop
        self.env: SandboxedEnvironment = sop.env
        self.globals = set(self.env.globals)
        self.done: set[tuple[str, str | None, frozenset[str]]] = set()
        self.evaluated: set[str] = set()
        #: templates found but not readable as text, and why
        self.unreadable: dict[str, str] = {}

    def source(self, name: str) -> tuple[str, str] | None:
        try:
            src, filename, _ = self.env.loader.get_source(self.env, name)  # type: ignore[union-attr]
        except jinja2.TemplateNotFound:
            return None
        except (OSError, UnicodeDecodeError) as exc:  # a template of bytes that are not UTF-8: check() says so
            why = "not UTF-8 text; save it as UTF-8"
            self.unreadable[name] = why if isinstance(exc, ValueError) else f"cannot read it ({exc.strerror})"
            return "", name
        return src, filename or name

    def check(
        self,
        name: str,
        allowed: set[str],
        action: ActionSpec | None,
        trigger: dict[str, set[str]],
        item: set[str] | None,
    ) -> list[Problem]:
        key = (name, action.name if action else None, frozenset(allowed))
        if key in self.done:
            return []
        self.done.add(key)
        found = self.source(name)
        if found is None:
            return []  # the caller reports a missing template where it is named
        src, filename = found
        if name in self.unreadable:
            return [Problem(self._path(name), 1, self.unreadable[name])]
        try:
            ast = self.env.parse(src, name, filename)
        except jinja2.TemplateSyntaxError as exc:
            return [Problem(filename, exc.lineno or 1, f"Jinja syntax error: {exc.message}")]
        out: list[Problem] = []
        undeclared = meta.find_undeclared_variables(ast) - allowed - self.globals
        for var in sorted(undeclared, key=lambda v: (_first_line(ast, v), v)):
            out.append(
                Problem(
                    filename,
                    _first_line(ast, var),
                    f"{var!r} is undefined: this template gets {', '.join(sorted(allowed))}",
                )
            )
        if action is not None:
            out += attribute_problems(ast, filename, action, trigger, item)
        if name not in self.evaluated:
            self.evaluated.add(name)
            out += _limit_problems(self.env, ast, filename)
        stored = {n.name for n in ast.find_all(nodes.Name) if n.ctx in ("store", "param")}
        for ref_node, ref in _references(ast):
            if self.source(ref) is None:
                out.append(Problem(filename, ref_node.lineno, f"template {ref!r} not found in {self._searchpath()}"))
                continue
            out += self.check(ref, allowed | stored, action, trigger, item)
        return out

    def _path(self, name: str) -> str:
        """Where template ``name`` is, for a problem's line."""
        try:
            return str(self.sop.template_path(name))
        except SopError:
            return name

    def _searchpath(self) -> str:
        return " or ".join(str(d) for d in self.sop.template_dirs)


#: Statements evaluated on their own would lose what they need (the loader, the caller, blocks).
_NOT_ALONE = (nodes.Extends, nodes.Include, nodes.Import, nodes.FromImport, nodes.Macro, nodes.CallBlock, nodes.Block)


def _limit_problems(env: SandboxedEnvironment, ast: nodes.Template, filename: str) -> list[Problem]:
    """Run the parts of a template that need no data (``range(10**8)``, ``'a' * 999999999``) in the
    bounded sandbox, so what a run would stop on is a validation problem. Parts that use a step's
    variables are checked when a run (or ``--dry-run``) renders them with real data."""
    out: list[Problem] = []

    def visit(body: list[nodes.Node]) -> None:
        for node in body:
            if out:
                return
            if isinstance(node, nodes.Output) and len(node.nodes) > 1:  # text and expressions: one at a time
                visit([nodes.Output([child], lineno=child.lineno) for child in node.nodes])
                continue
            if not _computes(node):  # text, or names shown as they are: nothing to build
                continue
            if not isinstance(node, _NOT_ALONE) and not _free_names(env, node) - set(env.globals):
                problem = _run_alone(env, node, filename)
                if problem is not None:
                    out.append(problem)
                continue
            for field in ("body", "else_", "elif_"):
                child = getattr(node, field, None)
                if isinstance(child, list):
                    visit(child)

    visit(ast.body)
    return out


def _computes(node: nodes.Node) -> bool:
    """Whether ``node`` calls, operates or filters anything (what could build something big)."""
    return next(node.find_all((nodes.Call, nodes.BinExpr, nodes.Concat, nodes.Filter)), None) is not None


def _free_names(env: SandboxedEnvironment, node: nodes.Node) -> set[str]:
    """Variables ``node`` reads that it does not set itself (a for loop's target and ``loop``, a set's
    name). A name read before it is set counts as set: running such a node fails, which is ignored."""
    names = list(node.find_all(nodes.Name))
    if isinstance(node, nodes.For) or node.find(nodes.For) is not None:
        names = [n for n in names if n.name != "loop"]
    own = {n.name for n in names if n.ctx in ("store", "param")}
    return {n.name for n in names if n.ctx == "load"} - own


def _run_alone(env: SandboxedEnvironment, node: nodes.Node, filename: str) -> Problem | None:
    from softco.sop.template_limits import RenderBudget, TemplateLimitError

    try:
        alone = nodes.Template([node], lineno=1)
        alone.set_environment(env)
        code = env.compile(alone, filename=filename)
        template = env.template_class.from_code(env, code, env.make_globals(None))
        with RenderBudget():
            template.render()
    except TemplateLimitError as exc:
        line = next(
            (f.lineno for f in reversed(traceback.extract_tb(exc.__traceback__)) if f.filename == filename),
            node.lineno,
        )
        return Problem(filename, line or node.lineno, f"{exc}; a run would stop here")
    except Exception:  # noqa: BLE001 - anything else is for the run with real data to report
        return None
    return None


def _first_line(ast: nodes.Template, name: str) -> int:
    found = [n.lineno for n in ast.find_all(nodes.Name) if n.name == name and n.ctx == "load"]
    return min(found) if found else 1


def _references(ast: nodes.Template) -> Iterator[tuple[nodes.Node, str]]:
    for node in ast.find_all((nodes.Include, nodes.Import, nodes.FromImport, nodes.Extends)):
        tmpl = node.template  # type: ignore[attr-defined]
        if isinstance(tmpl, nodes.Const) and isinstance(tmpl.value, str):
            yield node, tmpl.value


def _aliases(ast: nodes.Node, name: str) -> set[str]:
    """``name`` and the variables set from it (``{% set bug = trigger %}``)."""
    names = {name}
    for node in ast.find_all(nodes.Assign):
        if isinstance(node.node, nodes.Name) and node.node.name == name and isinstance(node.target, nodes.Name):
            names.add(node.target.name)
    return names


def _accesses(ast: nodes.Node, names: set[str]) -> Iterator[tuple[int, str]]:
    for node in ast.find_all((nodes.Getattr, nodes.Getitem)):
        base = node.node  # type: ignore[attr-defined]
        if not (isinstance(base, nodes.Name) and base.name in names):
            continue
        if isinstance(node, nodes.Getattr):
            yield node.lineno, node.attr
        elif isinstance(node, nodes.Getitem) and isinstance(node.arg, nodes.Const) and isinstance(node.arg.value, str):
            yield node.lineno, node.arg.value


def attribute_problems(
    ast: nodes.Node, filename: str, action: ActionSpec, trigger: dict[str, set[str]], item: set[str] | None
) -> list[Problem]:
    out: list[Problem] = []
    for line, attr in _accesses(ast, _aliases(ast, "trigger")):
        for kind, fields in trigger.items():
            if attr not in fields and attr not in _DICT_METHODS:
                out.append(
                    Problem(
                        filename,
                        line,
                        f"trigger.{attr}: kind {kind!r} (what triggers action {action.name!r}) has no field {attr!r};"
                        f" its fields: {kind_list(fields)}",
                    )
                )
    for line, attr in _accesses(ast, _aliases(ast, "item")):
        if not action.for_each:
            out.append(
                Problem(filename, line, f"item.{attr}: item is None here: action {action.name!r} has no for_each")
            )
        elif item is not None and attr not in item and attr not in _DICT_METHODS:
            out.append(Problem(filename, line, f"item.{attr}: the items of {action.for_each!r} have no field {attr!r}"))
    return out


def check_templates(sop: Sop, lines: RoleLines) -> list[Problem]:
    checker = _TemplateChecker(sop)
    allowed = set(TEMPLATE_VARIABLES)
    out: list[Problem] = []
    used: set[str] = set()
    llm_actions = [(r, j, a) for r in sop.roles for j, a in enumerate(r.actions) if a.template is not None]
    if llm_actions:
        role, j, _ = llm_actions[0]
        for name, (extra, _) in ENGINE_TEMPLATES.items():
            used.add(name)
            if checker.source(name) is not None:
                out += checker.check(name, allowed | extra, None, {}, None)
            elif name == "system.j2":
                out.append(
                    lines.problem(
                        role,
                        ("actions", j, "template"),
                        f"system.j2 (every LLM step's system prompt) not found in {checker._searchpath()}",
                    )
                )
    for role, j, a in llm_actions:
        assert a.template is not None
        used.add(a.template)
        if checker.source(a.template) is None:
            close = difflib.get_close_matches(a.template, sorted(sop.template_names()), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            out.append(
                lines.problem(
                    role,
                    ("actions", j, "template"),
                    f"template {a.template!r} not found in {checker._searchpath()}{hint}",
                )
            )
            continue
        item = None
        if a.for_each:
            fields = [item_fields(sop.kinds[t], a.for_each) for t in a.trigger if t in sop.kinds]
            item = set.intersection(*[f for f in fields if f is not None]) if any(fields) else None
        out += checker.check(a.template, allowed, a, trigger_fields(sop, a), item)
        changed = f"change_{a.template}"  # what `softco change` renders instead, when the SOP has it
        if checker.source(changed) is not None:
            used.add(changed)
            out += checker.check(changed, allowed, a, trigger_fields(sop, a), item)
    out += _unused_templates(sop, checker, used)
    return out


def _unused_templates(sop: Sop, checker: _TemplateChecker, used: set[str]) -> list[Problem]:
    """A user's template no action uses (and none includes) is most likely a misspelled override."""
    if len(sop.template_dirs) < 2:
        return []
    user = sop.template_dirs[0]
    reached = {name for name, _, _ in checker.done} | used
    removed = {
        a.template: rid for rid, role in sop.removed_roles.items() for a in role.actions if a.template is not None
    }
    out = []
    for p in sorted(user.glob("*.j2")) if user.is_dir() else []:
        if p.name in reached:
            continue
        if p.name in removed:
            why = f"it belongs to the removed role {removed[p.name]}; delete it"
            out.append(Problem(str(p), 1, f"no action uses this template: {why}"))
            continue
        close = difflib.get_close_matches(p.name, sorted(reached), n=1)
        hint = f"; did you mean {close[0]}?" if close else ""
        out.append(Problem(str(p), 1, f"no action uses this template and no template includes it{hint}"))
    return out


def check_expression(sop: Sop, a: ActionSpec, file: str, line: int) -> list[Problem]:
    assert a.when is not None
    env = sop.env
    try:
        ast = env.parse("{{ (" + a.when + ") }}")
    except jinja2.TemplateSyntaxError as exc:
        return [Problem(file, line, f"when: {a.when!r} is not a valid expression: {exc.message}")]
    out = []
    for var in sorted(meta.find_undeclared_variables(ast) - set(WHEN_VARIABLES) - set(env.globals)):
        out.append(
            Problem(file, line, f"when: {var!r} is undefined; a when expression gets {', '.join(WHEN_VARIABLES)}")
        )
    item = None
    if a.for_each:
        found = [item_fields(sop.kinds[t], a.for_each) for t in a.trigger if t in sop.kinds]
        item = found[0] if found else None
    out += [
        Problem(file, line, f"when: {p.message}")
        for p in attribute_problems(ast, file, a, trigger_fields(sop, a), item)
    ]
    return out
