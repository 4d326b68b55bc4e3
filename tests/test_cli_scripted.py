"""The company end to end through the CLI, with answers from a script file (no HTTP)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from helpers import commits, only_project, run_cli, run_cli_process, write_script
from scripted_project import REQUIREMENT, answers

from softco.artifacts import Refs, TestReport, parse_artifact


@pytest.mark.e2e
def test_failing_tests_after_last_round_exit_3(tmp_path: Path) -> None:
    script = write_script(tmp_path / "a.json", answers(fixes=1, fixed=False))
    res = run_cli_process(
        ["new", REQUIREMENT, "--llm", f"script:{script}", "--max-fix-rounds", "1", "--output", "out"], tmp_path
    )
    assert res.exit_code == 3, res.stdout + res.stderr
    assert "tests/test_ops.py::test_divide_by_zero_raises" in res.stdout
    assert "still fail after 1 fix round" in res.stdout
    project = only_project(tmp_path / "out")
    report = TestReport.model_validate_json((project / "docs/test_report.json").read_text())
    assert report.round == 2
    assert {(r.name, r.outcome) for r in report.results} == {
        ("test_add", "passed"),
        ("test_divide", "passed"),
        ("test_divide_by_zero_raises", "failed"),
    }
    assert "test_divide_by_zero_raises" in (project / "docs/test_report.md").read_text()


def test_zero_fix_rounds_reports_without_bug_reports(tmp_path: Path) -> None:
    script = write_script(tmp_path / "a.json", {k: v for k, v in answers(fixes=0).items()})
    res = run_cli(
        ["new", REQUIREMENT, "--llm", f"script:{script}", "--max-fix-rounds", "0", "--output", "out"], tmp_path
    )
    assert res.exit_code == 3, res.stdout + res.stderr
    project = only_project(tmp_path / "out")
    assert not (project / "docs" / "bugs").exists()
    assert [c.subject.split(":")[0] for c in commits(project)][-1] == "test_report"


def test_docs_validate_against_their_schemas(tmp_path: Path) -> None:
    script = write_script(tmp_path / "a.json", answers())
    res = run_cli(["new", REQUIREMENT, "--llm", f"script:{script}", "--output", "out"], tmp_path)
    assert res.exit_code == 0, res.stdout + res.stderr
    project = only_project(tmp_path / "out")
    prd = parse_artifact("prd", (project / "docs/prd.json").read_text())
    design = parse_artifact("design", (project / "docs/design.json").read_text(), Refs(req_ids={"REQ-1", "REQ-2"}))
    refs = Refs(req_ids={"REQ-1", "REQ-2"}, design_paths={"calc/__init__.py", "calc/ops.py"})
    parse_artifact("tasks", (project / "docs/tasks.json").read_text(), refs)
    parse_artifact("test_report", (project / "docs/test_report.json").read_text(), refs)
    assert prd.title().startswith("Calc") and design.title().startswith("calc")
    assert (project / "docs/requirement.md").read_text() == REQUIREMENT + "\n"
    assert '"calc.ops"' not in (project / "pyproject.toml").read_text()
    assert "[tool.pytest.ini_options]" in (project / "pyproject.toml").read_text()


def test_empty_requirement_is_a_one_line_error(tmp_path: Path) -> None:
    for text in ["", "   \n\t "]:
        res = run_cli(["new", text, "--output", "out"], tmp_path)
        assert res.exit_code == 2
        assert res.stderr.count("\n") == 1 and "requirement is empty" in res.stderr
        assert "Traceback" not in res.stderr
    assert not (tmp_path / "out").exists()


def test_no_endpoint_configured_says_how(tmp_path: Path) -> None:
    res = run_cli(["new", "a todo app", "--output", "out"], tmp_path)
    assert res.exit_code == 2
    assert "OPENAI_API_KEY" in res.stderr and "--base-url" in res.stderr
    assert res.stderr.count("\n") == 1


def test_existing_directory_is_never_touched(tmp_path: Path) -> None:
    existing = tmp_path / "out" / "calc"
    existing.mkdir(parents=True)
    (existing / "precious.txt").write_text("user data")
    script = write_script(tmp_path / "a.json", answers())
    res = run_cli(["new", REQUIREMENT, "--name", "calc", "--llm", f"script:{script}", "--output", "out"], tmp_path)
    assert res.exit_code == 0, res.stdout + res.stderr
    assert sorted(p.name for p in existing.iterdir()) == ["precious.txt"]
    assert (existing / "precious.txt").read_text() == "user data"
    assert (tmp_path / "out" / "calc-2" / "calc" / "ops.py").is_file()
    assert json.loads((tmp_path / "out" / "calc-2" / "docs" / "prd.json").read_text())["project_name"] == "Calc"


def test_tests_cannot_reach_a_remote_model(tmp_path: Path) -> None:
    """Even with a key and a remote URL, a softco process started by a test refuses to call out."""
    res = run_cli(
        ["new", "a todo app", "--output", "out", "--base-url", "https://api.openai.com/v1"],
        tmp_path,
        env={"OPENAI_API_KEY": "sk-test-not-a-real-key"},
    )
    assert res.exit_code == 1
    assert "SOFTCO_LOCAL_ONLY allows 127.0.0.1 only" in res.stderr
