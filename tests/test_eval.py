"""`softco eval` and `softco batch` with scripted or recorded answers: the real runs, board, git and
sandbox; the scores computed by running hidden acceptance tests in the sandbox."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from eval_helpers import CALC_ACCEPTANCE, calc_script, invoke, results, write_task
from fake_server import FakeOpenAIServer, FakeRequest
from scripted_project import answers

from softco.eval import local
from softco.eval.score import score_project
from softco.eval.suite import SuiteError, load_suite


def board_runs(project: Path) -> int:
    db = sqlite3.connect(project / ".softco" / "board.sqlite")
    try:
        return int(db.execute("SELECT COUNT(*) FROM runs").fetchone()[0])
    finally:
        db.close()


def test_demo_scores_exactly_as_planted(tmp_path: Path) -> None:
    code, out = invoke("eval", "--demo", "--output", str(tmp_path / "demo"))
    assert code == 0, out
    res = results(tmp_path / "demo")
    by_task = {r.task_id: r for r in res.records}
    good, buggy = by_task["wordcount"], by_task["tempconv"]
    assert (good.status, good.executability, good.hidden_passed, good.hidden_total) == ("done", 4, 4, 4)
    assert good.hidden_failed == []
    # QA's own tests all pass on the buggy one: only the hidden test sees the bug
    assert (buggy.own_passed, buggy.own_total) == (5, 5)
    assert (buggy.executability, buggy.hidden_passed, buggy.hidden_total) == (3, 5, 6)
    assert buggy.hidden_failed == ["acceptance/test_tempconv.py::test_fahrenheit_to_kelvin"]
    assert "test_fahrenheit_to_kelvin" in out and "scoreboard" in out
    # the three result files, and each run's own report linked from the scoreboard
    html = (tmp_path / "demo" / "scoreboard.html").read_text()
    for r in res.records:
        assert (tmp_path / "demo" / r.report).is_file()
        assert f'href="{r.report}"' in html
    assert "test\\_fahrenheit\\_to\\_kelvin" in (tmp_path / "demo" / "eval.md").read_text()
    assert res.summary[0].all_pass == 1 and res.summary[0].exec_mean == 3.5


def test_rerun_continues_without_redoing_finished_runs(tmp_path: Path) -> None:
    suite = tmp_path / "suite"
    write_task(suite, "calc")
    write_task(suite, "calc-two")
    llm = calc_script(tmp_path / "script.json")
    out = tmp_path / "ev"
    code, text = invoke("eval", "--suite", str(suite), "--llm", llm, "--output", str(out), "--tasks", "calc")
    assert code == 0, text
    first = results(out)
    assert [(r.task_id, r.executability, r.hidden_passed, r.hidden_total) for r in first.records] == [("calc", 4, 4, 4)]
    # the same command with both tasks: calc is not run again, calc-two is
    code, text = invoke("eval", "--suite", str(suite), "--llm", llm, "--output", str(out))
    assert code == 0, text
    second = results(out)
    assert [(r.task_id, r.status) for r in second.records] == [("calc", "done"), ("calc-two", "done")]
    assert second.records[0] == first.records[0]
    assert board_runs(out / first.records[0].rel_dir) == 1
    assert "1 run(s) to do of 2" in text


def test_an_unfinished_run_resumes(tmp_path: Path) -> None:
    """A run that stopped (its endpoint failed for good) is resumed by the next invocation, through softco's
    resume: the steps it finished are not asked again."""
    suite = tmp_path / "suite"
    write_task(suite, "calc")
    script = answers()
    del script["engineer/fix_code/round-1/calc/ops.py"]  # the endpoint has no answer: the run stops
    llm = calc_script(tmp_path / "script.json", script)
    out = tmp_path / "ev"
    code, text = invoke("eval", "--suite", str(suite), "--llm", llm, "--output", str(out))
    assert code == 1, text
    rec = results(out).records[0]
    assert rec.status == "error" and rec.executability is None and "resume" in rec.error
    calc_script(
        tmp_path / "script.json",
        {"engineer/fix_code/round-1/calc/ops.py": answers()["engineer/fix_code/round-1/calc/ops.py"]},
    )  # only the missing answer now: the rest is never asked
    code, text = invoke("eval", "--suite", str(suite), "--llm", llm, "--output", str(out))
    assert code == 0, text
    rec = results(out).records[0]
    assert (rec.status, rec.executability, rec.fix_rounds) == ("done", 4, 1)
    assert board_runs(out / rec.rel_dir) == 2


def test_two_models_side_by_side(tmp_path: Path) -> None:
    """Two models are two variants (through the real openai client and a local endpoint): per-task deltas and
    the tasks where they disagree. Model m-bad's fix does not fix the bug; m-good's does."""
    suite = tmp_path / "suite"
    write_task(suite, "calc")
    scripts = {"m-good": answers(fixed=True), "m-bad": answers(fixed=False)}

    def answer(req: FakeRequest) -> Any:
        return scripts[req.body["model"]][req.step]

    out = tmp_path / "ev"
    with FakeOpenAIServer(answer) as srv:
        code, text = invoke(
            "eval",
            "--suite",
            str(suite),
            "--model",
            "m-good",
            "--model",
            "m-bad",
            "--base-url",
            srv.base_url,
            "--output",
            str(out),
            "--max-fix-rounds",
            "1",
            "--jobs",
            "2",
        )
        assert not srv.errors, srv.errors
    assert code == 0, text
    res = results(out)
    assert [v.name for v in res.variants] == ["m-good", "m-bad"]
    got = {r.variant: (r.executability, r.hidden_passed, r.hidden_failed, r.usage) for r in res.records}
    assert got == {
        "m-good": (4, 4, [], "measured"),
        "m-bad": (3, 3, ["acceptance/test_calc.py::test_divide_by_zero"], "measured"),
    }
    (row,) = res.comparison
    assert (row.task_id, row.delta, row.disagree) == ("calc", {"m-bad": -0.25}, True)
    md = (out / "eval.md").read_text()
    assert "Tasks where the variants disagree: calc" in md and "-25 pp" in md


def test_batch_builds_one_project_per_line(tmp_path: Path) -> None:
    batch = tmp_path / "reqs.jsonl"
    batch.write_text(
        json.dumps({"name": "first calc", "requirement": "a tiny calculator library with safe division"})
        + "\n"
        + json.dumps({"name": "second calc", "requirement": "a tiny calculator library with safe division"})
        + "\n"
    )
    llm = calc_script(tmp_path / "script.json")
    out = tmp_path / "b"
    code, text = invoke("batch", str(batch), "--llm", llm, "--output", str(out), "--jobs", "2")
    assert code == 0, text
    data = json.loads((out / "batch.json").read_text())
    recs = data["records"]
    assert [(r["task_id"], r["status"], r["executability"], r["own_passed"]) for r in recs] == [
        ("first-calc", "done", None, 3),
        ("second-calc", "done", None, 3),
    ]
    assert all((out / r["rel_dir"] / "calc" / "ops.py").is_file() for r in recs)


# The suite format


def test_suite_errors_are_one_line(tmp_path: Path) -> None:
    suite = tmp_path / "suite"
    d = write_task(suite, "calc", extra='package = "calc"\ncolour = "red"\n')
    with pytest.raises(SuiteError, match=r"task.toml: colour: Extra inputs are not permitted"):
        load_suite(str(suite))
    (d / "task.toml").write_text((d / "task.toml").read_text().replace('colour = "red"\n', ""))
    assert [t.id for t in load_suite(str(suite)).tasks] == ["calc"]
    (d / "task.toml").write_text((d / "task.toml").read_text().replace('id = "calc"', 'id = "other"'))
    with pytest.raises(SuiteError, match="differs from its directory name"):
        load_suite(str(suite))
    code, text = invoke("eval", "--suite", str(tmp_path / "nowhere"))
    assert code == 2 and "no such directory or bundled suite" in text


# Scoring: executability computed on MetaGPT's 1-4 scale


def project(tmp_path: Path, files: dict[str, str]) -> Path:
    root = tmp_path / "proj"
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    return root


GOOD = (
    "def add(a, b):\n    return a + b\n\n\ndef divide(a, b):\n    if b == 0:\n        raise ValueError\n"
    "    return a / b\n"
)


@pytest.mark.parametrize(
    ("files", "entry", "level", "passed"),
    [
        ({"calc/__init__.py": GOOD}, "import", 4, 4),
        ({"calc/__init__.py": GOOD.replace("raise ValueError", "return 0")}, "import", 3, 3),
        ({"calc/__init__.py": "def add(a, b):\n    return 0\n"}, "import", 2, 1),
        ({"calc/__init__.py": "import nonexistent_module_xyz\n"}, "import", 1, 0),
        ({"other/__init__.py": GOOD}, "import", 1, 0),
        ({"calc/__init__.py": GOOD}, "cli", 1, 0),  # a CLI task with no calc/__main__.py
        ({"calc/__init__.py": GOOD, "calc/__main__.py": "print('hi')\n"}, "cli", 4, 4),
    ],
)
def test_executability(tmp_path: Path, files: dict[str, str], entry: str, level: int, passed: int) -> None:
    score = score_project(
        project(tmp_path, files),
        {"test_calc.py": CALC_ACCEPTANCE},
        package="calc",
        entry=entry,  # type: ignore[arg-type]
        dependencies=[],
        time_limit_s=60,
    )
    assert (score.executability, score.hidden_passed) == (level, passed), score
    assert score.hidden_total == (4 if level > 1 else 0)


def test_model_written_text_is_escaped_in_every_result_file(tmp_path: Path) -> None:
    """What generated code printed (it reaches a run's note) is text in the scoreboard, eval.md and the terminal."""
    suite = tmp_path / "suite"
    write_task(suite, "calc")
    script = answers()
    hostile = "<script>alert(1)</script> | **x** [a](javascript:alert(1))"
    script["engineer/write_code/calc/__init__.py"]["content"] = (
        f"import sys\nprint({hostile!r})\nsys.exit(1)\n"  # import calc prints, then fails: executability 1
    )
    llm = calc_script(tmp_path / "script.json", script)
    out = tmp_path / "ev"
    code, text = invoke("eval", "--suite", str(suite), "--llm", llm, "--output", str(out), "--max-fix-rounds", "0")
    (rec,) = results(out).records
    assert rec.executability == 1 and "<script>alert(1)</script>" in rec.score_detail, (code, text)
    html = (out / "scoreboard.html").read_text()
    assert "<script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert 'href="javascript' not in html
    md = (out / "eval.md").read_text()
    assert "\\<script\\>" in md and "\\| \\*\\*x\\*\\*" in md and "<script>" not in md


def test_seeds_are_separate_runs_with_a_spread(tmp_path: Path) -> None:
    suite = tmp_path / "suite"
    write_task(suite, "calc")
    out = tmp_path / "ev"
    with FakeOpenAIServer(lambda req: answers()[req.step]) as srv:
        code, text = invoke(
            "eval",
            "--suite",
            str(suite),
            "--base-url",
            srv.base_url,
            "--model",
            "m",
            "--output",
            str(out),
            "--seeds",
            "2",
        )
        calls = len(srv.requests)
    assert code == 0, text
    res = results(out)
    assert [(r.seed, r.rel_dir, r.executability) for r in res.records] == [
        (1, "runs/m/seed-1/calc", 4),
        (2, "runs/m/seed-2/calc", 4),
    ]
    (summary,) = res.summary
    assert (summary.seeds, summary.exec_mean, summary.exec_spread, summary.pass_rate_mean) == (2, 4.0, 0.0, 1.0)
    # each seed has its own step cache: the second seed's run asked the model as much as the first
    assert res.records[0].llm_calls == res.records[1].llm_calls == 6 and calls == 12


def test_ctrl_c_saves_what_finished_and_the_same_command_goes_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    suite = tmp_path / "suite"
    write_task(suite, "calc")
    write_task(suite, "calc-two")
    llm = calc_script(tmp_path / "script.json")
    out = tmp_path / "ev"
    real = local.execute_run

    def interrupted_at_the_second(spec: Any, project: Path, ledger: Any) -> Any:
        if spec.task_id == "calc-two":
            raise KeyboardInterrupt
        return real(spec, project, ledger)

    monkeypatch.setattr(local, "execute_run", interrupted_at_the_second)
    code, text = invoke("eval", "--suite", str(suite), "--llm", llm, "--output", str(out))
    assert code == 130, text
    assert "run the same command again to continue" in text
    assert [(r.task_id, r.status) for r in results(out).records] == [("calc", "done")]
    monkeypatch.setattr(local, "execute_run", real)
    code, text = invoke("eval", "--suite", str(suite), "--llm", llm, "--output", str(out))
    assert code == 0, text
    assert [(r.task_id, r.status) for r in results(out).records] == [("calc", "done"), ("calc-two", "done")]
    assert "1 run(s) to do of 2" in text


def test_a_parametrized_hidden_test_counts_each_case(tmp_path: Path) -> None:
    """pytest collects each parametrization as a test; a project that passes them all scores 4."""
    acceptance = (
        "import importlib\nimport pytest\n\n\n"
        "@pytest.mark.parametrize(('a', 'b', 'want'), [(1, 2, 3), (2, 2, 4), (0, 0, 0)])\n"
        "def test_add(a, b, want):\n    assert importlib.import_module('calc').add(a, b) == want\n\n\n"
        "def test_divide():\n    assert importlib.import_module('calc').divide(4, 2) == 2\n"
    )
    kwargs = {"package": "calc", "entry": "import", "dependencies": [], "time_limit_s": 60}
    good = score_project(project(tmp_path / "good", {"calc/__init__.py": GOOD}), {"test_calc.py": acceptance}, **kwargs)  # type: ignore[arg-type]
    assert (good.executability, good.hidden_passed, good.hidden_total) == (4, 4, 4), good
    bad = GOOD.replace("return a + b", "return a + b if a else 99")
    one_off = score_project(
        project(tmp_path / "bad", {"calc/__init__.py": bad}), {"test_calc.py": acceptance}, **kwargs
    )  # type: ignore[arg-type]
    assert (one_off.executability, one_off.hidden_passed, one_off.hidden_total) == (3, 3, 4), one_off
