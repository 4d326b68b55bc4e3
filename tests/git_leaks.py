"""The test session's net for git processes: every repo a test made is closed, and a git process left running fails
the test that started it.

GitPython keeps `git cat-file` processes per Repo object until the object is closed or collected, and its objects
often sit in reference cycles (an index, a config reader), so a repo left open is collected late, by the cyclic
collector, which may finalise the Popen before the wrapper that would have ended it: Python then reports
"subprocess N is still running" as a ResourceWarning, an error under this project's filterwarnings, in whichever
later test the collector happens to run, or at exit.
"""

from __future__ import annotations

import itertools
import os
import re
import subprocess
import traceback
import weakref
from typing import Any

import git

# By identity: a Repo is equal to (and hashes as) any other Repo of the same git dir, so a set of repos keeps only
# the first of a path, and the Workspace that softco opens on a repo a test made (or made before it) went unclosed.
_REPOS: list[weakref.ref[git.Repo]] = []
_repo_init = git.Repo.__init__


def _tracked_init(self: git.Repo, *args: Any, **kwargs: Any) -> None:
    _repo_init(self, *args, **kwargs)
    _REPOS.append(weakref.ref(self))


def close_repos() -> None:
    """Close every repo made since the last call (their git processes end now)."""
    refs = list(_REPOS)
    _REPOS.clear()
    for ref in refs:
        repo = ref()
        if repo is not None:
            repo.close()


# Every git process started in this process is remembered with where it was started (the stack; its source lines
# are read only if it is reported).
_GIT_PROCS: weakref.WeakKeyDictionary[subprocess.Popen[Any], tuple[int, traceback.StackSummary]] = (
    weakref.WeakKeyDictionary()
)
_started = itertools.count()
_popen_init = subprocess.Popen.__init__
_RUNNER = re.compile(r"[/\\](_pytest|pluggy)[/\\]")  # pytest's own frames say nothing of where a leak is


def _is_git(args: object) -> bool:
    first = args if isinstance(args, str | bytes | os.PathLike) else next(iter(args), "")  # type: ignore[call-overload]
    return os.path.basename(os.fsdecode(first).split(" ")[0]) == "git"


def _tracked_popen(self: subprocess.Popen[Any], args: Any, *rest: Any, **kwargs: Any) -> None:
    _popen_init(self, args, *rest, **kwargs)
    if _is_git(args):
        frames = [(f, n) for f, n in traceback.walk_stack(None) if not _RUNNER.search(f.f_code.co_filename)]
        stack = traceback.StackSummary.extract(frames[1:16], lookup_lines=False)  # not this function
        stack.reverse()
        _GIT_PROCS[self] = (next(_started), stack)


def mark() -> int:
    """A mark: :func:`leaked_git_processes` looks at the git processes started after it."""
    return next(_started)


def leaked_git_processes(since: int) -> list[str]:
    """The git processes started after mark ``since`` and never waited for; each is ended and described.

    Never waited for is what Popen's finaliser reports as "still running", whether or not the process has exited.
    """
    found = []
    for proc, (n, stack) in list(_GIT_PROCS.items()):
        if n > since and proc.returncode is None:
            proc.kill()
            proc.wait()
            found.append(f"{proc.args!r} started at:\n{''.join(stack.format())}")
    return found


def install() -> None:
    git.Repo.__init__ = _tracked_init  # type: ignore[method-assign]
    subprocess.Popen.__init__ = _tracked_popen  # type: ignore[method-assign]
