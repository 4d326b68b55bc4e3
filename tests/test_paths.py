"""The one checker of model-given repo paths (softco.artifacts.check_relative_path / check_file_set), the
artifacts that use it, and the Workspace that checks again before it writes (in process, fast)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError
from scripted_project import DESIGN, TESTS_ANSWER, code

from softco.artifacts import Refs, check_file_set, check_relative_path, parse_artifact
from softco.company.workspace import Author, Workspace, WorkspaceError

ALICE = Author("Alice (Product Manager)", "product-manager@softco.local")

HOSTILE = [
    ("./.git/config", "'.' or '..'"),
    ("./.softco/venv/lib/python3.11/site-packages/x.pth", "'.' or '..'"),
    ("./tests/test_a.py", "'.' or '..'"),
    ("a/./b.py", "'.' or '..'"),
    ("../x.py", "'.' or '..'"),
    ("calc/../../x.py", "'.' or '..'"),
    ("a//b.py", "empty name"),
    ("calc/", "empty name"),
    ("", "it is empty"),
    ("/etc/passwd", "absolute"),
    ("x.py\n", r"contains '\n'"),
    ("a\x00b.py", r"contains '\x00'"),
    ("a\tb.py", r"contains '\t'"),
    ("a\x1b[31m.py", r"contains '\x1b'"),
    ("calc\\ops.py", r"contains '\\'"),
    ("calc/ops.py ", "contains ' '"),
    ("caf\u00e9.py", "contains '\u00e9'"),
    ("git~1/config", "contains '~'"),
    (".git", "git treats '.git' specially"),
    (".git/config", "git treats '.git' specially"),
    (".GIT/config", "git treats '.GIT' specially"),
    ("a/.Git/hooks/pre-commit", "git treats '.Git' specially"),
    (".git./config", "git treats"),
    (".gitmodules", "git treats"),
    (".gitattributes", "git treats"),
    ("sub/.gitignore", "git treats"),
    (".softco/board.sqlite", "softco's own directory"),
    ("a/.softco/x", "softco's own directory"),
    (".SoftCo/x", "softco's own directory"),
    ("calc./ops.py", "ends with '.'"),
    ("-rf.py", "starts with '-'"),
    ("n" * 256 + ".py", "bytes, over 255"),
    ("/".join("abcdefgh") + "/x.py", "9 levels deep, over 8"),
    ("a" * 100 + "/" + "b" * 100 + ".py", "204 characters long, over 200"),
]


@pytest.mark.parametrize(("path", "why"), HOSTILE, ids=[repr(p)[:40] for p, _ in HOSTILE])
def test_hostile_paths_are_refused_saying_why(path: str, why: str) -> None:
    with pytest.raises(ValueError, match="is not a safe relative file path") as err:
        check_relative_path(path)
    assert why in str(err.value)
    assert "write a repo-relative path like calc/ops.py" in str(err.value)  # what to do instead
    with pytest.raises(ValidationError, match="not a safe relative file path"):
        parse_artifact("code", code(path, "x = 1\n", []))


def test_a_huge_path_is_not_echoed_whole() -> None:
    with pytest.raises(ValueError, match=r"'aaaa.*\.\.\. \(100000 characters\) is not a safe") as err:
        check_relative_path("a" * 100_000)
    assert len(str(err.value)) < 500


@pytest.mark.parametrize(
    "path", ["calc/ops.py", "README_more.md", "a/b/c/d/e/f/g/h.py", "calc/head.py", "inner/HEAD", "a-b/c.d_e.py"]
)
def test_ordinary_paths_pass_unchanged(path: str) -> None:
    assert check_relative_path(path) == path


@pytest.mark.parametrize(
    ("paths", "why"),
    [
        (["inner/HEAD", "inner/config", "inner/objects/info/packs", "inner/refs/heads/main"], "git directory"),
        (["inner/HEAD", "inner/objects/x"], "git directory"),
        (["inner/head", "inner/Refs/heads/main"], "git directory"),
        (["inner/HEAD", "inner/commondir"], "git directory"),
        (["inner/config", "inner/refs/x"], "git directory"),
        (["HEAD", "objects/x"], "'the top directory' would make it a git directory"),
        (["calc/ops.py", "calc/OPS.py"], "differ only in case"),
        (["calc/x.py", "Calc/y.py"], "differ only in case"),
        (["calc", "calc/ops.py"], "both a file and a directory"),
    ],
)
def test_file_sets_that_cannot_live_in_one_repo(paths: list[str], why: str) -> None:
    with pytest.raises(ValueError, match=why):
        check_file_set(paths)


def test_file_sets_that_are_fine() -> None:
    check_file_set(["inner/HEAD", "other/objects/x", "other/refs/y"])
    check_file_set(["calc/head.py", "calc/objects.py", "calc/refs.py", "calc/config.py"])
    check_file_set(["calc/ops.py"], [("calc", True), ("calc/ops.py", False)])  # rewriting a tracked file
    # what the project already holds is judged only with what is written: old twins are not the answer's fault
    check_file_set(["calc/ops.py"], [("calc/a.py", False), ("calc/A.py", False)])


def test_a_file_set_is_judged_with_what_the_project_holds() -> None:
    with pytest.raises(ValueError, match="'tests/test_OPS.py' and 'tests/test_ops.py' differ only in case"):
        check_file_set(["tests/test_OPS.py"], [("tests", True), ("tests/test_ops.py", False)])
    with pytest.raises(ValueError, match="git directory"):
        check_file_set(["inner/objects/a.py"], [("inner", True), ("inner/HEAD", False)])


def design_with(*paths: str) -> dict[str, Any]:
    extra = [{"path": p, "purpose": "x", "req_ids": [], "interfaces": []} for p in paths]
    return {**DESIGN, "files": [*DESIGN["files"], *extra]}


@pytest.mark.parametrize(
    ("paths", "why"),
    [
        (["Tests/test_ops.py"], "tests belong to QA"),
        (["tests"], "tests belong to QA"),
        (["README.MD"], "softco writes these files itself"),
        (["PyProject.toml"], "softco writes these files itself"),
        (["Docs/x.md"], "softco writes these files itself"),
        (["Calc/ops.py"], "differ only in case"),
        (["inner/HEAD", "inner/config", "inner/objects/x", "inner/refs/x"], "git directory"),
    ],
)
def test_the_design_compares_paths_without_case(paths: list[str], why: str) -> None:
    with pytest.raises(ValidationError, match=why):
        parse_artifact("design", design_with(*paths))


def test_a_requirement_id_with_a_trailing_newline_is_refused() -> None:
    with pytest.raises(ValidationError, match="is not a requirement id"):
        parse_artifact("code", code("calc/ops.py", "x = 1\n", ["REQ-1\n"]))


def test_test_files_and_custom_kind_paths_use_the_same_checker() -> None:
    refs = Refs(req_ids={"REQ-1", "REQ-2"}, design_paths={"calc/__init__.py", "calc/ops.py"})
    with pytest.raises(ValidationError, match="not a safe relative file path"):
        parse_artifact("tests", {**TESTS_ANSWER, "path": "tests/test_ops.py\n"}, refs)
    from softco.custom_kinds import KindSpec, build_kind

    review = build_kind(
        "review",
        KindSpec.model_validate(
            {"subject": "path", "fields": {"path": {"type": "string", "refers_to": "design_file"}}}
        ),
    )
    review.model_validate({"path": "calc/ops.py"}, context=refs)
    with pytest.raises(ValidationError, match="not a safe relative file path"):
        review.model_validate({"path": "./calc/ops.py"}, context=refs)


# the Workspace checks again, whatever the validators let through --------------------------------------


@pytest.fixture
def ws(tmp_path: Path) -> Iterator[Workspace]:
    workspace = Workspace.create(tmp_path / "p")
    yield workspace
    workspace.repo.close()  # ends git's helper processes now, not at some later test's garbage collection


def test_the_workspace_refuses_unsafe_paths_and_writes_none_of_the_set(ws: Workspace) -> None:
    config = (ws.root / ".git" / "config").read_text()
    for rel in ("./.git/config", ".GIT/config", "x.py\n", "a//b.py"):
        with pytest.raises(WorkspaceError, match="refusing to write the project: .* is not a safe relative file path"):
            ws.write({"calc/ok.py": "x = 1\n", rel: "[core]\n\tfsmonitor = touch pwned\n"})
        with pytest.raises(WorkspaceError):
            ws.remove([rel])
    assert (ws.root / ".git" / "config").read_text() == config
    assert not (ws.root / "calc").exists()


def test_the_workspace_refuses_a_git_directory_made_with_files_already_on_disk(ws: Workspace) -> None:
    """Generated code can write into the project while its tests run; what it left counts too."""
    (ws.root / "inner").mkdir()
    (ws.root / "inner" / "HEAD").write_text("ref: refs/heads/main\n")
    with pytest.raises(WorkspaceError, match="git directory"):
        ws.write({"inner/objects/a.py": "x = 1\n"})
    assert not (ws.root / "inner" / "objects").exists()


def test_the_workspace_refuses_case_twins_of_tracked_files_and_file_directory_clashes(ws: Workspace) -> None:
    ws.commit(ws.write({"tests/test_ops.py": "def test_a():\n    pass\n"}), "tests: ops\n", ALICE)
    (ws.root / "tests" / "test_ops.py").unlink()  # tracked, even when gone from the disk
    for rel in ("tests/test_OPS.py", "Tests/test_x.py"):
        with pytest.raises(WorkspaceError, match="differ only in case"):
            ws.write({rel: "x = 1\n"})
    (ws.root / "calc").write_text("a file\n")
    with pytest.raises(WorkspaceError, match="both a file and a directory"):
        ws.write({"calc/ops.py": "x = 1\n"})
    assert sorted(p.name for p in (ws.root / "tests").iterdir()) == []
