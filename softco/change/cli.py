"""`softco change REPO "REQUIREMENT"`: the command; registered in softco/cli.py. Its options are `new`'s
(softco/company/options.py), and so are its settings: flags over the environment over softco.toml."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from softco.company import options as o


def change_command(console: Callable[[], Console]) -> Callable[..., None]:
    """The `softco change` command, printing on the CLI's console of this invocation (``console()``)."""

    @o.with_options(o.run_options)
    def change(
        repo: Annotated[Path, typer.Argument(help="The git repository of a Python project to change.", metavar="REPO")],
        requirement: Annotated[
            str | None, typer.Argument(help="The change, in one line.", metavar="REQUIREMENT", show_default=False)
        ] = None,
        from_file: o.FromFile = None,
        name: Annotated[
            str | None, typer.Option(help="Branch name after softco/ (default: from the requirement).", metavar="NAME")
        ] = None,
        **options: Any,
    ) -> None:
        """Change an existing Python project on a new branch softco/<slug>; your checkout is not touched."""
        from softco.change.run import start_change

        opts = o.new_options({**locals(), **options})
        with o.settings(**{k: options[k] for k in ("model", "base_url", "structured")}):
            raise typer.Exit(start_change(repo, opts, console()))

    return change
