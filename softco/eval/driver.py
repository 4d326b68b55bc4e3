"""`softco eval` and `softco batch`: from the command line's options to specs, a backend, the results.

Re-running the same command continues: records of finished runs (status ``done``) are kept from the
output directory's results file and their runs are not started again (nor paid for); an unfinished
run's project is resumed by softco's own resume (finished steps are not asked again).
"""

from __future__ import annotations

import json
import math
import re
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console

from softco.config import redact_url
from softco.errors import EXIT_BUDGET, EXIT_ERROR, EXIT_INTERRUPTED, EXIT_OK, UsageError
from softco.eval import forkserver
from softco.eval.results import RESULTS_FILE, EvalResults, Variant, load_results, now, run_cells, write_results
from softco.eval.spec import RunRecord, RunSpec
from softco.eval.suite import Suite, load_suite, task_version
from softco.llm.budget import Budget, SharedLedger, price_of
from softco.safe_text import safe_line

BACKENDS = ("local", "ray")
MAX_JOBS = 64
MAX_SEEDS = 100
MAX_BATCH_LINES = 10_000


@dataclass
class EvalOptions:
    suite: str | None = None
    tasks: list[str] = field(default_factory=list)
    models: list[str] = field(default_factory=list)
    sops: list[Path] = field(default_factory=list)
    seeds: int = 1
    jobs: int = 1
    budget: float | None = None
    backend: str = "local"
    ray_address: str | None = None
    #: --rpm: model calls started per minute at most, across every Ray worker (softco/eval/ray_backend.py)
    rpm: int | None = None
    output: Path | None = None
    llm: str | None = None
    base_url: str | None = None
    max_fix_rounds: int = 3
    concurrency: int | None = None
    demo: bool = False


def terminal() -> Console:
    """The console the commands print on, made as softco.cli's."""
    return Console(highlight=False, soft_wrap=True)


def _slug(text: str, limit: int = 60) -> str:
    s = re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-.")[:limit]
    return s or "variant"


def task_dir_name(task_id: str) -> str:
    """The run's project directory name: softco's own slug of the task id (what `softco new --name` makes)."""
    from softco.company.workspace import slugify

    return slugify(task_id)


def variants(opts: EvalOptions) -> list[Variant]:
    """Models x SOP directories, each with a unique name (its directory under runs/)."""
    from softco.llm.providers import default_model

    default = "scripted" if (opts.llm or "").startswith("script:") else default_model()
    if (opts.llm or "").startswith("replay:"):
        default = "replay"
    models = opts.models or [default]
    sops: list[Path | None] = list(opts.sops) or [None]
    out: list[Variant] = []
    seen: set[str] = set()
    for model in models:
        for sop in sops:
            name = _slug(model) + (f"+{_slug(sop.name, 40)}" if sop is not None else "")
            base, n = name, 2
            while name in seen:
                name, n = f"{base}-{n}", n + 1
            seen.add(name)
            out.append(
                Variant(
                    name=name,
                    model=model,
                    sop_dir=str(sop.absolute()) if sop is not None else None,
                    llm=opts.llm,
                    # eval.json and the scoreboards keep it without its password; the runs take opts.base_url
                    base_url=redact_url(opts.base_url) if opts.base_url is not None else None,
                )
            )
    return out


def check_options(opts: EvalOptions) -> None:
    if opts.backend not in BACKENDS:
        raise UsageError(f"--backend {opts.backend}: choose local or ray")
    if opts.rpm is not None and (opts.rpm < 1 or opts.backend != "ray"):
        raise UsageError(
            f"--rpm {opts.rpm}: give 1 or more calls a minute, with --backend ray (it caps every worker together)"
        )
    if not 1 <= opts.jobs <= MAX_JOBS:
        raise UsageError(f"--jobs {opts.jobs}: give 1 to {MAX_JOBS}")
    if not 1 <= opts.seeds <= MAX_SEEDS:
        raise UsageError(f"--seeds {opts.seeds}: give 1 to {MAX_SEEDS}")
    if opts.budget is not None and not (math.isfinite(opts.budget) and opts.budget > 0):
        raise UsageError(f"--budget {opts.budget}: give a positive amount of USD, or leave it out for no budget")
    kind, colon, arg = (opts.llm or "").partition(":")
    if colon and kind in ("script", "replay") and arg:  # saved with each run: a resume may start elsewhere
        opts.llm = f"{kind}:{Path(arg).absolute()}"
    for sop in opts.sops:
        if not sop.is_dir():
            raise UsageError(f"--sop {sop}: no such directory (make one with `softco sop init DIR`)")
    from softco.company.run import check_environment, check_limits

    check_limits(None, None, opts.max_fix_rounds, opts.concurrency or 1)
    check_environment()


