"""softco's own git commands run nothing a repository's configuration names.

A repository softco works in (the user's repo and its worktree under `softco change`, a generated project)
can carry configuration that makes git run programs: a ``core.fsmonitor`` hook on every index refresh,
hooks (``core.hooksPath``, ``.git/hooks``), clean/smudge/process filters that ``.gitattributes`` points at,
diff drivers (``textconv``, ``command``) and merge drivers. softco runs its git commands with all of them
turned off, as ``git -c core.fsmonitor=false -c core.hooksPath=/dev/null -c filter.NAME.smudge= ...`` would,
through git's ``GIT_CONFIG_COUNT`` variables (command-line configuration, which wins over every file).
Files are then checked out and committed as they are stored: no filter rewrites them.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # gitpython takes ~55 ms to import (and runs `git version`): imported where a repo is opened
    import git

#: Always overridden, whatever the configuration says.
FIXED = {"core.fsmonitor": "false", "core.hooksPath": os.devnull}
#: Configured keys that name a program, each emptied (an empty driver command runs nothing).
_PROGRAMS = r"^(filter|diff|merge)\..+\.(clean|smudge|process|textconv|command|driver)$"
_NAMED = re.compile(_PROGRAMS, re.IGNORECASE)


def overrides(root: Path) -> dict[str, str]:
    """The configuration that turns off, for git run in ``root``, every program its configuration names."""
    out = dict(FIXED)
    try:
        found = subprocess.run(
            ["git", "config", "-z", "--name-only", "--get-regexp", _PROGRAMS],
            cwd=root,
            env=environment(FIXED),
            capture_output=True,
            timeout=60,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return out
    for key in found.stdout.decode("utf-8", "replace").split("\0"):
        if _NAMED.match(key):
            out[key] = ""
            out[key.rsplit(".", 1)[0] + ".required"] = "false"
    return out


def environment(config: dict[str, str]) -> dict[str, str]:
    """``config`` as the variables git reads command-line configuration from (git 2.31 or later)."""
    env = {**os.environ, "GIT_CONFIG_COUNT": str(len(config))}
    for i, (key, value) in enumerate(config.items()):
        env[f"GIT_CONFIG_KEY_{i}"] = key
        env[f"GIT_CONFIG_VALUE_{i}"] = value
    return env


def variables(root: Path) -> dict[str, str]:
    """Only the ``GIT_CONFIG_*`` variables of :func:`overrides` for ``root``."""
    return {k: v for k, v in environment(overrides(root)).items() if k.startswith("GIT_CONFIG_")}


def secure(repo: git.Repo) -> git.Repo:
    """``repo``, whose git commands (gitpython's ``repo.git``, its object readers) now run with the overrides."""
    root = Path(str(repo.working_tree_dir or repo.git_dir))
    repo.git.update_environment(**variables(root))
    return repo


def open_repo(root: Path, **kwargs: object) -> git.Repo:
    """``git.Repo(root)`` whose git commands run nothing the repository's configuration names."""
    import git

    return secure(git.Repo(root, **kwargs))  # type: ignore[arg-type]
