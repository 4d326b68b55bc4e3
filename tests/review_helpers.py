"""Generated projects to review: the scripted calculator, and a variant whose REQ-3 has no test."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

from helpers import only_project, run_cli, write_script
from scripted_project import REQUIREMENT, answers


def generate(base: Path, script: dict[str, Any]) -> Path:
    """Run `softco new` for real with scripted answers; the project directory it made."""
    base.mkdir(parents=True, exist_ok=True)
    path = write_script(base / "answers.json", script)
    res = run_cli(["new", REQUIREMENT, "--llm", f"script:{path}", "--output", "out"], base)
    assert res.exit_code == 0, res.stdout + res.stderr
    return only_project(base / "out")


def untested_req_answers() -> dict[str, Any]:
    """The calculator, plus a REQ-3 that the design claims but no test covers."""
    script = copy.deepcopy(answers())
    script["product_manager/write_prd/project"]["requirements"].append(
        {
            "id": "REQ-3",
            "title": "Subtract",
            "description": "subtract(a, b) returns a - b",
            "priority": "P1",
            "acceptance_criteria": ["subtract(5, 3) == 2"],
        }
    )
    ops = next(f for f in script["architect/write_design/project"]["files"] if f["path"] == "calc/ops.py")
    ops["req_ids"].append("REQ-3")
    return script
