"""The built-in tools an action may run instead of a prompt template: the one registry of them.

An action says ``tool: NAME``; :data:`TOOLS` says what each reads and publishes (``softco sop
validate`` checks actions against it), whether it bounds a loop, and what it does (the role file's
documentation). What runs each one is :data:`softco.steps.step.TOOL_RUNNERS`, keyed by these names.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic_core import PydanticCustomError


@dataclass(frozen=True)
class ToolSpec:
    name: str
    #: The kind that must trigger it (None: any kind may).
    reads: str | None
    #: The kind it publishes, whatever the action's ``publishes`` says.
    publishes: str
    #: It runs at most ``--max-fix-rounds`` times, so a loop through it ends.
    bounded: bool
    does: str


TOOLS: dict[str, ToolSpec] = {
    t.name: t
    for t in (
        ToolSpec("plan_tasks", "design", "tasks", False, "design -> one task per file"),
        ToolSpec("run_tests", None, "test_report", False, "runs the tests in the sandbox"),
        ToolSpec("triage", "test_report", "bug_report", True, "failures -> bug reports"),
        ToolSpec(
            "collect_disputes",
            "test_report",
            "test_dispute",
            True,
            "failures the engineer disputes -> test disputes for QA",
        ),
    )
}


def described() -> str:
    """The tools for a role file's documentation: ``name (what it does)``, ..."""
    return ", ".join(f"{t.name} ({t.does})" for t in TOOLS.values())


def check_tool_name(value: Any) -> Any:
    """A pydantic validator: ``value`` names a registered tool (or is None)."""
    if value is not None and value not in TOOLS:
        names = ", ".join(repr(n) for n in TOOLS)
        raise PydanticCustomError("literal_error", "Input should be one of {expected}", {"expected": names})
    return value
