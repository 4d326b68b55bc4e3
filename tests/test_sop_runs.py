"""Running customised SOPs: one template override changes one prompt, per-role model settings reach
that role's HTTP requests only, the SOP hash follows the files, and --dry-run needs no model."""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

from fake_server import FakeOpenAIServer
from helpers import commits, only_project, run_cli, write_script
from scripted_project import REQUIREMENT, answers

from softco.company.dryrun import prompt_file_name
from softco.defaults import EXAMPLES_DIR, ROLES_DIR, TEMPLATES_DIR
from softco.llm.replay import load_recording
from softco.sop.load import load_sop
from softco.views import doc_name

ROOT = Path(__file__).resolve().parent.parent


def prompts_by_step(recording: Path) -> dict[tuple[str, int], str]:
    _, exchanges = load_recording(recording)
    return {(e.step_key, e.attempt): e.prompt_hash for e in exchanges}


def test_overriding_one_template_changes_only_its_prompt(tmp_path: Path) -> None:
    script = write_script(tmp_path / "a.json", answers())
    sop = tmp_path / "sop" / "sop_templates"
    sop.mkdir(parents=True)
    original = (TEMPLATES_DIR / "write_prd.j2").read_text()
    (sop / "write_prd.j2").write_text(original + "\nWrite at most five requirements.\n")
    base = ["new", REQUIREMENT, "--llm", f"script:{script}", "--output", "out"]
    first = run_cli([*base, "--name", "a", "--record", "default.jsonl"], tmp_path)
    second = run_cli([*base, "--name", "b", "--record", "custom.jsonl", "--sop", "sop"], tmp_path)
    assert first.exit_code == 0 and second.exit_code == 0, first.stderr + second.stderr
    default, custom = prompts_by_step(tmp_path / "default.jsonl"), prompts_by_step(tmp_path / "custom.jsonl")
    assert set(default) == set(custom) and len(default) == 6
    changed = sorted(k for k in default if default[k] != custom[k])
    assert changed == [("product_manager/write_prd/project", 1)]
    _, exchanges = load_recording(tmp_path / "custom.jsonl")
    prd = next(e for e in exchanges if e.step_key == "product_manager/write_prd/project")
    assert "Write at most five requirements." in prd.request["messages"][1]["content"]
    # the SOP hash differs, and is on the board and in every commit's trailer
    h_default, h_custom = load_sop().sop_hash, load_sop(tmp_path / "sop").sop_hash
    assert h_default != h_custom
    for name, h in (("a", h_default), ("b", h_custom)):
        project = tmp_path / "out" / name
        db = sqlite3.connect(project / ".softco" / "board.sqlite")
        assert db.execute("SELECT sop_hash FROM runs").fetchall() == [(h,)]
        db.close()
        assert {c.trailers["Softco-SOP"] for c in commits(project)} == {h}


def test_sop_hash_covers_templates_roles_and_custom_kinds(tmp_path: Path) -> None:
    example = EXAMPLES_DIR / "security_review"
    copy = tmp_path / "copy"
    shutil.copytree(example, copy)
    h = load_sop(copy).sop_hash
    assert h == load_sop(example).sop_hash != load_sop().sop_hash  # content, not location
    (copy / "sop_templates" / "review_code.j2").write_text(
        (copy / "sop_templates" / "review_code.j2").read_text() + "\nBe brief.\n"
    )
    h2 = load_sop(copy).sop_hash
    assert h2 != h
    role = copy / "roles" / "security_reviewer.yaml"
    role.write_text(role.read_text().replace("choices: [low, medium, high, critical]", "choices: [low, high]"))
    assert load_sop(copy).sop_hash not in (h, h2)  # a custom kind's declaration is part of it


