"""SEARCH/REPLACE edits of an existing file: parsed strictly, applied all-or-nothing, exact match only.

An engineer changes a file the repo already has by writing, as the ``content`` of its code answer, one
or more blocks::

    <<<<<<< SEARCH
    the exact lines to find
    =======
    the lines to put there instead
    >>>>>>> REPLACE

Blocks apply in order, each to the result of the ones before. A SEARCH text must occur exactly once:
one that does not occur is refused with the nearest lines of the file shown, one that occurs twice with
where; either way no block of the answer is applied (it is re-asked with the error). Nothing is matched
fuzzily and nothing is dropped.
"""

from __future__ import annotations

import difflib
import re
from collections import Counter
from dataclasses import dataclass

from softco.errors import SoftcoError

SEARCH = "<<<<<<< SEARCH"
DIVIDER = "======="
REPLACE = ">>>>>>> REPLACE"
#: At most this many blocks in one answer, and this many characters of the error shown back.
MAX_BLOCKS = 100
MAX_ERROR_CHARS = 4000
#: Lines of the file shown around the nearest match of a SEARCH text that does not occur.
NEAREST_CONTEXT = 2
#: Bounds on the search for the nearest lines (see :func:`nearest_lines`).
MAX_SCORED_LINES = 40
MAX_HITS = 50
MAX_CANDIDATES = 5
MAX_COMPARED_CHARS = 200

_MARKER = re.compile(r"^(<{5,9} ?SEARCH|={5,9}|>{5,9} ?REPLACE)\s*$")


class EditError(SoftcoError, ValueError):
    """The blocks cannot be read or applied; the message goes back to the model (a ValueError: the answer is
    re-asked with it)."""


@dataclass(frozen=True)
class Block:
    search: str
    replace: str


def has_blocks(content: str) -> bool:
    """Whether ``content`` holds SEARCH/REPLACE markers at all."""
    return any(_MARKER.match(line.strip()) for line in content.splitlines())


def parse_blocks(content: str) -> list[Block]:
    """The blocks of ``content``, which holds nothing else but blank lines. EditError says what is wrong."""
    blocks: list[Block] = []
    lines = content.splitlines(keepends=True)
    i = 0
    while i < len(lines):
        line = lines[i]
        if not line.strip():
            i += 1
            continue
        if line.rstrip("\r\n").strip() != SEARCH:
            raise EditError(
                f"line {i + 1} ({line.strip()[:80]!r}) is outside a block: for a file the repo already has, content "
                f"holds only SEARCH/REPLACE blocks ({SEARCH} / {DIVIDER} / {REPLACE}, each marker on a line of its own)"
            )
        start = i
        search: list[str] = []
        replace: list[str] = []
        i += 1
        while i < len(lines) and lines[i].rstrip("\r\n") != DIVIDER:
            if lines[i].rstrip("\r\n") in (SEARCH, REPLACE):
                raise EditError(f"the block that starts on line {start + 1} has no {DIVIDER} line before its end")
            search.append(lines[i])
            i += 1
        if i >= len(lines):
            raise EditError(f"the block that starts on line {start + 1} has no {DIVIDER} line")
        i += 1
        while i < len(lines) and lines[i].rstrip("\r\n") != REPLACE:
            if lines[i].rstrip("\r\n") in (SEARCH, DIVIDER):
                raise EditError(
                    f"the block that starts on line {start + 1} has no {REPLACE} line before the next marker"
                )
            replace.append(lines[i])
            i += 1
        if i >= len(lines):
            raise EditError(f"the block that starts on line {start + 1} has no {REPLACE} line")
        i += 1
        if not "".join(search).strip():
            raise EditError(
                f"the SEARCH part of the block on line {start + 1} is empty: copy the lines to change from the file"
            )
        blocks.append(Block("".join(search), "".join(replace)))
        if len(blocks) > MAX_BLOCKS:
            raise EditError(f"more than {MAX_BLOCKS} blocks; change fewer places at once")
    if not blocks:
        raise EditError(f"no SEARCH/REPLACE block found: for a file the repo already has, write {SEARCH} blocks")
    return blocks


def _line_of(text: str, offset: int) -> int:
    return text.count("\n", 0, offset) + 1


def _occurrences(text: str, search: str) -> list[int]:
    found: list[int] = []
    at = text.find(search)
    while at != -1 and len(found) < 10:
        found.append(at)
        at = text.find(search, at + 1)
    return found


