"""A whole suite against a local OpenAI-compatible endpoint: the eval finishes with a scoreboard and no
traceback, every task scored with whatever the code earns. The endpoint answers every task with the same
small calculator project (the real openai client, HTTP, the sandbox, the hidden tests all for real)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from eval_helpers import invoke, results
from fake_server import FakeOpenAIServer, FakeRequest
from scripted_project import answers

from softco.eval.demo import DEMO_DIR
from softco.eval.suite import SUITES_DIR, load_suite


def test_whole_suite_against_a_local_endpoint(tmp_path: Path) -> None:
    # the built-in suite once it is bundled; until then the demo's tasks stand in for it
    suite = "builtin" if (SUITES_DIR / "builtin").is_dir() else str(DEMO_DIR)
    tasks = [t.id for t in load_suite(suite).tasks]
    script = answers()

    def answer(req: FakeRequest) -> Any:
        return script[req.step or ""]

    out = tmp_path / "ev"
    with FakeOpenAIServer(answer) as srv:
        code, text = invoke(
            "eval", "--suite", suite, "--base-url", srv.base_url, "--model", "fake", "--jobs", "4", "--output", str(out)
        )
        assert not srv.errors, srv.errors
    assert code == 0, text
    assert "Traceback" not in text and "scoreboard" in text
    res = results(out)
    assert sorted(r.task_id for r in res.records) == sorted(tasks)
    assert all(r.status == "done" and r.executability in (1, 2, 3, 4) for r in res.records), res.records
    assert all(r.usage == "measured" and r.llm_calls > 0 for r in res.records)
    assert (out / "scoreboard.html").is_file() and (out / "eval.md").is_file()
