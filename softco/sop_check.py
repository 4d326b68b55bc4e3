"""Checking a SOP before any call: `softco sop validate`, and the first thing `softco new` does.

:func:`check_dir` returns a list of :class:`~softco.sop.Problem` (``file:line: message``), empty
when the SOP is fine. What it checks, in order:

- role files: YAML syntax, unknown keys, wrong types (from :func:`softco.sop.load_role`), kind
  declarations, a kind declared twice or named like a built-in one, ``.yml`` files that are ignored;
- each role: watched kinds that do not exist or that no role publishes (``requirement`` comes from
  the customer), triggers the role does not watch, unknown published kinds, tools used with the
  wrong kinds, ``for_each`` fields that are not lists of objects, ``when`` expressions;
- templates: missing files, Jinja syntax, variables a template uses that its step does not get
  (:data:`softco.roles.TEMPLATE_VARIABLES`), fields of ``trigger`` / ``item`` its kind does not
  have, templates it includes or imports (checked the same way), templates nobody uses;
- the company: roles and actions that can never run (nothing published from the requirement on
  triggers them), a company that never publishes its final kind (``test_report``), and loops
  with no bound.

A loop is a cycle in the kind graph (kind -> action -> published kind). It is bounded when one of
its actions runs a bounded number of times: the ``triage`` and ``collect_disputes`` tools (they
stop after ``--max-fix-rounds``), an action with ``max_rounds``, or a non-batch action triggered by a kind
whose subjects are fixed by the design (a step key is role/action/subject, so such an action runs
once per subject). A ``batch`` action makes a new ``round-N`` subject every time, and a kind whose
subject the model chooses freely can have any number of subjects: a cycle of only such actions
could make new steps forever.
"""

from __future__ import annotations

import difflib
import traceback
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, get_args, get_origin

import jinja2
from jinja2 import meta, nodes
from jinja2.sandbox import SandboxedEnvironment
from pydantic import BaseModel

from softco.artifacts import KINDS, Artifact
from softco.custom_kinds import CustomArtifact
from softco.roles import TEMPLATE_VARIABLES
from softco.sop import (
    WHEN_VARIABLES,
    ActionSpec,
    Problem,
    RoleSpec,
    Sop,
    SopError,
    _yaml_line,
    load_sop,
)

#: The kind a company exists to publish; without it a run ends "no tests were run".
FINAL_KIND = "test_report"
#: Kinds the customer publishes (no role needs to).
CUSTOMER_KINDS = frozenset({"requirement"})
#: Built-in kinds whose subjects the design fixes ('project', or a design file's path).
BOUNDED_SUBJECT_KINDS = frozenset({"requirement", "prd", "design", "tasks", "code", "tests"})
#: What the built-in tools read and write.
TOOL_KINDS = {
    "plan_tasks": ("design", "tasks"),
    "run_tests": (None, "test_report"),
    "triage": ("test_report", "bug_report"),
    "collect_disputes": ("test_report", "test_dispute"),
}
#: Templates the engine renders itself (not named by any action), with the variables they get
#: besides TEMPLATE_VARIABLES: system.j2 for every LLM step, feedback.j2 when a person asks for
#: changes (softco.roles.build_request).
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


def check_dir(user_dir: Path | None, final_kind: str = FINAL_KIND) -> list[Problem]:
    """Every problem of the SOP in ``user_dir`` over the defaults (None: the defaults alone).

    Raises :class:`SopError` when ``user_dir`` is not a directory.
    """
    problems = _stray_files(user_dir) if user_dir is not None and user_dir.is_dir() else []
    try:
        sop = load_sop(user_dir)
    except SopError as exc:
        if not exc.problems:
            raise
        return problems + exc.problems
    return problems + check_sop(sop, final_kind)


def load_checked_sop(user_dir: Path | None) -> Sop:
    """Load the SOP and check it; :class:`SopError` carries every problem."""
    problems = check_dir(user_dir)
    if problems:
        raise SopError(problems)
    return load_sop(user_dir)


