"""Every default template renders with a realistic context; a missing variable fails loudly."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from scripted_project import DESIGN, OPS_BUGGY, PRD, TASKS, TESTS_ANSWER, code

from softco.board import Message
from softco.sop.load import load_sop
from softco.sop.prompts import TemplateError
from softco.steps.step import BoardView, Step, build_request


def msg(mid: int, kind: str, subject: str, payload: dict) -> Message:  # type: ignore[type-arg]
    return Message(mid, "r", kind, subject, "x", "a", f"x/a/{subject}", None, payload, None, time.time())


DISPUTE = {
    "round": 2,
    "path": "tests/test_ops.py",
    "source": "calc/ops.py",
    "disputes": [
        {
            "test": "tests/test_ops.py::test_divide_by_zero_raises",
            "message": "DID NOT RAISE",
            "reason": "REQ-2 says divide(1, 0) returns 0",
        }
    ],
}


def fixture_view() -> BoardView:
    view = BoardView()
    bug = {
        "round": 1,
        "path": "calc/ops.py",
        "req_ids": ["REQ-2"],
        "failures": [{"test": "tests/test_ops.py::test_divide_by_zero_raises", "message": "DID NOT RAISE"}],
    }
    for i, (kind, subject, payload) in enumerate(
        [
            ("requirement", "project", {"text": "a calculator"}),
            ("prd", "project", PRD),
            ("design", "project", DESIGN),
            ("tasks", "project", TASKS),
            ("code", "calc/ops.py", code("calc/ops.py", OPS_BUGGY, ["REQ-1", "REQ-2"])),
            ("tests", "calc/ops.py", TESTS_ANSWER),
            ("bug_report", "round-1/calc/ops.py", bug),
            ("test_dispute", "round-2/tests/test_ops.py", DISPUTE),
        ]
    ):
        view.add(msg(i + 1, kind, subject, payload))
    return view


def steps_for(view: BoardView) -> list[Step]:
    sop = load_sop()
    out = []
    for role in sop.roles:
        for action in role.actions:
            if action.template is None:
                continue
            trigger = view.latest[action.trigger[0]]
            # the Engineer's item: __init__.py, which depends on ops.py; QA's: ops.py, which has requirements
            wanted = "calc/__init__.py" if action.publishes == "code" else "calc/ops.py"
            item = next(t for t in TASKS["tasks"] if t["path"] == wanted) if action.for_each else None
            out.append(Step(role, action, "s", trigger, item=item))
    return out


def test_every_default_template_renders() -> None:
    view = fixture_view()
    sop = load_sop()
    steps = steps_for(view)
    assert {s.action.name for s in steps} == {
        "write_prd",
        "write_design",
        "write_code",
        "fix_code",
        "write_tests",
        "recheck_tests",
    }
    for step in steps:
        req = build_request(sop, view, step)
        system, user = req.messages
        assert step.role.name in system.content and step.role.goal.split()[0] in system.content
        assert req.json_schema is not None and req.schema_name == step.action.publishes
        assert len(user.content) > 200
    by_action = {s.action.name: build_request(sop, view, s).messages[1].content for s in steps}
    assert "a calculator" in by_action["write_prd"]
    assert "REQ-2" in by_action["write_design"] and "Safe division" in by_action["write_design"]
    # the engineer sees the interfaces of its dependencies, not their code
    assert "def divide(a: float, b: float)" in by_action["write_code"]
    assert "return a / b" not in by_action["write_code"]
    assert "DID NOT RAISE" in by_action["fix_code"] and "return a / b" in by_action["fix_code"]
    assert "def test_divide_by_zero_raises" in by_action["fix_code"]
    # QA writes tests from the spec (requirements + designed interfaces), in parallel with the code:
    # it never sees the implementation, so its tests cannot bless the implementation's bugs
    assert "def divide(a: float, b: float) -> float: Quotient; ValueError if b == 0." in by_action["write_tests"]
    assert "divide(1, 0) raises ValueError" in by_action["write_tests"]
    assert "return a / b" not in by_action["write_tests"] and "return 0" not in by_action["write_tests"]
    # the engineer is shown the acceptance criteria and may dispute a test the spec does not back
    assert "  - divide(1, 0) raises ValueError" in by_action["fix_code"] and "disputed_tests" in by_action["fix_code"]
    # QA re-checks a disputed test from the engineer's reason, the failure and the spec: still no code
    recheck = by_action["recheck_tests"]
    assert "The engineer: REQ-2 says divide(1, 0) returns 0" in recheck and "DID NOT RAISE" in recheck
    assert "divide(1, 0) raises ValueError" in recheck and "def test_divide_by_zero_raises" in recheck
    assert "return a / b" not in recheck and "return 0" not in recheck


def test_missing_variable_names_template_and_line(tmp_path: Path) -> None:
    sop_dir = tmp_path / "sop"
    (sop_dir / "sop_templates").mkdir(parents=True)
    (sop_dir / "sop_templates" / "write_prd.j2").write_text("Line one\nWrite a PRD for {{ requirment }}\n")
    sop = load_sop(sop_dir)
    step = next(s for s in steps_for(fixture_view()) if s.action.name == "write_prd")
    with pytest.raises(TemplateError, match=r"write_prd\.j2:2: 'requirment' is undefined"):
        build_request(sop, fixture_view(), step)


def test_templates_are_sandboxed(tmp_path: Path) -> None:
    sop_dir = tmp_path / "sop"
    (sop_dir / "sop_templates").mkdir(parents=True)
    (sop_dir / "sop_templates" / "write_prd.j2").write_text("{{ req.__globals__ }}\n")
    sop = load_sop(sop_dir)
    step = next(s for s in steps_for(fixture_view()) if s.action.name == "write_prd")
    with pytest.raises(TemplateError, match="write_prd.j2"):
        build_request(sop, fixture_view(), step)


def test_templates_are_compiled_once_a_process_and_a_changed_sop_is_seen(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every run loads its SOP again: the same SOP's templates are not compiled again (an eval runs
    many runs in one process), and a template a user SOP adds or changes is used at once."""
    import jinja2

    from softco.sop.prompts import render

    compiled: list[str | None] = []
    compile_ = jinja2.Environment.compile

    def counting(self: jinja2.Environment, source: object, name: str | None = None, *a: object, **k: object) -> object:
        compiled.append(name)
        return compile_(self, source, name, *a, **k)  # type: ignore[arg-type]

    monkeypatch.setattr(jinja2.Environment, "compile", counting)
    user = tmp_path / "sop"
    (user / "sop_templates").mkdir(parents=True)
    (user / "sop_templates" / "notes.j2").write_text("first {{ x }}\n")
    assert render(load_sop(user).env, "notes.j2", {"x": 1}) == "first 1\n"
    assert render(load_sop(user).env, "notes.j2", {"x": 2}) == "first 2\n"
    assert compiled.count("notes.j2") == 1  # the second run's load compiled nothing again
    # an override of a default template, added between two runs, is used by the next one
    override = user / "sop_templates" / "dependencies.j2"
    assert load_sop(user).env.get_template("dependencies.j2").filename != str(override)
    override.write_text("mine\n")
    assert render(load_sop(user).env, "dependencies.j2", {}) == "mine\n"
    (user / "sop_templates" / "notes.j2").write_text("second edit {{ x }}\n")
    assert render(load_sop(user).env, "notes.j2", {"x": 3}) == "second edit 3\n"
