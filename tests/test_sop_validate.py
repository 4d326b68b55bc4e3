"""`softco sop init / validate / graph`: a copy of the defaults is clean; each broken SOP gives its
own `file:line: message` and exit 2; `softco new` checks the SOP before anything else."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from helpers import run_cli
from typer.testing import CliRunner

from softco.cli import app
from softco.defaults import ROLES_DIR
from softco.sop.check import check_dir
from softco.sop.load import load_sop
from softco.sop.prompts import TEMPLATE_VARIABLES
from softco.steps.step import BoardView, Step, template_context

ROOT = ROLES_DIR.parent  # softco/defaults: roles/, sop_templates/, examples/
DEFAULT = {p.relative_to(ROOT).as_posix(): p.read_text() for p in [*ROOT.glob("roles/*.yaml")]}
PROBLEM_LINE = re.compile(r"^(?P<file>[^:]+):(?P<line>\d+): (?P<msg>.+)$")


def default(path: str) -> str:
    return DEFAULT[path]


def edit(path: str, old: str, new: str) -> str:
    text = default(path)
    assert old in text, old
    return text.replace(old, new, 1)


def validate(sop_dir: Path | None) -> tuple[int, list[str], str]:
    """`softco sop validate` in-process: exit code, stdout lines, stderr."""
    args = ["sop", "validate"] + ([str(sop_dir)] if sop_dir else [])
    res = CliRunner().invoke(app, args)
    return res.exit_code, res.stdout.splitlines(), res.stderr


def write_sop(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
    return root


def test_init_then_validate_is_clean(tmp_path: Path) -> None:
    res = run_cli(["sop", "init", "mysop"], tmp_path)
    assert res.exit_code == 0, res.stderr
    sop = tmp_path / "mysop"
    assert sorted(p.name for p in (sop / "roles").iterdir()) == sorted(Path(p).name for p in DEFAULT)
    assert (sop / "sop_templates" / "write_prd.j2").read_text() == (ROOT / "sop_templates/write_prd.j2").read_text()
    readme = (sop / "README.md").read_text()
    for var in TEMPLATE_VARIABLES:  # every variable a template gets, from the one list the engine uses
        assert f"| `{var}` |" in readme
    for name in ("write_prd.j2", "fix_code.j2", "system.j2", "qa_engineer.yaml", "base_url_env", "max_rounds"):
        assert name in readme
    code, lines, _ = validate(sop)
    assert code == 0, lines
    assert "ok: 4 roles" in lines[-1]
    res = run_cli(["sop", "validate", "mysop"], tmp_path)
    assert res.exit_code == 0 and "ok" in res.stdout


def test_init_refuses_a_non_empty_directory(tmp_path: Path) -> None:
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep me")
    res = run_cli(["sop", "init", "mine"], tmp_path)
    assert res.exit_code == 2
    assert res.stderr.count("\n") == 1 and "not empty" in res.stderr and "Traceback" not in res.stderr
    assert [p.name for p in (tmp_path / "mine").iterdir()] == ["notes.txt"]
    assert (tmp_path / "mine" / "notes.txt").read_text() == "keep me"
    (tmp_path / "empty").mkdir()
    assert run_cli(["sop", "init", "empty"], tmp_path).exit_code == 0  # an empty directory is fine


def test_validate_defaults_and_examples_are_clean() -> None:
    assert check_dir(None) == []
    for example in sorted((ROOT / "examples").iterdir()):
        if example.is_dir():
            assert check_dir(example) == [], example


def test_template_context_is_exactly_the_documented_variables() -> None:
    from test_templates import fixture_view  # the realistic board the template tests use

    sop = load_sop()
    role = sop.role("engineer")
    view: BoardView = fixture_view()
    ctx = template_context(view, Step(role, role.actions[0], "calc/ops.py", view.latest["tasks"]))
    assert set(ctx) == set(TEMPLATE_VARIABLES)


def test_a_missing_file_falls_back_to_the_default(tmp_path: Path) -> None:
    sop_dir = write_sop(tmp_path / "sop", {"sop_templates/write_prd.j2": "PRD for: {{ requirement }}\n"})
    sop = load_sop(sop_dir)
    assert [r.id for r in sop.roles] == ["product_manager", "architect", "engineer", "qa_engineer"]
    assert sop.template_path("write_prd.j2") == sop_dir / "sop_templates" / "write_prd.j2"
    assert sop.template_path("write_code.j2") == ROOT / "sop_templates" / "write_code.j2"
    assert validate(sop_dir)[0] == 0


QA = "roles/qa_engineer.yaml"
ARCH = "roles/architect.yaml"
ENG = "roles/engineer.yaml"

AUDITOR = """name: Ann
title: Auditor
profile: An auditor.
goal: Audit.
watches: [audit]
actions:
  - name: audit
    trigger: audit
    template: audit.j2
    publishes: audit
kinds:
  audit:
    fields:
      verdict: {type: string}
"""

WRITER = """name: Frank
title: Writer
profile: A writer.
goal: Write.
watches: [style_guide]
actions:
  - name: write_guide
    trigger: style_guide
    template: guide.j2
    publishes: guide
