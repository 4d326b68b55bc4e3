"""Generated code runs without secrets, network, write access outside its project, or stragglers.

Isolation tests run for every mechanism that works on this machine and skip, saying why, for the
ones that do not. CI installs bubblewrap, so there both ``bwrap`` and ``unshare`` run.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from softco import sandbox

WHY_UNAVAILABLE = {
    "bwrap": "bubblewrap does not work here: install it (apt-get install bubblewrap) and allow user namespaces",
    "unshare": "unprivileged user+mount+pid namespaces (util-linux unshare) are not allowed on this machine",
    "netns": "unprivileged network namespaces (util-linux unshare) are not allowed on this machine",
}


def mechanism_params(*names: str) -> list[object]:
    return [
        pytest.param(m, marks=pytest.mark.skipif(not sandbox.works(m), reason=WHY_UNAVAILABLE[m]), id=m) for m in names
    ]


FS_ISOLATING = mechanism_params("bwrap", "unshare")
NET_ISOLATING = mechanism_params("bwrap", "unshare", "netns")


def project(tmp_path: Path) -> Path:
    p = tmp_path / "proj"
    (p / ".softco" / "reports").mkdir(parents=True)
    (p / ".git" / "hooks").mkdir(parents=True)
    return p


def run_py(
    p: Path,
    code: str,
    limits: sandbox.Limits | None = None,
    mechanism: str | None = None,
    args: tuple[str, ...] = (),
) -> sandbox.SandboxResult:
    python = sandbox.ensure_venv(p, [])
    (p / "probe.py").write_text(code)
    return sandbox.run(
        p, [str(python), "probe.py", *args], limits or sandbox.Limits(wall_seconds=30), mechanism=mechanism
    )


def test_secrets_are_not_in_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-secret-value-123")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "aws-secret-456")
    res = run_py(project(tmp_path), "import os; print(sorted(os.environ.items()))")
    assert res.exit_code == 0, res.output
    assert "sk-test-secret-value-123" not in res.output and "aws-secret-456" not in res.output
    assert "HOME" in res.output


def test_pytest_is_available_offline_in_the_venv(tmp_path: Path) -> None:
    res = run_py(project(tmp_path), "import pytest, sys; print(sys.prefix)")
    assert res.exit_code == 0, res.output
    assert ".softco/venv" in res.output


def test_a_site_dir_reached_through_a_symlink_in_a_hidden_dir_is_found(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """softco's venv reached through a symlink under /tmp (hidden in the sandbox): the project's venv must
    point at the real site-packages, which the sandbox shows, not at the link, which it hides."""
    import sysconfig

    from softco.sandbox import layout

    real = Path(os.path.realpath(sysconfig.get_paths()["purelib"]))
    link = tmp_path / "linked-site"
    link.symlink_to(real)
    get_paths = sysconfig.get_paths

    def linked(*args: object, **kwargs: object) -> dict[str, str]:
        return {"purelib": str(link), "platlib": str(link)} if not args and not kwargs else get_paths(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(layout.sysconfig, "get_paths", linked)
    monkeypatch.setattr(layout.site, "getsitepackages", lambda: [str(link)])
    assert sandbox.host_site_dirs() == [str(real)]
    res = run_py(project(tmp_path), "import pytest; print('PYTEST-OK')")
    assert res.exit_code == 0 and "PYTEST-OK" in res.output, res.output


def test_the_strongest_working_mechanism_is_the_default(tmp_path: Path) -> None:
    res = run_py(project(tmp_path), "print('hi')")
    assert res.exit_code == 0, res.output
    assert res.mechanism == sandbox.best() == sandbox.available()[0]
    iso = sandbox.PROVIDES[res.mechanism]
    assert (res.network_isolated, res.fs_isolated, res.pid_isolated) == (iso.network, iso.filesystem, iso.pids)


@pytest.mark.parametrize("mechanism", NET_ISOLATING)
def test_no_network_to_a_listening_local_socket(tmp_path: Path, mechanism: str) -> None:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    port = server.getsockname()[1]
    try:
        res = run_py(
            project(tmp_path),
            f"""
import socket
s = socket.socket(); s.settimeout(2)
try:
    s.connect(("127.0.0.1", {port})); print("CONNECTED")
except OSError as e:
    print("BLOCKED", e)
