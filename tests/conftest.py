"""Test isolation: no real model, no real state, no network beyond 127.0.0.1."""

from __future__ import annotations

import weakref
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import git
import pytest

import softco.llm.openai

# the evaluation suite's reference solutions and demo projects are data for tests/test_eval_suite.py, not tests
# (ignored here rather than by a conftest of their own, which would put their directory on sys.path)
collect_ignore = ["eval_reference"]


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(softco.llm.openai, "ALLOW_REMOTE_REQUESTS", False)
    # softco's per-user cache (the SOP checks it found clean): one of its own per test, beside tmp_path
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.mktemp("xdg-cache")))
    monkeypatch.setenv("SOFTCO_LOCAL_ONLY", "1")  # ... and in every softco process a test starts
    for var in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "SOFTCO_MODEL", "SOFTCO_OUTPUT"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.chdir(tmp_path)


# GitPython keeps `git cat-file` processes per Repo object until the object is closed or collected. Many
# tests (and softco's own objects, in-process) leave repos to the garbage collector; one caught in a
# reference cycle is collected late, with its processes still running, which pytest reports as an error
# at the end of the session. Every repo made during a test is closed when the test ends.
_REPOS: weakref.WeakSet[git.Repo] = weakref.WeakSet()
_repo_init = git.Repo.__init__


def _tracked_init(self: git.Repo, *args: Any, **kwargs: Any) -> None:
    _repo_init(self, *args, **kwargs)
    _REPOS.add(self)


git.Repo.__init__ = _tracked_init  # type: ignore[method-assign]


@pytest.fixture(autouse=True)
def _close_repos() -> Iterator[None]:
    yield
    for repo in list(_REPOS):
        repo.close()
