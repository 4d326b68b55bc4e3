"""Start-up work that overlaps: what a run will need, begun in background threads while the main thread
imports softco's run machinery and checks the user's input.

- :func:`probe_sandbox`: how generated code will be isolated here (``bwrap`` and ``unshare`` are tried in
  subprocesses, cgroups looked at): mostly waiting on subprocesses, so it runs beside the imports.
- :func:`import_openai`: the ``openai`` package and the HTTP transport its client builds, about 0.4 s of
  imports that then overlap the SOP check and the project's creation (git, the board) instead of delaying
  the first call.

Two threads importing the same package at once can deadlock on its import locks, so each helper imports
in the calling thread what its thread would share with the main thread, and :func:`import_openai` is
called once the main thread has imported pydantic and the run machinery. A thread never raises: what it
failed with is raised again where its result is asked for, and the openai import is simply made again
(and fails with its own error) where the client is built.
"""

from __future__ import annotations

import gc
import sys
import threading
from concurrent.futures import Future

_lock = threading.Lock()
_sandbox: Future[tuple[str, list[str]]] | None = None
_openai: threading.Thread | None = None


def probe_sandbox() -> None:
    """Start probing the sandbox in the background (once a process); :func:`sandbox_description` waits."""
    global _sandbox
    from softco import sandbox  # imported here, before the thread starts, not in it

    with _lock:
        if _sandbox is not None:
            return
        _sandbox = Future()
        future = _sandbox

    def probe() -> None:
        try:
            future.set_result(sandbox.describe())
        except BaseException as exc:  # handed to the main thread, which raises it
            future.set_exception(exc)

    # not a daemon: a command that stops early still waits for the probe to remove its temporary directories
    threading.Thread(target=probe, name="softco-sandbox-probe").start()


def sandbox_description() -> tuple[str, list[str]]:
    """:func:`softco.sandbox.describe`: the probe started early, else one made now."""
    with _lock:
        future = _sandbox
    if future is None:
        from softco import sandbox

        return sandbox.describe()
    return future.result()


def import_openai(resume_gc: bool = False, standalone: bool = False) -> None:
    """Import the openai client and its HTTP transport in the background (once a process). With
    ``resume_gc``, the caller paused the cyclic garbage collector (see softco.cli._load_run): the thread
    freezes what was imported and resumes the collector once the import is done. Import builds objects that
    live until exit, and collecting while they are made costs ~0.05 s of the openai import for nothing.
    ``standalone``: the process is softco's own command, which no other code shares (:func:`_without_trio`)."""
    global _openai
    with _lock:
        if _openai is not None:
            if resume_gc:
                gc.enable()
            return
        if standalone:
            _without_trio()
        _openai = threading.Thread(target=_import_openai, args=(resume_gc,), name="softco-openai-import", daemon=True)
        _openai.start()


def _without_trio() -> None:
    """Tell this process that trio is not installed. The openai client's HTTP transport imports trio whenever it is
    (e.g. beside selenium), to pick its locks once it knows which event loop runs it: ~70 ms of imports for
    nothing in softco, whose runs are asyncio's. Only for a process that imports no trio itself (softco's own
    command, see softco.cli), and only if nothing imported trio yet."""
    if "trio" not in sys.modules:
        sys.modules["trio"] = None  # type: ignore[assignment]  # Python's own "no such module" marker


def _import_openai(resume_gc: bool = False) -> None:
    try:
        import openai

        # the client's HTTP transport is imported when a client is first made: make an HTTP client to load
        # it. It is never used (it opens no connection; the real client, which verifies certificates, is made
        # by softco.llm.openai.make_client), so it loads no certificates either: that takes ~30 ms.
        openai.DefaultAsyncHttpxClient(verify=False)
    except Exception:  # the import is made again where the client is built, and fails there with its error
        pass
    finally:
        if resume_gc:
            gc.freeze()
            gc.enable()
