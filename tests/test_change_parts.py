"""The parts of `softco change` on their own: SEARCH/REPLACE edits, the checks of the user's repo (bad input),
the ast repo map within its budget, and what a change run refuses of a model's answers."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from change_project import FILES, REQUIREMENT, make_repo, snapshot
from change_project import git as run_git

from softco.artifacts import Code, Design, Tests
from softco.board import Message
from softco.change import repo as repo_mod
from softco.change.edits import EditError, apply_edit, parse_blocks
from softco.change.mode import ChangeMode
from softco.change.repo import ChangeError, detect_dependencies, open_repo
from softco.change.repo_map import build_map
from softco.cli import run
from softco.steps.step import BoardView

FILE = "def a():\n    return 1\n\n\ndef b():\n    return 1\n"


def block(search: str, replace: str) -> str:
    return f"<<<<<<< SEARCH\n{search}=======\n{replace}>>>>>>> REPLACE\n"


# edits -------------------------------------------------------------------------------------------
def test_blocks_apply_in_order_exactly() -> None:
    out = apply_edit(
        FILE,
        block("def a():\n", "def alpha():\n") + block("def b():\n    return 1\n", "def b():\n    return 2\n"),
        "m.py",
    )
    assert out == "def alpha():\n    return 1\n\n\ndef b():\n    return 2\n"


def test_a_block_that_matches_twice_is_refused_with_where() -> None:
    with pytest.raises(EditError, match=r"matches m.py 2 times \(at lines 2, 6\)"):
        apply_edit(FILE, block("    return 1\n", "    return 3\n"), "m.py")


def test_a_block_that_does_not_match_shows_the_nearest_lines_and_nothing_applies() -> None:
    edit = block("def a():\n", "def alpha():\n") + block("def b(x):\n    return 1\n", "def b(x):\n    return x\n")
    with pytest.raises(EditError) as info:
        apply_edit(FILE, edit, "m.py")
    msg = str(info.value)
    assert "none of its blocks" in msg and "block 2" in msg and "block 1" not in msg
    assert "    5 | def b():" in msg and "    6 |     return 1" in msg  # the nearest lines, numbered
    # no whitespace-insensitive or fuzzy match either
    with pytest.raises(EditError, match="does not match"):
        apply_edit(FILE, block("def a():\n  return 1\n", "x\n"), "m.py")


@pytest.mark.parametrize(
    ("content", "error"),
    [
        ("def a():\n    return 2\n", "outside a block"),
        ("<<<<<<< SEARCH\ndef a():\n>>>>>>> REPLACE\n", "no ======= line"),
        ("<<<<<<< SEARCH\ndef a():\n=======\nx\n", "no >>>>>>> REPLACE line"),
        ("<<<<<<< SEARCH\n=======\nx\n>>>>>>> REPLACE\n", "SEARCH part of the block on line 1 is empty"),
        ("", "no SEARCH/REPLACE block"),
    ],
)
def test_malformed_blocks_are_refused(content: str, error: str) -> None:
    with pytest.raises(EditError, match=error):
        parse_blocks(content)


# the user's repo: bad input ----------------------------------------------------------------------
def _change(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    """The command as a user runs it, in-process: the one line on stderr and the exit code."""
    code = run(["change", *args, "--llm", "script:none.json"])
    return code, capsys.readouterr().err


def test_not_a_repo_bare_detached_subdirectory_empty_and_no_python(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    plain = tmp_path / "plain"
    plain.mkdir()
    code, err = _change(capsys, str(plain), REQUIREMENT)
    assert (code, err) == (
        2,
        f"softco: error: {plain} is not a git repository; run `git init` and commit your project first\n",
    )
    with pytest.raises(ChangeError, match="is not a git repository; run `git init`"):
        open_repo(plain)
    with pytest.raises(ChangeError, match="does not exist"):
        open_repo(tmp_path / "nowhere")
    repo = make_repo(tmp_path)
    bare = tmp_path / "bare.git"
    subprocess.run(["git", "clone", "-q", "--bare", str(repo), str(bare)], check=True)
    with pytest.raises(ChangeError, match="is a bare repository"):
        open_repo(bare)
    with pytest.raises(ChangeError, match="give its top directory"):
        open_repo(repo / "statlib")
    empty = tmp_path / "empty"
    empty.mkdir()
    run_git(empty, "init", "-q")
    with pytest.raises(ChangeError, match="has no commit yet"):
        open_repo(empty)
    (empty / "notes.md").write_text("hi\n")
    run_git(empty, "add", "-A")
    run_git(empty, "commit", "-q", "-m", "notes")
    with pytest.raises(ChangeError, match="has no Python file"):
        open_repo(empty)
    before = snapshot(repo)
    run_git(repo, "checkout", "-q", "--detach", "HEAD")
    detached = snapshot(repo)
    with pytest.raises(ChangeError, match="detached HEAD; check out a branch"):
        open_repo(repo)
    assert snapshot(repo) == detached != before


def test_too_many_files_is_refused_before_anything_is_made(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    repo = make_repo(tmp_path)
    monkeypatch.setattr(repo_mod, "MAX_TRACKED_FILES", 3)
    with pytest.raises(ChangeError, match="tracks 4 files, over the 3 softco reads"):
        open_repo(repo)
    assert not (repo / ".git" / "softco").exists()


def test_repo_dependencies_are_detected_and_odd_ones_set_aside(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "x"\ndependencies = ["attrs>=22", "weird @ https://example.com/w.whl"]\n'
        '[project.optional-dependencies]\ntest = ["pytest>=7", "hypothesis"]\n'
    )
    (tmp_path / "requirements.txt").write_text("# pinned\nrich==13.0\n-e .\n")
    ok, skipped = detect_dependencies(tmp_path, ["pyproject.toml", "requirements.txt"])
    assert ok == ["attrs>=22", "hypothesis", "rich==13.0"]
    assert skipped == ["weird@https://example.com/w.whl"]


# the map ------------------------------------------------------------------------------------------
def _repo_files(root: Path, n: int) -> list[str]:
    files = []
    for i in range(n):
        rel = f"pkg/mod{i}.py"
        (root / "pkg").mkdir(exist_ok=True)
        (root / rel).write_text(
            f'"""Module {i}: helpers for widgets."""\nfrom pkg import mod{max(0, i - 1)}\n\n\n'
            f'def widget_{i}(x: int) -> int:\n    """Widget {i}."""\n    return x\n'
        )
        files.append(rel)
    (root / "pkg" / "invoice.py").write_text(
        '"""Invoices: totals and taxes."""\n\n\nclass Invoice:\n    """An invoice."""\n\n'
        "    def total(self) -> float:\n        return 0.0\n"
    )
    (root / "pkg" / "blob.py").write_bytes(b"\0\x01binary")
    (root / "pkg" / "broken.py").write_text("def (:\n")
    return [*files, "pkg/invoice.py", "pkg/blob.py", "pkg/broken.py"]


def test_the_map_ranks_by_relevance_and_keeps_to_its_budget(tmp_path: Path) -> None:
    files = _repo_files(tmp_path, 300)
    m = build_map(tmp_path, files)
    small = m.render("add a tax rate to invoice totals", budget=200)
    assert len(small) <= 200 * 4
    assert small.splitlines()[1].startswith("pkg/invoice.py: Invoices: totals and taxes.")
    assert "303 Python files" in small and "less relevant file(s) not shown" in small
    big = m.render("add a tax rate to invoice totals", focus=["pkg/mod7.py"], budget=100_000)
    assert big.splitlines()[1].startswith("pkg/mod7.py")  # a file the step edits comes first
    assert "  def widget_7(x: int) -> int: Widget 7." in big and "  imports: pkg/mod6.py" in big
    assert "pkg/blob.py (not read: larger than" in big and "pkg/broken.py (not parsed: SyntaxError" in big
    assert m.graph()["pkg/mod7.py"] == {"pkg/mod6.py"}


# answers a change run refuses ------------------------------------------------------------------------
def _mode(tmp_path: Path) -> ChangeMode:
    repo = make_repo(tmp_path)
    (repo / "logo.png").write_bytes(b"\x89PNG\0\0")
    run_git(repo, "add", "logo.png")
    run_git(repo, "commit", "-q", "-m", "logo")
    base = open_repo(repo)
    return ChangeMode(str(repo), str(repo), "main", base.sha, "softco/x", "x", files=base.files)


def test_a_change_refuses_to_replace_a_repo_test_or_edit_a_binary_file(tmp_path: Path) -> None:
    mode = _mode(tmp_path)
    view = BoardView()
    tests = Tests(
        path="tests/test_stats.py",
        source="statlib/stats.py",
        content="def test_x():\n    pass\n",
        cases=[{"name": "test_x", "req_ids": ["REQ-1"]}],  # type: ignore[list-item]
    )
    with pytest.raises(ValueError, match="one of the repo's own test files"):
        mode.adapt(tests, view)
    design = Design.model_validate(
        {
            "approach": "a",
            "package": "statlib",
            "class_diagram": "c",
            "sequence_diagram": "s",
            "files": [{"path": "logo.png", "purpose": "p", "req_ids": [], "interfaces": []}],
        }
    )
    with pytest.raises(ValueError, match="logo.png cannot be modified: it is a binary file"):
        mode.adapt(design, view)
    for path, error in [("statlib/Stats.py", "differs only in case"), ("statlib", "is a directory of the repo")]:
        other = design.model_copy(update={"files": [design.files[0].model_copy(update={"path": path})]})
        with pytest.raises(ValueError, match=error):
            mode.adapt(other, view)
    whole = Code(path="statlib/stats.py", content=FILES["statlib/stats.py"] + "\n# more\n", req_ids=[])
    with pytest.raises(ValueError, match="holds only SEARCH/REPLACE blocks"):
        mode.adapt(whole, view)
    bad = Code(
        path="statlib/stats.py",
        content=block("def total(values: list[float]) -> float:\n", "def total(:\n"),
        req_ids=[],
    )
    with pytest.raises(ValueError, match="not valid Python after the edit"):
        mode.adapt(bad, view)
    good = Code(
        path="statlib/stats.py",
        content=block("    return sum(values)\n", "    return float(sum(values))\n"),
        req_ids=[],
    )
    assert "return float(sum(values))" in mode.adapt(good, view).content  # type: ignore[attr-defined]
    # an added file is written whole; a fix of it may be blocks, applied to its version on the board
    added = block("    return 1\n", "    return 2\n")
    with pytest.raises(ValueError, match="statlib/new.py is a new file: write it whole"):
        mode.adapt(Code(path="statlib/new.py", content=added, req_ids=[]), view)
    view.add(
        Message(1, "r", "code", "statlib/new.py", "engineer", "write_code", "k", None,
                {"path": "statlib/new.py", "content": "def f():\n    return 1\n", "req_ids": []}, None, 0)
    )  # fmt: skip
    fixed = mode.adapt(Code(path="statlib/new.py", content=added, req_ids=[]), view)
    assert fixed.content == "def f():\n    return 2\n"  # type: ignore[attr-defined]


@pytest.mark.parametrize("path", ["../outside.py", ".git/config", "statlib/../../x.py", "/etc/passwd", ".softco/x.py"])
def test_an_edit_outside_the_repo_or_in_git_is_refused(path: str) -> None:
    with pytest.raises(ValueError, match="is not a safe relative file path"):
        Code(path=path, content=block("a\n", "b\n"), req_ids=[])


def test_the_repos_setup_script_runs_in_the_sandbox_before_its_tests(tmp_path: Path) -> None:
    from softco.sandbox import Limits
    from softco.steps.qa_tools import TestRun

    repo = tmp_path / "r"
    (repo / ".softco").mkdir(parents=True)
    (repo / "tests").mkdir()
    (repo / ".softco" / "setup.sh").write_text("echo 42 > answer.txt\n")
    (repo / "tests" / "test_answer.py").write_text(
        "from pathlib import Path\n\n\ndef test_answer():\n    assert Path('answer.txt').read_text() == '42\\n'\n"
    )
    (repo / "tool.py").write_text("X = 1\n")
    run_git(repo, "init", "-q", "-b", "main")
    run_git(repo, "add", "-A")
    run_git(repo, "commit", "-q", "-m", "r")
    base = open_repo(repo)
    mode = ChangeMode(str(repo), str(repo), "main", base.sha, "softco/x", "x", files=base.files)
    outcomes = mode.record_baseline(TestRun(repo, {}, 1, [], Limits()))
    assert outcomes == {"tests/test_answer.py::test_answer": "passed"}
    assert not (repo / "answer.txt").exists()  # it ran in the sandbox's work copy, not on the host
    (repo / ".softco" / "setup.sh").write_text("exit 3\n")
    outcomes = mode.record_baseline(TestRun(repo, {}, 1, [], Limits()))
    assert "passed" not in outcomes.values()  # a failing setup script stops the tests


def test_a_lost_baseline_is_measured_again_on_a_copy_of_the_base_commit(tmp_path: Path) -> None:
    from softco.sandbox import Limits
    from softco.steps.qa_tools import TestRun

    repo = tmp_path / "r"
    (repo / "tests").mkdir(parents=True)
    (repo / "tool.py").write_text("def f():\n    return 1\n")
    (repo / "tests" / "test_tool.py").write_text("from tool import f\n\n\ndef test_f():\n    assert f() == 1\n")
    run_git(repo, "init", "-q", "-b", "main")
    run_git(repo, "add", "-A")
    run_git(repo, "commit", "-q", "-m", "r")
    base = open_repo(repo)
    mode = ChangeMode(str(repo), str(repo), "main", base.sha, "softco/x", "x", files=base.files)
    (repo / "tool.py").write_text("def f():\n    return 2\n")  # the change, made before any baseline was kept
    report = mode.run_tests(TestRun(repo, {}, 1, [], Limits()))
    assert report.regressions == ["tests/test_tool.py::test_f"]
    assert mode.baseline() == {"tests/test_tool.py::test_f": "passed"}


def test_the_map_shows_signatures_as_written_without_comments(tmp_path: Path) -> None:
    (tmp_path / "m.py").write_text(
        "class A:\n    @property\n    def x(self) -> int:  # a comment\n        return 1\n\n"
        "    async def fetch(\n        self,\n        url: str,  # where\n        *,\n        timeout: float = 1.0,\n"
        '    ) -> bytes:\n        """Fetch it."""\n        return b""\n\n\ndef one(a, b="#"): return a\n'
    )
    entry = build_map(tmp_path, ["m.py"]).files["m.py"]
    assert entry.symbols == [
        "class A",
        "  def x(self) -> int",
        "  async def fetch( self, url: str, *, timeout: float = 1.0, ) -> bytes: Fetch it.",
        'def one(a, b="#")',
    ]


def test_a_custom_sop_overrides_a_change_template_and_validate_checks_it(tmp_path: Path) -> None:
    from softco.board import Message
    from softco.sop.check import check_dir
    from softco.sop.load import load_sop
    from softco.steps.step import Step, build_request

    sop_dir = tmp_path / "sop"
    (sop_dir / "sop_templates").mkdir(parents=True)
    (sop_dir / "sop_templates" / "change_write_prd.j2").write_text(
        "OUR CHANGE PRD for {{ requirement }} on {{ change.base_branch }}:\n{{ repo_map(300) }}\n"
    )
    assert check_dir(sop_dir) == []
    sop = load_sop(sop_dir)
    mode = _mode(tmp_path)
    view = BoardView()
    view.add(
        Message(1, "r", "requirement", "project", "customer", "publish", "k", None, {"text": REQUIREMENT}, None, 0)
    )
    pm = sop.role("product_manager")
    prompt = build_request(sop, view, Step(pm, pm.actions[0], "project", view.latest["requirement"]), mode)
    text = prompt.messages[1].content
    assert text.startswith(f"OUR CHANGE PRD for {REQUIREMENT} on main:") and "statlib/stats.py" in text
    new_run = build_request(sop, view, Step(pm, pm.actions[0], "project", view.latest["requirement"]))
    assert "OUR CHANGE PRD" not in new_run.messages[1].content  # `softco new` keeps write_prd.j2
    (sop_dir / "sop_templates" / "change_write_prd.j2").write_text("{{ change.base_branch }} {{ repo_mapp(3) }}\n")
    problems = [str(p) for p in check_dir(sop_dir)]
    assert len(problems) == 1 and "'repo_mapp' is undefined" in problems[0]


def test_the_change_benchmark_runs_and_prints_its_table(tmp_path: Path) -> None:
    import os

    bench = Path(__file__).resolve().parent.parent / "benchmarks" / "change_bench.py"
    env = {**os.environ, "TMPDIR": str(tmp_path)}
    proc = subprocess.run(
        [sys.executable, str(bench), "--sizes", "20,40"], capture_output=True, text=True, env=env, timeout=300
    )
    rows = [line for line in proc.stdout.splitlines() if line.startswith(("| 20 |", "| 40 |"))]
    assert len(rows) == 2, proc.stdout + proc.stderr
    assert "product_manager/write_prd/project: prompt tokens 20 -> 40 files" in proc.stdout
    assert list(tmp_path.iterdir()) == []  # it cleans up after itself


def test_a_src_layout_is_on_the_path_and_a_test_file_broken_before_does_not_stop_the_others(tmp_path: Path) -> None:
    from softco.sandbox import Limits
    from softco.steps.qa_tools import TestRun

    repo = tmp_path / "r"
    for rel, text in {
        "src/mypkg/__init__.py": "",
        "src/mypkg/core.py": "def add(a, b):\n    return a + b\n",
        "tests/test_core.py": "from mypkg.core import add\n\n\ndef test_add():\n    assert add(1, 2) == 3\n",
        "tests/test_broken.py": "import not_installed_anywhere\n\n\ndef test_x():\n    pass\n",
    }.items():
        (repo / rel).parent.mkdir(parents=True, exist_ok=True)
        (repo / rel).write_text(text)
    run_git(repo, "init", "-q", "-b", "main")
    run_git(repo, "add", "-A")
    run_git(repo, "commit", "-q", "-m", "r")
    base = open_repo(repo)
    mode = ChangeMode(str(repo), str(repo), "main", base.sha, "softco/x", "x", files=base.files, src_layout=True)
    before = mode.record_baseline(TestRun(repo, {}, 1, [], Limits()))
    assert before == {"tests/test_broken.py::collection": "error", "tests/test_core.py::test_add": "passed"}
    report = mode.run_tests(TestRun(repo, {}, 1, [], Limits()))
    outcomes = {r.nodeid: r.outcome for r in report.results}
    assert outcomes == {"tests/test_broken.py::collection": "skipped", "tests/test_core.py::test_add": "passed"}
    assert report.ok and report.regressions == []


def test_a_repo_test_that_passed_before_and_is_gone_after_the_change_is_a_regression(tmp_path: Path) -> None:
    # an engineer's edit of the repo's own test file could delete the test it broke: gone is not passing
    import json

    from softco.artifacts import TestReport, TestResult

    mode = _mode(tmp_path)
    test_file = mode.existing_tests[0]
    mode.baseline_path().parent.mkdir(parents=True, exist_ok=True)
    before = {f"{test_file}::test_kept": "passed", f"{test_file}::test_gone": "passed"}
    mode.baseline_path().write_text(json.dumps({"base": mode.base_sha, "outcomes": before}))
    kept = TestResult(file=test_file, name="test_kept", req_ids=[], outcome="passed")
    new = TestResult(file="tests/test_new.py", name="test_new", req_ids=["REQ-1"], outcome="passed")
    report = TestReport(round=1, passed=2, failed=0, errors=0, skipped=0, exit_code=0, results=[kept, new])
    judged = mode.judge(report)
    assert judged.regressions == [f"{test_file}::test_gone"]
    assert not judged.ok and judged.failed == 1
    gone = next(r for r in judged.results if r.name == "test_gone")
    assert gone.outcome == "failed" and "did not run after it" in gone.message


def test_a_crlf_file_takes_blocks_written_with_newlines_and_keeps_its_line_endings() -> None:
    crlf = FILE.replace("\n", "\r\n")
    edited = apply_edit(crlf, block("def b():\n    return 1\n", "def b():\n    return 2\n"), "m.py")
    assert edited == FILE.replace("return 1\n\n\ndef b", "return 1\n\n\ndef b").replace(
        "def b():\n    return 1", "def b():\n    return 2"
    ).replace("\n", "\r\n")
    # still exact: a block that matches twice once the line endings agree is refused as before
    with pytest.raises(EditError, match="matches m.py 2 times"):
        apply_edit(crlf, block("    return 1\n", "    return 3\n"), "m.py")
    mixed = "a = 1\r\nb = 2\n"  # mixed line endings: matched as they are, byte for byte
    with pytest.raises(EditError, match="does not match m.py exactly"):
        apply_edit(mixed, block("a = 1\n", "a = 3\n"), "m.py")


def test_a_repo_that_tracks_softcos_own_state_is_refused_before_anything_is_made(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # the worktree's .softco/ is softco's state (board, map, baseline, venv, gate edits): a tracked one would be
    # read as softco's own; the repo's .softco/setup.sh is the one file it may hold there
    repo = make_repo(tmp_path)
    (repo / ".softco").mkdir()
    (repo / ".softco" / "setup.sh").write_text("echo hi\n")
    run_git(repo, "add", "-A")
    run_git(repo, "commit", "-q", "-m", "setup")
    assert ".softco/setup.sh" in open_repo(repo).files
    (repo / ".softco" / "repo_map.json").write_text("{}\n")
    run_git(repo, "add", "-f", "-A")
    run_git(repo, "commit", "-q", "-m", "state")
    before = snapshot(repo)
    code, err = _change(capsys, str(repo), REQUIREMENT)
    assert code == 2 and err.count("\n") == 1, err
    assert "tracks .softco/repo_map.json, which is where softco keeps its own state" in err
    assert snapshot(repo) == before and not (repo / ".git" / "softco").exists()


def test_an_engineer_cannot_edit_the_repos_own_tests_to_hide_a_regression(tmp_path: Path) -> None:
    mode = _mode(tmp_path)
    test_file = mode.existing_tests[0]
    first = FILES[test_file].splitlines(keepends=True)[0]
    hide = Code(path=test_file, content=block(first, first + "import pytest\n"), req_ids=[])
    with pytest.raises(ValueError, match="one of the repo's own test files"):
        mode.adapt(hide, BoardView())


def test_the_nearest_lines_of_a_large_file_are_found_with_bounded_work(monkeypatch: pytest.MonkeyPatch) -> None:
    # a hostile model's unmatched 400-line SEARCH against a 4,000-line file compared every window with difflib
    # (211 s measured for one block, and an answer may hold 100); the work is now bounded, counted not timed
    import difflib

    from softco.change import edits

    made = 0
    real = difflib.SequenceMatcher

    class Counting(real):  # type: ignore[misc,valid-type]
        def __init__(self, *args: object, **kwargs: object) -> None:
            nonlocal made
            made += 1
            super().__init__(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(edits.difflib, "SequenceMatcher", Counting)
    lines = [f"    value_{i} = compute({i}, name='x{i}')" for i in range(4000)]
    text = "\n".join(lines) + "\n"
    typo = "\n".join(line.replace("x", "y") for line in lines[2000:2400]) + "\n"
    shown = edits.nearest_lines(text, typo)
    assert made <= 2 * edits.MAX_CANDIDATES, made
    assert shown.splitlines()[2].startswith(" 2001 | ")  # still the right place
    near = edits.nearest_lines(text, "\n".join(lines[3000:3003]).replace("x3001", "z3001") + "\n")
    assert near.splitlines()[2].startswith(" 3001 | ")
