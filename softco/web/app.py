"""The ASGI app of `softco serve`: pages, live updates (server-sent events) and steering, behind one guard.

The guard, on every request: on a loopback bind the Host header must name this machine (a DNS-rebinding
page cannot read or drive it); on any other bind every request needs the token printed at start-up (given
once in the URL, then kept in a SameSite=Strict cookie). Every state-changing request (POST) needs the
token in its body and must come from the page's own origin (``Origin`` and ``Sec-Fetch-Site``). Every
response carries a Content-Security-Policy that allows this origin's scripts and styles and nothing else.
Project names in paths are plain directory names under the output directory (:func:`data.project_dir`).
"""

from __future__ import annotations

import asyncio
import hmac
import json
import re
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import anyio
import git
from starlette.applications import Starlette
from starlette.datastructures import MutableHeaders
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response, StreamingResponse
from starlette.routing import Route

from softco import git_safe
from softco.board import BoardError
from softco.company.lock import holder
from softco.report.html import pygments_css
from softco.safe_text import one_line
from softco.steps.steering import request_cancel, request_decision
from softco.web import pages
from softco.web.data import LinkedState, NotFound, NotReady, Watch, connect_ro, list_projects, project_dir
from softco.web.server import is_loopback

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGI = Callable[[Scope, Receive, Send], Awaitable[None]]

#: Seconds between two looks at a project for a live page.
POLL = 0.25
#: A comment line on the event stream this often, so proxies and browsers keep it open.
KEEPALIVE = 15.0
#: Live pages' event streams open at once, all projects together: each holds a connection, a poll loop and
#: read-only connections to a board; past it a new one is refused (503) until one closes.
MAX_STREAMS = 32
#: The largest request body taken (an edited artifact is the biggest thing a page sends).
MAX_BODY = 2_000_000
COOKIE = "softco_token"
SHA = re.compile(r"[0-9a-f]{40}")
#: style-src keeps 'unsafe-inline' for mermaid: while it lays a diagram out it puts <style> elements and style
#: attributes in the page and measures the result. Without it (tried in Chromium) every diagram is laid out
#: unstyled, with other sizes, and each one logs CSP violations; the pages' own CSS is in files, and every
#: model-written text is escaped. Scripts stay 'self' only.
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; font-src data:; "
    "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",  # no-referrer would make a form's Origin "null"
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}
#: Largest diff shown for one commit, in characters.
MAX_DIFF = 400_000


@dataclass
class Config:
    out: Path
    token: str
    #: bound to a loopback address: pages may be read without the token (never changed without it)
    local: bool = True
    #: how to start `softco resume` (the page's Resume button)
    softco: list[str] = field(default_factory=lambda: [sys.executable, "-m", "softco.cli"])
    #: the `softco resume` processes this server started
    children: list[subprocess.Popen[bytes]] = field(default_factory=list)
    checked: set[Path] = field(default_factory=set)
    #: set when the server stops: live pages' event streams end (uvicorn waits for open connections)
    stopping: threading.Event = field(default_factory=threading.Event)
    #: event streams open now (counted on the event loop's thread), and how many may be
    streams: int = 0
    max_streams: int = MAX_STREAMS


# -- the guard ---------------------------------------------------------------------------------------------


def _host_name(host: str) -> str:
    if host.startswith("["):
        return host.split("]", 1)[0] + "]"
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def _token_ok(given: str | None, token: str) -> bool:
    return given is not None and hmac.compare_digest(given.encode("utf-8", "replace"), token.encode())


class Guard:
    """Host, token and security headers for every request (see the module's docstring)."""

    def __init__(self, app: ASGI, config: Config) -> None:
        self.app = app
        self.config = config

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        cfg = self.config
        host = request.headers.get("host", "")
        if cfg.local and not is_loopback(_host_name(host).lower()):
            await _refuse(403, f"this server answers to 127.0.0.1 only, not to Host {one_line(host, 80)!r}")(
                scope, receive, send
            )
            return
        why = _cross_site_why(request)
        if why is not None:
            await _refuse(403, why)(scope, receive, send)
            return
        if not cfg.local:
            given = request.query_params.get("token")
            if given is not None and request.method == "GET":
                if not _token_ok(given, cfg.token):
                    await _refuse(403, "wrong token: use the URL `softco serve` printed")(scope, receive, send)
                    return
                # keep it in a cookie and take it out of the address bar (and of the history)
                response = RedirectResponse(request.url.remove_query_params("token"), status_code=303)
                response.set_cookie(COOKIE, cfg.token, httponly=True, samesite="strict")
                _secure(response.headers)
                await response(scope, receive, send)
                return
            if not _token_ok(request.cookies.get(COOKIE), cfg.token):
                await _refuse(403, "this server needs its token: open the URL `softco serve` printed")(
                    scope, receive, send
                )
                return

        async def send_secured(message: Message) -> None:
            if message["type"] == "http.response.start":
                _secure(MutableHeaders(scope=message))
            await send(message)

        await self.app(scope, receive, send_secured)


