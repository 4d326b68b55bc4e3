"""The `softco eval` and `softco batch` commands (registered in softco.cli); the work is in driver.py.

The commands import softco's modules when they run, so `softco --help` stays fast.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

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
LlmOpt = Annotated[
    str | None, typer.Option(help="'openai' (default), 'replay:FILE' or 'script:FILE'.", metavar="PROVIDER")
]
BaseUrl = Annotated[str | None, typer.Option(help="OpenAI-compatible endpoint URL.", metavar="URL")]
FixRounds = Annotated[int, typer.Option(help="Engineer/QA fix rounds at most, per run.", metavar="N")]
Concurrency = Annotated[int | None, typer.Option(help="Model calls at once within one run.", metavar="N")]


def eval_cmd(
    suite: Annotated[
        str | None, typer.Option(help="A suite directory, or a bundled suite's name.", metavar="NAME|DIR")
    ] = None,
    tasks: Annotated[str | None, typer.Option(help="Only these task ids.", metavar="ID,...")] = None,
    model: Models = None,
    sop: Sops = None,
    seeds: Seeds = 1,
    jobs: Jobs = 1,
    budget: BudgetOpt = None,
    backend: BackendOpt = "local",
    ray_address: RayAddress = None,
    rpm: Rpm = None,
    output: Output = None,
    llm: LlmOpt = None,
    base_url: BaseUrl = None,
    max_fix_rounds: FixRounds = 3,
    concurrency: Concurrency = None,
    demo: Annotated[
        bool, typer.Option("--demo", help="Replay bundled recordings of two tasks and score them, offline.", metavar="")
    ] = False,
) -> None:
    """Score generated projects against hidden acceptance tests: tasks x variants x seeds."""
    from softco.eval.driver import EvalOptions, evaluate, terminal

    opts = EvalOptions(
        suite=suite,
        tasks=[t.strip() for t in (tasks or "").split(",") if t.strip()],
        models=model or [],
        sops=sop or [],
        seeds=seeds,
        jobs=jobs,
        budget=budget,
        backend=backend,
        ray_address=ray_address,
        rpm=rpm,
        output=output,
        llm=llm,
        base_url=base_url,
        max_fix_rounds=max_fix_rounds,
        concurrency=concurrency,
        demo=demo,
    )
    raise typer.Exit(evaluate(opts, terminal()))


def batch_cmd(
    file: Annotated[
        Path, typer.Argument(help="Requirements, one a line (or JSONL: name, requirement).", metavar="FILE")
    ],
    model: Models = None,
    sop: Sops = None,
    seeds: Seeds = 1,
    jobs: Jobs = 1,
    budget: BudgetOpt = None,
    backend: BackendOpt = "local",
    ray_address: RayAddress = None,
    rpm: Rpm = None,
    output: Output = None,
    llm: LlmOpt = None,
    base_url: BaseUrl = None,
    max_fix_rounds: FixRounds = 3,
    concurrency: Concurrency = None,
) -> None:
    """Build a project for each requirement of FILE (no scoring), on the eval's runner."""
    from softco.eval.driver import EvalOptions, batch, terminal

    opts = EvalOptions(
        models=model or [],
        sops=sop or [],
        seeds=seeds,
        jobs=jobs,
        budget=budget,
        backend=backend,
        ray_address=ray_address,
        rpm=rpm,
        output=output,
        llm=llm,
        base_url=base_url,
        max_fix_rounds=max_fix_rounds,
        concurrency=concurrency,
    )
    raise typer.Exit(batch(file, opts, terminal()))
