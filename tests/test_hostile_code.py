"""Model output that tries to run on the host, flood softco, fill the disk, read secrets or lie to QA.

Each test plays a hostile model (answers scripted, or the files such answers would produce) and
checks what reaches the host. Every one of them failed on the code before issue 12 / 13.1.
"""

from __future__ import annotations

import os
import sqlite3
import sys
from pathlib import Path

import pytest
from helpers import run_cli, write_script
from scripted_project import DESIGN, REQUIREMENT, TESTS_ANSWER, answers, code

from softco import sandbox
from softco.artifacts import Design, Tests
from softco.dependencies import check_dependency
from softco.steps.qa_tools import TestRun, parse_results, run_tests

EVIL_SETUP = """import pathlib
pathlib.Path({marker!r}).write_text("setup.py ran on the host")
from setuptools import setup
setup(name="evilpkg", version="1")
"""


def evil_sdist(tmp_path: Path) -> tuple[Path, Path]:
    """A local project whose setup.py, if anything builds it, leaves a marker file."""
    pkg, marker = tmp_path / "evilpkg", tmp_path / "PWNED"
    pkg.mkdir()
    (pkg / "setup.py").write_text(EVIL_SETUP.format(marker=str(marker)))
    return pkg, marker


def hostile_dependencies(pkg: Path) -> list[str]:
    return [
        f"evilpkg @ file://{pkg}",
        str(pkg),
        f"--find-links={pkg.parent}",
        "--no-binary=:all:",
        "evilpkg @ https://example.invalid/evilpkg-1.tar.gz",
        f"-e {pkg}",
        "./evilpkg",
    ]


def test_a_dependency_is_a_plain_pep508_requirement() -> None:
    assert check_dependency("Requests[socks] >= 2.0 ; python_version >= '3.8'") == (
        'Requests[socks]>=2.0; python_version >= "3.8"'
    )
    for bad in ["--index-url=http://x", "x @ file:///tmp/x", "/abs/path", "..", "x y z", "", "a" * 300]:
        with pytest.raises(ValueError):
            check_dependency(bad)


@pytest.mark.parametrize("index", range(7))
def test_hostile_dependencies_never_reach_pip(tmp_path: Path, index: int) -> None:
    pkg, marker = evil_sdist(tmp_path)
    dep = hostile_dependencies(pkg)[index]
    with pytest.raises(ValueError):
        Design.model_validate({**DESIGN, "dependencies": [dep]})
    project = tmp_path / "proj"
    project.mkdir()
    with pytest.raises(sandbox.SandboxError, match="dependenc"):
        sandbox.ensure_venv(project, [dep])
    assert not marker.exists()


def test_a_hostile_design_is_re_asked_and_nothing_is_built(tmp_path: Path) -> None:
    """Through the CLI: the Architect first names a local sdist; the answer is refused with the reason,
    the second answer is used, and the sdist's setup.py never ran."""
    pkg, marker = evil_sdist(tmp_path)
    script = answers()
    script["architect/write_design/project"] = [{**DESIGN, "dependencies": [f"evilpkg @ file://{pkg}"]}, DESIGN]
    path = write_script(tmp_path / "a.json", script)
    res = run_cli(["new", REQUIREMENT, "--name", "p", "--llm", f"script:{path}", "--output", "out"], tmp_path)
    assert res.exit_code == 0, res.stdout + res.stderr
    assert not marker.exists()
    with sqlite3.connect(tmp_path / "out" / "p" / ".softco" / "board.sqlite") as db:
        errors = [e for (e,) in db.execute("SELECT error FROM steps WHERE key LIKE 'architect/%' AND error != ''")]
    assert any("looks like a path or URL" in e for e in errors), errors