def _cross_site_why(request: Request) -> str | None:
    """Why a request another site's page made is refused, or None. A browser says where a request comes from
    (``Sec-Fetch-Site``); from another site (another port of this machine is the same *site*) only following
    a link to a page is served: no fetch, event stream, image, script or frame, which could probe which
    projects exist or hold event streams open from a page the user merely visited."""
    site = request.headers.get("sec-fetch-site")
    if site is None or site in ("same-origin", "none"):
        return None
    if request.method == "GET" and request.headers.get("sec-fetch-mode") == "navigate" and (
        request.headers.get("sec-fetch-dest") in (None, "document")
    ):
        return None
    return f"a request from another site ({one_line(site, 40)}) may only open a page here"


def _secure(headers: MutableHeaders) -> None:
    for k, v in HEADERS.items():
        if k not in headers:
            headers[k] = v


def _refuse(status: int, why: str) -> Response:
    response = PlainTextResponse(f"softco serve: {why}\n", status_code=status)
    _secure(response.headers)
    return response


def same_origin(request: Request) -> str | None:
    """Why a state-changing request is not from the page's own origin, or None when it is. A browser says
    where a request comes from (``Sec-Fetch-Site``, ``Origin``); a client that says nothing (curl) still
    needs the token."""
    site = request.headers.get("sec-fetch-site")
    if site is not None and site not in ("same-origin", "none"):
        return f"a request from another site ({one_line(site, 40)}) cannot change anything here"
    origin = request.headers.get("origin")
    if origin is not None:
        own = f"{request.url.scheme}://{request.headers.get('host', '')}"
        parts = urlsplit(origin)
        if origin == "null" or f"{parts.scheme}://{parts.netloc}" != own:
            return f"a request from another origin ({one_line(origin, 80)}) cannot change anything here"
    return None


async def read_form(request: Request) -> dict[str, str]:
    """An urlencoded body, bounded (no multipart: the page sends none)."""
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY:
            raise ValueError(f"the request is over {MAX_BODY:,} bytes")
    try:
        fields = parse_qs(body.decode("utf-8"), keep_blank_values=True, max_num_fields=20)
    except (UnicodeDecodeError, ValueError):
        raise ValueError("the request body is not a form") from None
    return {k: v[0] for k, v in fields.items()}


async def steering(request: Request) -> tuple[Config, Path, dict[str, str]] | Response:
    """The checks every state-changing request passes: origin, token, project name; then its form."""
    cfg: Config = request.app.state.config
    why = same_origin(request)
    if why is not None:
        return _refuse(403, why)
    try:
        form = await read_form(request)
    except ValueError as exc:
        return _refuse(400, str(exc))
    if not _token_ok(form.get("token") or request.headers.get("x-softco-token"), cfg.token):
        return _refuse(403, "a request that changes something needs the page's token")
    try:
        project = project_dir(cfg.out, request.path_params["name"])
    except NotFound as exc:
        return _refuse(404, _missing(exc))
    return cfg, project, form


def _missing(exc: Exception) -> str:
    return str(exc) if isinstance(exc, LinkedState) else "no such project"


def _back(request: Request, name: str) -> Response:
    return RedirectResponse(f"/p/{name}", status_code=303)


def _problem_page(status: int, message: str, name: str | None = None) -> Response:
    back = f'<p><a href="/p/{name}">back to the project</a></p>' if name else '<p><a href="/">all projects</a></p>'
    from markupsafe import escape

    html = f"<!DOCTYPE html><title>softco serve</title><p>{escape(message)}</p>{back}"
    return HTMLResponse(html, status_code=status)


# -- pages ---------------------------------------------------------------------------------------------------


async def index(request: Request) -> Response:
    cfg: Config = request.app.state.config
    started = time.perf_counter()
    rows = await anyio.to_thread.run_sync(list_projects, cfg.out)
    return HTMLResponse(pages.render_index(cfg.out, rows, cfg.token, time.perf_counter() - started))


def _watch(cfg: Config, name: str) -> Watch:
    project = project_dir(cfg.out, name)
    watch = Watch(project)
    if project not in cfg.checked:
        try:
            watch.check()
        except BaseException:
            watch.close()
            raise
        cfg.checked.add(project)
    return watch


