"""Reading a small text file a user gives softco (a requirement, an answer, a softco.toml): bounded, UTF-8, one-line
errors."""

from __future__ import annotations

import stat
import sys
from pathlib import Path


def _size(n: int) -> str:
    """A size as a person reads it: 16 MiB, 64 KiB, 1000000 bytes."""
    for unit, scale in (("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= scale and n % scale == 0:
            return f"{n // scale} {unit}"
    return f"{n} bytes"


def read_text(path: Path, limit: int, what: str, *, regular_only: bool = False) -> str:
    """The UTF-8 text of ``path`` (``-``: standard input), at most ``limit`` bytes; ValueError says why it
    cannot be used, ``what`` saying what such a file should hold ("a requirement should be a few paragraphs").
    ``regular_only``: a FIFO (which would wait for a writer), a directory or a device is refused unread."""
    try:
        if str(path) == "-":
            data = sys.stdin.buffer.read(limit + 1)
        else:
            if regular_only and not stat.S_ISREG(path.stat().st_mode):
                raise ValueError(f"{path}: cannot read it (not a regular file); {what}")
            with path.open("rb") as f:
                data = f.read(limit + 1)
    except OSError as exc:
        raise ValueError(f"{path}: cannot read it ({exc.strerror or exc}); check its name and permissions") from None
    if len(data) > limit:
        raise ValueError(f"{path}: over {_size(limit)}; {what}")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise ValueError(f"{path}: not UTF-8 text; save it as UTF-8") from None
