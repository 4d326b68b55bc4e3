"""`softco serve`: the pages, their guard, and steering a run (gates, cancel, resume), for real.

Runs are real `softco` processes answered by the fake OpenAI-compatible server on 127.0.0.1 (slowed down so a
page can watch them); the pages are opened in headless Chromium (tests/browser.py) and talk to a real uvicorn
server on a free port of 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import copy
import http.client
import io
import json
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import git
import pytest
from browser import chromium, console_errors, needs_chromium, requests_made, serving
from fake_server import FakeOpenAIServer, FakeRequest
from helpers import run_cli
from review_helpers import generate
from scripted_project import REQUIREMENT, answers
from selenium.common.exceptions import WebDriverException
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from softco.artifacts import Prd
from softco.steps.steering import Live, SteeredGate, open_gate, request_decision

HOSTILE = "<script>alert('pwned')</script> <img src=http://203.0.113.9/x.png onerror=alert(2)>"


@pytest.fixture(scope="module")
def calc(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A finished project (the scripted calculator), in an output dir of its own."""
    return generate(tmp_path_factory.mktemp("calc"), answers())


def request(
    url: str, path: str, method: str = "GET", body: dict[str, str] | None = None, headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], str]:
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=30)
    data = "&".join(f"{k}={v}" for k, v in (body or {}).items())
    all_headers = {"Content-Type": "application/x-www-form-urlencoded", **(headers or {})}
    try:
        conn.request(method, path, body=data if method == "POST" else None, headers=all_headers)
        res = conn.getresponse()
        return res.status, {k.lower(): v for k, v in res.getheaders()}, res.read().decode("utf-8", "replace")
    finally:
        conn.close()


# -- the guard -------------------------------------------------------------------------------------------------


def test_state_changes_need_the_token_and_the_pages_own_origin(calc: Path) -> None:
    name = calc.name
    with serving(calc.parent) as srv:
        origin = srv.url.rstrip("/")
        good = {"Origin": origin, "Sec-Fetch-Site": "same-origin"}
        tok = {"token": srv.token}
        # the checks pass: the project has no live run, so there is nothing to cancel (409, not 403)
        assert request(srv.url, f"/p/{name}/cancel", "POST", tok, good)[0] == 409
        assert request(srv.url, f"/p/{name}/cancel", "POST", {}, good)[0] == 403
        assert request(srv.url, f"/p/{name}/cancel", "POST", {"token": "x" + srv.token}, good)[0] == 403
        evil = {"Origin": "http://evil.example", "Sec-Fetch-Site": "cross-site"}
        assert request(srv.url, f"/p/{name}/cancel", "POST", tok, evil)[0] == 403
        assert request(srv.url, f"/p/{name}/cancel", "POST", tok, {"Origin": "http://evil.example"})[0] == 403
        assert request(srv.url, f"/p/{name}/cancel", "POST", tok, {"Sec-Fetch-Site": "same-site"})[0] == 403
        assert request(srv.url, f"/p/{name}/resume", "POST", tok, {"Origin": "null"})[0] == 403
        assert request(srv.url, f"/p/{name}/gate/1", "POST", {**tok, "action": "approve"}, evil)[0] == 403
        # a page that rebinds its own host name to 127.0.0.1 is not served at all
        status, _, text = request(srv.url, "/", headers={"Host": "evil.example"})
        assert status == 403 and "127.0.0.1 only" in text
        # any loopback address is this machine (`--host 127.0.0.2`, `::1`); a name that only resolves to one is not
        for host in ["127.0.0.2:8750", "[::1]:8750", "localhost"]:
            assert request(srv.url, "/", headers={"Host": host})[0] == 200, host
        assert request(srv.url, "/", headers={"Host": "127.0.0.1.nip.io"})[0] == 403
        # the pages carry the token in their forms only, and a CSP with no other origin
        status, headers, html = request(srv.url, f"/p/{name}")
        assert status == 200
        csp = headers["content-security-policy"]
        assert "default-src 'none'" in csp and "script-src 'self';" in csp and "http" not in csp
        assert "unsafe-eval" not in csp and "script-src 'self' 'unsafe-inline'" not in csp
        assert f'name="token" value="{srv.token}"' not in html  # a finished run: no form to steer it
    assert not (calc / ".softco" / "live.sqlite").exists() or _commands(calc) == []