def _stray_files(user_dir: Path) -> list[Problem]:
    roles = user_dir / "roles"
    return [
        Problem(str(p), 1, f"not read: role files end in .yaml; rename it to {p.stem}.yaml")
        for p in sorted(roles.glob("*.yml"))
    ]


class _Lines:
    """Lines of keys in the role files, for problems that point at them."""

    def __init__(self, sop: Sop) -> None:
        self.files = {rid: str(p) for rid, p in sop.role_files.items()}
        self.texts = {rid: p.read_text(encoding="utf-8") for rid, p in sop.role_files.items()}

    def at(self, role: RoleSpec, *keys: Any) -> tuple[str, int]:
        return self.files[role.id], _yaml_line(self.texts[role.id], keys)

    def problem(self, role: RoleSpec, keys: tuple[Any, ...], message: str) -> Problem:
        file, line = self.at(role, *keys)
        return Problem(file, line, message)


def check_sop(sop: Sop, final_kind: str = FINAL_KIND) -> list[Problem]:
    """The problems of a loaded SOP (roles, kinds, templates, reachability, loops)."""
    lines = _Lines(sop)
    out: list[Problem] = []
    publishers: dict[str, list[tuple[RoleSpec, int]]] = {}
    for role in sop.roles:
        for j, a in enumerate(role.actions):
            publishers.setdefault(_publishes(a), []).append((role, j))
    known = set(sop.kinds)
    excused: set[str] = set()  # kinds already reported: assume them fixed, so nothing cascades
    out += _check_removed(sop, publishers, excused, final_kind)
    for role in sop.roles:
        out += _check_role(sop, role, lines, known, publishers, excused)
    out += _check_templates(sop, lines)
    out += _check_reach(sop, lines, excused, final_kind, publishers)
    out += _check_loops(sop, lines)
    return list(dict.fromkeys(out))


def _publishes(a: ActionSpec) -> str:
    """What an action really publishes: a tool's own kind, whatever its `publishes` says."""
    return TOOL_KINDS[a.tool][1] if a.tool else a.publishes


def _check_removed(
    sop: Sop, publishers: dict[str, list[tuple[RoleSpec, int]]], excused: set[str], final_kind: str
) -> list[Problem]:
    """A default role the SOP removes must not leave a kind that is needed (watched, or the final kind)
    without a publisher: say so at the removal, once, rather than at every role that watches it."""
    needed = {final_kind, *(k for r in sop.roles for k in r.watches)}
    out: list[Problem] = []
    for rid, path in sop.removed.items():
        default = sop.removed_roles[rid]
        orphaned = sorted(({_publishes(a) for a in default.actions} & needed) - set(publishers))
        if orphaned:
            excused.update(orphaned)
            line = _yaml_line(path.read_text(encoding="utf-8"), ("removed",))
            kinds = ", ".join(orphaned)
            out.append(
                Problem(
                    str(path),
                    line,
                    f"removed: {default.name} ({default.title}) published {kinds}, which no other role publishes; "
                    "add a role that does, or keep this one",
                )
            )
    return out


def _kind_list(names: Iterable[str]) -> str:
    return ", ".join(sorted(names))


def _check_role(
    sop: Sop,
    role: RoleSpec,
    lines: _Lines,
    known: set[str],
    publishers: dict[str, list[tuple[RoleSpec, int]]],
    excused: set[str],
) -> list[Problem]:
    out: list[Problem] = []
    for i, kind in enumerate(role.watches):
        if kind not in known:
            excused.add(kind)
            out.append(
                lines.problem(role, ("watches", i), f"watches unknown kind {kind!r}; known kinds: {_kind_list(known)}")
            )
        elif kind not in publishers and kind not in CUSTOMER_KINDS and kind not in excused:
            excused.add(kind)
            out.append(
                lines.problem(
                    role,
                    ("watches", i),
                    f"watches {kind!r}, which no role publishes; add an action that publishes it, or stop watching it",
                )
            )
    for j, a in enumerate(role.actions):
        for t in a.trigger:
            if t not in role.watches:
                excused.add(t)
                what = "" if t in known else " (an unknown kind)"
                out.append(
                    lines.problem(
                        role,
                        ("actions", j, "trigger"),
                        f"action {a.name!r} is triggered by {t!r}{what}, which the role does not watch; "
                        f"add it to watches",
                    )
                )
        if a.publishes not in known:
            out.append(
                lines.problem(
                    role,
                    ("actions", j, "publishes"),
                    f"action {a.name!r} publishes unknown kind {a.publishes!r}; known kinds: {_kind_list(known)}; "
                    "declare new kinds under `kinds:`",
                )
            )
        out += _check_action_shape(sop, role, j, a, lines)
    return out


