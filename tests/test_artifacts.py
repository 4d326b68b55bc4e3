"""Artifact schemas reject what a careless model invents: unknown ids, unknown files, cycles."""

from __future__ import annotations

import pytest
from pydantic import ValidationError
from scripted_project import DESIGN, PRD, TASKS, TESTS_ANSWER, code

from softco.artifacts import Refs, parse_artifact

REFS = Refs(req_ids={"REQ-1", "REQ-2"}, design_paths={"calc/__init__.py", "calc/ops.py"})


def test_scripted_answers_are_valid() -> None:
    parse_artifact("prd", PRD)
    parse_artifact("design", DESIGN, REFS)
    parse_artifact("tasks", TASKS, REFS)
    parse_artifact("tests", TESTS_ANSWER, REFS)


def test_requirement_ids_must_run_in_order() -> None:
    bad = {**PRD, "requirements": [{**PRD["requirements"][0], "id": "REQ-2"}]}
    with pytest.raises(ValidationError, match=r"must be \['REQ-1'\]"):
        parse_artifact("prd", bad)


def test_unknown_requirement_id_is_rejected() -> None:
    with pytest.raises(ValidationError, match=r"unknown requirement id\(s\) \['REQ-9'\]"):
        parse_artifact("code", code("calc/ops.py", "x = 1\n", ["REQ-9"]), REFS)


def test_file_not_in_design_is_rejected() -> None:
    with pytest.raises(ValidationError, match="not in the design"):
        parse_artifact("code", code("calc/extra.py", "x = 1\n", ["REQ-1"]), REFS)


@pytest.mark.parametrize("path", ["/etc/passwd", "../escape.py", "calc/../../x.py", ".git/config", ".softco/board"])
def test_unsafe_paths_are_rejected(path: str) -> None:
    with pytest.raises(ValidationError, match="not a safe relative file path"):
        parse_artifact("code", code(path, "x\n", []))


def test_task_cycles_and_missing_tasks_are_rejected() -> None:
    init, ops = TASKS["tasks"]
    cyc = {"tasks": [init, {**ops, "depends_on": ["calc/__init__.py"]}]}
    with pytest.raises(ValidationError, match="cycle"):
        parse_artifact("tasks", cyc, REFS)
    with pytest.raises(ValidationError, match=r"missing \['calc/__init__.py'\]"):
        parse_artifact("tasks", {"tasks": [ops]}, REFS)


def test_design_dependencies_must_be_design_files_without_cycles() -> None:
    init, ops = DESIGN["files"]
    cyc = {**DESIGN, "files": [init, {**ops, "depends_on": ["calc/__init__.py"]}]}
    with pytest.raises(ValidationError, match=r"file dependencies form a cycle: calc/__init__.py -> calc/ops.py"):
        parse_artifact("design", cyc, REFS)
    ghost = {**DESIGN, "files": [{**init, "depends_on": ["calc/ghost.py"]}, ops]}
    with pytest.raises(ValidationError, match=r"not in the design: \['calc/ghost.py'\]"):
        parse_artifact("design", ghost, REFS)


def test_the_design_implies_one_task_per_file() -> None:
    from softco.artifacts import Design

    plan = Design.model_validate(DESIGN).tasks()
    assert plan.model_dump(mode="json") == TASKS
    by_path = {t.path: t for t in plan.tasks}
    assert by_path["calc/__init__.py"].depends_on == ["calc/ops.py"]
    assert by_path["calc/ops.py"].description == DESIGN["files"][1]["purpose"]
    parse_artifact("tasks", plan.model_dump(mode="json"), REFS)  # and it passes the tasks kind's own checks


def test_declared_test_cases_must_exist() -> None:
    bad = {**TESTS_ANSWER, "cases": [*TESTS_ANSWER["cases"], {"name": "test_ghost", "req_ids": ["REQ-1"]}]}
    with pytest.raises(ValidationError, match="test_ghost"):
        parse_artifact("tests", bad, REFS)


def test_design_may_not_claim_tests_or_unknown_keys() -> None:
    bad = {
        **DESIGN,
        "files": [*DESIGN["files"], {"path": "tests/test_x.py", "purpose": "", "req_ids": [], "interfaces": []}],
    }
    with pytest.raises(ValidationError, match="tests belong to QA"):
        parse_artifact("design", bad, REFS)
    with pytest.raises(ValidationError, match="Extra inputs are not permitted"):
        parse_artifact("design", {**DESIGN, "colour": "blue"}, REFS)