""",
            mechanism=mechanism,
        )
    finally:
        server.close()
    assert "BLOCKED" in res.output and "CONNECTED" not in res.output, res.output
    assert res.network_isolated and not any("network" in w for w in res.warnings)


@pytest.mark.parametrize("mechanism", FS_ISOLATING)
def test_cannot_write_outside_its_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mechanism: str) -> None:
    p = project(tmp_path)
    outside = tmp_path / "outside"
    outside.mkdir()
    real_home = tmp_path / "realhome"  # softco's own HOME while this test runs
    (real_home / ".ssh").mkdir(parents=True)
    monkeypatch.setenv("HOME", str(real_home))
    (p / "escape").symlink_to(outside)  # a symlink in the project is no way out either
    targets = {
        "outside": outside / "pwned.txt",
        "realhome": real_home / ".ssh" / "authorized_keys",
        "symlink": p / "escape" / "via-link.txt",
        "git-hook": p / ".git" / "hooks" / "pre-commit",
        "softco-state": p / ".softco" / "board.sqlite",
    }
    lines = [f"attempt({name!r}, {str(path)!r})" for name, path in targets.items()]
    res = run_py(
        p,
        """
import os, tempfile
def attempt(name, path):
    try:
        with open(path, "w") as f:
            f.write("x")
        print("WROTE", name)
    except OSError as e:
        print("BLOCKED", name, type(e).__name__, e.strerror)
open("inside.txt", "w").write("ok")
print("INSIDE", open("inside.txt").read())
open(os.path.join(os.environ["HOME"], "h.txt"), "w").write("ok")
with tempfile.NamedTemporaryFile() as t:
    print("TMPDIR", t.name)
"""
        + "\n".join(lines),
        mechanism=mechanism,
    )
    assert res.exit_code == 0, res.output
    for name, path in targets.items():
        assert not path.exists(), f"{name}: {path} was written from the sandbox"
    for name in ("outside", "realhome", "symlink"):  # outside the work copy: refused outright
        assert f"BLOCKED {name}" in res.output, res.output
    assert "INSIDE ok" in res.output  # the code writes its own work copy ...
    assert not (p / "inside.txt").exists()  # ... which never reaches the project
    assert "TMPDIR /" in res.output
    assert res.fs_isolated and res.mechanism == mechanism


def test_bwrap_hides_the_users_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    if not sandbox.works("bwrap"):
        pytest.skip(WHY_UNAVAILABLE["bwrap"])
    real_home = tmp_path / "realhome"
    (real_home / ".aws").mkdir(parents=True)
    (real_home / ".aws" / "credentials").write_text("aws_secret_access_key = hunter2")
    monkeypatch.setenv("HOME", str(real_home))
    path = real_home / ".aws" / "credentials"
    res = run_py(project(tmp_path), f"import os; print('VISIBLE' if os.path.exists({str(path)!r}) else 'HIDDEN')")
    assert res.exit_code == 0, res.output
    assert "HIDDEN" in res.output and "hunter2" not in res.output


@pytest.mark.parametrize("mechanism", FS_ISOLATING)
def test_generated_pytest_runs_with_tmp_path_and_reports_through_the_pipe(tmp_path: Path, mechanism: str) -> None:
    p = project(tmp_path)
    python = sandbox.ensure_venv(p, [])
    (p / "tests").mkdir()
    (p / "tests" / "test_gen.py").write_text(
        "def test_uses_tmp_path(tmp_path):\n"
        "    (tmp_path / 'f').write_text('x')\n"
        "    assert (tmp_path / 'f').exists()\n"
    )
    res = sandbox.run(
        p,
        [str(python), "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "softco_results", "tests/test_gen.py"],
        sandbox.Limits(wall_seconds=60),
        mechanism=mechanism,
        results=True,
    )
    assert res.exit_code == 0, res.output
    events = [json.loads(line) for line in res.results.splitlines()]
    assert {"event": "finish", "exitstatus": 0, "collected": 1} in events
    assert [e["outcome"] for e in events if e["event"] == "test"] == ["passed"]


@pytest.mark.parametrize("mechanism", FS_ISOLATING)
def test_capabilities_are_dropped(tmp_path: Path, mechanism: str) -> None:
    res = run_py(
        project(tmp_path),
        "print([l for l in open('/proc/self/status') if l.startswith(('CapEff', 'CapPrm', 'CapBnd'))])",
        mechanism=mechanism,
    )
    assert res.exit_code == 0, res.output
    assert res.output.count("0000000000000000") == 3, res.output


def test_wall_time_limit_stops_a_hang(tmp_path: Path) -> None:
    res = run_py(project(tmp_path), "import time; time.sleep(60)", sandbox.Limits(wall_seconds=1))
    assert res.timed_out and res.exit_code != 0


def test_memory_limit_stops_a_hog(tmp_path: Path) -> None:
    res = run_py(
        project(tmp_path),
        "x = bytearray(3 * 1024**3); print('DONE' + 'ALLOC')",
        sandbox.Limits(wall_seconds=30, memory_bytes=512 * 1024**2),
    )
    assert res.exit_code != 0 and "DONEALLOC" not in res.output
    assert "MemoryError" in res.output


def sandboxed_processes(token: str) -> list[int]:
    """Host pids of processes running ``probe.py <token>`` (seen from outside the sandbox)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if argv[1:3] == [b"probe.py", token.encode()]:
            found.append(int(entry.name))
    return found


