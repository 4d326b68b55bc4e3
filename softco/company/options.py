"""The command line's options that `new`, `change`, `eval` and `batch` share, declared once, and the one
builder of a run's options (:func:`new_options`) and of a command's settings (:func:`settings`).

A command names an option by its alias here (``model: Model = None``), so its flag, help and metavar are the
same wherever it is taken. Only typer is imported at module level: ``softco --help`` stays fast.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer

from softco.text_file import read_text

if TYPE_CHECKING:
    from softco.company.run import NewOptions

# Every option names what it takes (a metavar), so the help says `--human ROLE`, not a type (`<list[str]>`);
# a flag takes nothing and shows nothing.
FLAG = ""

FromFile = Annotated[
    Path | None, typer.Option("--from-file", help="Read the requirement from a file ('-' for stdin).", metavar="FILE")
]
Output = Annotated[
    Path | None, typer.Option(help="Where projects go (default: SOFTCO_OUTPUT, softco.toml, ./output).", metavar="DIR")
]
Sop = Annotated[Path | None, typer.Option(help="A SOP directory (from `softco sop init`).", metavar="DIR")]
Model = Annotated[
    str | None, typer.Option(help="Model name (default: SOFTCO_MODEL, softco.toml, gpt-4o-mini).", metavar="MODEL")
]
BaseUrl = Annotated[str | None, typer.Option(help="OpenAI-compatible endpoint URL.", metavar="URL")]
MaxFixRounds = Annotated[int, typer.Option(help="Engineer/QA fix rounds at most.", metavar="N")]
Concurrency = Annotated[
    int | None,
    typer.Option(
        help="Model calls and tool steps that may run at once (default 16; 2 for a local server).", metavar="N"
    ),
]
Llm = Annotated[
    str | None, typer.Option(help="'openai' (default), 'replay:FILE' or 'script:FILE'.", metavar="PROVIDER")
]
Record = Annotated[Path | None, typer.Option(help="Record every LLM exchange to this JSONL file.", metavar="FILE")]
Budget = Annotated[float | None, typer.Option(help="USD cap; exit 4 before a call could cross it.", metavar="USD")]
TokenBudget = Annotated[int | None, typer.Option(help="Token cap; exit 4 before a call could cross it.", metavar="N")]
Cache = Annotated[bool, typer.Option("--cache/--no-cache", help="Reuse answers to identical requests.", metavar=FLAG)]
DryRun = Annotated[
    bool,
    typer.Option("--dry-run", help="Run the SOP on placeholder answers: no model, prompts kept to read.", metavar=FLAG),
]
Approve = Annotated[
    str | None,
    typer.Option(help="Pause after these kinds (e.g. prd,design): approve, edit or give feedback.", metavar="KIND,..."),
]
Yes = Annotated[bool, typer.Option("--yes", help="Approve every --approve gate without asking.", metavar=FLAG)]
Human = Annotated[
    list[str] | None,
    typer.Option(help="Play this role yourself (role id, e.g. architect); repeatable.", metavar="ROLE"),
]
Structured = Annotated[
    str | None,
    typer.Option(
        help="How answers are asked for: schema (response_format json_schema), json (JSON mode, schema in the "
        "prompt) or prompt (schema in the prompt); default SOFTCO_STRUCTURED, else negotiated per endpoint.",
        metavar="schema|json|prompt",
    ),
]


def run_options(
    sop: Sop = None,
    model: Model = None,
    base_url: BaseUrl = None,
    max_fix_rounds: MaxFixRounds = 3,
    concurrency: Concurrency = None,
    llm: Llm = None,
    record: Record = None,
    budget: Budget = None,
    token_budget: TokenBudget = None,
    cache: Cache = True,
    dry_run: DryRun = False,
    approve: Approve = None,
    yes: Yes = False,
    human: Human = None,
    structured: Structured = None,
) -> None:
    """The options of a run that `new` and `change` take, declared once: a signature for :func:`with_options`."""


Command = TypeVar("Command", bound=Callable[..., None])


def with_options(options: Callable[..., None]) -> Callable[[Command], Command]:
    """A command that takes ``options``' parameters after its own, into its ``**options``: typer reads the joined
    signature (so the options are declared once for every command that takes them) and passes them by name."""

    def join(command: Command) -> Command:
        own = inspect.signature(command, eval_str=True)
        params = [p for p in own.parameters.values() if p.kind is not inspect.Parameter.VAR_KEYWORD]
        params += [
            p.replace(kind=inspect.Parameter.KEYWORD_ONLY)
            for p in inspect.signature(options, eval_str=True).parameters.values()
        ]
        command.__signature__ = own.replace(parameters=params)  # type: ignore[attr-defined]
        command.__annotations__ = {p.name: p.annotation for p in params} | {"return": own.return_annotation}
        return command

    return join


def settings(**flags: object) -> AbstractContextManager[object]:
    """The command's settings (softco.config: its flags over the environment over softco.toml), in use while
    the command runs; a setting that is not valid stops it here, before anything is created."""
    from softco import config

    return config.using(config.load(flags))


def kinds(approve: str | None) -> list[str]:
    """``--approve prd,design`` as a list of kinds."""
    return [k.strip() for k in (approve or "").split(",") if k.strip()]


def requirement_text(requirement: str | None, from_file: Path | None) -> str:
    """The requirement, given as an argument or with --from-file (exactly one of them)."""
    from softco.company.run import RunError

    if (requirement is None) == (from_file is None):
        raise RunError("give the requirement either as an argument or with --from-file, not both or neither")
    return requirement if requirement is not None else read_requirement_file(from_file)  # type: ignore[arg-type]


def read_requirement_file(path: Path) -> str:
    from softco.company.run import RunError

    try:
        return read_text(path, 1_000_000, "a requirement should be a few paragraphs")
    except ValueError as exc:
        raise RunError(str(exc)) from None


def new_options(given: dict[str, Any]) -> NewOptions:
    """A run's options from a command's values (`new` and `change` pass their own and their
    :func:`run_options`): the requirement
    read (argument or --from-file), --approve split into kinds, --sop and --serve under their fields' names;
    values that are not NewOptions' fields (the repo, the port of --serve) are left out."""
    from softco.company.run import NewOptions

    values = {RENAMED.get(k, k): v for k, v in given.items()}
    values = {k: v for k, v in values.items() if k in NewOptions.__dataclass_fields__}
    values.update(
        requirement=requirement_text(given.get("requirement"), given.get("from_file")),
        approve=kinds(given.get("approve")),
        human=given.get("human") or [],
    )
    return NewOptions(**values)


#: A command's option -> the NewOptions field it sets.
RENAMED = {"sop": "sop_dir", "serve": "on_page"}
