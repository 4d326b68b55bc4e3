"""Reading a small text file a user names (a requirement, an answer): bounded, UTF-8, one-line errors."""

from __future__ import annotations

import sys
from pathlib import Path


def read_text(path: Path, limit: int, what: str) -> str:
    """The UTF-8 text of ``path`` (``-``: standard input), at most ``limit`` bytes; ValueError says why it
    cannot be used, ``what`` saying what such a file should hold ("a requirement should be a few paragraphs")."""
    try:
        if str(path) == "-":
            data = sys.stdin.buffer.read(limit + 1)
        else:
            with path.open("rb") as f:
                data = f.read(limit + 1)
    except OSError as exc:
        raise ValueError(f"cannot read {path}: {exc.strerror or exc}") from None
    if len(data) > limit:
        raise ValueError(f"{path} is over {limit} bytes; {what}")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise ValueError(f"{path} is not UTF-8 text; save it as UTF-8") from None