DAEMONS = """
import os, sys, time
n = int(sys.argv[2])
for _ in range(n):
    if os.fork() == 0:  # a daemon: new session, double fork, parent gone
        os.setsid()
        if os.fork() == 0:
            with open("daemons.txt", "a") as f:
                f.write(f"{os.getpid()}\\n")
            print("DAEMON", os.getpid(), flush=True)
            time.sleep(600)
        os._exit(0)
time.sleep(600)
"""


@pytest.mark.parametrize("mechanism", FS_ISOLATING)
def test_stray_daemons_are_killed_at_the_wall_limit(tmp_path: Path, mechanism: str) -> None:
    p, token, n = project(tmp_path), uuid.uuid4().hex, 8
    box: list[sandbox.SandboxResult] = []
    worker = threading.Thread(
        target=lambda: box.append(run_py(p, DAEMONS, sandbox.Limits(wall_seconds=1.5), mechanism, (token, str(n))))
    )
    worker.start()
    seen: set[int] = set()
    deadline = time.monotonic() + 10
    while worker.is_alive() and time.monotonic() < deadline:
        seen.update(sandboxed_processes(token))
        time.sleep(0.05)
    worker.join()
    res = box[0]
    assert res.timed_out and res.pid_isolated
    assert res.output.count("DAEMON ") == n  # they all started ...
    assert len(seen) >= n + 1, f"saw only {len(seen)} sandboxed processes from the host"
    left = [pid for pid in seen if Path(f"/proc/{pid}/cmdline").exists() and Path(f"/proc/{pid}/cmdline").read_bytes()]
    assert left == [], f"stray processes survived the wall-time kill: {left}"  # ... and none is left
    assert sandboxed_processes(token) == []


@pytest.mark.parametrize("mechanism", FS_ISOLATING)
def test_daemons_end_with_the_run(tmp_path: Path, mechanism: str) -> None:
    p, token, n = project(tmp_path), uuid.uuid4().hex, 4
    code = DAEMONS.rsplit("time.sleep(600)", 1)[0] + (  # the main program waits for its daemons, then ends
        "while not os.path.exists('daemons.txt') or len(open('daemons.txt').read().split()) < n:\n"
        "    time.sleep(0.01)\n"
    )
    res = run_py(p, code, sandbox.Limits(wall_seconds=20), mechanism, (token, str(n)))
    assert res.exit_code == 0 and not res.timed_out, res.output
    assert res.output.count("DAEMON ") == n
    assert sandboxed_processes(token) == [], "daemons outlived the run"


@pytest.mark.parametrize("mechanism", FS_ISOLATING)
def test_cannot_see_or_kill_host_processes(tmp_path: Path, mechanism: str) -> None:
    victim = subprocess.Popen(["sleep", "30"])
    try:
        res = run_py(
            project(tmp_path),
            f"""
import os
print("VISIBLE" if os.path.exists("/proc/{victim.pid}") else "INVISIBLE")
try:
    os.kill({victim.pid}, 9); print("KILLED")
except ProcessLookupError:
    print("NO SUCH PROCESS")
""",
            mechanism=mechanism,
        )
        assert res.exit_code == 0, res.output
        assert "INVISIBLE" in res.output and "NO SUCH PROCESS" in res.output, res.output
        assert victim.poll() is None, "the sandbox killed a host process"
    finally:
        victim.kill()
        victim.wait()


def test_process_count_is_capped(tmp_path: Path) -> None:
    how = sandbox.process_limit()
    if how == "none":
        pytest.skip("softco runs as root and no pids cgroup is writable here: root ignores RLIMIT_NPROC")
    if how == "rlimit":  # RLIMIT_NPROC counts every process of this user on the machine
        mine = sum(1 for e in Path("/proc").iterdir() if e.name.isdigit() and e.stat().st_uid == os.getuid())
        cap = mine + 20
    else:
        cap = 20
    res = run_py(
        project(tmp_path),
        f"""
import os, time
made = 0
for _ in range({cap + 40}):
    try:
        pid = os.fork()
    except BlockingIOError:
        print("REFUSED after", made); break
    if pid == 0:
        time.sleep(30); os._exit(0)
    made += 1
print("MADE", made)
""",
        sandbox.Limits(wall_seconds=20, processes=cap),
    )
    assert "REFUSED after" in res.output, res.output
    assert res.process_limit == how


