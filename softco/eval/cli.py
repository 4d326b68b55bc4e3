"""The `softco eval` and `softco batch` commands (registered in softco.cli); the work is in driver.py.

The commands import softco's modules when they run, so `softco --help` stays fast.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from softco.company import options as o

if TYPE_CHECKING:
    from softco.eval.driver import EvalOptions

Models = Annotated[
    list[str] | None,
    typer.Option("--model", help="A model to evaluate; repeatable (variants: models x SOPs).", metavar="MODEL"),
]
Sops = Annotated[
    list[Path] | None, typer.Option("--sop", help="A SOP directory to evaluate; repeatable.", metavar="DIR")
]
Seeds = Annotated[int, typer.Option(help="Runs of each task per variant.", metavar="N")]
Jobs = Annotated[int, typer.Option(help="Runs at once (local backend: worker processes).", metavar="N")]
BudgetOpt = Annotated[
    float | None,
    typer.Option("--budget", help="USD cap for the whole eval; exit 4 before a call could cross it.", metavar="USD"),
]
BackendOpt = Annotated[str, typer.Option(help="local or ray.", metavar="local|ray")]
RayAddress = Annotated[
    str | None, typer.Option(help="Ray cluster address (default RAY_ADDRESS; 'local' starts one).", metavar="ADDR")
]
Rpm = Annotated[
    int | None,
    typer.Option(help="Model calls started per minute at most, all Ray workers together (--backend ray).", metavar="N"),
]
Output = Annotated[Path | None, typer.Option(help="Where results and projects go.", metavar="DIR")]
FixRounds = Annotated[int, typer.Option(help="Engineer/QA fix rounds at most, per run.", metavar="N")]
Concurrency = Annotated[int | None, typer.Option(help="Model calls at once within one run.", metavar="N")]


def eval_options(
    model: Models = None,
    sop: Sops = None,
    seeds: Seeds = 1,
    jobs: Jobs = 1,
    budget: BudgetOpt = None,
    backend: BackendOpt = "local",
    ray_address: RayAddress = None,
    rpm: Rpm = None,
    output: Output = None,
    llm: o.Llm = None,
    base_url: o.BaseUrl = None,
    max_fix_rounds: FixRounds = 3,
    concurrency: Concurrency = None,
) -> None:
    """The options `eval` and `batch` share, declared once (a signature for softco.company.options.with_options)."""


@o.with_options(eval_options)
def eval_cmd(
    suite: Annotated[
        str | None, typer.Option(help="A suite directory, or a bundled suite's name.", metavar="NAME|DIR")
    ] = None,
    tasks: Annotated[str | None, typer.Option(help="Only these task ids.", metavar="ID,...")] = None,
    demo: Annotated[
        bool, typer.Option("--demo", help="Replay bundled recordings of two tasks and score them, offline.", metavar="")
    ] = False,
    **options: Any,
) -> None:
    """Score generated projects against hidden acceptance tests: tasks x variants x seeds."""
    from softco.eval import forkserver  # not at `softco --help`: it imports multiprocessing

    forkserver.start_for(options["backend"], options["jobs"])  # its start-up overlaps the driver's imports
    opts = _options({"suite": suite, "tasks": tasks, "demo": demo, **options})
    from softco.eval.driver import evaluate, terminal

    with o.settings(base_url=options["base_url"], output=options["output"]):
        raise typer.Exit(evaluate(opts, terminal()))


@o.with_options(eval_options)
def batch_cmd(
    file: Annotated[
        Path, typer.Argument(help="Requirements, one a line (or JSONL: name, requirement).", metavar="FILE")
    ],
    **options: Any,
) -> None:
    """Build a project for each requirement of FILE (no scoring), on the eval's runner."""
    from softco.eval import forkserver  # not at `softco --help`: it imports multiprocessing

    forkserver.start_for(options["backend"], options["jobs"])  # its start-up overlaps the driver's imports
    opts = _options(options)
    from softco.eval.driver import batch, terminal

    with o.settings(base_url=options["base_url"], output=options["output"]):
        raise typer.Exit(batch(file, opts, terminal()))


def _options(given: dict[str, Any]) -> EvalOptions:
    """The eval's options from a command's values (eval takes more than batch): --model and --sop become the
    lists of variants, --tasks the list of task ids; the other names are EvalOptions' fields."""
    from softco.eval.driver import EvalOptions

    fields = dict(given)
    fields["models"] = fields.pop("model") or []
    fields["sops"] = fields.pop("sop") or []
    if "tasks" in fields:
        fields["tasks"] = o.kinds(fields["tasks"])
    return EvalOptions(**fields)
