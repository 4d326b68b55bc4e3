"""`softco sop init | validate | graph`: copy, check and draw a company's SOP."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

# the commands import softco's modules when they run, so `softco --help` stays fast

sop_app = typer.Typer(
    help="Customise the company: copy the default roles and prompts, check them, draw them.",
    no_args_is_help=True,
    add_completion=False,  # the root app has it
    rich_markup_mode=None,  # plain help, as the root app's
)

SopDir = Annotated[
    Path | None,
    typer.Argument(
        help="A SOP directory (default: softco's own roles and templates).", metavar="DIR", show_default=False
    ),
]


def _example_names(incomplete: str) -> list[str]:
    from softco.sop.init import example_names

    return [n for n in example_names() if n.startswith(incomplete)]


@sop_app.command("init")
def init(
    dir: Annotated[
        Path, typer.Argument(help="A new (or empty) directory to copy the SOP into.", metavar="DIR", show_default=False)
    ],
    example: Annotated[
        str | None,
        typer.Option(
            help="Copy this example SOP instead of the defaults (security_review, tech_writer).",
            metavar="NAME",
            autocompletion=_example_names,
        ),
    ] = None,
) -> None:
    """Copy the default roles/ and sop_templates/ into DIR, with a README on every file and variable."""
    from softco.sop.init import init_example, init_sop_dir

    files = init_sop_dir(dir) if example is None else init_example(dir, example)
    what = "roles/, sop_templates/, README.md" if example is None else f"the example {example}"
    sys.stdout.write(
        f"wrote {len(files)} files to {dir}: {what}\n"
        f'next: edit them, then `softco sop validate {dir}` and `softco new "..." --sop {dir} --dry-run`\n'
    )


@sop_app.command("validate")
def validate(dir: SopDir = None) -> None:
    """Check a SOP before any call; one `file:line: message` per problem, exit 2 if any."""
    from softco.errors import EXIT_USAGE
    from softco.sop.check import check_dir
    from softco.sop.load import load_sop

    problems = check_dir(dir)
    from softco.safe_text import visible  # a shared SOP's text is not to steer the terminal either

    for p in problems:
        sys.stdout.write(f"{visible(str(p))}\n")
    if problems:
        sys.stderr.write(f"softco: {len(problems)} problem(s) in the SOP; fix them and validate again\n")
        raise typer.Exit(EXIT_USAGE)
    sop = load_sop(dir)
    templates = len(sop.template_names())
    sys.stdout.write(
        f"{dir or 'the default SOP'}: ok: {len(sop.roles)} roles, {len(sop.kinds)} kinds "
        f"({len(sop.custom_kinds)} declared in YAML), {templates} templates; SOP hash {sop.sop_hash}\n"
    )


@sop_app.command("graph")
def graph(
    dir: SopDir = None,
    html: Annotated[
        Path | None,
        typer.Option(help="Write the graph drawn, as one self-contained HTML file (works offline).", metavar="FILE"),
    ] = None,
) -> None:
    """Print the company as a mermaid flowchart: roles, kinds, who watches and publishes what."""
    from softco.company.run import RunError
    from softco.sop.graph import mermaid
    from softco.sop.load import load_sop

    sop = load_sop(dir)
    from softco.safe_text import visible

    if html is None:
        sys.stdout.write(visible(mermaid(sop)))
        return
    from softco.report.html import render_graph

    title = f"SOP {dir.resolve().name or dir}" if dir is not None else "the default SOP"
    try:
        html.write_text(render_graph(title, mermaid(sop)), encoding="utf-8")
    except OSError as exc:
        raise RunError(f"cannot write {html}: {exc.strerror or exc}; choose another --html file") from None
    sys.stdout.write(f"{visible(str(html))}\n")