def test_another_sites_page_can_only_link_to_a_page_here(calc: Path) -> None:
    """A page on another site (or another port of this machine) the user visits cannot fetch, embed, or hold
    event streams open on the server, nor probe which projects exist; following a link to a page still works
    (found by the serve review: such requests were served)."""
    name = calc.name
    with serving(calc.parent) as srv:
        for mode, dest, path in [
            ("no-cors", "image", f"/p/{name}"),
            ("no-cors", "object", f"/p/{name}"),
            ("cors", "empty", f"/p/{name}/events"),
            ("no-cors", "script", "/static/serve.js"),
            ("navigate", "iframe", f"/p/{name}"),
        ]:
            for site in ("cross-site", "same-site"):
                headers = {"Sec-Fetch-Site": site, "Sec-Fetch-Mode": mode, "Sec-Fetch-Dest": dest}
                status, _, text = request(srv.url, path, headers=headers)
                assert status == 403 and "another site" in text, (site, mode, dest, path)
        link = {"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "navigate", "Sec-Fetch-Dest": "document"}
        assert request(srv.url, f"/p/{name}", headers=link)[0] == 200
        own = {"Sec-Fetch-Site": "same-origin", "Sec-Fetch-Mode": "no-cors", "Sec-Fetch-Dest": "script"}
        assert request(srv.url, "/static/serve.js", headers=own)[0] == 200


def _commands(project: Path) -> list[tuple[Any, ...]]:
    db = sqlite3.connect(project / ".softco" / "live.sqlite")
    try:
        return db.execute("SELECT * FROM commands").fetchall()
    finally:
        db.close()


def test_on_another_host_every_request_needs_the_token(calc: Path) -> None:
    with serving(calc.parent, local=False) as srv:
        assert srv.page_url == f"{srv.url}?token={srv.token}"
        assert request(srv.url, "/")[0] == 403
        assert request(srv.url, f"/p/{calc.name}")[0] == 403
        assert request(srv.url, f"/p/{calc.name}/events")[0] == 403
        assert request(srv.url, "/?token=nope")[0] == 403
        status, headers, _ = request(srv.url, f"/?token={srv.token}")
        assert status == 303 and headers["location"].endswith("/") and "token=" not in headers["location"]
        cookie = headers["set-cookie"]
        assert "httponly" in cookie.lower() and "samesite=strict" in cookie.lower()
        jar = {"Cookie": cookie.split(";", 1)[0]}
        status, _, html = request(srv.url, "/", headers=jar)
        assert status == 200 and calc.name in html
        assert request(srv.url, "/", headers={"Cookie": "softco_token=wrong"})[0] == 403


def test_project_names_cannot_leave_the_output_dir(calc: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "elsewhere").symlink_to(calc)  # a real project, but outside the output dir
    (out / "plain").mkdir()  # not a project
    with serving(out) as srv:
        for path in ["/p/..", "/p/.softco", "/p/%2E%2E", "/p/..%2F..%2Fetc", "/p/%2Fetc", "/p/elsewhere", "/p/plain"]:
            assert request(srv.url, path)[0] == 404, path
        assert request(srv.url, "/p/elsewhere/events")[0] == 404
        assert request(srv.url, "/p/elsewhere/commit/" + "0" * 40)[0] == 404
        assert request(srv.url, "/static/..%2F..%2Fboard.py")[0] == 404
        status, _, html = request(srv.url, "/")
        assert status == 200 and "elsewhere" not in html and "plain" not in html
    with serving(calc.parent) as srv:
        head = git.Repo(calc).head.commit.hexsha
        assert request(srv.url, f"/p/{calc.name}/commit/{head}")[0] == 200
        assert request(srv.url, f"/p/{calc.name}/commit/{'f' * 40}")[0] == 404  # not one of its commits
        assert request(srv.url, f"/p/{calc.name}/commit/HEAD")[0] == 404  # only full SHAs, never a rev


def test_serve_command_serves_the_list_and_stops_on_ctrl_c(calc: Path) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "softco.cli", "serve", str(calc.parent), "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        found = re.fullmatch(r"softco serve: (http://127\.0\.0\.1:\d+/)\n", line)
        assert found, line
        status, _, html = request(found.group(1), "/")
        assert status == 200 and f'href="/p/{calc.name}"' in html and "done" in html
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=30)
        assert proc.returncode == 0, out
        assert out.strip().endswith("softco serve: stopped")
    finally:
        finish(proc)


def test_serve_on_a_busy_port_is_one_line(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        res = run_cli(["serve", str(tmp_path), "--port", str(port)], tmp_path)
    assert res.exit_code == 2
    assert res.stderr.count("\n") == 1 and f"cannot listen on 127.0.0.1 port {port}" in res.stderr


def test_a_project_whose_run_is_starting_gets_a_page_that_waits(tmp_path: Path) -> None:
    """Between `softco new` making the board file and writing its tables and run, the page says it is
    starting and looks again, instead of failing."""
    board = tmp_path / "out" / "proj" / ".softco" / "board.sqlite"
    board.parent.mkdir(parents=True)
    db = sqlite3.connect(board)
    db.execute("PRAGMA journal_mode=WAL")  # what the board's first statement leaves: a database with no table
    db.close()
    with serving(tmp_path / "out") as srv:
        status, _, html = request(srv.url, "/p/proj")
        assert status == 200 and "starting" in html and 'http-equiv="refresh"' in html
        assert request(srv.url, "/p/proj/events")[0] == 503
        assert request(srv.url, "/")[0] == 200


def test_a_damaged_board_is_a_one_line_page_not_a_500_nor_a_page_that_waits_forever(tmp_path: Path) -> None:
    """A board that is not an SQLite file, or an SQLite file that is not a softco board, says so in one line
    (found by the serve review: the first got a "starting…" page forever, the second a 500 and a traceback)."""
    out = tmp_path / "out"
    garbage = out / "garbage" / ".softco" / "board.sqlite"
    garbage.parent.mkdir(parents=True)
    garbage.write_bytes(b"not a database " * 100)
    other = out / "other" / ".softco" / "board.sqlite"
    other.parent.mkdir(parents=True)
    db = sqlite3.connect(other)
    db.execute("CREATE TABLE runs (x)")
    db.execute("INSERT INTO runs VALUES (1)")
    db.commit()
    db.close()
    with serving(out) as srv:
        for name, why in [("garbage", "is damaged"), ("other", "is not a softco board")]:
            status, _, html = request(srv.url, f"/p/{name}")
            assert status == 500 and why in html and "refresh" not in html and "Traceback" not in html, html
            assert request(srv.url, f"/p/{name}/events")[0] == 404
        assert request(srv.url, "/")[0] == 200


def test_a_board_damaged_while_served_is_one_line_not_a_500(calc: Path, tmp_path: Path) -> None:
    """A board replaced by garbage after its page was shown: the page says so in one line, a live stream
    ends with a ``problem`` event (found by the serve review: a 500 with a traceback, a stream cut mid-chunk)."""
    project = tmp_path / "out" / calc.name
    shutil.copytree(calc, project, symlinks=True)
    with serving(project.parent) as srv:
        assert request(srv.url, f"/p/{project.name}")[0] == 200
        for f in (project / ".softco").glob("board.sqlite*"):
            f.unlink()
        (project / ".softco" / "board.sqlite").write_bytes(b"not a database " * 100)
        status, _, rest = request(srv.url, f"/p/{project.name}/events")  # the stream ends cleanly
        assert status == 200
        assert "event: problem" in rest and "cannot read the board" in rest
        status, _, html = request(srv.url, f"/p/{project.name}")
        assert status == 500 and "damaged" in html and "Traceback" not in html


# -- the gate's decisions, as the run takes them -------------------------------------------------------------


def test_a_decision_from_the_page_is_validated_like_the_terminals(tmp_path: Path) -> None:
    """An edit that does not fit the schema is refused and shown to the page; the gate keeps waiting; an
    approval then ends it. Empty feedback is refused before it reaches the run."""
    from rich.console import Console

    prd = Prd.model_validate(answers()["product_manager/write_prd/project"])
    live = Live(tmp_path, "run1")
    shown = io.StringIO()
    gate = SteeredGate({"prd"}, Console(file=shown), tmp_path / "edit", live, terminal=False)

    def validate(text: str) -> Prd:
        return Prd.model_validate_json(text)

    async def review() -> Any:
        task = asyncio.create_task(gate.areview("product_manager/write_prd/project", prd, validate))
        db = sqlite3.connect(tmp_path / ".softco" / "live.sqlite")
        while (state := open_gate(db)) is None:
            await asyncio.sleep(0.05)
        with pytest.raises(ValueError, match="feedback is empty"):
            request_decision(tmp_path, state.id, "feedback", "   ")
        broken = json.dumps({**prd.model_dump(mode="json"), "requirements": []})
        assert request_decision(tmp_path, state.id, "edit", broken)
        while (state := open_gate(db)) is not None and not state.error:
            await asyncio.sleep(0.05)
        assert state is not None and "does not fit the prd schema" in (state.error or "")
        assert not task.done()
        assert request_decision(tmp_path, state.id, "approve")
        decision = await asyncio.wait_for(task, 10)
        assert open_gate(db) is None
        assert not request_decision(tmp_path, state.id, "approve")  # closed: nothing more to decide
        db.close()
        return decision

    decision = asyncio.run(review())
    live.close()
    assert decision.action == "approve" and decision.artifact == prd
    assert "the page's edit was refused" in shown.getvalue()


# -- in the browser -----------------------------------------------------------------------------------------


def slow_endpoint(script: dict[str, Any], latency: float) -> FakeOpenAIServer:
    """The fake endpoint answering each step from ``script`` (again if a step is asked again), slowly."""

    def answer(req: FakeRequest) -> Any:
        value = script[req.step or ""]
        if isinstance(value, list):
            return value.pop(0) if len(value) > 1 else value[0]
        return value

    return FakeOpenAIServer(answer, latency=latency)


def start_run(base: Path, endpoint: str, *extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "softco.cli",
            "new",
            REQUIREMENT,
            "--output",
            "out",
            "--base-url",
            endpoint,
            "--model",
            "fake-model",
            *extra,
        ],
        cwd=base,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def text_of(driver: Any, element_id: str) -> str:
    """An element's text, read in one step (live updates replace elements under a test's feet)."""
    return str(
        driver.execute_script("var e = document.getElementById(arguments[0]); return e ? e.innerText : ''", element_id)
    )


def finish(proc: subprocess.Popen[str]) -> None:
    if proc.poll() is None:
        proc.kill()
    proc.communicate()  # reaps it and closes its pipe


def wait_for_project(out: Path, proc: subprocess.Popen[str], timeout: float = 60) -> Path:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if out.is_dir():
            for p in out.iterdir():
                if (p / ".softco" / "board.sqlite").is_file():
                    try:
                        if board_rows(p, "SELECT id FROM runs"):
                            return p
                    except sqlite3.Error:
                        pass  # its tables are being made
        assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
        time.sleep(0.1)
    raise AssertionError("the run made no project")


def board_rows(project: Path, sql: str) -> list[tuple[Any, ...]]:
    db = sqlite3.connect(f"file:{project / '.softco' / 'board.sqlite'}?mode=ro", uri=True)
    try:
        return db.execute(sql).fetchall()
    finally:
        db.close()


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Any]:
    with chromium(tmp_path) as driver:
        yield driver


def own_requests_only(driver: Any, origin: str) -> None:
    urls = [u for u in requests_made(driver) if not u.startswith(("data:", "blob:", "about:", "chrome:"))]
    assert urls, "the performance log saw no request"
    assert [u for u in urls if not u.startswith(origin)] == []


@needs_chromium
def test_a_run_is_watched_live_without_reload(tmp_path: Path, browser: Any) -> None:
    with slow_endpoint(answers(), latency=0.6) as endpoint, serving(tmp_path / "out") as srv:
        proc = start_run(tmp_path, endpoint.base_url)
        try:
            project = wait_for_project(tmp_path / "out", proc)
            browser.get(srv.url)
            WebDriverWait(browser, 30).until(lambda d: d.find_elements(By.LINK_TEXT, project.name))
            browser.find_element(By.LINK_TEXT, project.name).click()
            WebDriverWait(browser, 60).until(lambda d: d.execute_script("return document.body.dataset.diagrams"))
            browser.execute_script("window.__sameDocument = true")
            first = int(browser.execute_script("return document.body.dataset.lastStep"))
            # a step the company was running is highlighted on the SOP graph and in its role's row
            WebDriverWait(browser, 60).until(
                lambda d: (
                    d.find_elements(By.CSS_SELECTOR, "#sop-graph g.node.running")
                    and d.find_elements(By.CSS_SELECTOR, "code.running-step")
                )
            )
            # a step row arrives while the run is still going, with no reload of the page
            WebDriverWait(browser, 60).until(
                lambda d: int(d.execute_script("return document.body.dataset.lastStep")) > first
            )
            assert proc.poll() is None, "the run ended before the page saw a step arrive"
            assert browser.execute_script("return window.__sameDocument") is True
            rows = browser.find_elements(By.CSS_SELECTOR, "#steps tr.step")
            assert rows and rows[-1].get_attribute("data-id") == browser.execute_script(
                "return document.body.dataset.lastStep"
            )
            assert proc.wait(180) == 0, proc.stdout.read() if proc.stdout else ""
            # the end of the run reaches the page too: the status, the artifacts, the commits
            WebDriverWait(browser, 30).until(
                lambda d: (
                    text_of(d, "status").startswith("done")
                    and "Safe division" in text_of(d, "prd")
                    and "raise ValueError" in text_of(d, "code")
                )
            )
            assert browser.execute_script("return window.__sameDocument") is True
            shown = {int(r.get_attribute("data-id")) for r in browser.find_elements(By.CSS_SELECTOR, "#steps tr.step")}
            assert shown == {r[0] for r in board_rows(project, "SELECT id FROM steps")}  # each row once, none lost
            commit = browser.find_element(By.CSS_SELECTOR, "details.commit")
            commit.find_element(By.TAG_NAME, "summary").click()
            WebDriverWait(browser, 30).until(lambda d: commit.find_elements(By.CSS_SELECTOR, ".diff .hl"))
            own_requests_only(browser, srv.url.rstrip("/"))
            assert console_errors(browser) == []
        finally:
            finish(proc)


def _approve_script() -> dict[str, Any]:
    script = answers()
    prd = script["product_manager/write_prd/project"]
    script["product_manager/write_prd/project"] = [prd, copy.deepcopy(prd)]
    return script


@needs_chromium
def test_a_gate_is_decided_on_the_page_and_the_run_goes_on(tmp_path: Path, browser: Any) -> None:
    """`softco new --approve prd --serve` with no terminal: feedback from the page makes the PM redo the PRD
    with it, then an approval from the page lets the run finish."""
    with slow_endpoint(_approve_script(), latency=0.1) as endpoint:
        proc = start_run(tmp_path, endpoint.base_url, "--approve", "prd", "--serve", "--serve-port", "0")
        try:
            assert proc.stdout is not None
            lines = []
            while not (url := re.search(r"softco serve: (http://127\.0\.0\.1:\d+/p/[^\s?]+)$", "".join(lines[-1:]))):
                lines.append(proc.stdout.readline())
                assert lines[-1], lines  # the run's own page is announced while it runs
            project = wait_for_project(tmp_path / "out", proc)
            assert url.group(1).endswith(f"/p/{project.name}")
            browser.get(url.group(1))
            WebDriverWait(browser, 60).until(lambda d: d.find_elements(By.ID, "feedback"))
            gate = browser.find_element(By.CSS_SELECTOR, "section.gate")
            first = gate.get_attribute("data-gate")
            assert "Safe division" in gate.text
            browser.find_element(By.ID, "feedback").send_keys("Also say what add() returns for floats.")
            browser.find_element(By.ID, "send-feedback").click()
            # the PM is asked again with the words from the page, and the gate opens again
            pm = "product_manager/write_prd/project"
            WebDriverWait(browser, 60).until(lambda d: len(endpoint.chat_requests(pm)) == 2)
            redo = endpoint.chat_requests(pm)[1]
            assert "Also say what add() returns for floats." in json.dumps(redo.body)
            # the redone PRD's gate (not the one the feedback closed) comes to the page by itself
            shown = "var g = document.querySelector('section.gate'); return g ? g.dataset.gate : null"
            WebDriverWait(browser, 60).until(lambda d: d.execute_script(shown) not in (None, first))
            browser.find_element(By.ID, "approve").click()
            out, _ = proc.communicate(timeout=180)
            assert proc.returncode == 0, out
            assert "prd: approve (decided on the page)" in out
            reviews = board_rows(project, "SELECT status, error FROM steps WHERE status LIKE 'review:%' ORDER BY id")
            assert reviews == [("review:feedback", "Also say what add() returns for floats."), ("review:approve", None)]
        finally:
            finish(proc)


@needs_chromium
def test_cancel_stops_the_run_and_resume_from_the_page_finishes_it(tmp_path: Path, browser: Any) -> None:
    with slow_endpoint(answers(), latency=1.0) as endpoint, serving(tmp_path / "out") as srv:
        proc = start_run(tmp_path, endpoint.base_url)
        try:
            project = wait_for_project(tmp_path / "out", proc)
            browser.get(f"{srv.url}p/{project.name}")
            # cancel once the PRD is published and committed, while the architect's call is in flight
            WebDriverWait(browser, 60).until(lambda d: "Safe division" in text_of(d, "prd"))
            WebDriverWait(browser, 30).until(lambda d: d.find_elements(By.ID, "cancel"))
            browser.find_element(By.ID, "cancel").click()
            out, _ = proc.communicate(timeout=60)
            assert proc.returncode == 130, out
            assert "cancelled from the page; continue with: softco resume" in out
            assert board_rows(project, "SELECT status, exit_code FROM runs") == [("cancelled", 130)]
            done_before = board_rows(project, "SELECT count(*) FROM messages")[0][0]
            assert 2 <= done_before < 8  # stopped mid-way: requirement and PRD out, not the rest
            # the page offers to resume: a `softco resume` process, started by the server, finishes the run
            WebDriverWait(browser, 30).until(lambda d: d.find_elements(By.ID, "resume"))
            browser.find_element(By.ID, "resume").click()
            WebDriverWait(browser, 30).until(lambda d: srv.config.children)
            assert srv.config.children[0].wait(180) == 0, (project / ".softco" / "serve-resume.log").read_text()
            WebDriverWait(browser, 30).until(lambda d: text_of(d, "status").startswith("done"))
        finally:
            finish(proc)
    runs = board_rows(project, "SELECT status, exit_code FROM runs ORDER BY started_at")
    assert runs == [("cancelled", 130), ("done", 0)]
    # every message is in exactly one commit: nothing was committed twice across the cancel
    repo = git.Repo(project)
    trailers = [re.search(r"Softco-Message: (\d+)", str(c.message)) for c in repo.iter_commits()]
    ids = sorted(int(m.group(1)) for m in trailers if m)
    assert ids == sorted(r[0] for r in board_rows(project, "SELECT id FROM messages"))
    assert not repo.is_dirty(untracked_files=True)


@needs_chromium
def test_hostile_artifact_text_renders_inert(tmp_path: Path, browser: Any) -> None:
    script = copy.deepcopy(answers())
    prd = script["product_manager/write_prd/project"]
    prd["summary"] = HOSTILE + " [click me](javascript:alert(3))"
    prd["requirements"][0]["title"] = "Add <b onmouseover=alert(4)>now</b>"
    design = script["architect/write_design/project"]
    design["approach"] = f"<a href=javascript:alert(5)>x</a> {HOSTILE}"
    design["class_diagram"] = (
        '%%{init: {"securityLevel": "loose", "startOnLoad": true}}%%\n'
        "classDiagram\n  class Ops {\n    +add(a, b) float\n  }\n"
        '  click Ops href "javascript:alert(6)"\n'
        '  note for Ops "<img src=x onerror=alert(7)> hi"'
    )
    design["sequence_diagram"] = (
        "sequenceDiagram\n  participant U as <script>alert(8)</script>\n  U->>U: <a href=javascript:alert(9)>go</a>"
    )
    project = generate(tmp_path / "gen", script)
    browser.execute_cdp_cmd(
        "Page.addScriptToEvaluateOnNewDocument",
        {"source": "window.__alerts = []; window.alert = function (m) { window.__alerts.push(String(m)); };"},
    )
    with serving(project.parent) as srv:
        browser.get(f"{srv.url}p/{project.name}")
        WebDriverWait(browser, 60).until(lambda d: d.execute_script("return document.body.dataset.diagrams"))
        WebDriverWait(browser, 30).until(lambda d: int(d.execute_script("return document.body.dataset.updates")) > 0)
        js = browser.execute_script
        assert js("return document.images.length") == 0
        assert js("return Array.from(document.scripts).map(s => new URL(s.src).pathname)") == [
            "/static/mermaid.min.js",
            "/static/report.js",
            "/static/serve.js",
        ]
        links = js(
            "return Array.from(document.querySelectorAll('a[href], [*|href]'))"
            ".map(a => a.getAttribute('href') || a.getAttribute('xlink:href'))"
        )
        assert [h for h in links if h and "javascript" in h.lower()] == []
        assert js("return document.querySelectorAll('[onmouseover], [onerror], [onclick]').length") == 0
        assert js("return document.querySelectorAll('svg image, svg img, foreignObject script').length") == 0
        assert "<script>alert('pwned')</script>" in text_of(browser, "prd")  # shown as text
        assert "<b onmouseover=alert(4)>" in text_of(browser, "prd")
        for node in browser.find_elements(By.CSS_SELECTOR, "#design svg g.node, #design svg text"):
            try:
                node.click()
            except WebDriverException:  # a node hidden behind another: nothing to run either way
                pass
        assert js("return window.__alerts") == []
        own_requests_only(browser, srv.url.rstrip("/"))
