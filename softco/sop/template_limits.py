"""A Jinja2 sandbox that bounds what a template may build: SOP templates are shared files, and a
template is code.

Jinja's own sandbox stops a template from reaching Python's internals, but not from building a
huge value: ``range(10**8)`` (jinja raises a plain OverflowError), ``'a' * 999999999`` (a gigabyte,
allocated when the template is compiled, because jinja folds constants), ``lipsum(10**6)``, a
``{% set ns.s = ns.s ~ ns.s %}`` doubling in a loop, or two nested loops that never end. This
environment checks each such operation **before** it allocates and raises
:class:`TemplateLimitError` (a jinja ``SecurityError``), which :func:`softco.sop.prompts.render` reports
as ``file:line: ...``. The limits:

- :data:`MAX_TEXT`: a string, list or tuple an operation would build (``*``, ``+``, ``~``, ``%``,
  ``**`` on numbers of more than :data:`MAX_INT_BITS` bits, ``str.format``, ``ljust`` / ``center`` /
  ``zfill`` / ``replace`` / ``join`` / ..., the filters ``center``, ``indent``, ``join``,
  ``replace``, ``format``, ``batch``, ``sum``, ...), and the input of any filter or string method.
- :data:`MAX_RANGE`: items of one ``range()``; :data:`MAX_LOOP_ITERATIONS` iterations of all the
  ``for`` loops of one render together; :data:`MAX_OUTPUT` characters written by one render, in
  macros, ``{% set %}`` blocks and included templates too (the rendered prompt is at most that).

Lists, dicts and sets cannot be changed in place (an immutable sandbox): ``l.extend(l)`` in a loop
doubled a list past any limit. Accumulate with ``namespace()`` instead, as jinja recommends.
"""

from __future__ import annotations

import copy
import functools
import math
import re
import string
import time
from collections.abc import Callable, Iterable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from jinja2 import nodes
from jinja2.compiler import CodeGenerator, Frame
from jinja2.exceptions import SecurityError
from jinja2.runtime import Context, LoopContext, markup_join, str_join
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.utils import generate_lorem_ipsum

from softco.errors import UsageError

#: The longest string, list or tuple a template operation may build, in characters / items.
MAX_TEXT = 1_000_000
#: The most characters one render may write (the rendered prompt, macros and blocks included).
MAX_OUTPUT = 1_000_000
#: The most items of one ``range()``.
MAX_RANGE = 100_000
#: The most iterations of all ``for`` loops of one render together.
MAX_LOOP_ITERATIONS = 1_000_000
#: The largest integer ``**`` may make, in bits.
MAX_INT_BITS = 4096
#: containers nested deeper than this are refused (their text would be built recursively)
MAX_DEPTH = 50
#: seconds one render may take (counted at every loop iteration and every output)
MAX_RENDER_SECONDS = 10.0
#: The most paragraphs ``lipsum()`` may make.
MAX_LIPSUM = 100


class TemplateLimitError(SecurityError, UsageError):
    """A template tried to build more than softco allows; the message says which limit."""


def _too_big(what: str, size: int, limit: int, name: str) -> TemplateLimitError:
    return TemplateLimitError(
        f"{what} would be {size:,} long; templates are limited to {limit:,} (softco.sop.template_limits.{name})"
    )


def _check_size(what: str, size: int) -> None:
    if size > MAX_TEXT:
        raise _too_big(what, size, MAX_TEXT, "MAX_TEXT")


def _len(value: Any, depth: int = 0) -> int:
    """The size of a value as text: a string's length; a container's, the sizes of what it holds (a
    list of a thousand references to one long string is a thousand long strings once printed)."""
    if isinstance(value, str | bytes):
        return len(value)
    if isinstance(value, int | float | bool) or value is None:
        return 24
    if isinstance(value, list | tuple | set | frozenset | dict):
        if depth > MAX_DEPTH:
            raise TemplateLimitError(f"a value nested over {MAX_DEPTH} deep (softco.sop.template_limits.MAX_DEPTH)")
        items = [*value.keys(), *value.values()] if isinstance(value, dict) else value
        total = 2
        for item in items:
            total += _len(item, depth + 1) + 2
            if total > 4 * MAX_TEXT:  # already too big for anything: no need to count the rest
                break
        return total
    return len(str(value))


def _check_input(what: str, value: Any) -> None:
    if isinstance(value, str | bytes | list | tuple | dict | set | frozenset) and len(value) > MAX_TEXT:
        raise _too_big(f"the input of {what}", len(value), MAX_TEXT, "MAX_TEXT")


