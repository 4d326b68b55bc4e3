"""Defects found by session 7's adversarial security review ("model output is hostile input", and secrets).

Each test plays a hostile model (scripted answers through the CLI, or the code such answers would make,
run through the public API) or a hostile repository, and failed on the code before its fix.
"""

from __future__ import annotations

import copy
import http.client
import shutil
import sqlite3
import tempfile
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import git
import pytest
from browser import serving
from helpers import run_cli, write_script
from review_helpers import generate
from scripted_project import OPS_FIXED, REQUIREMENT, TESTS_ANSWER, answers

from softco import sandbox
from softco.sandbox import layout

CANARY = "sk-canary-5e7c0ded-do-not-leak"


def _fs_mechanism() -> str:
    for mechanism in ("bwrap", "unshare"):
        if sandbox.works(mechanism):
            return mechanism
    pytest.skip("no sandbox mechanism that isolates the filesystem works here")


@pytest.fixture
def data_top(monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A place like ``/work``, ``/data``, a CI's ``/builds`` or a container's ``/app``: a top-level directory
    outside ``/home`` and ``/tmp`` where a user keeps projects and runs softco. Tests may write only under
    /tmp, so /tmp stands in for it: the sandbox is told not to hide /tmp as one of its own (HIDDEN), which is
    what it knows of ``/work``. A directory every user may enter (as most are), so `nobody` gets there."""
    monkeypatch.setattr(layout, "HIDDEN", tuple(h for h in layout.HIDDEN if h != "/tmp"))
    top = Path(tempfile.mkdtemp(prefix="softco-sec-"))
    top.chmod(0o755)
    try:
        yield top
    finally:
        shutil.rmtree(top, ignore_errors=True)


def _everything_under(root: Path) -> bytes:
    return b"".join(p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file() and not p.is_symlink())


def test_generated_code_cannot_read_the_working_directorys_secrets(data_top: Path) -> None:
    """softco run from a project directory outside /home (``/work/app``, ``/app`` in a container) that holds a
    ``.env`` with the API key: QA's test (model-written code) read it and failed with its text, which went to
    the board, docs/test_report.md, the bug report the engineer is sent (so to the model: the attacker) and
    the terminal. The sandbox hid /home, /tmp and the output directory, not the directory softco ran in."""
    _fs_mechanism()
    work = data_top / "app"
    work.mkdir(mode=0o755)
    (work / ".env").write_text(f"OPENAI_API_KEY={CANARY}\n")
    (work / ".env").chmod(0o644)
    script = answers(fixes=1, fixed=False)
    steal = f"\n\ndef test_steal():\n    assert open({str(work / '.env')!r}).read() == ''\n"
    script["qa_engineer/write_tests/calc/ops.py"] = {
        **TESTS_ANSWER,
        "content": TESTS_ANSWER["content"] + steal,
        "cases": [*TESTS_ANSWER["cases"], {"name": "test_steal", "req_ids": ["REQ-1"]}],
    }
    path = write_script(data_top / "a.json", script)
    args = ["new", REQUIREMENT, "--name", "calc", "--llm", f"script:{path}", "--output", "out", "--max-fix-rounds", "1"]
    res = run_cli(args, work)
    assert res.exit_code == 3, res.stdout + res.stderr  # the stealing test fails either way
    project = work / "out" / "calc"
    report = (project / "docs" / "test_report.md").read_text()
    assert "test_steal" in report
    assert CANARY not in report
    assert CANARY.encode() not in _everything_under(project)
    assert CANARY not in res.stdout + res.stderr


@pytest.mark.parametrize("where", ["another variant", "another seed"])
def test_an_eval_run_cannot_read_the_other_runs_of_its_eval(data_top: Path, where: str) -> None:
    """`softco eval` puts each run at ``runs/VARIANT/seed-N/TASK``: the sandbox hid the run's own parent
    (``seed-N``) only, so with the eval's output outside /home and /tmp, a run's code read the other variants'
    and seeds' projects (their code, their boards with prompts and answers): one run could copy another's
    work, and no run of an eval is another's to read (README: "the other projects of the output directory:
    hidden")."""
    mechanism = _fs_mechanism()
    runs = data_top / "eval" / "runs"
    project = runs / "a" / "seed-1" / "calc"
    other = runs / ("b" if where == "another variant" else "a") / ("seed-1" if where == "another variant" else "seed-2")
    board = other / "calc" / ".softco" / "board.sqlite"
    board.parent.mkdir(parents=True)
    db = sqlite3.connect(board)
    db.execute("CREATE TABLE secrets (text TEXT)")
    db.execute("INSERT INTO secrets VALUES (?)", (CANARY,))
    db.commit()
    db.close()
    for d in [data_top / "eval", *(p for p in (data_top / "eval").rglob("*") if p.is_dir())]:
        d.chmod(0o755)
    board.chmod(0o644)
    python = sandbox.ensure_venv(project, [])
    (project / "look.py").write_text(f"print(open({str(board)!r}, 'rb').read())\n")
    res = sandbox.run(project, [str(python), "look.py"], sandbox.Limits(wall_seconds=30), mechanism=mechanism)
    assert res.exit_code != 0, res.output[-500:]
    assert CANARY not in res.output


def _alias_bomb(levels: int) -> str:
    """A custom kind whose field ``x{levels}`` is, through YAML aliases, 9**levels nested field specs."""
    defs = ["x0: &x0 {type: string}"]
    for i in range(1, levels + 1):
        fields = ", ".join(f"f{j}: *x{i - 1}" for j in range(9))
        defs.append(f"x{i}: &x{i} {{type: object, fields: {{{fields}}}}}")
    return "kinds:\n  bomb:\n    fields:\n" + "".join(f"      {d}\n" for d in defs)


def test_a_shared_sop_of_yaml_aliases_is_refused_not_walked_for_minutes(tmp_path: Path) -> None:
    """A role file is shared code (`softco sop init`, then someone else's SOP): 1.6 KB of YAML aliases, each
    naming the one before nine times, stand for 9**7 field specs. `softco sop validate` (and `new --sop`,
    which checks the SOP first) walked them all: over 120 s and 4.8 GB of memory before it was stopped, more
    with each line. Now one `file:line: problem` and exit 2, at once; a few aliases are still read."""
    assert run_cli(["sop", "init", "s"], tmp_path).exit_code == 0
    role = tmp_path / "s" / "roles" / "architect.yaml"
    plain = role.read_text()
    role.write_text(plain + _alias_bomb(7))
    res = run_cli(["sop", "validate", "s"], tmp_path)
    assert res.exit_code == 2, res.stdout + res.stderr
    assert "architect.yaml:1: it holds over 100,000 values once its YAML aliases" in res.stdout + res.stderr
    role.write_text(plain + _alias_bomb(1).replace("fields:\n      x0:", "subject: x0\n    fields:\n      x0:"))
    res = run_cli(["sop", "validate", "s"], tmp_path)
    assert res.exit_code == 0 and "1 declared in YAML" in res.stdout, res.stdout + res.stderr


#: Trojan source (CVE-2021-42574): read in a page, the line shows `if b == 0:  # } if admin begin`-like text in
#: another order than Python reads it; the same holds for prose (a requirement, a summary)
BIDI = ("\u202e", "\u2066", "\u2069")
TROJAN = '    if b == 0:  # \u202e } \u2066if admin\u2069 \u2066 begin\n'


def test_the_report_and_the_live_page_show_bidirectional_controls_instead_of_obeying_them(tmp_path: Path) -> None:
    """`show` and the terminal show a bidirectional override as the text ``\\u202e``; the HTML report and
    `softco serve`'s pages (the code browser, the PRD, a commit's diff) passed it to the browser, which obeyed it:
    the reviewer read code in another order than Python runs it."""
    script = copy.deepcopy(answers())
    script["engineer/fix_code/round-1/calc/ops.py"]["content"] = OPS_FIXED.replace("    if b == 0:\n", TROJAN)
    script["product_manager/write_prd/project"]["summary"] = "A tiny \u202eroticlucac calculator."
    project = generate(tmp_path, script)
    res = run_cli(["report", str(project), "-o", str(tmp_path / "r.html")], tmp_path)
    assert res.exit_code == 0, res.stdout + res.stderr
    pages = {"report": (tmp_path / "r.html").read_text()}
    with serving(project.parent) as srv:
        with git.Repo(project) as repo:
            fix = next(repo.iter_commits(paths="calc/ops.py")).hexsha  # the engineer's fix, with the line
        for what, path in [("page", f"/p/{project.name}"), ("diff", f"/p/{project.name}/commit/{fix}")]:
            status, _, html = _get(srv.url, path)
            assert status == 200, (what, html[:300])
            pages[what] = html
    for what, html in pages.items():
        assert not [ch for ch in BIDI if ch in html], what
        assert "\\u202e" in html and "\\u2066if admin\\u2069" in html, what


def _get(url: str, path: str) -> tuple[int, str, str]:
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=30)
    try:
        conn.request("GET", path)
        res = conn.getresponse()
        return res.status, res.getheader("content-type") or "", res.read().decode("utf-8", "replace")
    finally:
        conn.close()


