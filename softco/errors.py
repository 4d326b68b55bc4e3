"""softco's errors: one base class carrying the exit code, mapped to one line on stderr in one place
(:func:`softco.cli.main`). An error's message says what the user must do next.

Exit codes: 0 done and the tests pass; 1 internal error, an endpoint that kept failing or a full disk
(resumable), or a damaged board (softco.board.BoardError); 2 bad input or usage, or the project is in use
(or its board locked by another program: softco.board.BoardBusy); 3 done but tests still fail; 4 stopped
by the budget; 130 interrupted (Ctrl-C; resumable).
"""

from __future__ import annotations

EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_TESTS_FAIL, EXIT_BUDGET = 0, 1, 2, 3, 4
EXIT_INTERRUPTED = 130

#: What each exit code means, for people (`softco runs`, the report).
EXIT_MEANINGS = {
    EXIT_OK: "done, tests pass",
    EXIT_ERROR: "internal error or endpoint failure",
    EXIT_USAGE: "bad input or usage",
    EXIT_TESTS_FAIL: "done, tests fail",
    EXIT_BUDGET: "stopped by budget",
    EXIT_INTERRUPTED: "interrupted (Ctrl-C); softco resume continues it",
}


class SoftcoError(Exception):
    """An error the user can act on: its message is one line, ``exit_code`` is the process's exit code."""

    exit_code: int = EXIT_ERROR
    #: a message of several lines (a SOP's problems) as those lines, each shown as one line; else ()
    lines: tuple[str, ...] = ()


class UsageError(SoftcoError):
    """Bad input: a flag, an argument, an environment variable or a file the user gave. Nothing was created."""

    exit_code = EXIT_USAGE


class ProjectBusy(UsageError):
    """Another softco process holds the project's lock."""


class BudgetStop(SoftcoError):
    """The run stopped before a call that could cross the budget (resumable with a higher budget)."""

    exit_code = EXIT_BUDGET


class Interrupted(SoftcoError):
    """Ctrl-C: in-flight calls were cancelled and the run marked interrupted (resumable)."""

    exit_code = EXIT_INTERRUPTED
