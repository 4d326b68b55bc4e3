"""Test isolation: no real model, no real state, no network beyond 127.0.0.1."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import git_leaks
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


git_leaks.install()


@pytest.fixture(autouse=True)
def _close_repos() -> Iterator[None]:
    """Close every repo the test made; fail the test if a git process it started was left running."""
    since = git_leaks.mark()
    yield
    git_leaks.close_repos()
    leaked = git_leaks.leaked_git_processes(since)
    if leaked:
        pytest.fail(
            f"{len(leaked)} git process(es) started by this test were never waited for (close the Repo, finish "
            "the iterator, wait for the Popen):\n" + "\n".join(leaked)
        )
