"""The one Jinja2 environment prompts are rendered with: sandboxed, bounded, StrictUndefined.

Templates are user-editable SOP files, so they render in a sandbox that also bounds what they may
build (:mod:`softco.steps.template_limits`: ranges, string sizes, loop iterations, at most
:data:`~softco.steps.template_limits.MAX_OUTPUT` characters a prompt), and a variable a template uses but
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

from softco.steps.template_limits import BoundedSandboxedEnvironment, RenderBudget


class TemplateError(Exception):
    """A template failed to load or render; the message is `file:line: what`."""


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
