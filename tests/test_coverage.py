"""The coverage matrix as data: REQ -> design files -> code files -> tests -> status."""

from __future__ import annotations

import copy

from scripted_project import DESIGN, OPS_FIXED, PRD, TESTS_ANSWER

from softco.artifacts import Code, Design, Prd, TestReport, TestResult, Tests
from softco.report.coverage import coverage


def artifacts() -> tuple[Prd, Design, list[Code], list[Tests]]:
    prd = copy.deepcopy(PRD)
    prd["requirements"].append(
        {"id": "REQ-3", "title": "Sub", "description": "a - b", "priority": "P2", "acceptance_criteria": ["5-3 == 2"]}
    )
    code = [
        Code(path="calc/ops.py", content=OPS_FIXED, req_ids=["REQ-1", "REQ-2"]),
        Code(path="calc/__init__.py", content="", req_ids=[]),
    ]
    return Prd.model_validate(prd), Design.model_validate(DESIGN), code, [Tests.model_validate(TESTS_ANSWER)]


def report(outcomes: dict[str, str]) -> TestReport:
    tags = {c["name"]: c["req_ids"] for c in TESTS_ANSWER["cases"]}
    results = [
        TestResult(file="tests/test_ops.py", name=name, req_ids=tags[name], outcome=outcome)  # type: ignore[arg-type]
        for name, outcome in outcomes.items()
    ]
    failed = sum(1 for o in outcomes.values() if o == "failed")
    return TestReport(
        round=1, passed=len(results) - failed, failed=failed, errors=0, skipped=0, exit_code=1, results=results
    )


def test_rows_follow_the_prd_and_link_every_layer() -> None:
    prd, design, code, tests = artifacts()
    rows = coverage(
        prd,
        design,
        code,
        tests,
        report({"test_add": "passed", "test_divide": "passed", "test_divide_by_zero_raises": "passed"}),
    )
    assert [r.req_id for r in rows] == ["REQ-1", "REQ-2", "REQ-3"]
    req2 = rows[1]
    assert req2.design_files == ["calc/ops.py"] and req2.code_files == ["calc/ops.py"]
    assert [(t.nodeid, t.outcome) for t in req2.tests] == [
        ("tests/test_ops.py::test_divide", "passed"),
        ("tests/test_ops.py::test_divide_by_zero_raises", "passed"),
    ]
    assert [(r.status, r.flagged) for r in rows] == [("passed", False), ("passed", False), ("no_test", True)]
    assert rows[2].label == "NO TEST" and rows[2].design_files == [] and rows[2].code_files == []


def test_one_failing_test_flags_its_requirement() -> None:
    prd, design, code, tests = artifacts()
    rows = coverage(
        prd,
        design,
        code,
        tests,
        report({"test_add": "passed", "test_divide": "passed", "test_divide_by_zero_raises": "failed"}),
    )
    assert rows[0].status == "passed"
    assert rows[1].status == "failing" and rows[1].flagged and rows[1].label == "FAILING"


def test_tests_not_run_yet() -> None:
    prd, design, code, tests = artifacts()
    rows = coverage(prd, design, code, tests, None)
    assert [r.status for r in rows] == ["not_run", "not_run", "no_test"]
    assert {t.outcome for t in rows[1].tests} == {"not run"}