def _check_action_shape(sop: Sop, role: RoleSpec, j: int, a: ActionSpec, lines: _Lines) -> list[Problem]:
    out: list[Problem] = []
    if a.tool is not None:
        wants_trigger, publishes = TOOL_KINDS[a.tool]
        if a.publishes != publishes:
            out.append(
                lines.problem(
                    role,
                    ("actions", j, "publishes"),
                    f"tool {a.tool} publishes {publishes}; set publishes: {publishes}",
                )
            )
        if wants_trigger is not None and a.trigger != [wants_trigger]:
            out.append(
                lines.problem(
                    role,
                    ("actions", j, "trigger"),
                    f"tool {a.tool} reads a {wants_trigger}; set trigger: {wants_trigger}",
                )
            )
    if a.batch and a.for_each:
        out.append(lines.problem(role, ("actions", j, "for_each"), "a batch action runs once per round; drop for_each"))
    elif a.for_each:
        for t in a.trigger:
            cls = sop.kinds.get(t)
            if cls is not None and _item_fields(cls, a.for_each) is None:
                out.append(
                    lines.problem(
                        role,
                        ("actions", j, "for_each"),
                        f"for_each: {a.for_each!r} is not a list of objects with a 'path' or 'id' field in kind {t!r}"
                        f" (its fields: {_kind_list(cls.model_fields)})",
                    )
                )
    if a.when:
        file, line = lines.at(role, "actions", j, "when")
        out += _check_expression(sop, a, file, line)
    return out


# templates -------------------------------------------------------------------------------------


def _item_fields(cls: type[Artifact], field: str) -> set[str] | None:
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


def _trigger_fields(sop: Sop, a: ActionSpec) -> dict[str, set[str]]:
    return {t: set(sop.kinds[t].model_fields) for t in a.trigger if t in sop.kinds}


class _TemplateChecker:
    """Checks templates against what a step gives them; each (template, action) once."""

    def __init__(self, sop: Sop) -> None:
        self.sop = sop
        self.env: SandboxedEnvironment = sop.env
        self.globals = set(self.env.globals)
        self.done: set[tuple[str, str | None, frozenset[str]]] = set()
        self.evaluated: set[str] = set()

    def source(self, name: str) -> tuple[str, str] | None:
        try:
            src, filename, _ = self.env.loader.get_source(self.env, name)  # type: ignore[union-attr]
        except jinja2.TemplateNotFound:
            return None
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
            out += _attribute_problems(ast, filename, action, trigger, item)
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
    from softco.template_limits import RenderBudget, TemplateLimitError

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