@dataclass
class _Budget:
    """What one render has used so far."""

    iterations: int = 0
    output: int = 0
    started: float = field(default_factory=time.monotonic)

    def check_time(self) -> None:
        if time.monotonic() - self.started > MAX_RENDER_SECONDS:
            raise TemplateLimitError(
                f"the template took over {MAX_RENDER_SECONDS:.0f} s to render "
                "(softco.sop.template_limits.MAX_RENDER_SECONDS)"
            )


_budget: ContextVar[_Budget | None] = ContextVar("softco_template_budget", default=None)


class RenderBudget:
    """``with RenderBudget():`` around a render counts its loop iterations and output."""

    def __enter__(self) -> RenderBudget:
        self._token = _budget.set(_Budget())
        return self

    def __exit__(self, *exc: object) -> None:
        _budget.reset(self._token)


# printf-style conversions: %[(name)][flags][width][.precision]type
_PRINTF = re.compile(r"%(?:\([^)]*\))?[-#0 +]*(\*|\d+)?(?:\.(\*|\d+))?[diouxXeEfFgGcrsa%]")


def _printf_size(fmt: str, args: Any) -> int:
    """An upper bound of ``len(fmt % args)``."""
    pieces = list(_PRINTF.finditer(fmt))
    if any("*" in (m.group(1) or "", m.group(2) or "") for m in pieces):
        raise TemplateLimitError("'*' widths in a % format are not allowed in templates; write the width out")
    widths = sum(int(m.group(1) or 0) + int(m.group(2) or 0) for m in pieces)
    values = list(args.values()) if isinstance(args, dict) else list(args) if isinstance(args, tuple) else [args]
    longest = max((_len(v) for v in values), default=0)
    return len(fmt) + widths + len(pieces) * longest


def _format_size(fmt: str, args: Iterable[Any]) -> int:
    """An upper bound of ``len(fmt.format(*args, **kwargs))`` (args: all the values)."""
    try:
        fields = list(string.Formatter().parse(fmt))
    except ValueError:
        return len(fmt)  # str.format raises the same error, with its own message
    longest = max((_len(v) for v in args), default=0)
    size = len(fmt)
    for _, name, spec, _ in fields:
        if name is None:
            continue
        if spec and "{" in spec:
            raise TemplateLimitError("nested {} fields in a format spec are not allowed in templates")
        size += longest + sum(int(n) for n in re.findall(r"\d+", spec or ""))
    return size


def _replace_size(s: str, old: str, new: str, count: int = -1) -> int:
    hits = s.count(old) if old else len(s) + 1
    if count is not None and count >= 0:
        hits = min(hits, count)
    return len(s) + hits * max(len(new) - len(old), 0)


def _join_size(items: list[Any], sep: Any) -> int:
    return sum(_len(x) for x in items) + _len(sep) * max(len(items) - 1, 0)


def _str_method_check(name: str, s: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Any, ...]:
    """Check a call of the string method ``name``; returns args, with a joined iterable made a list."""
    _check_input(f"str.{name}", s)
    if name in ("ljust", "rjust", "center", "zfill") and args and isinstance(args[0], int):
        _check_size(f"str.{name}({args[0]})", args[0])
    elif name == "expandtabs":
        tab = args[0] if args else kwargs.get("tabsize", 8)
        if isinstance(tab, int):
            _check_size("str.expandtabs", len(s) + s.count("\t") * tab)
    elif name == "replace" and len(args) >= 2 and isinstance(args[0], str) and isinstance(args[1], str):
        count = args[2] if len(args) > 2 else kwargs.get("count", -1)
        _check_size("str.replace", _replace_size(s, args[0], args[1], count if isinstance(count, int) else -1))
    elif name == "join" and args:
        items = _bounded_list(args[0], "str.join")
        _check_size("str.join", _join_size(items, s))
        return (items, *args[1:])
    return args


def _bounded_list(iterable: Any, what: str) -> list[Any]:
    """``list(iterable)``, refusing more than MAX_TEXT items before they are all made."""
    if isinstance(iterable, range):
        _check_size(f"the input of {what}", len(iterable))
        return list(iterable)
    if isinstance(iterable, str | bytes | list | tuple | dict | set | frozenset):
        _check_input(what, iterable)
        return list(iterable)
    out = []
    for item in iterable:
        out.append(item)
        if len(out) > MAX_TEXT:
            raise _too_big(f"the input of {what}", len(out), MAX_TEXT, "MAX_TEXT")
    return out


def _safe_range(*args: int) -> range:
    rng = range(*args)
    if len(rng) > MAX_RANGE:
        raise _too_big("range()", len(rng), MAX_RANGE, "MAX_RANGE")
    return rng


def _lipsum(n: int = 5, html: bool = True, min: int = 20, max: int = 100) -> str:  # noqa: A002 (jinja's names)
    if n > MAX_LIPSUM or max > 1000:
        raise TemplateLimitError(f"lipsum() is limited to {MAX_LIPSUM} paragraphs of 1000 words")
    return str(generate_lorem_ipsum(n, html, min, max))


