"""The house's seams (issue 14): one registry of built-in tools, read by the SOP and run by the steps."""

from __future__ import annotations

from softco.sop.load import ActionSpec
from softco.sop.tools import TOOLS
from softco.steps.step import TOOL_RUNNERS


def test_every_registered_tool_runs_and_every_runner_is_registered() -> None:
    assert set(TOOL_RUNNERS) == set(TOOLS)


def test_a_role_file_accepts_exactly_the_registered_tools() -> None:
    for name in TOOLS:
        assert ActionSpec(name="a", trigger=["x"], publishes="y", tool=name).tool == name
    schema = ActionSpec.model_json_schema()["properties"]["tool"]
    assert schema["enum"] == [*TOOLS, None]
    for name in TOOLS:
        assert name in schema["description"]


def test_a_dependency_cycle_is_named_without_the_path_that_led_to_it() -> None:
    import pytest

    from softco.artifacts import _check_acyclic

    with pytest.raises(ValueError, match=r"^files form a cycle: a -> b -> c -> a$"):
        _check_acyclic({"x": ["a"], "a": ["b"], "b": ["c"], "c": ["a"]}, "files")
    _check_acyclic({"a": ["a", "b"], "b": []}, "files")  # depending on itself is not a cycle here


def test_every_softco_error_has_the_one_base_that_carries_its_exit_code() -> None:
    """cli._main turns a SoftcoError into one line and its exit code; an error outside the hierarchy would
    print as an internal error instead."""
    import importlib
    import inspect
    import pkgutil

    import softco
    from softco.errors import SoftcoError

    skip = {"softco.cli"}  # the entry point
    outside = []
    for info in pkgutil.walk_packages(softco.__path__, "softco."):
        if info.name in skip or ".pytest_plugin" in info.name or ".defaults" in info.name:
            continue
        module = importlib.import_module(info.name)
        for name, cls in inspect.getmembers(module, inspect.isclass):
            if cls.__module__ == info.name and issubclass(cls, Exception) and not issubclass(cls, SoftcoError):
                outside.append(f"{info.name}.{name}")
    assert outside == []


def test_the_board_view_hands_out_typed_artifacts_parsed_once() -> None:
    from scripted_project import DESIGN, OPS_FIXED, PRD, TESTS_ANSWER, code

    from softco.artifacts import Code, Design, Prd, Tests
    from softco.board import Message
    from softco.steps.step import BoardView

    view = BoardView()
    for i, (kind, payload) in enumerate(
        [("prd", PRD), ("design", DESIGN), ("code", code("calc/ops.py", OPS_FIXED, ["REQ-1"])), ("tests", TESTS_ANSWER)]
    ):
        view.add(Message(i + 1, "run", kind, "project", "role", "act", f"role/act/{i}", None, payload, None, 0.0))
    prd, design = view.prd(), view.design()
    assert isinstance(prd, Prd) and isinstance(design, Design) and view.prd() is prd  # parsed once
    assert isinstance(view.code_files()["calc/ops.py"], Code)
    assert isinstance(view.test_files()["tests/test_ops.py"], Tests)
    assert view.refs().design_paths == design.paths() and view.test_report() is None