def _check_sops(vs: list[Variant]) -> None:
    from softco.sop.check import load_checked_sop
    from softco.sop.load import SopError

    for v in vs:
        if v.sop_dir is None:
            continue
        try:
            load_checked_sop(Path(v.sop_dir))
        except SopError as exc:
            raise UsageError(f"--sop {v.sop_dir}: {str(exc).splitlines()[0]} (see `softco sop validate`)") from None


def _check_prices(vs: list[Variant], budget: float | None) -> None:
    if budget is None:
        return
    for v in vs:
        if (v.llm or "").startswith("replay:"):
            continue  # recorded answers cost nothing now
        if price_of(v.model) is None:
            raise UsageError(
                f"--budget needs a price, and none is known for model {v.model!r}: name a JSON file of prices in "
                "SOFTCO_PRICES, or leave --budget out"
            )


def make_specs(
    suite: Suite, vs: list[Variant], opts: EvalOptions, llm_for: dict[str, str] | None = None
) -> list[RunSpec]:
    """One spec per (task, variant, seed), in that order of seeds, then tasks, then variants."""
    specs = []
    hidden = sorted({str(Path(t.source) / "acceptance") for t in suite.tasks})
    for seed in range(1, opts.seeds + 1):
        for task in suite.tasks:
            for v in vs:
                llm = (llm_for or {}).get(task.id, v.llm)
                specs.append(
                    RunSpec(
                        task_id=task.id,
                        variant=v.name,
                        seed=seed,
                        requirement=task.requirement,
                        model=None if v.model in ("scripted", "replay", "recorded") and llm else v.model,
                        llm=llm,
                        base_url=opts.base_url,  # as given: the variant's is redacted
                        sop_dir=v.sop_dir,
                        max_fix_rounds=opts.max_fix_rounds,
                        concurrency=opts.concurrency,
                        time_limit_s=task.time_limit_s,
                        acceptance=task.acceptance,
                        package=task.package,
                        entry=task.entry or "import",
                        rel_dir=f"runs/{v.name}/seed-{seed}/{task_dir_name(task.id)}",
                        hidden_paths=hidden,
                    )
                )
    return specs


def default_output(name: str) -> Path:
    from softco.company.run import output_dir

    return output_dir(None) / "eval" / _slug(name)


def _spent_before(output: Path, specs: Sequence[RunSpec]) -> Budget:
    """What the projects of this eval already spent (every run of each): the eval budget counts it."""
    from softco.board import Board, BoardError
    from softco.company.run import spent
    from softco.company.scheduler import project_board_path

    total = Budget()
    for spec in specs:
        path = project_board_path(output / spec.rel_dir)
        if not path.exists():
            continue
        try:
            board = Board.open(path)
        except BoardError:
            continue
        try:
            used = spent(board)
        finally:
            board.close()
        total.spent_usd += used.spent_usd
        total.spent_tokens += used.spent_tokens
    return total


