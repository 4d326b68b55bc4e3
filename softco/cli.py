"""The softco command line: parses, delegates to run / report, prints. Nothing else lives here."""

from __future__ import annotations

import gc
import sys
from contextvars import ContextVar
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from softco.change.cli import change_command
from softco.company import options as o
from softco.errors import EXIT_USAGE
from softco.eval.cli import batch_cmd, eval_cmd
from softco.sop.cli import sop_app
from softco.web.command import serve as serve_cmd

# Commands import what they need when they run, so `softco --help` starts in a fraction of a second
# (the openai client and the pydantic models cost about a second to import).

app = typer.Typer(
    help="softco: a small software company of LLM roles. One line in, a tested git repo out.",
    no_args_is_help=True,
    # --install-completion / --show-completion: typer's shell completion (bash, zsh, fish, PowerShell)
    add_completion=True,
    # plain help: rich's help panels print every option's Python type (`<bool>`, `<list[str]>`)
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
)


def make_console() -> Console:
    """The console for one invocation, made when the command line is parsed: rich reads the terminal's
    width (COLUMNS), colour and terminal settings from the environment and the streams as they are then,
    not as they were when this module was imported (softco may be called in-process, more than once)."""
    return Console(highlight=False, soft_wrap=True)


console = make_console()
app.add_typer(sop_app, name="sop")
app.command("serve")(serve_cmd)

#: True while softco runs as its own process (:func:`main`), where freezing the garbage collector pays;
#: False when it is called in-process (:func:`run`), where a freeze would keep the caller's garbage forever.
_STANDALONE: ContextVar[bool] = ContextVar("softco_standalone", default=False)

# Every option names what it takes (a metavar), so the help says `--human ROLE`, not a type (`<list[str]>`);
# a flag takes nothing and shows nothing.
FLAG = ""


def _print_version(value: bool) -> None:
    if value:
        import softco

        sys.stdout.write(f"softco {softco.__version__}\n")
        raise typer.Exit(0)


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option(
            "--version", help="Print softco's version and exit.", callback=_print_version, is_eager=True, metavar=FLAG
        ),
    ] = False,
) -> None:
    """softco: a small software company of LLM roles. One line in, a tested git repo out."""
    global console
    console = make_console()


def _complete_view(incomplete: str) -> list[str]:
    """The views `softco show DIR <TAB>` offers (the SOP's own kinds are not known before DIR is read)."""
    from softco.report.show import VIEWS

    return [v for v in VIEWS if v.startswith(incomplete)]


def _load_run(openai: bool = False) -> None:
    """Import the run machinery (pydantic models, gitpython, jinja2: about half a second) with the cyclic
    garbage collector paused, then freeze what was imported. Import builds hundreds of thousands of
    objects that live until exit and are not garbage: collecting while they are made, and again
    later over all of them, costs about 0.1 s for nothing. Meanwhile the sandbox is probed in the
    background, and then, for a run that may call a model (``openai``), the openai client is imported in
    the background while the SOP is checked and the project made (softco.company.startup)."""
    from softco.company import startup

    startup.probe_sandbox()
    paused = False
    try:
        paused = _import_run(keep_paused=openai)
    finally:
        if openai:  # the collector stays paused through the openai import too: its thread resumes it
            startup.import_openai(resume_gc=paused, standalone=_STANDALONE.get())


def _import_run(keep_paused: bool = False) -> bool:
    """True when the collector was left paused (``keep_paused``) for the caller to resume."""
    if not _STANDALONE.get() or "softco.company.run" in sys.modules:  # called in-process, or imported already
        import softco.company.run  # noqa: F401

        return False
    enabled = gc.isenabled()
    gc.disable()
    imported = False
    try:
        import softco.company.run  # noqa: F401

        imported = True
    finally:
        gc.freeze()
        if enabled and not (keep_paused and imported):
            gc.enable()
    return enabled and keep_paused


_settings = o.settings


