"""A tiny scripted project for tests: the answers a model would give for a calculator library.

The first version of calc/ops.py has a real bug (dividing by zero returns 0 instead of raising),
which QA's test catches; the fix answer repairs it.
"""

from __future__ import annotations

from typing import Any

REQUIREMENT = "a tiny calculator library with safe division"

PRD: dict[str, Any] = {
    "project_name": "Calc",
    "summary": "A tiny calculator library.",
    "goals": ["Add and divide numbers safely"],
    "user_stories": ["As a developer, I want safe division so that bad input fails loudly."],
    "requirements": [
        {
            "id": "REQ-1",
            "title": "Add",
            "description": "add(a, b) returns a + b",
            "priority": "P0",
            "acceptance_criteria": ["add(2, 3) == 5"],
        },
        {
            "id": "REQ-2",
            "title": "Safe division",
            "description": "divide(a, b) raises ValueError when b is 0",
            "priority": "P0",
            "acceptance_criteria": ["divide(6, 3) == 2", "divide(1, 0) raises ValueError"],
        },
    ],
    "competitive_analysis": [],
    "open_questions": [],
}

DESIGN: dict[str, Any] = {
    "approach": "One module of pure functions.",
    "package": "calc",
    "entry_point": "",
    "dependencies": [],
    "files": [
        {
            "path": "calc/__init__.py",
            "purpose": "Package exports",
            "req_ids": [],
            "interfaces": ["from calc.ops import add, divide"],
            "depends_on": ["calc/ops.py"],
        },
        {
            "path": "calc/ops.py",
            "purpose": "Arithmetic: add and divide; dividing by zero raises ValueError.",
            "req_ids": ["REQ-1", "REQ-2"],
            "interfaces": [
                "def add(a: float, b: float) -> float: Sum.",
                "def divide(a: float, b: float) -> float: Quotient; ValueError if b == 0.",
            ],
        },
    ],
    "class_diagram": "classDiagram\n  class ops",
    "sequence_diagram": "sequenceDiagram\n  User->>ops: divide(1, 0)\n  ops-->>User: ValueError",
}

#: The work plan the Architect's plan_tasks tool derives from DESIGN (no model call).
TASKS: dict[str, Any] = {
    "tasks": [
        {"path": f["path"], "description": f["purpose"], "req_ids": f["req_ids"], "depends_on": f.get("depends_on", [])}
        for f in DESIGN["files"]
    ]
}

OPS_BUGGY = """def add(a: float, b: float) -> float:
    return a + b


def divide(a: float, b: float) -> float:
    if b == 0:
        return 0
    return a / b
"""

OPS_FIXED = """def add(a: float, b: float) -> float:
    return a + b


def divide(a: float, b: float) -> float:
    if b == 0:
        raise ValueError("cannot divide by zero")
    return a / b
"""

INIT = "from calc.ops import add, divide\n\n__all__ = ['add', 'divide']\n"

TESTS = """import pytest

from calc.ops import add, divide


def test_add():
    assert add(2, 3) == 5


def test_divide():
    assert divide(6, 3) == 2


def test_divide_by_zero_raises():
    with pytest.raises(ValueError):
        divide(1, 0)
"""


def code(path: str, content: str, req_ids: list[str], notes: str = "") -> dict[str, Any]:
    return {"path": path, "content": content, "req_ids": req_ids, "notes": notes}


TESTS_ANSWER: dict[str, Any] = {
    "path": "tests/test_ops.py",
    "source": "calc/ops.py",
    "content": TESTS,
    "cases": [
        {"name": "test_add", "req_ids": ["REQ-1"]},
        {"name": "test_divide", "req_ids": ["REQ-2"]},
        {"name": "test_divide_by_zero_raises", "req_ids": ["REQ-2"]},
    ],
}


def answers(fixes: int = 1, fixed: bool = True) -> dict[str, Any]:
    """Step key -> answer. ``fixes`` fix rounds are scripted; the last one works if ``fixed``."""
    script: dict[str, Any] = {
        "product_manager/write_prd/project": PRD,
        "architect/write_design/project": DESIGN,
        "engineer/write_code/calc/ops.py": code("calc/ops.py", OPS_BUGGY, ["REQ-1", "REQ-2"], "add and divide"),
        "engineer/write_code/calc/__init__.py": code("calc/__init__.py", INIT, [], "exports"),
        "qa_engineer/write_tests/calc/ops.py": TESTS_ANSWER,
    }
    for n in range(1, fixes + 1):
        good = fixed and n == fixes
        script[f"engineer/fix_code/round-{n}/calc/ops.py"] = code(
            "calc/ops.py",
            OPS_FIXED if good else OPS_BUGGY,
            ["REQ-1", "REQ-2"],
            "raise ValueError on division by zero" if good else "attempted fix",
        )
    return script