class Tracker:
    """The progress display: a line per run started and finished, with runs done / running / left, the
    spend so far and an ETA from the mean time of the runs this invocation finished."""

    def __init__(self, console: Console, total: int, done_before: int, jobs: int) -> None:
        self.console = console
        self.total = total
        self.done = done_before
        self.running = 0
        self.jobs = jobs
        self.started = time.monotonic()
        self.finished_now = 0
        self.tokens = 0
        self.cost: float | None = 0.0
        self.estimated = False
        self.lock = threading.Lock()

    def add_spend(self, r: RunRecord) -> None:
        self.tokens += r.prompt_tokens + r.completion_tokens
        self.estimated = self.estimated or r.estimated_calls > 0
        if r.llm_calls:
            self.cost = None if self.cost is None or r.cost_usd is None else self.cost + r.cost_usd

    def line(self) -> str:
        from softco.llm.budget import format_usd

        left = self.total - self.done - self.running
        spend = f"{'~' if self.estimated else ''}{self.tokens:,} tokens, " + (
            "cost unknown" if self.cost is None else format_usd(self.cost)
        )
        eta = "-"
        if self.finished_now:
            per = (time.monotonic() - self.started) / self.finished_now
            remaining = self.total - self.done
            eta = f"{int(per * remaining) // 60}:{int(per * remaining) % 60:02d}"
        return f"{self.done}/{self.total} done · {self.running} running · {left} left · spent {spend} · ETA {eta}"

    def on_start(self, spec: RunSpec) -> None:
        with self.lock:
            self.running += 1
            self.console.print(safe_line(f"  start {spec.task_id} [{spec.variant}, seed {spec.seed}] · {self.line()}"))

    def on_done(self, spec: RunSpec, r: RunRecord) -> None:
        with self.lock:
            if r.status != "not_started":
                self.running = max(0, self.running - 1)
                self.finished_now += 1
            self.done += 1
            self.add_spend(r)
            cells = run_cells(r)
            what = f"exec {cells['exec']}, hidden {cells['hidden']}" if r.executability is not None else r.status
            note = f" ({r.error})" if r.error else ""
            self.console.print(
                safe_line(
                    f"  {r.status:<11} {spec.task_id} [{spec.variant}, seed {spec.seed}]: {what}{note} · {self.line()}",
                    limit=400,
                )
            )


def _make_backend(opts: EvalOptions, output: Path, ledger: SharedLedger) -> object:
    """The backend ``--backend`` names. Ray's lives in ``softco/eval/ray_backend.py`` (the `softco[ray]`
    extra): ``make_ray_backend(output, ledger, opts) -> Backend``, whose runs share the budget of
    ``ledger`` (its ``budget`` holds the cap and what earlier invocations spent; its ``stop`` /
    ``stop_reason`` are how the driver and the backend stop each other) and write each project to
    ``output / spec.rel_dir`` on this machine, as the local backend does."""
    if opts.backend == "ray":
        try:
            from softco.eval.ray_backend import make_ray_backend
        except ImportError:
            raise UsageError(
                "--backend ray is not available in this softco (pip install 'softco[ray]'); use --backend local"
            ) from None
        return make_ray_backend(output, ledger, opts)
    from softco.eval.local import LocalBackend

    return LocalBackend(output, ledger, opts.jobs)


def run_specs(
    console: Console,
    results: EvalResults,
    specs: list[RunSpec],
    output: Path,
    opts: EvalOptions,
) -> tuple[EvalResults, int]:
    """Run the specs that have no finished record, saving the results after each run; the exit code."""
    kept = {r.key: r for r in results.records if r.complete}
    todo = [s for s in specs if s.key not in kept]
    order = {s.key: i for i, s in enumerate(specs)}
    records: dict[str, RunRecord] = {r.key: r for r in results.records}  # earlier invocations' too
    before = _spent_before(output, specs)  # every run of the eval: finished ones spent too
    ledger = SharedLedger(
        Budget(max_usd=opts.budget, spent_usd=before.spent_usd, spent_tokens=before.spent_tokens),
        resume_hint="run the same softco command again with a higher --budget",
    )
    backend = _make_backend(opts, output, ledger)
    tracker = Tracker(console, len(specs), len(specs) - len(todo), opts.jobs)
    state = {"results": results}
    save_lock = threading.Lock()

    def save() -> None:
        ordered = sorted(records.values(), key=lambda r: (order.get(r.key, len(order)), r.key))
        state["results"] = write_results(state["results"].model_copy(update={"records": ordered}), output)

    def on_done(spec: RunSpec, record: RunRecord) -> None:
        tracker.on_done(spec, record)
        with save_lock:
            records[spec.key] = record
            save()

    if todo:
        console.print(
            safe_line(
                f"softco {results.kind}: {len(todo)} run(s) to do of {len(specs)} ({len(specs) - len(todo)} finished "
                f"before), {opts.jobs} at a time, backend {opts.backend}; results in {output}",
                limit=1000,
            )
        )
    else:
        console.print(safe_line(f"softco {results.kind}: every run is finished already; results in {output}"))
    interrupted = False
    try:
        if todo:
            backend.run(todo, on_done, tracker.on_start)  # type: ignore[attr-defined]
    except KeyboardInterrupt:
        interrupted = True
        ledger.stop("interrupted")
    with save_lock:
        save()
    final = state["results"]
    statuses = {r.status for r in final.records}
    if interrupted or "interrupted" in statuses:
        return final, EXIT_INTERRUPTED
    if "budget" in statuses or "not_started" in statuses:
        return final, EXIT_BUDGET
    if statuses - {"done"}:
        return final, EXIT_ERROR
    return final, EXIT_OK


