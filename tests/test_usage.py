"""Measured, recorded or estimated: token figures say where they came from, and only measured ones are priced.

A scripted or dry run calls no model, so its tokens are length-based estimates ("~") and have no
cost; a replay shows what the recording says an endpoint measured, as recorded, and spends nothing;
an endpoint's own figures are measured and priced. A run's summary counts that run's calls.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
from pathlib import Path

from fake_server import FakeOpenAIServer, FakeRequest
from helpers import only_project, run_cli, write_script
from scripted_project import REQUIREMENT, answers

from softco.board import MIGRATIONS, Board
from softco.llm.base import LLMRequest, LLMResponse, Usage
from softco.llm.replay import ReplayLLM, make_header
from softco.report.costs import format_total_cost, format_usage
from softco.report.stats import RunStats, run_stats
from softco.steps.step import call_cost

MODEL = ["--model", "gpt-4o-mini"]  # a model with a known price: nothing may be priced that was not measured


def summary(stdout: str) -> dict[str, str]:
    """The summary table at the end of a run: first column -> the rest of the line."""
    rows = {}
    for line in stdout.splitlines():
        key, _, value = line.partition("  ")
        if key and value.strip():
            rows[key.strip()] = value.strip()
    return rows


def test_usage_sums_keep_the_least_trustworthy_source() -> None:
    measured = Usage(prompt_tokens=10, completion_tokens=5, source="measured")
    recorded = Usage(prompt_tokens=10, completion_tokens=5, source="recorded")
    estimated = Usage(prompt_tokens=10, completion_tokens=5, source="estimated")
    assert (Usage() + measured).source == "measured"  # an empty start says nothing
    assert (measured + Usage()).source == "measured"  # nor does a failed attempt
    assert (measured + recorded).source == "recorded"
    assert (recorded + estimated + measured).source == "estimated"
    assert (measured + measured).total == 30
    assert Usage().source == "estimated"  # a figure no one claims to have measured is an estimate


def test_only_measured_usage_is_priced() -> None:
    def cost(source: str, cached: bool = False) -> float | None:
        usage = Usage(prompt_tokens=1_000_000, completion_tokens=0, source=source)  # type: ignore[arg-type]
        return call_cost("gpt-4o-mini", LLMResponse(content="x", usage=usage, cached=cached))

    assert cost("measured") == 0.15
    assert cost("estimated") is None  # never priced
    assert cost("recorded") == 0.0  # a replay spends nothing now
    assert cost("estimated", cached=True) == 0.0
    assert call_cost("no-such-model", LLMResponse(content="x", usage=Usage(source="measured"))) is None


def test_a_replay_reports_what_was_recorded_as_recorded(tmp_path: Path) -> None:
    """Measured figures replay as recorded; estimates (and recordings of an older softco, which do not
    say where their figures came from) replay as estimates."""
    rec = tmp_path / "session.jsonl"
    lines = [make_header("hash", "gpt-4o-mini", "test", "req").model_dump_json()]
    usages = {
        "a/b/measured": {"prompt_tokens": 100, "completion_tokens": 20, "source": "measured"},
        "a/b/estimated": {"prompt_tokens": 100, "completion_tokens": 20, "source": "estimated"},
        "a/b/old": {"prompt_tokens": 100, "completion_tokens": 20},
    }
    for key, usage in usages.items():
        response = {"content": "{}", "usage": usage, "model": "gpt-4o-mini", "finish_reason": "stop", "cached": False}
        exchange = {"step_key": key, "attempt": 1, "prompt_hash": "", "request": {}, "response": response}
        lines.append(json.dumps({"type": "exchange", **exchange}))
    rec.write_text("\n".join(lines) + "\n")
    replay = ReplayLLM(rec)

    async def source(key: str) -> str:
        response = await replay.complete(LLMRequest(step_key=key, messages=[]))
        assert response.usage.total == 120
        return response.usage.source

    assert asyncio.run(source("a/b/measured")) == "recorded"
    assert asyncio.run(source("a/b/estimated")) == "estimated"
    assert asyncio.run(source("a/b/old")) == "estimated"


def test_figures_print_with_their_source() -> None:
    def stats(measured: int = 0, recorded: int = 0, estimated: int = 0, cost: float | None = 0.0) -> RunStats:
        calls = measured + recorded + estimated
        return RunStats(calls, 1234, 56, cost, 1.0, 1, 0, measured, recorded, estimated)

    assert format_usage(stats(measured=2)) == "1,234 prompt + 56 completion"
    assert format_total_cost(stats(measured=2, cost=0.0123)) == "$0.0123"
    assert format_total_cost(stats(measured=2, cost=None)) == "unknown (no price for this model)"
    assert format_usage(stats(estimated=2)) == "~1,234 prompt + ~56 completion (estimated)"
    assert format_total_cost(stats(estimated=2)) == "not priced (estimated usage)"
    assert format_usage(stats(recorded=2)) == "1,234 prompt + 56 completion (recorded)"
    assert format_total_cost(stats(recorded=2)) == "$0 spent now (replayed recording)"
    assert format_usage(stats(measured=1, estimated=1)) == "~1,234 prompt + ~56 completion (partly estimated)"
    assert format_total_cost(stats(measured=1, estimated=1, cost=0.5)) == "$0.5000 + not priced (estimated usage)"


def test_an_old_board_opens_and_its_estimates_lose_their_price(tmp_path: Path) -> None:
    """A board made before usage had a source: scripted, replayed and dry runs' rows become estimates with
    no cost; a run against an endpoint keeps its measured figures and cost."""
    path = tmp_path / "board.sqlite"
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE migrations (name TEXT PRIMARY KEY, applied_at REAL NOT NULL)")
    for name, sql in MIGRATIONS:
        if name in ("001_initial", "002_run_branch"):
            db.executescript(sql)
            db.execute("INSERT INTO migrations VALUES (?, 0)", (name,))
    runs = {
        "scripted": json.dumps({"llm": "script:a.json", "dry_run": False}),
        "replayed": json.dumps({"llm": "replay:s.jsonl"}),
        "dry": json.dumps({"llm": None, "dry_run": True}),
        "live": json.dumps({"llm": None, "dry_run": False}),
        "broken": "{not json",
    }
    for run_id, settings in runs.items():
        db.execute(
            "INSERT INTO runs (id, requirement, sop_hash, model, settings_json, status, started_at)"
            " VALUES (?, 'r', 'h', 'gpt-4o-mini', ?, 'done', 0)",
            (run_id, settings),
        )
        for status in ("ok", "cached"):
            db.execute(
                "INSERT INTO steps (key, run_id, role, action, subject, status, request_hash, prompt_tokens,"
                " completion_tokens, cost_usd, started_at) VALUES ('a/b/c', ?, 'a', 'b', 'c', ?, 'h', 100, 10, ?, 0)",
                (run_id, status, 0.0 if status == "cached" else 0.0008),
            )
    db.commit()
    db.close()

    board = Board(path)
    rows = {(s.run_id, s.status): (s.usage_source, s.cost_usd) for s in board.steps()}
    assert rows[("scripted", "ok")] == ("estimated", None)
    assert rows[("replayed", "ok")] == ("estimated", None)
    assert rows[("dry", "ok")] == ("estimated", None)
    assert rows[("scripted", "cached")] == ("estimated", 0.0)
    assert rows[("live", "ok")] == ("measured", 0.0008)
    assert rows[("broken", "ok")] == ("measured", 0.0008)  # a run whose settings cannot be read stays as it was
    board.db.execute("DELETE FROM runs WHERE id = 'broken'")
    assert format_total_cost(run_stats(board, "scripted")) == "not priced (estimated usage)"
    assert format_total_cost(run_stats(board, "live")) == "$0.0008"
    board.close()
    Board(path).close()  # opens again: the migration is applied once


def test_a_scripted_run_prints_estimates_and_no_cost_and_counts_its_own_calls(tmp_path: Path) -> None:
    """The issue's case: `--llm script:F --model gpt-4o-mini` called no model, so it prints no dollars."""
    script = write_script(tmp_path / "a.json", answers())
    res = run_cli(["new", REQUIREMENT, "--output", "out", "--llm", f"script:{script}", *MODEL], tmp_path)
    assert res.exit_code == 0, res.stdout + res.stderr
    rows = summary(res.stdout)
    assert rows["cost"] == "not priced (estimated usage)"
    assert "$" not in res.stdout
    assert rows["tokens"].startswith("~") and rows["tokens"].endswith("(estimated)")
    assert rows["LLM calls"] == "6 this run"
    project = only_project(tmp_path / "out")
    board = Board(project / ".softco" / "board.sqlite")
    calls = [s for s in board.steps() if s.request_hash is not None]
    board.close()
    assert len(calls) == 6 and {(s.usage_source, s.cost_usd) for s in calls} == {("estimated", None)}

    shown = run_cli(["show", str(project), "cost"], tmp_path)
    assert shown.exit_code == 0, shown.stdout + shown.stderr
    assert "$" not in shown.stdout and "unpriced" in shown.stdout and "(estimated)" in shown.stdout

    again = run_cli(["resume", str(project)], tmp_path)  # the run is done: no call is made
    assert again.exit_code == 0, again.stdout + again.stderr
    rows = summary(again.stdout)
    assert rows["LLM calls"] == "0 this run"
    assert rows["all 2 runs"].startswith("6 LLM calls, ~")


