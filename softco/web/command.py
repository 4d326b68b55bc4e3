"""The `softco serve` command, and `softco new --serve` (a run with its page). Imports the web stack only
when it runs, so `softco --help` stays fast."""

from __future__ import annotations

import os
import sys
import threading
import time
import webbrowser
from collections.abc import Callable
from pathlib import Path
from typing import Annotated
from urllib.parse import quote

import typer
from rich.console import Console

from softco.errors import UsageError

FLAG = ""


def _need_web() -> None:
    try:
        import starlette  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError:
        raise UsageError("softco serve needs the web extra: pip install 'softco[web]'") from None


def _announce(console: Console, url: str, local: bool) -> None:
    console.print(f"softco serve: {url}", highlight=False, soft_wrap=True)
    if not local:
        console.print(
            "this address is reachable from other machines: every request needs the token in it; share it only "
            "with people who may steer these runs",
            highlight=False,
        )
    if sys.stdout.isatty() and not os.environ.get("SOFTCO_NO_BROWSER"):
        webbrowser.open(url)


class _RunPage:
    """Finds the project a run of this process makes under ``out`` (a new directory whose lock this process
    holds) and announces its page once: while the run goes (a thread looks every 0.1 s), else at its end."""

    def __init__(self, out: Path, base_url: str, announce: Callable[[str], None]) -> None:
        self.out, self.base_url, self.announce = out, base_url, announce
        self.before = self._dirs()
        self.url = base_url
        self.found = threading.Event()
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._look, name="softco-serve-page", daemon=True)

    def _dirs(self) -> set[str]:
        try:
            return {p.name for p in self.out.iterdir()}
        except OSError:
            return set()

    def _new(self, live_only: bool) -> Path | None:
        from softco.company.lock import holder

        fresh = sorted(self.out / name for name in self._dirs() - self.before)
        for project in fresh:
            held = holder(project)
            if held is not None and held.pid == os.getpid():
                return project
        return None if live_only or not fresh else fresh[-1]

    def _found(self, project: Path) -> None:
        if not self.found.is_set():
            self.found.set()
            split = self.base_url.split("?", 1)  # the token, when the server needs one, stays in the address
            self.url = f"{split[0]}p/{quote(project.name)}" + (f"?{split[1]}" if len(split) == 2 else "")
            self.announce(self.url)

    def _look(self) -> None:
        while not self.done.wait(0.1):
            project = self._new(live_only=True)
            if project is not None:
                self._found(project)
                return

    def start(self) -> None:
        self.thread.start()

    def stop(self, announce: bool = True) -> None:
        self.done.set()
        self.thread.join(timeout=10)
        if announce and not self.found.is_set():  # a run quicker than a look: its page all the same, else the list
            project = self._new(live_only=False)
            if project is not None:
                self._found(project)
            else:
                self.announce(self.base_url)


def serve(
    output: Annotated[
        Path | None,
        typer.Argument(
            help="The output directory whose projects to show (default SOFTCO_OUTPUT or ./output).",
            metavar="OUTPUT_DIR",
        ),
    ] = None,
    host: Annotated[
        str,
        typer.Option(help="Address to listen on; any but 127.0.0.1/localhost needs the printed token.", metavar="HOST"),
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on (0: a free one).", metavar="PORT")] = 8750,
) -> None:
    """Watch and steer the projects of an output directory in the browser (live; approve, cancel, resume)."""
    _need_web()
    from softco.web.server import prepare, serve_forever

    out = (output or Path(os.environ.get("SOFTCO_OUTPUT") or "output")).absolute()
    serving = prepare(out, host, port)
    console = Console(highlight=False, soft_wrap=True)
    _announce(console, serving.page_url, serving.local)
    console.print("Ctrl-C stops the server (runs it started go on)", highlight=False)
    try:
        serve_forever(serving)
    except KeyboardInterrupt:  # uvicorn stops cleanly on Ctrl-C, then raises it again: that is the normal end
        pass
    console.print("softco serve: stopped", highlight=False)


def serving_run(run: Callable[[], int], out: Path, port: int, console: Console) -> int:
    """`softco new --serve`: serve the output directory's pages on 127.0.0.1 while ``run`` runs, and open the
    run's own page as soon as its project exists. With a terminal the page stays up after the run until
    Ctrl-C; without one the server stops with the run."""
    _need_web()
    from softco.web.server import prepare, start_thread

    out = out.absolute()
    serving = start_thread(prepare(out, "127.0.0.1", port))
    page = _RunPage(out, serving.page_url, lambda url: _announce(console, url, serving.local))
    try:
        page.start()
        try:
            code = run()
        except BaseException:
            page.stop(announce=False)
            raise
        page.stop()
        if sys.stdin.isatty():
            console.print(f"the page stays at {page.url}; Ctrl-C to stop", highlight=False)
            try:
                while True:
                    time.sleep(3600)
            except KeyboardInterrupt:
                pass
        return code
    finally:
        serving.stop()