DEMO_REQUIREMENT = "a command-line todo app with priorities, due dates and JSON storage"


def demo_recording() -> Path:
    return Path(__file__).parent / "demo" / "todo_session.jsonl"


@app.command()
@o.with_options(o.run_options)
def new(
    requirement: Annotated[
        str | None, typer.Argument(help="What to build, in one line.", metavar="REQUIREMENT", show_default=False)
    ] = None,
    from_file: o.FromFile = None,
    name: Annotated[
        str | None, typer.Option(help="Project directory name (default: from the requirement).", metavar="NAME")
    ] = None,
    output: o.Output = None,
    serve: Annotated[
        bool,
        typer.Option("--serve", help="Watch and steer the run in the browser (softco serve); --approve gates "
                     "can be decided there.", metavar=FLAG),
    ] = False,
    serve_port: Annotated[int, typer.Option(help="The port of --serve's page (0: a free one).", metavar="PORT")] = 8750,
    **options: Any,
) -> None:
    """Build a project from one line of requirement."""
    _load_run(openai=options["llm"] in (None, "openai") and not options["dry_run"])
    from softco.company.run import start_new

    opts = o.new_options({**locals(), **options})
    flags = {k: options[k] for k in ("model", "base_url", "structured")}
    with _settings(output=output, **flags):
        if serve:
            from softco.company.run import output_dir
            from softco.web.command import serving_run

            raise typer.Exit(serving_run(lambda: start_new(opts, console), output_dir(output), serve_port, console))
        raise typer.Exit(start_new(opts, console))


read_requirement_file = o.read_requirement_file

app.command("change")(change_command(lambda: console))  # softco/change/cli.py


@app.command("resume")
def resume_cmd(
    project: Annotated[Path, typer.Argument(help="A project directory made by softco.", metavar="DIR")],
    budget: Annotated[float | None, typer.Option(help="A new USD budget for the whole project.", metavar="USD")] = None,
    token_budget: Annotated[
        int | None, typer.Option(help="A new token budget for the whole project.", metavar="N")
    ] = None,
    model: Annotated[str | None, typer.Option(help="Another model from here on.", metavar="MODEL")] = None,
    base_url: Annotated[
        str | None, typer.Option(help="Another OpenAI-compatible endpoint from here on.", metavar="URL")
    ] = None,
    human: Annotated[
        list[str] | None,
        typer.Option(help="Play this role yourself in this resume (role id); repeatable.", metavar="ROLE"),
    ] = None,
    answer: Annotated[
        list[str] | None,
        typer.Option(
            help="STEP=FILE: the answer to that step, e.g. a fixed rejected answer; repeatable.", metavar="STEP=FILE"
        ),
    ] = None,
    approve_on_page: Annotated[
        bool, typer.Option("--approve-on-page", help="--approve gates may be decided on softco serve's page.",
                           metavar=FLAG)
    ] = False,
) -> None:
    """Continue a stopped run; finished steps are not redone."""
    _load_run(openai=True)
    from softco.company.run import Takeover, resume

    takeover = Takeover(
        model=model, base_url=base_url, human=human or [], answers=answer or [], on_page=approve_on_page
    )
    with _settings(model=model, base_url=base_url, output=project.absolute().parent):
        raise typer.Exit(resume(project, console, budget, token_budget, takeover))


@app.command("revise")
def revise_cmd(
    project: Annotated[Path, typer.Argument(help="A project directory made by softco.", metavar="DIR")],
    feedback: Annotated[str, typer.Option(help="What to change, in words.", metavar="TEXT")],
    stage: Annotated[
        str, typer.Option(help="Which stage to redo: prd, design, code or tests.", metavar="STAGE")
    ] = "prd",
) -> None:
    """Redo one stage with your feedback, then everything downstream, on a new git branch revise/<n>."""
    _load_run(openai=True)
    from softco.company.run import Revision, revise

    with _settings(output=project.absolute().parent):
        raise typer.Exit(revise(project, console, Revision(feedback=feedback, stage=stage)))