@cache
def _graph_for(sop_dir: str | None) -> str | None:
    from softco.sop.graph import mermaid
    from softco.sop.load import SopError, load_sop

    try:
        return mermaid(load_sop(Path(sop_dir) if sop_dir else None)).replace("<br/>", " · ")
    except (SopError, OSError, ValueError):
        return None


def _unreadable(cfg: Config, project: Path, exc: sqlite3.Error) -> BoardError:
    """A board that broke after it was checked (replaced, truncated): look at it afresh next time."""
    cfg.checked.discard(project)
    return BoardError(f"cannot read the board of {project.name} ({one_line(str(exc), 80)}); is it damaged?")


def _project_page(cfg: Config, name: str) -> str:
    watch = _watch(cfg, name)
    try:
        snap = watch.snapshot()
    except sqlite3.Error as exc:
        raise _unreadable(cfg, watch.project, exc) from None
    finally:
        watch.close()
    run = snap.project.last_run
    graph = _graph_for(run.settings.get("sop_dir") if run else None)
    return pages.render_project(snap, name, cfg.token, graph)


async def project_page(request: Request) -> Response:
    cfg: Config = request.app.state.config
    name = request.path_params["name"]
    try:
        return HTMLResponse(await anyio.to_thread.run_sync(_project_page, cfg, name))
    except LinkedState as exc:
        return _problem_page(404, str(exc))
    except NotFound:
        return _problem_page(404, f"no project {name!r} in {cfg.out}")
    except NotReady:
        starting = '<!DOCTYPE html><meta http-equiv="refresh" content="1"><title>softco serve</title><p>starting…</p>'
        return HTMLResponse(starting)
    except BoardError as exc:
        return _problem_page(500, str(exc))


async def events(request: Request) -> Response:
    """Server-sent events: a ``state`` event at once and on every change of the board, the live file or the
    run's liveness; the step rows after the page's last one, the artifacts when the messages changed."""
    cfg: Config = request.app.state.config
    name = request.path_params["name"]
    if cfg.streams >= cfg.max_streams:
        return _refuse(503, _too_many(cfg))
    try:
        watch = await anyio.to_thread.run_sync(_watch, cfg, name)
    except NotReady:
        return _refuse(503, "the run is starting")
    except (NotFound, BoardError) as exc:
        return _refuse(404, _missing(exc))
    try:
        after = max(0, int(request.query_params.get("after", "0")))
        messages = max(0, int(request.query_params.get("messages", "0")))
    except ValueError:
        after, messages = 0, 0

    async def stream() -> AsyncIterator[str]:
        nonlocal after, messages
        quiet = time.monotonic()
        if cfg.streams >= cfg.max_streams:  # others started since the check above
            watch.close()
            yield f"event: problem\ndata: {json.dumps(_too_many(cfg))}\n\n"
            return
        cfg.streams += 1
        try:
            yield "retry: 2000\n\n"
            while not cfg.stopping.is_set():
                try:
                    changed = watch.changed()
                    snap = await anyio.to_thread.run_sync(watch.snapshot) if changed else None
                except sqlite3.Error as exc:
                    # the board broke under the page: end the stream (the page's reload says why, in one line)
                    why = str(_unreadable(cfg, watch.project, exc))
                    yield f"event: problem\ndata: {json.dumps(why)}\n\n"
                    return
                if snap is not None:
                    fresh = len(snap.project.messages) != messages
                    update = await anyio.to_thread.run_sync(pages.render_update, snap, name, cfg.token, after, fresh)
                    after, messages = int(update["last_step"]), len(snap.project.messages)
                    yield f"event: state\ndata: {json.dumps(update)}\n\n"
                    quiet = time.monotonic()
                elif time.monotonic() - quiet > KEEPALIVE:
                    yield ": keep-alive\n\n"
                    quiet = time.monotonic()
                await asyncio.sleep(POLL)
        finally:
            cfg.streams -= 1
            watch.close()

    return StreamingResponse(stream(), media_type="text/event-stream", headers={"X-Accel-Buffering": "no"})


def _too_many(cfg: Config) -> str:
    return (
        f"{cfg.max_streams} live pages are open on this server already, its most at once: close one (a tab or a "
        "browser) and reload this page"
    )


def _diff(project: Path, sha: str) -> str | None:
    repo = git_safe.open_repo(project)
    try:
        known = {c.hexsha for c in repo.iter_commits("--all")}
        if sha not in known:
            return None
        # no external diff driver nor textconv filter: the project's config is not trusted to run anything
        text = str(repo.git.show(sha, "--format=", "--patch", "--no-color", "--no-ext-diff", "--no-textconv"))
    finally:
        repo.close()
    if len(text) > MAX_DIFF:
        text = text[:MAX_DIFF] + f"\n… (the diff is cut at {MAX_DIFF:,} characters: see `git show {sha[:12]}`)\n"
    return text