# filters: the input of every filter is bounded; these also take a size parameter ----------------


def _filter_center(value: Any, width: int = 80) -> Any:
    _check_size("center", max(_len(value), width))
    return str(value).center(width)


def _size_checks() -> dict[str, Callable[..., None]]:
    def indent(value: Any, width: Any = 4, *args: Any, **kwargs: Any) -> None:
        w = len(width) if isinstance(width, str) else width if isinstance(width, int) else 0
        _check_size("indent", _len(value) + (str(value).count("\n") + 1) * w)

    def join(value: Any, d: Any = "", attribute: Any = None) -> None:
        if isinstance(value, str | list | tuple | range | dict | set | frozenset):
            _check_size("join", _join_size(list(value), d))

    def replace(value: Any, old: Any, new: Any, count: Any = None) -> None:
        if isinstance(value, str) and isinstance(old, str) and isinstance(new, str):
            _check_size("replace", _replace_size(value, old, new, count if isinstance(count, int) else -1))

    def format_(value: Any, *args: Any, **kwargs: Any) -> None:
        if isinstance(value, str):
            _check_size("format", _printf_size(value, kwargs if kwargs else tuple(args)))

    def batch(value: Any, linecount: Any, fill_with: Any = None) -> None:
        if isinstance(linecount, int) and fill_with is not None:
            _check_size("batch", linecount)

    def slice_(value: Any, slices: Any, fill_with: Any = None) -> None:
        if isinstance(slices, int):
            _check_size("slice", slices)

    def sum_(iterable: Any, attribute: Any = None, start: Any = 0) -> None:
        if isinstance(start, str | list | tuple) and isinstance(iterable, list | tuple):
            _check_size("sum", _len(start) + sum(_len(x) for x in iterable))

    def tojson(value: Any, indent: Any = None) -> None:
        if isinstance(indent, int) and indent > 64:
            raise TemplateLimitError("tojson's indent is limited to 64 in templates")
        _check_size("tojson", _len(value) * 2)

    def wordwrap(value: Any, width: Any = 79, *args: Any, **kwargs: Any) -> None:
        wrapstring = kwargs.get("wrapstring", args[1] if len(args) > 1 else "\n")
        if isinstance(width, int) and width > 0:
            _check_size("wordwrap", _len(value) * (1 + _len(wrapstring or "\n")))

    def grows(factor: int) -> Callable[..., None]:
        def check(value: Any, *args: Any, **kwargs: Any) -> None:
            _check_size("the filter's result", _len(value) * factor)

        return check

    return {
        "indent": indent,
        "join": join,
        "replace": replace,
        "format": format_,
        "batch": batch,
        "slice": slice_,
        "sum": sum_,
        "wordwrap": wordwrap,
        "string": grows(1),
        "pprint": grows(2),
        "tojson": tojson,
        "list": grows(1),
        "escape": grows(6),
        "e": grows(6),
        "forceescape": grows(6),
        "urlencode": grows(3),
        "urlize": grows(3),
    }


def _bounded_filter(name: str, f: Callable[..., Any], check: Callable[..., None] | None) -> Callable[..., Any]:
    """``f`` with its input (and, with ``check``, its size parameters) checked before it runs."""
    from jinja2.utils import _PassArg

    skip = 1 if _PassArg.from_obj(f) is not None else 0

    @functools.wraps(f)
    def bounded(*args: Any, **kwargs: Any) -> Any:
        value = args[skip] if len(args) > skip else None
        _check_input(f"the filter {name}", value)
        if check is not None:
            check(*args[skip:], **kwargs)
        return f(*args, **kwargs)

    return bounded


class _BoundedCodeGenerator(CodeGenerator):
    """Compiles ``for`` loops, ``~`` and output through the environment's counting hooks."""

    def visit_For(self, node: nodes.For, frame: Frame) -> None:
        node = copy.copy(node)  # the parsed tree stays as it was (sop_check reads it, and may compile it again)
        node.iter = nodes.Call(nodes.EnvironmentAttribute("softco_loop"), [node.iter], [], None, None)
        super().visit_For(node, frame)

    def visit_Concat(self, node: nodes.Concat, frame: Frame) -> None:
        self.write("environment.softco_concat(context.eval_ctx, (")
        for arg in node.nodes:
            self.visit(arg, frame)
            self.write(", ")
        self.write("))")

    def _output_const_repr(self, group: Iterable[Any]) -> str:
        return f"environment.softco_output({super()._output_const_repr(group)})"

    def _output_child_pre(self, node: nodes.Expr, frame: Frame, finalize: Any) -> None:
        self.write("environment.softco_output(")
        super()._output_child_pre(node, frame, finalize)
        self.write("environment.softco_value(")

    def _output_child_post(self, node: nodes.Expr, frame: Frame, finalize: Any) -> None:
        self.write(")")
        super()._output_child_post(node, frame, finalize)
        self.write(")")


