"""pytest plugin loaded into the sandboxed test run (``-p softco_results``): each test's outcome,
each collection error and the session's exit status go as JSON lines to the pipe whose number is in
``$SOFTCO_RESULTS_FD``, as they happen. softco reads them instead of a report file the code under
test could replace. This file is not a module of the softco package: it is put on the sandbox's
``PYTHONPATH`` on its own and imports nothing but the standard library and pytest."""

from __future__ import annotations

import json
import os
from typing import Any

MESSAGE_LIMIT = 3000
_FD = int(os.environ.pop("SOFTCO_RESULTS_FD", "-1") or -1)


def _guard() -> None:
    """This process's own guard, as soon as it is loaded: the results pipe is close-on-exec (no child
    process inherits it), and the process is non-dumpable, so a process of the same user (code the tests
    start) can neither ptrace it nor open its /proc/PID/mem or /proc/PID/fd/*."""
    if _FD >= 0:
        try:
            os.set_inheritable(_FD, False)
        except OSError:
            pass
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(4, 0, 0, 0, 0)  # PR_SET_DUMPABLE 0
    except (OSError, AttributeError):
        pass


_guard()


def _emit(event: dict[str, Any]) -> None:
    if _FD < 0:
        return
    data = (json.dumps(event) + "\n").encode()
    try:
        while data:
            data = data[os.write(_FD, data) :]
    except OSError:
        pass


def _text(report: Any) -> str:
    try:
        text = str(report.longreprtext or "")
    except Exception:  # noqa: BLE001 - a repr the code under test broke must not stop the report
        text = "(the failure could not be shown)"
    return text[-MESSAGE_LIMIT:]


def pytest_collectreport(report: Any) -> None:
    if report.failed:
        _emit({"event": "collect", "nodeid": report.nodeid, "outcome": "error", "message": _text(report)})


def pytest_runtest_logreport(report: Any) -> None:
    outcome = report.outcome
    if report.when != "call" and outcome == "failed":
        outcome = "error"  # a failing fixture (setup or teardown) is an error, as pytest counts it
    if report.when != "call" and outcome == "passed":
        return
    if report.when == "teardown" and outcome == "skipped":
        return
    _emit(
        {
            "event": "test",
            "nodeid": report.nodeid,
            "when": report.when,
            "outcome": outcome,
            "message": _text(report) if outcome != "passed" else "",
            "duration": float(getattr(report, "duration", 0.0) or 0.0),
        }
    )


def pytest_sessionfinish(session: Any, exitstatus: Any) -> None:
    _emit({"event": "finish", "exitstatus": int(exitstatus), "collected": int(session.testscollected)})