def _attribute_problems(
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
                        f" its fields: {_kind_list(fields)}",
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


def _check_templates(sop: Sop, lines: _Lines) -> list[Problem]:
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
            fields = [_item_fields(sop.kinds[t], a.for_each) for t in a.trigger if t in sop.kinds]
            item = set.intersection(*[f for f in fields if f is not None]) if any(fields) else None
        out += checker.check(a.template, allowed, a, _trigger_fields(sop, a), item)
        changed = f"change_{a.template}"  # what `softco change` renders instead, when the SOP has it
        if checker.source(changed) is not None:
            used.add(changed)
            out += checker.check(changed, allowed, a, _trigger_fields(sop, a), item)
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


def _check_expression(sop: Sop, a: ActionSpec, file: str, line: int) -> list[Problem]:
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
        found = [_item_fields(sop.kinds[t], a.for_each) for t in a.trigger if t in sop.kinds]
        item = found[0] if found else None
    out += [
        Problem(file, line, f"when: {p.message}")
        for p in _attribute_problems(ast, file, a, _trigger_fields(sop, a), item)
    ]
    return out


# the company -----------------------------------------------------------------------------------


def _check_reach(
    sop: Sop,
    lines: _Lines,
    excused: set[str],
    final_kind: str,
    publishers: dict[str, list[tuple[RoleSpec, int]]],
) -> list[Problem]:
    reach = set(CUSTOMER_KINDS) | excused
    runnable: set[tuple[str, int]] = set()
    changed = True
    while changed:
        changed = False
        for role in sop.roles:
            for j, a in enumerate(role.actions):
                if (role.id, j) not in runnable and any(t in reach for t in a.trigger):
                    runnable.add((role.id, j))
                    reach.add(_publishes(a))
                    changed = True
    out: list[Problem] = []
    for role in sop.roles:
        dead = [j for j in range(len(role.actions)) if (role.id, j) not in runnable]
        final = any(_publishes(role.actions[j]) == final_kind for j in dead)
        tail = f", so the company never publishes {final_kind}, its final kind" if final else ""
        if len(dead) == len(role.actions):
            triggers = sorted({t for a in role.actions for t in a.trigger})
            out.append(
                lines.problem(
                    role,
                    ("watches",),
                    f"role {role.id!r} ({role.author}) can never run: starting from the requirement, no role ever "
                    f"publishes what triggers it ({', '.join(triggers)}){tail}",
                )
            )
            continue
        for j in dead:
            a = role.actions[j]
            out.append(
                lines.problem(
                    role,
                    ("actions", j, "name"),
                    f"action {a.name!r} can never run: starting from the requirement, no role ever publishes what "
                    f"triggers it ({', '.join(a.trigger)}){tail if _publishes(a) == final_kind else ''}",
                )
            )
    if final_kind not in publishers and final_kind not in excused and sop.roles:
        last = sop.roles[-1]
        out.append(
            lines.problem(
                last,
                ("actions",),
                f"no action publishes {final_kind}, the company's final kind: no run could ever finish with tested "
                f"code; add an action with `tool: run_tests` (publishes: {final_kind})",
            )
        )
    return out


def _bounded_subjects(sop: Sop, kind: str) -> bool:
    cls = sop.kinds.get(kind)
    if isinstance(cls, type) and issubclass(cls, CustomArtifact):
        return cls.spec.bounded_subjects()
    return kind in BOUNDED_SUBJECT_KINDS and kind in KINDS


def _edge_bounded(sop: Sop, a: ActionSpec, trigger: str) -> bool:
    if a.tool in ("triage", "collect_disputes") or a.max_rounds is not None:
        return True
    if a.batch:
        return False
    return _bounded_subjects(sop, trigger)


def _check_loops(sop: Sop, lines: _Lines) -> list[Problem]:
    """Cycles in the kind graph made only of actions that can run any number of times."""
    edges: dict[str, list[tuple[str, RoleSpec, int]]] = {}
    for role in sop.roles:
        for j, a in enumerate(role.actions):
            for t in a.trigger:
                if t in sop.kinds and _publishes(a) in sop.kinds and not _edge_bounded(sop, a, t):
                    edges.setdefault(t, []).append((_publishes(a), role, j))
    out: list[Problem] = []
    for scc in _sccs(set(edges) | {d for es in edges.values() for d, _, _ in es}, edges):
        cycle = _cycle_in(scc, edges)
        if cycle is None:
            continue
        kinds = " -> ".join([cycle[0][0], *(dst for _, dst, _, _ in cycle)])
        actions = [(role, j) for _, _, role, j in cycle]
        role, j = next(((r, k) for r, k in actions if r.actions[k].batch), actions[0])
        names = ", ".join(f"{r.id}.{r.actions[k].name}" for r, k in actions)
        out.append(
            lines.problem(
                role,
                ("actions", j, "name"),
                f"loop {kinds} (actions {names}) has no bound: each round can make new steps forever; put the "
                f"triage tool in it or give one of its actions `max_rounds: N`",
            )
        )
    return out


def _sccs(vertices: set[str], edges: dict[str, list[tuple[str, RoleSpec, int]]]) -> list[set[str]]:
    """Strongly connected components (Tarjan), in a deterministic order."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    found: list[set[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w, _, _ in edges.get(v, []):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = set()
            while True:
                w = stack.pop()
                on.discard(w)
                comp.add(w)
                if w == v:
                    break
            found.append(comp)

    for v in sorted(vertices):
        if v not in index:
            visit(v)
    return found


def _cycle_in(
    scc: set[str], edges: dict[str, list[tuple[str, RoleSpec, int]]]
) -> list[tuple[str, str, RoleSpec, int]] | None:
    """One cycle inside a strongly connected component, as (src, dst, role, action index) edges."""
    start = sorted(scc)[0]
    if len(scc) == 1 and not any(d == start for d, _, _ in edges.get(start, [])):
        return None
    # breadth-first from start back to start, inside the component
    paths: dict[str, list[tuple[str, str, RoleSpec, int]]] = {start: []}
    queue = [start]
    while queue:
        v = queue.pop(0)
        for w, role, j in edges.get(v, []):
            if w not in scc:
                continue
            path = [*paths[v], (v, w, role, j)]
            if w == start:
                return path
            if w not in paths:
                paths[w] = path
                queue.append(w)
    return None  # pragma: no cover - a component of more than one vertex has a cycle


# the graph -------------------------------------------------------------------------------------


def _node_id(prefix: str, name: str) -> str:
    return prefix + "".join(c if c.isalnum() else "_" for c in name)


def _label(text: str) -> str:
    """Text safe inside a quoted mermaid label."""
    return text.replace('"', "#quot;").replace("<", "#lt;").replace(">", "#gt;")


def mermaid(sop: Sop, final_kind: str = FINAL_KIND) -> str:
    """The company as a mermaid flowchart: roles, kinds, who watches and publishes what."""
    out = ["flowchart LR", '  customer(["Customer"])', "  customer --> kind_requirement"]
    kinds: list[str] = ["requirement"]
    for role in sop.roles:
        for a in role.actions:
            for k in [*a.trigger, a.publishes]:
                if k not in kinds:
                    kinds.append(k)
        for k in role.watches:
            if k not in kinds:
                kinds.append(k)
    for k in kinds:
        out.append(f'  {_node_id("kind_", k)}(["{k}"])')
    for role in sop.roles:
        rid = _node_id("role_", role.id)
        out.append(f'  {rid}["{_label(role.name)}<br/>{_label(role.title)}"]')
        triggers = {t for a in role.actions for t in a.trigger}
        for a in role.actions:
            notes = [
                n
                for n, on in (
                    ("batch", a.batch),
                    (f"each {a.for_each}", a.for_each),
                    ("when", a.when),
                    (f"max {a.max_rounds}", a.max_rounds),
                    (f"tool {a.tool}", a.tool),
                )
                if on
            ]
            label = a.name + (f" ({', '.join(notes)})" if notes else "")
            for t in a.trigger:
                out.append(f'  {_node_id("kind_", t)} -->|"{label}"| {rid}')
            out.append(f'  {rid} -->|"{a.name}"| {_node_id("kind_", a.publishes)}')
        for k in role.watches:
            if k not in triggers:
                out.append(f"  {_node_id('kind_', k)} -.-> {rid}")
    out.append("  classDef kind fill:#eef,stroke:#88a")
    out.append("  classDef final fill:#efe,stroke:#393,stroke-width:3px")
    out.append("  classDef custom fill:#fef6e0,stroke:#c90")
    out.append("  class " + ",".join(_node_id("kind_", k) for k in kinds) + " kind")
    custom = [k for k in kinds if k in sop.custom_kinds]
    if custom:
        out.append("  class " + ",".join(_node_id("kind_", k) for k in custom) + " custom")
    if final_kind in kinds:
        out.append(f"  class {_node_id('kind_', final_kind)} final")
    return "\n".join(out) + "\n"