kinds:
  style_guide:
    fields:
      rules: {type: "list[string]"}
  guide:
    fields:
      body: {type: string}
"""

BROKEN: dict[str, tuple[dict[str, str], str, int, str]] = {
    # name: (files, file the problem is in, its line, what the message says)
    "bad yaml": ({ARCH: edit(ARCH, "watches: [prd, design]", "watches: [prd, design")}, ARCH, 16, "YAML syntax error"),
    "unknown key in a role": (
        {ARCH: edit(ARCH, "order: 2\n", "order: 2\ncolour: blue\n")},
        ARCH,
        5,
        "colour: unknown key",
    ),
    "unknown key in an action": (
        {ENG: edit(ENG, "    for_each: tasks\n", "    for-each: tasks\n")},
        ENG,
        20,
        "actions.0.for-each: unknown key",
    ),
    "wrong type": ({ARCH: edit(ARCH, "order: 2", "order: second")}, ARCH, 4, "order: Input should be a valid integer"),
    "undefined variable": (
        {"sop_templates/write_prd.j2": "Line one\nWrite a PRD for {{ requirment }}\n"},
        "sop_templates/write_prd.j2",
        2,
        "'requirment' is undefined",
    ),
    "jinja syntax error": (
        {"sop_templates/write_design.j2": "Design it.\n{% for r in prd.requirements %}\n- {{ r.id }\n"},
        "sop_templates/write_design.j2",
        3,
        "Jinja syntax error",
    ),
    "missing template": (
        {ENG: edit(ENG, "template: fix_code.j2", "template: fix_bug.j2")},
        ENG,
        25,
        "template 'fix_bug.j2' not found",
    ),
    "missing included template": (
        {"sop_templates/write_prd.j2": "Rules:\n{% include 'prd_rules.j2' %}\n{{ requirement }}\n"},
        "sop_templates/write_prd.j2",
        2,
        "template 'prd_rules.j2' not found",
    ),
    "undefined variable in an included template": (
        {
            "sop_templates/write_prd.j2": "{% set n = 3 %}\n{% include 'prd_rules.j2' %}\n",
            "sop_templates/prd_rules.j2": "At most {{ n }} goals.\n{{ requirement }}\n{{ audience }}\n",
        },
        "sop_templates/prd_rules.j2",
        3,
        "'audience' is undefined",
    ),
    "misspelled template override": (
        {"sop_templates/wirte_prd.j2": "{{ requirement }}\n"},
        "sop_templates/wirte_prd.j2",
        1,
        "no action uses this template and no template includes it; did you mean write_prd.j2?",
    ),
    "unknown field of the trigger": (
        {"sop_templates/fix_code.j2": "{% set bug = trigger %}\nFix {{ bug.paht }}\n"},
        "sop_templates/fix_code.j2",
        2,
        "trigger.paht: kind 'bug_report' (what triggers action 'fix_code') has no field 'paht'",
    ),
    "unknown kind": (
        {
            "roles/linter.yaml": WRITER.replace("[style_guide]", "[cod]").replace(
                "trigger: style_guide", "trigger: cod"
            ),
            "sop_templates/guide.j2": "{{ requirement }}\n",
        },
        "roles/linter.yaml",
        5,
        "watches unknown kind 'cod'",
    ),
    "kind nobody publishes": (
        {"roles/writer.yaml": WRITER, "sop_templates/guide.j2": "{{ requirement }}\n"},
        "roles/writer.yaml",
        5,
        "watches 'style_guide', which no role publishes",
    ),
    "trigger not watched": (
        {ARCH: edit(ARCH, "watches: [prd, design]", "watches: [prd]")},
        ARCH,
        22,
        "action 'plan_tasks' is triggered by 'design', which the role does not watch",
    ),
    "role that can never run": (
        {"roles/auditor.yaml": AUDITOR, "sop_templates/audit.j2": "Audit {{ trigger.verdict }}\n"},
        "roles/auditor.yaml",
        5,
        "role 'auditor' (Ann (Auditor)) can never run",
    ),
    "a removal with other keys": ({QA: "removed: true\nname: Dave\n"}, QA, 1, "holds only `removed: true`"),
    "removing a role that is not a default": (
        {"roles/qa_enginer.yaml": "# typo\nremoved: true\n"},
        "roles/qa_enginer.yaml",
        2,
        "there is no default role 'qa_enginer' to remove",
    ),
    "removing the only tester": (
        {QA: "removed: true\n"},
        QA,
        1,
        "removed: Dave (QA Engineer) published bug_report, test_report, which no other role publishes",
    ),
    "unbounded loop": (
        {
            QA: edit(QA, "    tool: triage\n", "    template: triage.j2\n"),
            "sop_templates/triage.j2": "Round {{ trigger.round }} failed: {{ trigger.output }}\n",
        },
        QA,
        23,
        "loop bug_report -> code -> test_report -> bug_report (actions engineer.fix_code, qa_engineer.run_tests, "
        "qa_engineer.triage) has no bound",
    ),
    "unknown tool": ({QA: edit(QA, "tool: run_tests", "tool: deploy")}, QA, 26, "actions.1.tool: Input should be"),
    "tool with the wrong kind": (
        {QA: edit(QA, "    publishes: test_report", "    publishes: tests")},
        QA,
        27,
        "tool run_tests publishes test_report; set publishes: test_report",
    ),
    "final kind never published": (
        {
            QA: default(QA)
            .split("  - name: run_tests")[0]
            .replace("[tasks, code, tests, test_report, test_dispute]", "[tasks]"),
            ENG: edit(ENG, "watches: [tasks, bug_report]", "watches: [tasks]").split("  - name: fix_code")[0],
        },
        QA,
        16,
        "no action publishes test_report, the company's final kind",
    ),
    "bad when expression": (
        {QA: edit(QA, 'when: "item.req_ids | length > 0"', 'when: "item.req_ids | length >"')},
        QA,
        20,
        "when: 'item.req_ids | length >' is not a valid expression",
    ),
    "for_each of a field that is not a list": (
        {ENG: edit(ENG, "for_each: tasks", "for_each: task")},
        ENG,
        20,
        "for_each: 'task' is not a list of objects",
    ),
    "kind whose subject is not a field": (
        {"roles/auditor.yaml": AUDITOR.replace("kinds:\n  audit:\n", "kinds:\n  audit:\n    subject: path\n")},
        "roles/auditor.yaml",
        12,
        "kinds.audit: subject 'path' is not one of the fields ['verdict']",
    ),
    "kind named like a built-in one": (
        {"roles/auditor.yaml": AUDITOR.replace("kinds:\n  audit:", "kinds:\n  code:")},
        "roles/auditor.yaml",
        12,
        "kinds.code: code is a built-in kind; choose another name",
    ),
    "role id that is not its file name": (
        {ARCH: "id: designer\n" + default(ARCH)},
        ARCH,
        1,
        "id: 'designer' is not the file name",
    ),
    "role file with the wrong extension": (
        {"roles/auditor.yml": AUDITOR},
        "roles/auditor.yml",
        1,
        "not read: role files end in .yaml",
    ),
}


@pytest.mark.parametrize("case", list(BROKEN), ids=list(BROKEN))
def test_each_broken_sop_gives_its_own_file_line_message(tmp_path: Path, case: str) -> None:
    files, file, line, message = BROKEN[case]
    sop_dir = write_sop(tmp_path / "sop", files)
    code, lines, err = validate(sop_dir)
    assert code == 2, lines
    assert "problem(s)" in err and "Traceback" not in err
    parsed = [PROBLEM_LINE.match(x) for x in lines]
    assert all(parsed), lines  # every line is file:line: message
    hits = [
        m for m in parsed if m and m["file"] == str(sop_dir / file) and int(m["line"]) == line and message in m["msg"]
    ]
    assert hits, f"expected {file}:{line}: ...{message}... in:\n" + "\n".join(lines)
    assert len(lines) == 1, lines  # the mistake is reported once, with no cascade


def test_a_removed_roles_template_left_behind_says_whose_it_was(tmp_path: Path) -> None:
    sop_dir = write_sop(
        tmp_path / "sop", {QA: "removed: true\n", "sop_templates/write_tests.j2": "Tests for {{ item.path }}\n"}
    )
    code, lines, _ = validate(sop_dir)
    assert code == 2
    template = str(sop_dir / "sop_templates" / "write_tests.j2")
    assert f"{template}:1: no action uses this template: it belongs to the removed role qa_engineer; delete it" in lines
    assert not [x for x in lines if "did you mean" in x]


def test_new_checks_the_sop_first(tmp_path: Path) -> None:
    files, file, line, message = BROKEN["undefined variable"]
    write_sop(tmp_path / "sop", files)
    res = run_cli(["new", "a calculator", "--sop", "sop", "--output", "out", "--llm", "script:nothing.json"], tmp_path)
    assert res.exit_code == 2
    assert f"sop/{file}:{line}: " in res.stderr and message in res.stderr and "Traceback" not in res.stderr
    assert not (tmp_path / "out").exists()  # nothing was created, no call was made


def test_validate_a_missing_directory_is_one_line(tmp_path: Path) -> None:
    res = run_cli(["sop", "validate", "nope"], tmp_path)
    assert res.exit_code == 2 and res.stderr.count("\n") == 1 and "softco sop init nope" in res.stderr


def test_graph_is_a_mermaid_flowchart(tmp_path: Path) -> None:
    res = CliRunner().invoke(app, ["sop", "graph"])
    assert res.exit_code == 0
    out = res.stdout
    assert out.startswith("flowchart LR\n")
    assert 'role_architect["Bob<br/>Architect"]' in out
    assert 'kind_prd -->|"write_design"| role_architect' in out
    assert 'role_qa_engineer -->|"run_tests"| kind_test_report' in out
    assert "class kind_test_report final" in out
    sec = CliRunner().invoke(app, ["sop", "graph", str(ROOT / "examples" / "security_review")]).stdout
    assert 'kind_code -->|"review_code"| role_security_reviewer' in sec
    assert 'kind_review -->|"fix_review (when)"| role_engineer' in sec
    assert "class kind_review custom" in sec