def nearest_lines(text: str, search: str) -> str:
    """The lines of ``text`` most like ``search`` (same number of lines), numbered, with a little context.

    Bounded work whatever the model sends: windows are voted for by the SEARCH lines (stripped) that occur in the
    file, else by the file lines closest to its first line; at most MAX_CANDIDATES windows are then compared with
    difflib, on their first MAX_SCORED_LINES lines (comparing every window took minutes on a large file)."""
    lines = text.splitlines()
    want = search.splitlines()
    if not lines or not want:
        return "(the file is empty)"
    width = len(want)
    last = max(0, len(lines) - width)
    where: dict[str, list[int]] = {}
    for n, line in enumerate(lines):
        if line.strip():
            where.setdefault(line.strip()[:MAX_COMPARED_CHARS], []).append(n)
    votes: Counter[int] = Counter()
    for k, line in enumerate(want[:MAX_SCORED_LINES]):
        hits = where.get(line.strip()[:MAX_COMPARED_CHARS], [])
        if len(hits) <= MAX_HITS:  # a line found everywhere ("return", "}") says nothing
            for n in hits:
                votes[min(max(0, n - k), last)] += 1
    if votes:
        top = max(votes.values())
        candidates = sorted(at for at, v in votes.items() if v == top)[:MAX_CANDIDATES]
    else:
        k, anchor = next(((k, w.strip()) for k, w in enumerate(want) if w.strip()), (0, ""))
        close = difflib.get_close_matches(anchor[:MAX_COMPARED_CHARS], list(where), n=MAX_CANDIDATES, cutoff=0)
        candidates = [min(max(0, where[c][0] - k), last) for c in close] or [0]
    shown = min(width, MAX_SCORED_LINES)
    target = "\n".join(want[:shown])[: MAX_COMPARED_CHARS * shown]

    def score(at: int) -> tuple[float, int]:
        window = "\n".join(lines[at : at + shown])[: MAX_COMPARED_CHARS * shown]
        return difflib.SequenceMatcher(None, window, target, autojunk=False).ratio(), -at

    best_at = max(candidates, key=score)
    lo, hi = max(0, best_at - NEAREST_CONTEXT), min(len(lines), best_at + width + NEAREST_CONTEXT)
    return "\n".join(f"{n + 1:>5} | {lines[n]}" for n in range(lo, hi))


def apply_blocks(text: str, blocks: list[Block], path: str) -> str:
    """``text`` with every block applied in order, or EditError naming every block that does not apply
    (nothing is applied then)."""
    problems: list[str] = []
    result = text
    for n, block in enumerate(blocks, 1):
        found = _occurrences(result, block.search)
        if len(found) == 1:
            result = result[: found[0]] + block.replace + result[found[0] + len(block.search) :]
            continue
        first = block.search.splitlines()[0].strip()[:60] if block.search.strip() else ""
        if not found:
            problems.append(
                f"block {n} (SEARCH starting {first!r}) does not match {path} exactly; the nearest lines of the file "
                f"are:\n{nearest_lines(result, block.search)}\ncopy the SEARCH lines exactly as they are in the file, "
                "whitespace included"
            )
        else:
            where = ", ".join(str(_line_of(result, at)) for at in found)
            problems.append(
                f"block {n} (SEARCH starting {first!r}) matches {path} {len(found)} times (at lines {where}); add "
                "surrounding lines to its SEARCH part so that it matches once"
            )
    if problems:
        message = f"the edit of {path} was not applied (none of its blocks): " + "\n".join(problems)
        if len(message) > MAX_ERROR_CHARS:
            message = message[: MAX_ERROR_CHARS - 20] + "\n... (cut)"
        raise EditError(message)
    return result


def apply_edit(text: str, content: str, path: str) -> str:
    """Parse ``content`` as blocks and apply them to ``text`` (see :func:`apply_blocks`).

    A file whose every line ends in CRLF takes blocks written with plain newlines (a model's answer has
    them): the blocks apply to the file read with LF, still exactly, and the result is written with CRLF
    again. A file with mixed line endings is matched byte for byte."""
    blocks = parse_blocks(content)
    crlf = "\r\n" in text and text.count("\r\n") == text.count("\n") and "\r" not in content
    if not crlf:
        return apply_blocks(text, blocks, path)
    return apply_blocks(text.replace("\r\n", "\n"), blocks, path).replace("\n", "\r\n")