async def commit_diff(request: Request) -> Response:
    cfg: Config = request.app.state.config
    sha = request.path_params["sha"]
    try:
        project = project_dir(cfg.out, request.path_params["name"])
    except NotFound as exc:
        return _refuse(404, _missing(exc))
    if not SHA.fullmatch(sha):
        return _refuse(404, "no such commit")
    try:
        text = await anyio.to_thread.run_sync(_diff, project, sha)
    except (git.GitError, ValueError) as exc:
        return _refuse(500, f"git could not show the commit ({one_line(str(exc), 200)})")
    if text is None:
        return _refuse(404, "no such commit in this project")
    return HTMLResponse(str(pages.diff_html(text)) if text.strip() else "<p class='muted'>no change</p>")


# -- steering ------------------------------------------------------------------------------------------------


async def cancel(request: Request) -> Response:
    checked = await steering(request)
    if isinstance(checked, Response):
        return checked
    cfg, project, form = checked
    if holder(project) is None:
        return _problem_page(409, "no run is going on in this project: there is nothing to cancel", project.name)
    db = connect_ro(project / ".softco" / "board.sqlite")
    try:
        row = db.execute("SELECT id FROM runs ORDER BY started_at DESC LIMIT 1").fetchone()
    finally:
        db.close()
    if row is None:
        return _problem_page(409, "this project has no run", project.name)
    run_id = str(row[0])
    if form.get("run") and form["run"] != run_id:
        return _problem_page(409, "that run has ended already; this project has a newer one", project.name)
    await anyio.to_thread.run_sync(request_cancel, project, run_id)
    return _back(request, project.name)


async def resume(request: Request) -> Response:
    checked = await steering(request)
    if isinstance(checked, Response):
        return checked
    cfg, project, _ = checked
    if holder(project) is not None:
        return _problem_page(409, "a run is going on in this project already", project.name)
    log = (project / ".softco" / "serve-resume.log").open("ab")
    try:
        child = subprocess.Popen(
            [*cfg.softco, "resume", str(project), "--approve-on-page"],
            cwd=project.parent,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # the run outlives this server (stop it from the page, or Ctrl-C there)
        )
    finally:
        log.close()
    cfg.children.append(child)
    # wait (briefly) until the run holds the project's lock, so the page that follows shows it live
    for _ in range(100):
        if holder(project) is not None or child.poll() is not None:
            break
        await asyncio.sleep(0.05)
    return _back(request, project.name)


async def decide(request: Request) -> Response:
    checked = await steering(request)
    if isinstance(checked, Response):
        return checked
    cfg, project, form = checked
    gate_id = int(request.path_params["gate"])
    try:
        taken = await anyio.to_thread.run_sync(
            request_decision, project, gate_id, form.get("action", ""), form.get("text", "")
        )
    except ValueError as exc:
        return _problem_page(400, str(exc), project.name)
    if not taken:
        return _problem_page(409, "that review is closed already (decided, or its run stopped)", project.name)
    return _back(request, project.name)


# -- assets --------------------------------------------------------------------------------------------------


@cache
def _asset(name: str) -> tuple[bytes, str]:
    if name == "mermaid.min.js":
        return resources.files("softco.report").joinpath("vendor", name).read_bytes(), "text/javascript"
    if name in ("report.css", "report.js"):  # the HTML report's own, shared with the live page
        kind = "text/css" if name.endswith(".css") else "text/javascript"
        return resources.files("softco.report").joinpath("templates", name).read_bytes(), kind
    if name == "pygments.css":
        return pygments_css().encode(), "text/css"
    kind = "text/javascript" if name.endswith(".js") else "text/css"
    return resources.files("softco.web").joinpath("static", name).read_bytes(), kind


STATIC = {"mermaid.min.js", "report.css", "report.js", "pygments.css", "serve.js", "serve.css"}


async def static(request: Request) -> Response:
    name = request.path_params["file"]
    if name not in STATIC:
        return _refuse(404, "no such file")
    data, kind = _asset(name)
    return Response(data, media_type=kind, headers={"Cache-Control": "max-age=3600"})


def make_app(config: Config) -> ASGI:
    app = Starlette(
        routes=[
            Route("/", index),
            Route("/static/{file}", static),
            Route("/p/{name}", project_page),
            Route("/p/{name}/events", events),
            Route("/p/{name}/commit/{sha}", commit_diff),
            Route("/p/{name}/cancel", cancel, methods=["POST"]),
            Route("/p/{name}/resume", resume, methods=["POST"]),
            Route("/p/{name}/gate/{gate:int}", decide, methods=["POST"]),
        ]
    )
    app.state.config = config
    return Guard(app, config)