@app.command()
def demo(
    output: Annotated[
        Path | None, typer.Option(help="Where the demo project goes (default as for new).", metavar="DIR")
    ] = None,
    change: Annotated[
        bool, typer.Option("--change", help="Replay a `softco change` run on a small bundled project.", metavar=FLAG)
    ] = False,
) -> None:
    """Replay the bundled recorded session: the whole company works offline, for real."""
    _load_run()
    from softco.company.run import NewOptions, RunError, start_new

    if change:
        from softco.change.demo import run_demo

        raise typer.Exit(run_demo(output, console))

    recording = demo_recording()
    if not recording.is_file():
        raise RunError(f"the bundled recording is missing ({recording}); reinstall softco")
    console.print(
        "softco demo: the LLM's answers come from a bundled recording; the board, git, the sandbox "
        "and pytest run for real.",
        highlight=False,
    )
    opts = NewOptions(requirement=DEMO_REQUIREMENT, name="todo-demo", output=output, llm=f"replay:{recording}")
    with _settings(output=output):
        raise typer.Exit(start_new(opts, console))


@app.command()
def runs(
    output: Annotated[
        Path | None, typer.Option(help="Where projects are (default as for new).", metavar="DIR")
    ] = None,
) -> None:
    """List the projects under the output directory: when the last run started, its status and the cost."""
    from softco.company.run import output_dir, project_runs
    from softco.safe_text import safe_line

    with _settings(output=output):
        out = output_dir(output)
        rows = project_runs(out)
    if not rows:
        console.print(safe_line(f"no softco projects under {out}", limit=4000))
        return
    header = ("PROJECT", "STARTED", "STATUS", "COST", "REQUIREMENT")
    table = [header, *rows]
    widths = [max(len(r[i]) for r in table) for i in range(len(header) - 1)]
    for r in table:
        line = "  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=False)) + "  " + r[-1]
        console.print(safe_line(line.rstrip(), limit=4000))  # the requirement is the user's, names may be odd


@app.command()
def show(
    project: Annotated[Path, typer.Argument(help="A project directory made by softco.", metavar="DIR")],
    view: Annotated[
        str | None,
        typer.Argument(
            help="prd, design, tasks, code, tests, board, cost or trace (default: overview).",
            metavar="VIEW",
            show_default=False,
            autocompletion=_complete_view,
        ),
    ] = None,
) -> None:
    """Show a project in the terminal: an overview, an artifact, the board, the cost or the REQ trace."""
    from softco.report.project import load_project
    from softco.report.show import show as show_view

    show_view(console, load_project(project), view)


@app.command()
def report(
    project: Annotated[Path, typer.Argument(help="A project directory made by softco.", metavar="DIR")],
    out: Annotated[
        Path | None,
        typer.Option(
            "-o", "--output", help="Where to write the HTML (default DIR/.softco/report.html).", metavar="FILE"
        ),
    ] = None,
) -> None:
    """Write one self-contained HTML file to review the project (works offline)."""
    from softco.company.run import RunError
    from softco.report.html import write_report
    from softco.report.project import load_project

    try:
        path = write_report(load_project(project), out)
    except OSError as exc:
        raise RunError(f"cannot write the report: {exc}") from None
    from softco.safe_text import safe_line

    console.print(safe_line(path, limit=4000))


app.command("eval")(eval_cmd)  # softco/eval/cli.py
app.command("batch")(batch_cmd)


def main() -> None:
    """Entry point: one-line errors, exit codes from softco.errors, never a traceback for bad input."""
    _STANDALONE.set(True)
    try:
        code = run(sys.argv[1:])
    finally:
        # The process ends here: what is left is for the OS to reclaim. Frozen, the interpreter's last
        # collection does not walk every object of the openai and pydantic modules (about 0.2 s).
        gc.freeze()
    sys.exit(code)