def test_the_venv_is_made_from_a_safe_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Run from inside a generated project, a model-written `venv/__main__.py` must not be what
    `python -m venv` starts."""
    marker = tmp_path / "PWNED"
    hostile = tmp_path / "generated"
    (hostile / "venv").mkdir(parents=True)
    (hostile / "venv" / "__init__.py").write_text("")
    (hostile / "venv" / "__main__.py").write_text(f"open({str(marker)!r}, 'w').write('x')\n")
    monkeypatch.chdir(hostile)
    python = sandbox.ensure_venv(tmp_path / "proj", [])
    assert python.exists()
    assert not marker.exists()


def test_the_venvs_python_never_starts_on_the_host(tmp_path: Path) -> None:
    """A .pth in the project venv (from a wheel, say) runs whenever that venv's python starts; installing
    dependencies must not start it on the host."""
    project = tmp_path / "proj"
    sandbox.ensure_venv(project, [])
    marker = tmp_path / "PWNED"
    site_dirs = list((project / ".softco" / "venv" / "lib").glob("python3*/site-packages"))
    assert site_dirs
    (site_dirs[0] / "evil.pth").write_text(f"import pathlib; pathlib.Path({str(marker)!r}).write_text('x')\n")
    # pytest is already there (softco's own site-packages): nothing is downloaded
    sandbox.ensure_venv(project, ["pytest"])
    assert not marker.exists()


def test_output_is_bounded(tmp_path: Path) -> None:
    project = tmp_path / "proj"
    python = sandbox.ensure_venv(project, [])
    (project / "flood.py").write_text("import sys\nfor _ in range(64):\n    sys.stdout.write('x' * (1 << 20))\n")
    res = sandbox.run(project, [str(python), "flood.py"], sandbox.Limits(wall_seconds=60))
    assert res.exit_code == 0, res.output[-500:]
    assert res.output_dropped >= 63 * (1 << 20)
    assert len(res.output) < sandbox.OUTPUT_LIMIT + 200
    assert "were dropped" in res.output


def qa_run(project: Path, content: str, cases: list[str], disk: int | None = None) -> TestRun:
    tests = Tests.model_validate(
        {
            **TESTS_ANSWER,
            "path": "tests/test_x.py",
            "content": content,
            "cases": [{"name": n, "req_ids": ["REQ-1"]} for n in cases],
        }
    )
    (project / "tests").mkdir(parents=True, exist_ok=True)
    (project / "tests" / "test_x.py").write_text(content)
    limits = sandbox.Limits(wall_seconds=60) if disk is None else sandbox.Limits(wall_seconds=60, disk_bytes=disk)
    return TestRun(project, {"tests/test_x.py": tests}, 1, [], limits)


def test_an_undeclared_failing_test_fails_the_verdict(tmp_path: Path) -> None:
    content = "def test_a():\n    assert True\n\n\ndef test_x():\n    assert False\n"
    report = run_tests(qa_run(tmp_path / "p", content, ["test_a"]))
    assert report.exit_code == 1
    assert (report.passed, report.failed) == (1, 1)
    assert not report.ok
    assert [r.nodeid for r in report.results if r.outcome == "failed"] == ["tests/test_x.py::test_x"]


CASES = TESTS_ANSWER["cases"]


def test_a_test_named_only_in_a_comment_is_not_declared() -> None:
    with pytest.raises(ValueError, match="not defined"):
        Tests.model_validate(
            {**TESTS_ANSWER, "content": "# def test_add(\ndef test_divide():\n    pass\n", "cases": CASES[:2]}
        )


FORGERIES = {
    "forged pass": "open(path, 'w').write('<testsuites><testsuite><testcase classname=\"tests.test_x\" "
    "name=\"test_a\" time=\"0\"/></testsuite></testsuites>'); os._exit(0)",
    "garbage": "open(path, 'w').write('\\x00not xml'); os._exit(0)",
    "symlink to a secret": "os.symlink('/etc/hostname', path); os._exit(0)",
}


@pytest.mark.parametrize("how", sorted(FORGERIES))
def test_the_code_under_test_cannot_forge_the_report(tmp_path: Path, how: str) -> None:
    """An atexit handler that replaces pytest's report file (every file softco ever read results from)
    and exits 0: the failing test is still reported as failing."""
    forge = FORGERIES[how]
    content = f"""import atexit, glob, os

def _forge():
    os.makedirs('.softco/reports', exist_ok=True)
    for path in glob.glob('.softco/reports/*.xml') or ['.softco/reports/round-1.xml']:
        if os.path.lexists(path):
            os.unlink(path)
        {forge}

atexit.register(_forge)


def test_a():
    assert 1 == 2
"""
    report = run_tests(qa_run(tmp_path / "p", content, ["test_a"]))
    assert [(r.name, r.outcome) for r in report.results][:1] == [("test_a", "failed")]
    assert not report.ok


def test_the_disk_is_bounded_and_leftovers_vanish(tmp_path: Path) -> None:
    if not sandbox.PROVIDES[sandbox.best()].disk_quota:
        pytest.skip("no mechanism with a disk quota works here (install bubblewrap)")
    project = tmp_path / "p"
    content = """import os

