"""Markdown of a model's text, read as a person would mean it: ``__init__.py`` stays ``__init__.py``.

CommonMark reads a run of two underscores at a word's edge as strong emphasis, so ``__init__.py``
would show as a bold "init" and ``__main__`` as a bold "main". In what softco shows (requirements,
designs, file names, Python identifiers) such a run is nearly always part of a name, so a run of
two or more underscores is kept as text; a single ``_word_`` is still emphasis and ``**bold**``
still bold. The same rule serves the HTML report (markdown-it) and the terminal (rich's Markdown,
which parses with markdown-it too).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from markdown_it import MarkdownIt
from markdown_it.rules_inline import StateInline

if TYPE_CHECKING:
    from rich.markdown import Markdown


def _underscore_runs(state: StateInline, silent: bool) -> bool:
    """An inline rule run before emphasis: two or more underscores in a row are plain text."""
    src, pos = state.src, state.pos
    if src[pos] != "_":
        return False
    end = pos
    while end < state.posMax and src[end] == "_":
        end += 1
    if end - pos < 2:
        return False
    if not silent:
        state.pending += src[pos:end]
    state.pos = end
    return True


def keep_dunders(md: MarkdownIt) -> MarkdownIt:
    """``md`` with the underscore rule (a markdown-it plugin); returns it."""
    md.inline.ruler.before("emphasis", "underscore_runs", _underscore_runs)
    return md


def terminal_markdown(text: str, **kwargs: Any) -> Markdown:
    """A rich Markdown of ``text`` that keeps dunders; ``kwargs`` as for :class:`rich.markdown.Markdown`.

    ``text`` must already be made visible (:func:`softco.safe_text.visible`) by the caller."""
    from rich.markdown import Markdown

    class _Markdown(Markdown):
        def __init__(self, markup: str, **kw: Any) -> None:
            super().__init__(markup, **kw)
            # rich parses with a fixed markdown-it configuration; parse again with the dunder rule
            self.parsed = keep_dunders(MarkdownIt().enable("strikethrough").enable("table")).parse(markup)

    return _Markdown(text, **kwargs)
