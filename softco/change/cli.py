"""`softco change REPO "REQUIREMENT"`: the command; registered in softco/cli.py."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

FLAG = ""


def change_command(console: Callable[[], Console], read_requirement_file: Callable[[Path], str]) -> Callable[..., None]:
    """The `softco change` command, printing on the CLI's console of this invocation (``console()``) and
    reading --from-file with the CLI's reader."""

    def change(
        repo: Annotated[Path, typer.Argument(help="The git repository of a Python project to change.", metavar="REPO")],
        requirement: Annotated[
            str | None, typer.Argument(help="The change, in one line.", metavar="REQUIREMENT", show_default=False)
        ] = None,
        from_file: Annotated[
            Path | None,
            typer.Option("--from-file", help="Read the requirement from a file ('-' for stdin).", metavar="FILE"),
        ] = None,
        name: Annotated[
            str | None, typer.Option(help="Branch name after softco/ (default: from the requirement).", metavar="NAME")
        ] = None,
        sop: Annotated[
            Path | None, typer.Option(help="A SOP directory (from `softco sop init`).", metavar="DIR")
        ] = None,
        model: Annotated[str | None, typer.Option(help="Model name.", envvar="SOFTCO_MODEL", metavar="MODEL")] = None,
        base_url: Annotated[str | None, typer.Option(help="OpenAI-compatible endpoint URL.", metavar="URL")] = None,
        max_fix_rounds: Annotated[int, typer.Option(help="Engineer/QA fix rounds at most.", metavar="N")] = 3,
        concurrency: Annotated[
            int | None, typer.Option(help="Model calls and tool steps that may run at once.", metavar="N")
        ] = None,
        llm: Annotated[
            str | None, typer.Option(help="'openai' (default), 'replay:FILE' or 'script:FILE'.", metavar="PROVIDER")
        ] = None,
        record: Annotated[
            Path | None, typer.Option(help="Record every LLM exchange to this JSONL file.", metavar="FILE")
        ] = None,
        budget: Annotated[
            float | None, typer.Option(help="USD cap; exit 4 before a call could cross it.", metavar="USD")
        ] = None,
        token_budget: Annotated[
            int | None, typer.Option(help="Token cap; exit 4 before a call could cross it.", metavar="N")
        ] = None,
        cache: Annotated[
            bool, typer.Option("--cache/--no-cache", help="Reuse answers to identical requests.", metavar=FLAG)
        ] = True,
        dry_run: Annotated[
            bool, typer.Option("--dry-run", help="Placeholder answers: no model, prompts kept to read.", metavar=FLAG)
        ] = False,
        approve: Annotated[
            str | None, typer.Option(help="Pause after these kinds (e.g. prd,design).", metavar="KIND,...")
        ] = None,
        yes: Annotated[bool, typer.Option("--yes", help="Approve every --approve gate.", metavar=FLAG)] = False,
        human: Annotated[
            list[str] | None, typer.Option(help="Play this role yourself (role id); repeatable.", metavar="ROLE")
        ] = None,
        structured: Annotated[
            str | None, typer.Option(help="schema, json or prompt (see `softco new --help`).", metavar="MODE")
        ] = None,
    ) -> None:
        """Change an existing Python project on a new branch softco/<slug>; your checkout is not touched."""
        from softco.change.run import start_change
        from softco.company.run import NewOptions, RunError

        if (requirement is None) == (from_file is None):
            raise RunError("give the requirement either as an argument or with --from-file, not both or neither")
        text = requirement if requirement is not None else read_requirement_file(from_file)  # type: ignore[arg-type]
        opts = NewOptions(
            requirement=text,
            name=name,
            sop_dir=sop,
            model=model,
            base_url=base_url,
            max_fix_rounds=max_fix_rounds,
            concurrency=concurrency,
            llm=llm,
            record=record,
            budget=budget,
            token_budget=token_budget,
            cache=cache,
            dry_run=dry_run,
            approve=[k.strip() for k in (approve or "").split(",") if k.strip()],
            yes=yes,
            human=human or [],
            structured=structured,
        )
        raise typer.Exit(start_change(repo, opts, console()))

    return change
