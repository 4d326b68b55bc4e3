"""`softco serve`'s leftovers of issue 18: event streams are capped, a project whose .softco is a symbolic link
is refused, and `new --serve` announces (and opens) the run's own page."""

from __future__ import annotations

import http.client
import re
import shutil
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from browser import serving
from helpers import run_cli, write_script
from review_helpers import generate
from scripted_project import REQUIREMENT, answers


@pytest.fixture(scope="module")
def calc(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return generate(tmp_path_factory.mktemp("calc"), answers())


def _get(url: str, path: str, method: str = "GET", token: str = "") -> tuple[int, str]:
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=30)
    headers = {"Sec-Fetch-Site": "same-origin", "Content-Type": "application/x-www-form-urlencoded"}
    try:
        conn.request(method, path, body=f"token={token}" if method == "POST" else None, headers=headers)
        res = conn.getresponse()
        return res.status, res.read().decode("utf-8", "replace")
    finally:
        conn.close()


def _open_stream(url: str, path: str) -> tuple[http.client.HTTPConnection, int, str]:
    """An event stream left open: the connection, its status and its first bytes."""
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=30)
    conn.request("GET", path)
    res = conn.getresponse()
    first = res.read(20) if res.status == 200 else res.read()
    return conn, res.status, first.decode("utf-8", "replace")


def test_event_streams_beyond_the_cap_are_refused_in_one_line(calc: Path) -> None:
    with serving(calc.parent) as srv:
        srv.config.max_streams = 2
        path = f"/p/{calc.name}/events"
        opened = [_open_stream(srv.url, path) for _ in range(2)]
        try:
            assert [(status, first[:5]) for _, status, first in opened] == [(200, "retry")] * 2
            refused, status, body = _open_stream(srv.url, path)
            refused.close()
            assert status == 503, body
            assert body.startswith("softco serve: 2 live pages are open on this server already"), body
            assert body.count("\n") == 1, body
            assert _get(srv.url, f"/p/{calc.name}")[0] == 200  # pages are still served
        finally:
            for conn, _, _ in opened:
                conn.close()


def test_a_project_whose_softco_dir_is_a_symlink_is_refused(calc: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    project = out / "linked"
    project.mkdir(parents=True)
    shutil.copytree(calc / "calc", project / "calc")
    (project / ".softco").symlink_to(calc / ".softco")  # the board, live file and logs of another project
    with serving(out) as srv:
        status, body = _get(srv.url, "/p/linked")
        assert status == 404 and "linked/.softco is a symbolic link" in body, body
        for path, method in [("/p/linked/events", "GET"), ("/p/linked/resume", "POST"), ("/p/linked/cancel", "POST")]:
            status, body = _get(srv.url, path, method, srv.token)
            assert status == 404 and body.count("\n") == 1 and "is a symbolic link" in body, (path, body)
        assert "linked" not in _get(srv.url, "/")[1]
    assert not (calc / ".softco" / "serve-resume.log").exists()


def test_new_serve_announces_the_runs_own_page(tmp_path: Path) -> None:
    script = write_script(tmp_path / "answers.json", answers())
    res = run_cli(
        ["new", REQUIREMENT, "--llm", f"script:{script}", "--output", "out", "--serve", "--serve-port", "0"],
        tmp_path,
        env={"SOFTCO_NO_BROWSER": "1"},
    )
    assert res.exit_code == 0, res.stdout + res.stderr
    (project,) = [p for p in (tmp_path / "out").iterdir() if p.is_dir() and p.name != ".softco"]
    pages = re.findall(r"softco serve: (http://127\.0\.0\.1:\d+/\S*)", res.stdout)
    assert len(pages) == 1 and pages[0].endswith(f"/p/{project.name}"), res.stdout