def run(argv: list[str], prog_name: str | None = None) -> int:
    """softco with these arguments, in this process: the exit code, after what a user would see on stdout and
    stderr (the same as :func:`main`, which only adds the process's exit)."""
    return _check_argv(argv) or _main(argv, prog_name)


def _check_argv(argv: list[str]) -> int:
    """Non-zero (after one line on stderr) if an argument is not UTF-8: Python keeps such bytes as lone
    surrogates, which nothing downstream (the board, git, the terminal) can write."""
    for i, arg in enumerate(argv, 1):
        try:
            arg.encode("utf-8")
        except UnicodeEncodeError:
            shown = arg.encode("utf-8", "surrogateescape").decode("ascii", "backslashreplace")[:80]
            sys.stderr.write(f"softco: error: argument {i} ({shown}) is not UTF-8 text; pass it as UTF-8\n")
            return EXIT_USAGE
    return 0


def _main(argv: list[str], prog_name: str | None) -> int:
    """Every error is mapped here, and only here, to one line on stderr and an exit code (softco.errors)."""
    from softco.errors import EXIT_ERROR, EXIT_INTERRUPTED, Interrupted, SoftcoError
    from softco.safe_text import one_line

    try:
        code = app(args=argv, prog_name=prog_name, standalone_mode=False)
    except typer.Exit as exc:
        return int(exc.exit_code)
    except Interrupted as exc:
        sys.stderr.write(f"softco: {_error_lines(exc)}\n")
        return exc.exit_code
    except (typer.Abort, KeyboardInterrupt):
        sys.stderr.write("softco: interrupted\n")
        return EXIT_INTERRUPTED
    except SoftcoError as exc:  # bad input, a busy project, a stopped run: the message says what to do next
        sys.stderr.write(f"softco: error: {_error_lines(exc)}\n")  # the message may quote a model's answer
        return exc.exit_code
    except OSError as exc:  # a path the system refuses (too long, not a directory...) or a full disk
        from softco.config import debug

        if debug():
            raise
        return _os_error(exc)
    except Exception as exc:
        # a usage error of the command line parser (click's ClickException, which newer typer vendors):
        # it knows how to show itself; matched by shape so no import of click is needed
        show, usage_code = getattr(exc, "show", None), getattr(exc, "exit_code", None)
        if callable(show) and isinstance(usage_code, int):
            show()
            return usage_code or EXIT_USAGE
        from softco.config import debug

        if debug():
            raise
        first = one_line((str(exc).strip().splitlines() or [""])[0], 300)
        sys.stderr.write(
            f"softco: internal error: {type(exc).__name__}: {first} (a bug in softco: run again with "
            "SOFTCO_DEBUG=1 for the traceback and report it)\n"
        )
        return EXIT_ERROR
    return code if isinstance(code, int) else 0


def _error_lines(exc: Exception) -> str:
    """An error's message with every line one visible line: a newline in a path or a model's answer is shown
    as ``\\x0a``; only an error that gives its ``lines`` (a SOP's problems, ``file:line: message``) has several."""
    from softco.safe_text import visible

    lines = getattr(exc, "lines", ()) or (str(exc),)
    return "\n".join(visible(line, multiline=False) for line in lines)


def _os_error(exc: OSError) -> int:
    """One line for an OSError no command turned into its own message; a full disk exits 1 (resumable)."""
    import errno

    from softco.errors import EXIT_ERROR
    from softco.safe_text import one_line

    where = f": {one_line(str(exc.filename), 200)}" if exc.filename is not None else ""
    why = one_line(exc.strerror or str(exc), 200)
    full = exc.errno in (errno.ENOSPC, errno.EDQUOT)
    todo = "free disk space, then run the command again" if full else "check the path and run the command again"
    sys.stderr.write(f"softco: error: {why}{where}; {todo}\n")
    return EXIT_ERROR if full else EXIT_USAGE


if __name__ == "__main__":
    main()