def test_fill():
    with open('big.bin', 'wb') as f:
        for _ in range(200):
            f.write(b'x' * (1 << 20))
"""
    report = run_tests(qa_run(project, content, ["test_fill"], disk=64 * 1024**2))
    assert report.results[0].outcome == "failed", report.output
    assert "No space left on device" in report.results[0].message
    assert not (project / "big.bin").exists()
    assert sorted(p.name for p in project.iterdir()) == [".softco", "tests"]


@pytest.mark.skipif(os.geteuid() != 0, reason="only root can read /etc/shadow in the first place")
def test_generated_code_run_by_root_cannot_read_root_only_files(tmp_path: Path) -> None:
    if not Path("/etc/shadow").exists():
        pytest.skip("no /etc/shadow on this machine")
    project = tmp_path / "p"
    python = sandbox.ensure_venv(project, [])
    (project / "peek.py").write_text(
        "try:\n    print('READ', len(open('/etc/shadow').read()))\nexcept OSError as e:\n    print('DENIED', e)\n"
    )
    res = sandbox.run(project, [str(python), "peek.py"], sandbox.Limits(wall_seconds=30))
    if res.mechanism not in ("bwrap", "unshare"):
        pytest.skip(f"mechanism {res.mechanism} cannot change the user")
    assert "DENIED" in res.output and "READ" not in res.output, res.output
    assert res.user == "nobody"


def test_a_dependency_with_no_wheel_stops_the_run_cleanly(tmp_path: Path) -> None:
    """pip finds nothing to install (an empty local index stands in for PyPI): one line, exit 1, the
    run marked stopped, and resuming says the same again."""
    (tmp_path / "index").mkdir()
    script = answers()
    script["architect/write_design/project"] = {**DESIGN, "dependencies": ["no-such-package-softco==1.0"]}
    path = write_script(tmp_path / "a.json", script)
    env = {"SOFTCO_PIP_INDEX_URL": f"file://{tmp_path / 'index'}"}
    res = run_cli(["new", REQUIREMENT, "--name", "p", "--llm", f"script:{path}", "--output", "out"], tmp_path, env)
    assert res.exit_code == 1, res.stdout + res.stderr
    assert "Traceback" not in res.stdout + res.stderr
    assert "no-such-package-softco==1.0" in res.stderr and "softco resume" in res.stderr, res.stderr
    with sqlite3.connect(tmp_path / "out" / "p" / ".softco" / "board.sqlite") as db:
        assert [s for (s,) in db.execute("SELECT status FROM runs")] == ["stopped"]


def test_a_generated_module_cannot_stand_in_for_the_results_plugin(tmp_path: Path) -> None:
    project = tmp_path / "p"
    project.mkdir()
    (project / "softco_results.py").write_text(
        "import json, os\n"
        "fd = int(os.environ['SOFTCO_RESULTS_FD'])\n"
        "def pytest_sessionfinish(session, exitstatus):\n"
        "    os.write(fd, (json.dumps({'event': 'test', 'nodeid': 'tests/test_x.py::test_a', 'when': 'call',\n"
        "        'outcome': 'passed'}) + '\\n').encode())\n"
    )
    report = run_tests(qa_run(project, "def test_a():\n    assert 1 == 2\n", ["test_a"]))
    assert [(r.name, r.outcome) for r in report.results] == [("test_a", "failed")]


def test_odd_test_ids_from_the_pipe_are_kept_as_outcomes_under_plain_names(tmp_path: Path) -> None:
    content = (
        "import pytest\n\n\n@pytest.mark.parametrize('x', [1], ids=['[/]\\x1b[2J'])\n"
        "def test_a(x):\n    assert x == 2\n"
    )
    report = run_tests(qa_run(tmp_path / "p", content, ["test_a"]))
    assert [(r.nodeid, r.outcome) for r in report.results] == [("tests/test_x.py::test_a", "failed")]


# ---------------------------------------------------------------------------------------------
# Found by an adversarial review of the sandbox itself


def make_wheel(directory: Path, name: str, files: dict[str, str]) -> Path:
    """A minimal wheel ``name``-1.0 holding ``files`` (paths inside the wheel -> text)."""
    import base64
    import hashlib
    import zipfile

    dist = f"{name}-1.0.dist-info"
    files = {
        **files,
        f"{dist}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n",
        f"{dist}/WHEEL": "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    record = []
    for path, text in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=").decode()
        record.append(f"{path},sha256={digest},{len(text.encode())}")
    record.append(f"{dist}/RECORD,,")
    wheel = directory / f"{name}-1.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as z:
        for path, text in files.items():
            z.writestr(path, text)
        z.writestr(f"{dist}/RECORD", "\n".join(record) + "\n")
    return wheel


@pytest.fixture
def local_index(tmp_path: Path):  # type: ignore[no-untyped-def]
    """A package index on 127.0.0.1 serving the wheels put in the yielded directory."""
    import functools
    import http.server
    import threading

    root = tmp_path / "index"
    root.mkdir()

    class Index(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
            parts = self.path.strip("/").split("/")
            if len(parts) == 2 and parts[0] == "simple":
                links = "".join(f'<a href="/files/{w.name}">{w.name}</a>' for w in root.glob(f"{parts[1]}-*.whl"))
                body = f"<html><body>{links}</body></html>".encode()
                self.send_response(200 if links else 404)
                self.send_header("Content-Type", "text/html")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                return
            self.path = "/" + parts[-1]
            super().do_GET()

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Index, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    old = os.environ.get("SOFTCO_PIP_INDEX_URL")
    os.environ["SOFTCO_PIP_INDEX_URL"] = f"http://127.0.0.1:{server.server_address[1]}/simple/"
    try:
        yield root
    finally:
        server.shutdown()
        server.server_close()
        if old is None:
            os.environ.pop("SOFTCO_PIP_INDEX_URL", None)
        else:
            os.environ["SOFTCO_PIP_INDEX_URL"] = old


def test_a_wheel_that_replaces_the_venvs_config_is_refused(tmp_path: Path, local_index: Path) -> None:
    """A wheel's data file lands at the venv's top: a pyvenv.cfg naming /root as the interpreter's home
    would have had /root bound back into later sandboxes."""
    make_wheel(
        local_index,
        "evilcfg",
        {"evilcfg/__init__.py": "", "evilcfg-1.0.data/data/pyvenv.cfg": "home = /root\nhome = /etc/ssl/private\n"},
    )
    project = tmp_path / "p"
    with pytest.raises(sandbox.SandboxError, match="replaced the venv's own files"):
        sandbox.ensure_venv(project, ["evilcfg"], os.environ["SOFTCO_PIP_INDEX_URL"])
    assert not (project / ".softco" / "venv").exists()


def test_a_harmless_wheel_installs(tmp_path: Path, local_index: Path) -> None:
    make_wheel(local_index, "nicepkg", {"nicepkg/__init__.py": "VALUE = 42\n"})
    project = tmp_path / "p"
    python = sandbox.ensure_venv(project, ["nicepkg"], os.environ["SOFTCO_PIP_INDEX_URL"])
    (project / "use.py").write_text("import nicepkg; print('VALUE', nicepkg.VALUE)\n")
    res = sandbox.run(project, [str(python), "use.py"], sandbox.Limits(wall_seconds=30))
    assert "VALUE 42" in res.output, res.output


def test_the_venvs_config_is_never_read(tmp_path: Path) -> None:
    if not _root_fs_mechanisms():
        pytest.skip("needs root and a filesystem-isolating mechanism")
    project = tmp_path / "p"
    python = sandbox.ensure_venv(project, [])
    cfg = project / ".softco" / "venv" / "pyvenv.cfg"
    cfg.write_text(cfg.read_text() + "home = /root\n")
    (project / "look.py").write_text("import os\nprint('ROOT', sorted(os.listdir('/root')))\n")
    for mechanism in _root_fs_mechanisms():
        res = sandbox.run(project, [str(python), "look.py"], sandbox.Limits(wall_seconds=30), mechanism=mechanism)
        listing = [line for line in res.output.splitlines() if line.startswith("ROOT")]
        assert listing, res.output
        assert not _private_root_entries() & set(eval(listing[0].split(" ", 1)[1])), (mechanism, res.output)
        assert res.user == "nobody"


def _private_root_entries() -> set[str]:
    """What /root holds on this machine, but for the way to the Python runtime (put back, read-only)."""
    try:
        entries = set(os.listdir("/root"))
    except OSError:
        return set()
    runtime = {Path(os.path.realpath(sys.base_prefix)), Path(os.path.realpath(sys.executable))}
    return {e for e in entries if not any(Path("/root", e) in [r, *r.parents] for r in runtime)}


def _root_fs_mechanisms() -> list[str]:
    return [m for m in ("bwrap", "unshare") if os.geteuid() == 0 and sandbox.works(m)]


@pytest.mark.parametrize("mechanism", ["bwrap", "unshare"])
def test_homes_and_sibling_projects_are_hidden(tmp_path: Path, mechanism: str) -> None:
    if not sandbox.works(mechanism):
        pytest.skip(f"{mechanism} does not work here")
    output = tmp_path / "out"
    project, sibling = output / "p", output / "other"
    (sibling / ".softco").mkdir(parents=True)
    (sibling / ".softco" / "board.sqlite").write_text("other project's transcript")
    python = sandbox.ensure_venv(project, [])
    (project / "look.py").write_text(
        f"import os\nprint('SIBLING', os.path.exists({str(sibling)!r}))\nprint('ROOT', os.listdir('/root'))\n"
    )
    res = sandbox.run(project, [str(python), "look.py"], sandbox.Limits(wall_seconds=30), mechanism=mechanism)
    assert "SIBLING False" in res.output, res.output
    listing = [line for line in res.output.splitlines() if line.startswith("ROOT ")]
    assert listing and not _private_root_entries() & set(eval(listing[0].split(" ", 1)[1])), res.output


@pytest.mark.parametrize("mechanism", ["bwrap", "unshare"])
def test_shared_memory_does_not_outlive_the_run(tmp_path: Path, mechanism: str) -> None:
    if not sandbox.works(mechanism):
        pytest.skip(f"{mechanism} does not work here")
    key = 0x5EED0000 + os.getpid() % 0xFFFF
    project = tmp_path / "p"
    python = sandbox.ensure_venv(project, [])
    (project / "shm.py").write_text(
        "import ctypes\nlibc = ctypes.CDLL(None)\n"
        f"print('SHMID', libc.shmget({key}, 1 << 20, 0o1666))\n"
    )
    res = sandbox.run(project, [str(python), "shm.py"], sandbox.Limits(wall_seconds=30), mechanism=mechanism)
    assert "SHMID" in res.output and "SHMID -1" not in res.output, res.output
    host = Path("/proc/sysvipc/shm").read_text().split("\n")[1:]
    assert not [line for line in host if line.split() and int(line.split()[0]) == key]


def test_the_wall_time_limit_holds_when_the_code_closes_its_output(tmp_path: Path) -> None:
    project = tmp_path / "p"
    python = sandbox.ensure_venv(project, [])
    (project / "quiet.py").write_text(
        "import os, time\nos.close(int(os.environ['SOFTCO_RESULTS_FD']))\nos.close(1)\nos.close(2)\ntime.sleep(60)\n"
    )
    res = sandbox.run(
        project, [str(python), "quiet.py"], sandbox.Limits(wall_seconds=1), mechanism="none", results=True
    )
    assert res.timed_out


def test_a_conftest_is_not_the_engineers_to_write(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="configure how QA's tests run"):
        Design.model_validate({**DESIGN, "files": [*DESIGN["files"], {**DESIGN["files"][1], "path": "conftest.py"}]})
    project = tmp_path / "p"
    project.mkdir()
    (project / "conftest.py").write_text(
        "import pytest\n\n@pytest.hookimpl(hookwrapper=True)\ndef pytest_runtest_makereport(item, call):\n"
        "    outcome = yield\n    outcome.get_result().outcome = 'passed'\n"
    )
    report = run_tests(qa_run(project, "def test_a():\n    assert 1 == 2\n", ["test_a"]))
    assert [(r.name, r.outcome) for r in report.results] == [("test_a", "failed")]


def test_durations_from_the_pipe_stay_finite() -> None:
    line = b'{"event": "test", "nodeid": "tests/test_x.py::test_a", "outcome": "passed", "duration": 1.7e308}\n'
    got = parse_results(line * 2)
    assert got.bad == 0 and got.results[("tests/test_x.py", "test_a")][2] < 1e6


def test_a_deep_tree_in_the_project_is_copied_or_refused_in_one_line(tmp_path: Path) -> None:
    project = tmp_path / "p"
    python = sandbox.ensure_venv(project, [])
    for depth in range(1, 1101):  # deeper than Python's recursion limit (os.makedirs recurses)
        os.mkdir(str(project) + "/d" * depth)
    (project / "ok.py").write_text("print('RAN')\n")
    try:
        res = sandbox.run(project, [str(python), "ok.py"], sandbox.Limits(wall_seconds=60))
    finally:
        for depth in range(1100, 0, -1):
            os.rmdir(str(project) + "/d" * depth)
    assert "Traceback" not in res.output, res.output[-2000:]
    assert "RAN" in res.output or res.exit_code == sandbox.PREAMBLE_FAILED, res.output[-500:]


def test_as_root_a_run_nobody_cannot_reach_is_refused_not_run_as_root(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not _root_fs_mechanisms():
        pytest.skip("needs root and a filesystem-isolating mechanism")
    project = tmp_path / "locked" / "out" / "p"
    python = sandbox.ensure_venv(project, [])
    (tmp_path / "locked").chmod(0o700)
    monkeypatch.setattr(sandbox.layout, "HIDDEN", ("/home", "/root", "/run"))  # /tmp stays visible: the lock counts
    (project / "x.py").write_text("print('RAN')\n")
    for mechanism in _root_fs_mechanisms():
        with pytest.raises(sandbox.SandboxError, match="nobody cannot enter "):
            sandbox.run(project, [str(python), "x.py"], sandbox.Limits(wall_seconds=30), mechanism=mechanism)


def test_bug_reports_of_look_alike_files_keep_their_own_docs(tmp_path: Path) -> None:
    """`calc/ops.py` and `calc_ops.py` both fail in round 1: each bug report gets its own docs file (one
    used to overwrite the other, and `calc_OPS.py` stopped the run for good)."""
    script = answers()
    extra = {"path": "calc_ops.py", "purpose": "One.", "req_ids": ["REQ-1"], "interfaces": ["def f() -> int: One."]}
    script["architect/write_design/project"] = {**DESIGN, "files": [*DESIGN["files"], extra]}
    script["engineer/write_code/calc_ops.py"] = code("calc_ops.py", "def f():\n    return 2\n", ["REQ-1"])
    script["engineer/fix_code/round-1/calc_ops.py"] = code("calc_ops.py", "def f():\n    return 3\n", ["REQ-1"])
    script["qa_engineer/write_tests/calc_ops.py"] = {
        "path": "tests/test_calc_ops.py",
        "source": "calc_ops.py",
        "content": "from calc_ops import f\n\n\ndef test_f():\n    assert f() == 1\n",
        "cases": [{"name": "test_f", "req_ids": ["REQ-1"]}],
    }
    path = write_script(tmp_path / "a.json", script)
    res = run_cli(
        ["new", REQUIREMENT, "--name", "p", "--llm", f"script:{path}", "--max-fix-rounds", "1", "--output", "out"],
        tmp_path,
    )
    assert res.exit_code == 3, res.stdout + res.stderr
    docs = sorted((tmp_path / "out" / "p" / "docs" / "bugs").glob("round-1-*.md"))
    assert len(docs) == 2, docs
    owners = sorted(d.read_text().splitlines()[0] for d in docs)
    assert owners == ["# Bug report: `calc/ops.py` (round 1)", "# Bug report: `calc_ops.py` (round 1)"]


def test_pyproject_is_valid_toml_whatever_the_summary(tmp_path: Path) -> None:
    import tomllib

    from scripted_project import PRD

    script = answers()
    script["product_manager/write_prd/project"] = {**PRD, "summary": 'A tiny calculator 🧮 with "quotes" \\ and \x7f.'}
    path = write_script(tmp_path / "a.json", script)
    res = run_cli(["new", REQUIREMENT, "--name", "p", "--llm", f"script:{path}", "--output", "out"], tmp_path)
    assert res.exit_code == 0, res.stdout + res.stderr
    meta = tomllib.loads((tmp_path / "out" / "p" / "pyproject.toml").read_text())
    assert meta["project"]["description"] == 'A tiny calculator 🧮 with "quotes" \\ and \x7f.'


def test_a_session_cut_short_is_not_a_pass(tmp_path: Path) -> None:
    """The code under test reports a pass for the failing test through the pipe itself, then ends the
    process with exit 0 before pytest can finish: the missing end of session fails the verdict."""
    content = """import json, os, sys

def test_a():
    fd = sys.modules["softco_results"]._FD
    os.write(fd, (json.dumps({"event": "test", "nodeid": "tests/test_x.py::test_a", "when": "call",
                              "outcome": "passed"}) + "\\n").encode())
    os._exit(0)
"""
    report = run_tests(qa_run(tmp_path / "p", content, ["test_a"]))
    assert report.exit_code == 0
    assert not report.ok
    assert [r.nodeid for r in report.results if r.outcome == "error"] == ["(pytest)::session"]