def test_per_role_model_settings_reach_only_that_roles_requests(tmp_path: Path) -> None:
    roles = tmp_path / "sop" / "roles"
    roles.mkdir(parents=True)
    arch = (ROLES_DIR / "architect.yaml").read_text()
    (roles / "architect.yaml").write_text(arch + "model: {model: big-model, temperature: 0.1, max_tokens: 3000}\n")
    pm = (ROLES_DIR / "product_manager.yaml").read_text()
    (roles / "product_manager.yaml").write_text(pm + "model: {model: small-model, base_url_env: PM_BASE_URL}\n")
    script = answers()
    pm_key = "product_manager/write_prd/project"
    with (
        FakeOpenAIServer({k: v for k, v in script.items() if k != pm_key}) as main,
        FakeOpenAIServer({pm_key: script[pm_key]}) as pm_server,
    ):
        res = run_cli(
            ["new", REQUIREMENT, "--output", "out", "--model", "default-model", "--sop", "sop"],
            tmp_path,
            env={"OPENAI_BASE_URL": main.base_url, "PM_BASE_URL": pm_server.base_url},
        )
        main_reqs, pm_reqs = main.chat_requests(), pm_server.chat_requests()
        assert not main.errors and not pm_server.errors, main.errors + pm_server.errors
        main.assert_complete()
        pm_server.assert_complete()
    assert res.exit_code == 0, res.stdout + res.stderr
    # the product manager's request went to its own endpoint, with its own model, and nothing else did
    assert [(r.step, r.body["model"]) for r in pm_reqs] == [(pm_key, "small-model")]
    assert pm_key not in {r.step for r in main_reqs}
    for r in main_reqs:
        if r.step and r.step.startswith("architect/"):
            assert (r.body["model"], r.body["temperature"], r.body["max_tokens"]) == ("big-model", 0.1, 3000)
        else:
            assert r.body["model"] == "default-model"
            # no temperature of its own; the answer bound of a role with no max_tokens (softco.llm.budget)
            assert "temperature" not in r.body and r.body["max_tokens"] == 4096
    assert {r.step for r in main_reqs if r.body["model"] == "big-model"} == {"architect/write_design/project"}


def pm_with_model(tmp_path: Path, model: str) -> None:
    """An SOP in ``tmp_path/sop`` whose product manager has the default role's file and ``model:`` settings."""
    roles = tmp_path / "sop" / "roles"
    roles.mkdir(parents=True)
    pm = (ROLES_DIR / "product_manager.yaml").read_text()
    (roles / "product_manager.yaml").write_text(pm + f"model: {model}\n")


def test_a_role_endpoint_variable_that_is_not_set_stops_before_any_call(tmp_path: Path) -> None:
    pm_with_model(tmp_path, "{base_url_env: PM_BASE_URL}")
    with FakeOpenAIServer([]) as srv:
        res = run_cli(
            ["new", REQUIREMENT, "--output", "out", "--sop", "sop"], tmp_path, env={"OPENAI_BASE_URL": srv.base_url}
        )
        assert srv.chat_requests() == []
    assert res.exit_code == 2
    assert "PM_BASE_URL" in res.stderr and res.stderr.count("\n") == 1
    assert not (tmp_path / "out").exists()


def test_a_role_endpoint_variable_must_hold_a_url_and_its_value_is_never_shown(tmp_path: Path) -> None:
    """A shared SOP names the variable its role's endpoint comes from: one naming a secret (not a URL) stops the
    run before any call, in one line that names the variable and never repeats its value."""
    pm_with_model(tmp_path, "{base_url_env: SOME_TOKEN}")
    with FakeOpenAIServer([]) as srv:
        res = run_cli(
            ["new", REQUIREMENT, "--output", "out", "--sop", "sop"],
            tmp_path,
            env={"OPENAI_BASE_URL": srv.base_url, "OPENAI_API_KEY": "sk-test", "SOME_TOKEN": "ghp_secretvalue123"},
        )
        assert srv.chat_requests() == []
    assert res.exit_code == 2, res.stdout + res.stderr
    assert "SOME_TOKEN" in res.stderr and "http(s)://" in res.stderr and res.stderr.count("\n") == 1
    assert "ghp_secretvalue123" not in res.stdout + res.stderr
    assert not (tmp_path / "out").exists()


def test_dry_run_needs_no_model_and_keeps_every_prompt(tmp_path: Path) -> None:
    with FakeOpenAIServer([]) as srv:  # any request that leaked out would land here
        res = run_cli(
            ["new", REQUIREMENT, "--dry-run", "--output", "out"], tmp_path, env={"OPENAI_BASE_URL": srv.base_url}
        )
        assert srv.requests == []
    assert res.exit_code == 0, res.stdout + res.stderr
    project = only_project(tmp_path / "out")
    assert project.name.endswith("-dry-run")
    db = sqlite3.connect(project / ".softco" / "board.sqlite")
    llm_steps = [k for (k,) in db.execute("SELECT key FROM steps WHERE request_hash IS NOT NULL ORDER BY id")]
    db.close()
    assert len(llm_steps) == 5  # prd, design, 2 files, tests for the one file with requirements
    prompts = project / ".softco" / "prompts"
    assert sorted(p.name for p in prompts.iterdir()) == sorted(prompt_file_name(k) for k in llm_steps)
    prd_prompt = (prompts / prompt_file_name("product_manager/write_prd/project")).read_text()
    assert REQUIREMENT in prd_prompt and "## system" in prd_prompt and "answer schema `prd`" in prd_prompt
    # each step printed in order with its size and a token estimate, and where the prompts are
    lines = [line.strip() for line in res.stdout.splitlines() if line.strip().startswith("dry run: ")]
    assert [line.split(": ")[1] for line in lines[:-1]] == llm_steps
    assert all(" chars, ~" in line and " tokens (max_tokens) -> " in line for line in lines[:-1])
    assert str(prompts) in res.stdout.replace("\n", "")
    # the placeholders were real enough for the whole SOP: the tests QA "wrote" ran and passed
    report = json.loads((project / "docs" / "test_report.json").read_text())
    assert report["passed"] == 1 and report["failed"] == 0


