"""One softco process at a time on a project: an exclusive ``flock`` on ``.softco/lock``.

``softco new``, ``resume`` and ``revise`` hold it for the whole run; a second process on the same project
is refused (exit 2) with a line naming the holder. The kernel drops the lock when its process ends, even
killed with SIGKILL, so a lock is never stale: ``softco runs`` tells a live run (its lock is held) from a
dead one (the board says running, nobody holds the lock). The file holds the holder's pid, host, start
time and command, written once it holds the lock; only the lock itself is trusted.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import sys
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from softco.errors import ProjectBusy

#: A probe by `softco runs` holds the lock for an instant: try this many times before calling it busy.
TRIES = 20
PAUSE = 0.02


@dataclass(frozen=True)
class Holder:
    pid: int | None
    host: str
    started_at: float | None
    command: str

    def describe(self) -> str:
        try:  # the lock file is softco's, but a damaged one must not crash the message that names its holder
            when = datetime.fromtimestamp(self.started_at).strftime("%Y-%m-%d %H:%M:%S") if self.started_at else "?"
        except (OverflowError, ValueError, OSError, TypeError):
            when = "?"
        pid = self.pid if self.pid is not None else "?"
        return f"pid {pid} on {self.host or '?'} since {when} ({self.command or 'softco'})"


def lock_path(project: Path) -> Path:
    return project / ".softco" / "lock"


def _read_holder(fd: int) -> Holder:
    try:
        os.lseek(fd, 0, os.SEEK_SET)
        data = json.loads(os.read(fd, 16_384).decode("utf-8", "replace") or "{}")
    except (OSError, ValueError, RecursionError):  # RecursionError: JSON nested thousands deep
        data = {}
    if not isinstance(data, dict):
        data = {}
    pid, started = data.get("pid"), data.get("started_at")
    return Holder(
        pid=pid if isinstance(pid, int) else None,
        host=str(data.get("host", ""))[:200],
        started_at=float(started) if isinstance(started, int | float) else None,
        command=" ".join(str(data.get("command", "")).split())[:300],
    )


class ProjectLock:
    """The exclusive lock of one project, held from :meth:`acquire` to :meth:`release` (or process exit)."""

    def __init__(self, project: Path) -> None:
        self.project = project
        self.path = lock_path(project)
        self._fd: int | None = None

    def acquire(self, command: str | None = None) -> None:
        """Take the lock or raise :class:`ProjectBusy` naming who holds it."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        for attempt in range(TRIES):
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if attempt == TRIES - 1:
                    holder = _read_holder(fd)
                    os.close(fd)
                    raise ProjectBusy(
                        f"{self.project} is in use by another softco process: {holder.describe()}; wait for it to "
                        "finish or stop it (Ctrl-C), then run your command again"
                    ) from None
                time.sleep(PAUSE)
        info = {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "started_at": time.time(),
            "command": command if command is not None else " ".join(["softco", *sys.argv[1:]]),
        }
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(info).encode("utf-8", "replace"), 0)
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            fd, self._fd = self._fd, None
            os.close(fd)  # closing the only descriptor drops the flock

    def __enter__(self) -> ProjectLock:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def holder(project: Path) -> Holder | None:
    """Who holds the project's lock, or None if nobody does (no run is live). Never blocks."""
    try:
        fd = os.open(lock_path(project), os.O_RDONLY)
    except OSError:
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return _read_holder(fd)
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)
