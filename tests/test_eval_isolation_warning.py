"""Where the sandbox does not isolate the filesystem, generated code can read the hidden acceptance tests:
`softco eval` says so before it runs, instead of scoring as if they were hidden."""

from __future__ import annotations

from pathlib import Path

import pytest
from eval_helpers import invoke, write_task

from softco import sandbox


@pytest.mark.parametrize(("mechanism", "warned"), [("netns", True), ("none", True), ("bwrap", False)])
def test_eval_warns_when_the_acceptance_tests_are_readable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mechanism: str, warned: bool
) -> None:
    monkeypatch.setattr(sandbox, "best", lambda: mechanism)
    suite = tmp_path / "suite"
    write_task(suite, "calc")
    out = tmp_path / "ev"
    # a script that does not exist: the run stops at once, which is all this test needs
    code, text = invoke(
        "eval", "--suite", str(suite), "--llm", f"script:{tmp_path / 'none.json'}", "--output", str(out)
    )
    assert code == 1, text
    assert ("can read the hidden acceptance tests" in text) is warned, text