def test_dry_run_of_a_custom_sop_fills_its_custom_kinds(tmp_path: Path) -> None:
    res = run_cli(
        ["new", REQUIREMENT, "--dry-run", "--output", "out", "--sop", str(EXAMPLES_DIR / "security_review")],
        tmp_path,
    )
    assert res.exit_code == 0, res.stdout + res.stderr
    project = only_project(tmp_path / "out")
    reviews = sorted(p.name for p in (project / "docs" / "review").glob("*.json"))
    assert reviews == sorted(f"{doc_name(p)}.json" for p in ("placeholder/__init__.py", "placeholder/core.py"))
    prompts = {p.name for p in (project / ".softco" / "prompts").iterdir()}
    assert prompt_file_name("engineer/fix_review/placeholder/core.py") in prompts
    assert "dry run: security_reviewer/review_code/placeholder/core.py" in res.stdout


def test_dry_run_refuses_another_llm(tmp_path: Path) -> None:
    res = run_cli(["new", REQUIREMENT, "--dry-run", "--llm", "script:x.json"], tmp_path)
    assert res.exit_code == 2 and "leave out --llm" in res.stderr and res.stderr.count("\n") == 1


TESTER = """name: Tess
title: Tester
order: 4
profile: A tester who reads each file and tests what it does.
goal: Prove the code works, with tests that really run.
watches: [code, tests, test_report]
actions:
  - name: write_tests
    trigger: code
    when: "trigger.req_ids | length > 0"
    template: test_from_code.j2
    publishes: tests
  - name: run_tests
    trigger: [tests, code]
    batch: true
    tool: run_tests
    publishes: test_report
  - name: triage
    trigger: test_report
    tool: triage
    publishes: bug_report
"""

TEST_FROM_CODE = """Write pytest tests for `{{ trigger.path }}`:
```python
{{ trigger.content }}
```
Give: path, source ("{{ trigger.path }}"), content and cases.
"""


def test_a_sop_can_replace_a_default_role(tmp_path: Path) -> None:
    """`removed: true` drops the default QA Engineer; a Tester who tests from the code takes over."""
    sop = tmp_path / "sop"
    (sop / "roles").mkdir(parents=True)
    (sop / "sop_templates").mkdir()
    (sop / "roles" / "qa_engineer.yaml").write_text("# this company has a tester instead\nremoved: true\n")
    (sop / "roles" / "tester.yaml").write_text(TESTER)
    (sop / "sop_templates" / "test_from_code.j2").write_text(TEST_FROM_CODE)
    check = run_cli(["sop", "validate", str(sop)], tmp_path)
    assert check.exit_code == 0, check.stdout + check.stderr
    assert "4 roles" in check.stdout
    ours = {k.replace("qa_engineer/", "tester/"): v for k, v in answers().items()}
    script = write_script(tmp_path / "a.json", ours)
    res = run_cli(["new", REQUIREMENT, "--llm", f"script:{script}", "--output", "out", "--sop", str(sop)], tmp_path)
    assert res.exit_code == 0, res.stdout + res.stderr
    project = only_project(tmp_path / "out")
    authors = {c.author for c in commits(project)}
    assert "Tess (Tester)" in authors and "Dave (QA Engineer)" not in authors
    db = sqlite3.connect(project / ".softco" / "board.sqlite")
    roles = {r for (r,) in db.execute("SELECT DISTINCT role FROM steps")}
    (request,) = db.execute("SELECT request_json FROM steps WHERE key = 'tester/write_tests/calc/ops.py'").fetchone()
    db.close()
    assert "qa_engineer" not in roles and "tester" in roles
    assert "if b == 0:\n        return 0" in json.loads(request)["messages"][1]["content"]  # it saw the code
    assert load_sop(sop).sop_hash != load_sop().sop_hash