def print_scoreboard(console: Console, results: EvalResults, output: Path) -> None:
    from softco.eval.results import SUMMARY_COLUMNS, comparison_cells, comparison_columns, summary_cells

    def table(columns: list[tuple[str, str]], rows: list[dict[str, str]]) -> None:
        heads = [h for _, h in columns]
        cells = [[row[k] for k, _ in columns] for row in rows]
        widths = [max(len(x) for x in col) for col in zip(heads, *cells, strict=False)]
        for line in [heads, *cells]:
            console.print(
                safe_line("  " + "  ".join(c.ljust(w) for c, w in zip(line, widths, strict=False)), limit=2000)
            )

    console.print("")
    console.print(safe_line(f"scoreboard ({results.suite}, suite version {results.suite_version})"))
    table(SUMMARY_COLUMNS, [summary_cells(s) for s in results.summary])
    if results.comparison:
        console.print("")
        table(comparison_columns(results), [comparison_cells(results, c) for c in results.comparison])
    console.print("")
    run_cols = [
        ("task", "task"),
        ("variant", "variant"),
        ("seed", "seed"),
        ("status", "status"),
        ("exec", "exec"),
        ("hidden", "hidden"),
        ("own", "own tests"),
        ("cost", "cost"),
        ("failed", "failing hidden tests"),
    ]
    table(run_cols, [run_cells(r) for r in results.records])
    for r in results.records:
        if r.error:
            console.print(safe_line(f"  {r.task_id} [{r.variant}, seed {r.seed}]: {r.error}", limit=800))
    console.print(safe_line(f"results: {output / RESULTS_FILE}, {output / 'eval.md'}, {output / 'scoreboard.html'}"))


def _results_for(output: Path, suite: Suite, vs: list[Variant], opts: EvalOptions, kind: str) -> EvalResults:
    name = RESULTS_FILE if kind == "eval" else "batch.json"
    old = load_results(output / name)
    versions = {t.id: task_version(t) for t in suite.tasks}
    if old is not None:
        changed = sorted(t for t, v in versions.items() if old.task_versions.get(t, v) != v)
        if changed:
            raise UsageError(
                f"task(s) {', '.join(changed)} changed since {output} was scored: give another --output to start afresh"
            )
        before = {v.name: v for v in old.variants}
        for v in vs:
            was = before.get(v.name)
            if was is not None and (was.model, was.sop_dir) != (v.model, v.sop_dir):
                raise UsageError(
                    f"variant {v.name} of {output} was model {was.model} with SOP {was.sop_dir or 'the default'}, not "
                    f"model {v.model} with SOP {v.sop_dir or 'the default'}: give another --output to start afresh"
                )
    stamp = now()
    return EvalResults(
        kind=kind,
        suite=suite.name,
        suite_path=suite.path,
        suite_version=suite.version,
        created_at=old.created_at if old else stamp,
        updated_at=stamp,
        seeds=opts.seeds,
        budget_usd=opts.budget,
        variants=[*vs, *(v for v in (old.variants if old else []) if v.name not in {n.name for n in vs})],
        tasks=sorted({*(old.tasks if old else []), *versions}),
        task_versions={**(old.task_versions if old else {}), **versions},
        records=old.records if old else [],
    )


def _warn_if_not_hidden(console: Console) -> None:
    """The acceptance tests are hidden from generated code only by a sandbox that isolates the filesystem."""
    from softco import sandbox
    from softco.sandbox.layout import PROVIDES

    mechanism = sandbox.best()
    if not PROVIDES[mechanism].filesystem:
        console.print(
            safe_line(
                f"warning: the sandbox here ({mechanism}) does not isolate the filesystem, so generated code can read "
                "the hidden acceptance tests and its scores may be too high; install bubblewrap "
                "(`apt-get install bubblewrap`) or allow unprivileged user namespaces",
                limit=1000,
            )
        )


