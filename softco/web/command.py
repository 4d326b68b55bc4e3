"""The `softco serve` command, and `softco new --serve` (a run with its page). Imports the web stack only
when it runs, so `softco --help` stays fast."""

from __future__ import annotations

import os
import sys
import time
import webbrowser
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

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
    console.print(f"softco serve: {url}", highlight=False, soft_wrap=True, markup=False)  # [fd00::1] is no markup
    if not local:
        console.print(
            "this address is reachable from other machines: every request needs the token in it; share it only "
            "with people who may steer these runs",
            highlight=False,
        )
    if sys.stdout.isatty() and not os.environ.get("SOFTCO_NO_BROWSER"):
        webbrowser.open(url)


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
    from softco import config
    from softco.web.server import prepare, serve_forever

    out = (output or config.load({"output": output}).output).absolute()  # the flag, SOFTCO_OUTPUT, softco.toml
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
    """`softco new --serve`: serve the output directory's pages on 127.0.0.1 while ``run`` runs. With a
    terminal the page stays up after the run until Ctrl-C; without one the server stops with the run."""
    _need_web()
    from softco.web.server import prepare, start_thread

    serving = start_thread(prepare(out.absolute(), "127.0.0.1", port))
    try:
        _announce(console, serving.page_url, serving.local)
        code = run()
        if sys.stdin.isatty():
            console.print(f"the page stays at {serving.page_url}; Ctrl-C to stop", highlight=False, markup=False)
            try:
                while True:
                    time.sleep(3600)
            except KeyboardInterrupt:
                pass
        return code
    finally:
        serving.stop()