def test_a_replayed_recording_shows_recorded_figures_and_spends_nothing(tmp_path: Path) -> None:
    """Recorded against an endpoint that reports usage (measured, priced), then replayed: the same figures,
    as recorded, and $0 spent now."""
    script = answers()
    rec = tmp_path / "session.jsonl"

    def answer(req: FakeRequest) -> object:
        return script[req.step or ""]

    with FakeOpenAIServer(answer) as srv:
        live = run_cli(
            ["new", REQUIREMENT, "--name", "live", "--output", "out", "--record", str(rec), *MODEL],
            tmp_path,
            env={"OPENAI_BASE_URL": srv.base_url},
        )
    assert live.exit_code == 0, live.stdout + live.stderr
    measured = summary(live.stdout)
    assert "~" not in measured["tokens"] and measured["cost"].startswith("$0.0")

    replay = run_cli(["new", REQUIREMENT, "--name", "again", "--output", "out", "--llm", f"replay:{rec}"], tmp_path)
    assert replay.exit_code == 0, replay.stdout + replay.stderr
    rows = summary(replay.stdout)
    assert rows["tokens"] == measured["tokens"] + " (recorded)"
    assert rows["cost"] == "$0 spent now (replayed recording)"
    board = Board(tmp_path / "out" / "again" / ".softco" / "board.sqlite")
    calls = [s for s in board.steps() if s.request_hash is not None]
    board.close()
    assert {(s.usage_source, s.cost_usd) for s in calls} == {("recorded", 0.0)}
