"""--budget is one budget for the whole eval, across invocations too: what finished runs of an earlier
invocation spent counts, so running the same eval again never takes the total over --budget."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from eval_helpers import invoke, results, write_task
from fake_server import FakeOpenAIServer
from scripted_project import REQUIREMENT, answers
from test_eval_budget import PRICE, spent_usd


def test_a_later_invocation_counts_what_finished_runs_spent(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    prices = tmp_path / "prices.json"
    prices.write_text(json.dumps({"m": [PRICE, PRICE]}))
    monkeypatch.setenv("SOFTCO_PRICES", str(prices))
    suite = tmp_path / "suite"
    for task in ("calc-a", "calc-b"):
        write_task(suite, task, requirement=f"{REQUIREMENT} ({task})")
    out = tmp_path / "ev"
    args = ["eval", "--suite", str(suite), "--model", "m", "--output", str(out)]
    with FakeOpenAIServer(lambda req: answers()[req.step]) as srv:
        code, text = invoke(*args, "--tasks", "calc-a", "--budget", "100", "--base-url", srv.base_url)
        assert code == 0, text
        first = spent_usd(out)
        assert first > 0
        # 50 cents more than calc-a spent: the eval's ledger must start from what calc-a spent
        budget = round(first + 0.5, 4)
        code, text = invoke(*args, "--budget", str(budget), "--base-url", srv.base_url)
    assert code == 4, text
    assert spent_usd(out) <= budget
    records = results(out).records
    assert [r.status for r in records] == ["done", "budget"]
    said = re.search(r"\$([0-9.]+) of \$([0-9.]+) is spent", records[1].error)
    assert said is not None, records[1].error
    assert float(said.group(1)) >= round(first, 2) - 0.01, records[1].error  # calc-a's spending counted