MEMORY_HOGS = """
import os, sys, time
children = []
for _ in range(3):
    pid = os.fork()
    if pid == 0:  # 250 MB each, every page touched, held until all three have it
        block = bytearray(250 * 1024 * 1024)
        for i in range(0, len(block), 4096):
            block[i] = 1
        time.sleep(2)
        os._exit(0)
    children.append(pid)
done = sum(os.waitpid(pid, 0)[1] == 0 for pid in children)
print("HELD", done)
"""


def test_memory_is_capped_for_all_processes_together(tmp_path: Path) -> None:
    """Three processes of 250 MB each: each is under a 400 MB limit, together they are not."""
    if sandbox.memory_limit() != "total":
        pytest.skip("memory is capped per process only here: softco is not root or no memory cgroup is writable")
    p = project(tmp_path)
    roomy = run_py(p, MEMORY_HOGS, sandbox.Limits(wall_seconds=60, memory_bytes=1500 * 1024**2))
    assert "HELD 3" in roomy.output, roomy.output  # the probe itself works when the limit allows it
    tight = run_py(p, MEMORY_HOGS, sandbox.Limits(wall_seconds=60, memory_bytes=400 * 1024**2))
    assert tight.memory_limit == "total"
    held = [line for line in tight.output.splitlines() if line.startswith("HELD ")]
    assert held and int(held[0].split()[1]) < 3, tight.output


def test_a_missing_mechanism_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown sandbox mechanism 'chroot'"):
        run_py(project(tmp_path), "print(1)", mechanism="chroot")


def test_no_isolation_says_so(tmp_path: Path) -> None:
    res = run_py(project(tmp_path), "print(1)", mechanism="none")
    assert res.exit_code == 0
    assert not (res.network_isolated or res.fs_isolated or res.pid_isolated)
    text = "\n".join(res.warnings)
    assert "no network isolation" in text and "no filesystem isolation" in text and "bubblewrap" in text


def test_sandbox_python_is_not_softcos_interpreter(tmp_path: Path) -> None:
    res = run_py(project(tmp_path), "import sys; print(sys.executable)")
    assert res.output.strip() != sys.executable


def test_softco_run_from_a_venv_reached_through_a_linked_directory_starts_its_sandbox(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``/tmp/venv -> /data/venv``: the sandbox shows real directories only, so softco's python is started by its
    directory's real path (its own name kept, so a venv's python still finds the venv)."""
    venv_dir = Path(sys.executable).parent.parent
    linked = tmp_path / "linked-venv"
    linked.symlink_to(venv_dir, target_is_directory=True)
    monkeypatch.setattr(sys, "executable", str(linked / "bin" / Path(sys.executable).name))
    res = run_py(project(tmp_path), "import pytest; print('pytest', pytest.__version__)")
    assert res.exit_code == 0 and "pytest " in res.output, res.output


def test_mountinfo_escapes_are_read_back() -> None:
    """The set-up code makes every mount point read-only by the path /proc/self/mountinfo gives, where the
    kernel writes a space, tab, newline or backslash as an octal escape: it must read them back exactly."""
    from softco.sandbox.scripts import _MOUNTS

    start = _MOUNTS.index("def unescape(")
    end = _MOUNTS.index("    return out\n", start) + len("    return out\n")
    ns: dict[str, Any] = {}
    exec(_MOUNTS[start:end], ns)  # the function as the sandbox runs it (trusted text of softco's own)
    assert ns["unescape"]("/mnt/a\\040b\\011c\\012d\\134e") == "/mnt/a b\tc\nd\\e"
    assert ns["unescape"]("/plain/path") == "/plain/path"
    assert ns["unescape"]("/odd\\9x\\04") == "/odd\\9x\\04"  # not an escape: kept as it is


@pytest.mark.parametrize("mechanism", FS_ISOLATING)
def test_system_files_that_may_hold_an_index_token_read_empty(tmp_path: Path, mechanism: str) -> None:
    """/etc/pip.conf (a private index's token), a system netrc: any user may read them on the host; generated
    code reads them empty. (Checked with the files this machine has: CI's has /etc/pip.conf.)"""
    from softco.sandbox.layout import SECRET_FILES

    present = [f for f in SECRET_FILES if Path(f).is_file() and Path(f).stat().st_size > 0]
    if not present:
        pytest.skip("no /etc/pip.conf or system netrc on this machine")
    code = "import sys; print([len(open(p).read()) for p in sys.argv[1:]])"
    res = run_py(project(tmp_path), code, mechanism=mechanism, args=tuple(present))
    assert res.exit_code == 0, res.output
    assert res.output.strip().splitlines()[-1] == str([0] * len(present)), res.output
