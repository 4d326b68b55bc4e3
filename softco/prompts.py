"""The one Jinja2 environment prompts are rendered with: sandboxed, StrictUndefined.

Templates are user-editable SOP files, so they render in a SandboxedEnvironment, and a variable a
template uses but its step does not provide fails loudly with the template's name and line.
"""

from __future__ import annotations

import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import jinja2
from jinja2.sandbox import SandboxedEnvironment


class TemplateError(Exception):
    """A template failed to load or render; the message is `file:line: what`."""


def make_env(dirs: Sequence[Path]) -> SandboxedEnvironment:
    """Templates are looked up in ``dirs`` in order: a user's SOP first, the defaults last."""
    return SandboxedEnvironment(
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


def render(env: SandboxedEnvironment, name: str, context: dict[str, Any]) -> str:
    try:
        template = env.get_template(name)
    except jinja2.TemplateNotFound:
        raise TemplateError(f"{name}: template not found in {env.loader.searchpath}") from None  # type: ignore[union-attr]
    except jinja2.TemplateSyntaxError as exc:
        raise TemplateError(f"{exc.filename or name}:{exc.lineno}: {exc.message}") from None
    try:
        return template.render(**context)
    except jinja2.UndefinedError as exc:
        line = _template_line(exc, name)
        where = f"{template.filename or name}:{line}" if line else (template.filename or name)
        raise TemplateError(f"{where}: {exc.message}") from None
    except jinja2.TemplateError as exc:
        line = _template_line(exc, name)
        where = f"{template.filename or name}:{line}" if line else (template.filename or name)
        raise TemplateError(f"{where}: {exc}") from None