def test_the_top_level_directory_of_softcos_checkout_is_empty_in_the_sandbox(tmp_path: Path) -> None:
    """The directory at the top that holds this checkout of softco (``/work`` here, wherever CI clones it), when it
    is not one the sandbox hides by name, is empty to generated code but for the way to softco's runtime: the
    sandbox hid /home, /tmp and a few more by name, and showed every other top-level directory with whatever it
    held (other checkouts, other outputs, their boards, .env files) while the project ran under /tmp."""
    import json
    import os

    mechanism = _fs_mechanism()
    checkout = Path(os.path.realpath(__file__)).parents[1]
    top = Path("/", checkout.parts[1])
    if str(top) in layout.HIDDEN or checkout.parts[1] in layout._SYSTEM_TOPS:
        pytest.skip(f"this checkout is under {top}, which the sandbox hides by name or shows as the system's")
    project = tmp_path / "p"
    python = sandbox.ensure_venv(project, [])
    (project / "look.py").write_text(f"import json, os\nprint('TOP', json.dumps(sorted(os.listdir({str(top)!r}))))\n")
    res = sandbox.run(project, [str(python), "look.py"], sandbox.Limits(wall_seconds=30), mechanism=mechanism)
    line = next((x for x in res.output.splitlines() if x.startswith("TOP ")), None)
    assert line is not None, res.output
    way = {r.relative_to(top).parts[0] for r in layout._runtime_dirs() if top in r.parents}
    assert set(json.loads(line.removeprefix("TOP "))) <= way


