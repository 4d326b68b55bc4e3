"""The one Jinja2 environment prompts are rendered with: sandboxed, bounded, StrictUndefined.

Templates are user-editable SOP files, so they render in a sandbox that also bounds what they may
build (:mod:`softco.sop.template_limits`: ranges, string sizes, loop iterations, at most
:data:`~softco.sop.template_limits.MAX_OUTPUT` characters a prompt), and a variable a template uses but
its step does not provide fails loudly with the template's name and line. Whatever goes wrong in a
template is a :class:`TemplateError` ``file:line: message``, never a traceback.
"""

from __future__ import annotations

import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import jinja2
from jinja2.sandbox import SandboxedEnvironment

from softco.errors import UsageError
from softco.sop.template_limits import BoundedSandboxedEnvironment, RenderBudget

#: Every variable a prompt template gets, with what it holds: the one list `softco sop validate`
#: checks templates against and `softco sop init` documents. template_context returns exactly these.
TEMPLATE_VARIABLES: dict[str, str] = {
    "role": "this role's file as a mapping: id, name, title, profile, goal, constraints, watches, ...",
    "action": "the action's name",
    "subject": "the step's subject: 'project', a file path, 'round-N', ... (the last part of its step key)",
    "requirement": "the user's one-line requirement, verbatim",
    "prd": "the latest PRD: project_name, summary, goals, user_stories, requirements, ... (None before it exists)",
    "design": "the latest system design: approach, package, entry_point, dependencies, files, ... (or None)",
    "tasks": "the latest task list: tasks, each with path, description, req_ids, depends_on (or None)",
    "trigger": "the artifact that started this step; its fields are those of the trigger kind",
    "item": "for a for_each action, the list item this step is for (e.g. one task); None otherwise",
    "code": "file path -> the latest code artifact of that file: path, content, req_ids, notes",
    "tests_by_path": "test file path -> the latest tests artifact: path, source, content, cases",
    "latest": "kind -> the latest artifact of that kind on the board (custom kinds too)",
    "req": "req('REQ-1') -> that requirement: id, title, description, priority, acceptance_criteria",
    "design_file": "design_file(path) -> that file of the design: path, purpose, req_ids, interfaces",
    "failing_test_files": "failing_test_files(bug_report) -> the test files its failures are in",
    "dependency_interfaces": "dependency_interfaces(paths, budget=1500) -> the design interfaces of those files as "
    "files (path, lines, omitted) and note, shortened to fit budget tokens (0: never); see softco/steps/interfaces.py",
    "change": "`softco change` only (None otherwise): branch, base_branch, base, docs_dir, existing_tests, modified "
    "and added (the design's files the repo has / has not), existing (the repo's files)",
    "repo_map": "repo_map(budget=1500) -> the repo's Python files, classes, functions and imports, most relevant "
    "first, within budget tokens ('' outside `softco change`); see softco/change/repo_map.py",
    "existing_file": "existing_file(path) -> that file as the change has it now (the repo's, or its latest edit), "
    "None for a new file or outside `softco change`",
}


class TemplateError(UsageError):
    """A template failed to load or render; the message is `file:line: what` (fix the template)."""


def make_env(dirs: Sequence[Path]) -> SandboxedEnvironment:
    """Templates are looked up in ``dirs`` in order: a user's SOP first, the defaults last."""
    return BoundedSandboxedEnvironment(
        loader=jinja2.FileSystemLoader([str(d) for d in dirs]),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        autoescape=False,
    )


def _template_line(exc: BaseException, name: str) -> int | None:
    for frame in reversed(traceback.extract_tb(exc.__traceback__)):
        if frame.filename and frame.filename.endswith(name):
            return frame.lineno
    return None


def _where(exc: BaseException, name: str, filename: str | None) -> str:
    line = _template_line(exc, name)
    return f"{filename or name}:{line}" if line else (filename or name)


def render(env: SandboxedEnvironment, name: str, context: dict[str, Any]) -> str:
    try:
        template = env.get_template(name)
    except jinja2.TemplateNotFound:
        raise TemplateError(f"{name}: template not found in {env.loader.searchpath}") from None  # type: ignore[union-attr]
    except jinja2.TemplateSyntaxError as exc:
        raise TemplateError(f"{exc.filename or name}:{exc.lineno}: {exc.message}") from None
    try:
        with RenderBudget():
            return template.render(**context)
    except jinja2.UndefinedError as exc:
        raise TemplateError(f"{_where(exc, name, template.filename)}: {exc.message}") from None
    except jinja2.TemplateError as exc:
        raise TemplateError(f"{_where(exc, name, template.filename)}: {exc}") from None
    except (ArithmeticError, LookupError, TypeError, ValueError, AttributeError, RecursionError) as exc:
        # a template is code: 1/0, int('x'), a macro that calls itself forever, a function that raises
        raise TemplateError(f"{_where(exc, name, template.filename)}: {type(exc).__name__}: {exc}") from None
    except MemoryError:
        raise TemplateError(f"{template.filename or name}: the template ran out of memory") from None