_STR_METHODS = frozenset({"ljust", "rjust", "center", "zfill", "expandtabs", "replace", "join"})


class BoundedSandboxedEnvironment(ImmutableSandboxedEnvironment):
    """The sandbox softco renders SOP templates in; see the module docstring for its limits."""

    code_generator_class = _BoundedCodeGenerator
    intercepted_binops = frozenset({"*", "+", "**", "%"})

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.globals["range"] = _safe_range
        self.globals["lipsum"] = _lipsum
        checks = _size_checks()
        self.filters = {name: _bounded_filter(name, f, checks.get(name)) for name, f in self.filters.items()}
        self.filters["center"] = _bounded_filter("center", _filter_center, None)

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        if operator == "*":
            if isinstance(left, int) and isinstance(right, int):
                bits = left.bit_length() + right.bit_length()
                if bits > MAX_INT_BITS:
                    raise _too_big("an integer product in bits", bits, MAX_INT_BITS, "MAX_INT_BITS")
            for seq, n in ((left, right), (right, left)):
                if isinstance(seq, str | bytes | list | tuple) and isinstance(n, int):
                    _check_size(f"{type(seq).__name__} * {n}", _len(seq) * max(n, 0))
        elif operator == "+":
            if isinstance(left, str | bytes | list | tuple) and isinstance(right, str | bytes | list | tuple):
                _check_size(f"{type(left).__name__} + {type(right).__name__}", _len(left) + _len(right))
        elif operator == "**":
            if isinstance(left, int) and isinstance(right, int) and right > 0 and abs(left) > 1:
                power_bits = right * math.log2(abs(left))
                if power_bits > MAX_INT_BITS:
                    raise _too_big(f"{left} ** {right} in bits", int(power_bits), MAX_INT_BITS, "MAX_INT_BITS")
        elif operator == "%" and isinstance(left, str):
            _check_size("a % format", _printf_size(left, right))
        return super().call_binop(context, operator, left, right)

    def call(__self, __context: Context, __obj: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: N805 (jinja's)
        if isinstance(__obj, LoopContext) and args:  # loop(children) in a recursive loop: a loop too
            args = (__self.softco_loop(args[0]), *args[1:])
        target = getattr(__obj, "__wrapped__", __obj)  # str.format comes wrapped by the sandbox
        owner, name = getattr(target, "__self__", None), getattr(target, "__name__", "")
        if isinstance(owner, str):
            if name in ("format", "format_map"):
                _check_input(f"str.{name}", owner)
                values = [*args, *kwargs.values()]
                if name == "format_map" and args and isinstance(args[0], dict):
                    values = list(args[0].values())
                _check_size(f"str.{name}", _format_size(owner, values))
            elif name in _STR_METHODS:
                args = _str_method_check(name, owner, args, kwargs)
            else:
                _check_input(f"str.{name}", owner)
        return super().call(__context, __obj, *args, **kwargs)

    # hooks the compiled templates call (see _BoundedCodeGenerator) -------------------------------

    def softco_loop(self, iterable: Any) -> Iterator[Any]:
        budget = _budget.get()
        if budget is None:
            yield from iterable
            return
        for item in iterable:
            budget.iterations += 1
            budget.check_time()
            if budget.iterations > MAX_LOOP_ITERATIONS:
                raise TemplateLimitError(
                    f"the template's loops ran over {MAX_LOOP_ITERATIONS:,} times in all "
                    "(softco.sop.template_limits.MAX_LOOP_ITERATIONS)"
                )
            yield item

    def softco_concat(self, eval_ctx: Any, parts: tuple[Any, ...]) -> str:
        """``a ~ b``: jinja's own join, once the result's size is known to be in bounds."""
        _check_size("a ~ concatenation", sum(_len(p) for p in parts))  # before any of it is made text
        texts = [str(p) for p in parts]
        return markup_join(parts) if eval_ctx.autoescape else str_join(texts)

    def softco_value(self, value: Any) -> Any:
        """A value about to be printed, checked before it is made text."""
        size = _len(value)
        if size > MAX_OUTPUT:
            raise TemplateLimitError(
                f"the template would write a value {size:,} long (softco.sop.template_limits.MAX_OUTPUT)"
            )
        return value

    def softco_output(self, text: str) -> str:
        budget = _budget.get()
        if budget is not None:
            budget.check_time()
            budget.output += len(text)
            if budget.output > MAX_OUTPUT:
                raise TemplateLimitError(
                    f"the template writes over {MAX_OUTPUT:,} characters (softco.sop.template_limits.MAX_OUTPUT)"
                )
        return text