def evaluate(opts: EvalOptions, console: Console) -> int:
    """`softco eval`: the exit code (0 every run finished and was scored, 4 the budget stopped it, 1 a run
    failed, 130 interrupted; each resumable by running the same command again)."""
    from softco.eval.demo import demo_setup

    check_options(opts)
    forkserver.start_for(opts.backend, opts.jobs)  # if the command line did not start it already
    llm_for: dict[str, str] | None = None
    if opts.demo:
        suite, llm_for = demo_setup()
        vs = [Variant(name="recorded", model="recorded")]
    else:
        suite = load_suite(opts.suite, opts.tasks or None)
        vs = variants(opts)
    _check_sops(vs)
    _check_prices(vs, opts.budget)
    output = (opts.output or default_output("demo" if opts.demo else suite.name)).absolute()
    results = _results_for(output, suite, vs, opts, "eval")
    specs = make_specs(suite, vs, opts, llm_for)
    if opts.backend == "local":
        _warn_if_not_hidden(console)
    final, code = run_specs(console, results, specs, output, opts)
    print_scoreboard(console, final, output)
    if code == EXIT_BUDGET:
        console.print(safe_line("stopped by the budget: run the same command with a higher --budget to continue"))
    elif code == EXIT_INTERRUPTED:
        console.print(safe_line("interrupted: run the same command again to continue"))
    return code


def read_batch(path: Path) -> list[tuple[str, str]]:
    """(name, requirement) per line of a batch file: plain lines, or JSONL objects {"name", "requirement"}."""
    from softco.eval.spec import MAX_REQUIREMENT_CHARS

    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise UsageError(f"{path} is not UTF-8 text") from None
    lines = [(n, ln.strip()) for n, ln in enumerate(text.splitlines(), 1) if ln.strip() and not ln.startswith("#")]
    if not lines:
        raise UsageError(f"{path}: no requirement in it (one a line, or JSONL with name and requirement)")
    if len(lines) > MAX_BATCH_LINES:
        raise UsageError(f"{path}: {len(lines)} requirements; at most {MAX_BATCH_LINES}")
    out: list[tuple[str, str]] = []
    names: set[str] = set()
    for n, line in lines:
        if line.startswith("{"):
            try:
                obj = json.loads(line)
            except ValueError:
                raise UsageError(f"{path}:{n}: not a JSON object") from None
            if not isinstance(obj, dict) or not isinstance(obj.get("requirement"), str):
                raise UsageError(f'{path}:{n}: give {{"name": "...", "requirement": "..."}}')
            name, req = str(obj.get("name") or obj["requirement"]), obj["requirement"]
        else:
            name, req = line, line
        if not req.strip() or len(req) > MAX_REQUIREMENT_CHARS:
            raise UsageError(f"{path}:{n}: a requirement is 1 to {MAX_REQUIREMENT_CHARS} characters")
        slug = task_dir_name(name)[:40]
        base, k = slug, 2
        while slug in names:
            slug, k = f"{base}-{k}", k + 1
        names.add(slug)
        out.append((slug, req))
    return out


def batch(path: Path, opts: EvalOptions, console: Console) -> int:
    """`softco batch FILE`: a softco run per requirement, no scoring; same runner, resuming and budget."""
    import hashlib

    from softco.eval.suite import Task

    check_options(opts)
    forkserver.start_for(opts.backend, opts.jobs)  # if the command line did not start it already
    items = read_batch(path)
    tasks = [
        Task(id=slug, requirement=req, acceptance={}, source=str(path.absolute()), time_limit_s=1)
        for slug, req in items
    ]
    digest = hashlib.sha256("\n".join(f"{s}\t{r}" for s, r in items).encode()).hexdigest()[:12]
    suite = Suite(name=path.stem, path=str(path.absolute()), version=digest, tasks=tasks)
    vs = variants(opts)
    _check_sops(vs)
    _check_prices(vs, opts.budget)
    output = (opts.output or default_output(f"batch-{path.stem}")).absolute()
    results = _results_for(output, suite, vs, opts, "batch")
    specs = [s.model_copy(update={"score": False, "hidden_paths": []}) for s in make_specs(suite, vs, opts)]
    final, code = run_specs(console, results, specs, output, opts)
    print_scoreboard(console, final, output)
    return code
