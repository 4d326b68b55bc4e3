"""Untrusted text (what a model wrote, pytest output, names from a SOP) made safe for a terminal.

Model text is hostile input. Printed as console markup, ``[/]`` crashes rich and ``[bold red]``
restyles the line; printed raw, ESC / CSI / OSC sequences clear the screen, write the clipboard
(OSC 52) or hide a link (OSC 8). Everything softco prints that it did not write itself goes through
:func:`safe_text` (a rich :class:`~rich.text.Text`, never parsed as markup) or :func:`visible` (a
plain string for git commit subjects, Markdown and syntax views, error lines).

Control characters are shown, not obeyed: ESC becomes the four characters ``\\x1b``, a C1 control
``\\x9b``, a bidirectional override ``\\u202e``. Newlines and tabs are kept where a view is
multi-line and shown as ``\\n`` / ``\\t`` where it is one line.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # rich is imported by the caller that prints; git commit messages need no rich
    from rich.text import Text

#: One-line text (a title, a progress line, a commit subject) is cut to this many characters.
ONE_LINE_LIMIT = 200

#: Code points that change what a terminal does or how it orders text, instead of showing a glyph:
#: C0 controls, DEL, C1 controls, and the Unicode bidirectional controls ("Trojan source").
_CONTROLS = [*range(0x00, 0x20), 0x7F, *range(0x80, 0xA0), 0x061C, 0x200E, 0x200F]
_CONTROLS += [*range(0x202A, 0x202F), *range(0x2066, 0x206A), 0x2028, 0x2029]


def _shown(cp: int) -> str:
    return f"\\x{cp:02x}" if cp <= 0xFF else f"\\u{cp:04x}"


_ONE_LINE = str.maketrans({cp: _shown(cp) for cp in _CONTROLS})
_MULTI_LINE = str.maketrans({cp: _shown(cp) for cp in _CONTROLS if chr(cp) not in "\n\t"})
_PAGE = str.maketrans({cp: _shown(cp) for cp in _CONTROLS if chr(cp) not in "\n\t\r"})


def visible(text: str, *, multiline: bool = True, limit: int | None = None) -> str:
    """``text`` with every control character shown as an escape (``\\x1b``), cut to ``limit`` chars.

    ``multiline`` keeps newlines and tabs; otherwise they are shown as ``\\x0a`` / ``\\x09`` too, so
    the result is one line. A cut text ends with ``…``.
    """
    out = str(text).translate(_MULTI_LINE if multiline else _ONE_LINE)
    if limit is not None and len(out) > limit:
        out = out[: max(limit - 1, 0)] + "…"
    return out


def on_page(text: str) -> str:
    """``text`` for an HTML page (the report, `softco serve`): every control character but newline, tab and
    carriage return shown as an escape. A browser obeys the bidirectional controls as a terminal would ("Trojan
    source": code that reads as one program and runs as another), and escaping for HTML keeps them."""
    return str(text).translate(_PAGE)


def one_line(text: str, limit: int = ONE_LINE_LIMIT) -> str:
    """``text`` as one visible line of at most ``limit`` characters (titles, commit subjects)."""
    return visible(text, multiline=False, limit=limit)


def safe_text(text: object, style: str = "", *, multiline: bool = True, limit: int | None = None) -> Text:
    """A rich Text of untrusted ``text``: never parsed as markup, control characters visible."""
    from rich.text import Text

    return Text(visible(str(text), multiline=multiline, limit=limit), style=style)


def safe_line(text: object, style: str = "", limit: int = ONE_LINE_LIMIT) -> Text:
    """A rich Text of untrusted ``text`` as one line of at most ``limit`` characters."""
    return safe_text(text, style, multiline=False, limit=limit)