def test_the_eval_files_show_what_the_project_printed_without_its_control_characters(tmp_path: Path) -> None:
    """What a project prints while it is imported for scoring becomes its run's note in eval.md and the scoreboard:
    eval.md dropped C0 controls but kept C1 ones (``\\x9b``, a CSI to a terminal that `cat`s the file) and the
    bidirectional ones, and the scoreboard kept both, which the browser obeyed."""
    from eval_helpers import calc_script, invoke, results, write_task

    suite = tmp_path / "suite"
    write_task(suite, "calc")
    script = answers()
    hostile = "score \u202e4/4 \u2066ok\u2069 \x9b31m red"
    script["engineer/write_code/calc/__init__.py"]["content"] = f"import sys\nprint({hostile!r})\nsys.exit(1)\n"
    out = tmp_path / "ev"
    llm = calc_script(tmp_path / "script.json", script)
    code, text = invoke("eval", "--suite", str(suite), "--llm", llm, "--output", str(out), "--max-fix-rounds", "0")
    (rec,) = results(out).records
    assert rec.executability == 1 and "\u202e" in rec.score_detail, (code, text)  # eval.json keeps it as it came
    for name in ("eval.md", "scoreboard.html"):
        page = (out / name).read_text()
        assert not [ch for ch in ("\u202e", "\u2066", "\u2069", "\x9b") if ch in page], name
        assert "u202e4/4" in page, name


def test_a_shared_sop_nested_past_the_validators_depth_is_a_sop_problem_not_an_internal_error(tmp_path: Path) -> None:
    """A custom kind whose object fields nest 300 deep fails validation; finding the line of the problem then
    composed the file again with PyYAML's pure-Python composer, which recursed past Python's stack: "internal
    error: RecursionError ... a bug in softco", exit 1, for a file someone else wrote."""
    assert run_cli(["sop", "init", "s"], tmp_path).exit_code == 0
    inner = "{type: string}"
    for _ in range(300):
        inner = "{type: object, fields: {a: " + inner + "}}"
    role = tmp_path / "s" / "roles" / "architect.yaml"
    role.write_text(role.read_text() + f"kinds:\n  deep:\n    fields:\n      x: {inner}\n")
    res = run_cli(["sop", "validate", "s"], tmp_path)
    assert res.exit_code == 2, res.stdout + res.stderr
    assert "internal error" not in res.stdout + res.stderr
    assert "architect.yaml:" in res.stdout + res.stderr and "kinds.deep.fields.x" in res.stdout + res.stderr


def test_under_a_system_directory_an_eval_run_cannot_read_the_other_runs_of_its_eval(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An eval's output under one of the system's directories (``/opt/evals/out``, ``/usr/src/app/out``), which
    the sandbox shows: the run's own parent (``seed-N``) was hidden, the other variants and seeds were not. The
    outermost directory on the way to the project below the system's own (``/opt/evals``) is hidden now. Here
    /tmp stands in for /opt: shown, as a system directory."""
    mechanism = _fs_mechanism()
    monkeypatch.setattr(layout, "HIDDEN", tuple(h for h in layout.HIDDEN if h != "/tmp"))
    monkeypatch.setattr(layout, "_SYSTEM_TOPS", {*layout._SYSTEM_TOPS, "tmp"})
    monkeypatch.setattr(layout, "_SYSTEM", {*layout._SYSTEM, Path("/tmp")})
    evals = Path(tempfile.mkdtemp(prefix="softco-sec-"))
    try:
        evals.chmod(0o755)
        runs = evals / "out" / "runs"
        project, other = runs / "a" / "seed-1" / "calc", runs / "b" / "seed-1" / "calc"
        (other / ".softco").mkdir(parents=True)
        (other / ".softco" / "board.sqlite").write_text(CANARY)
        for d in [evals, *(p for p in evals.rglob("*") if p.is_dir())]:
            d.chmod(0o755)
        (other / ".softco" / "board.sqlite").chmod(0o644)
        python = sandbox.ensure_venv(project, [])
        (project / "look.py").write_text(f"print(open({str(other / '.softco' / 'board.sqlite')!r}).read())\n")
        res = sandbox.run(project, [str(python), "look.py"], sandbox.Limits(wall_seconds=30), mechanism=mechanism)
        assert CANARY not in res.output and res.exit_code != 0, res.output[-500:]
    finally:
        shutil.rmtree(evals, ignore_errors=True)
