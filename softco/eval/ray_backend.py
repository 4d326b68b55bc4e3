"""`softco eval --backend ray`: one Ray task per run, one named actor for what the runs share.

Install with ``pip install 'softco[ray]'``; every node needs softco (same version) and Ray.

- **Connecting**: ``--ray-address ADDR`` or ``RAY_ADDRESS``; ``--ray-address local`` starts a Ray on this
  machine (stopped again at the end). When the calling process is already connected (``ray.init`` done),
  that connection is used.
- **One task per run**, ``max_retries=0``: Ray never runs a run twice; softco's own resume is the retry.
  The worker builds the project in a temp dir on its own disk, runs :func:`softco.eval.spec.execute_run`
  there, and returns the project as a git bundle plus the board file (:mod:`softco.eval.shipping`); the
  driver writes it where the local backend would have built it, so the output (paths, eval.json, the
  reports) is the same.
- **One named actor** (``softco-eval-<id>`` in namespace ``softco``) holds the eval-wide budget ledger and
  the optional ``--rpm`` cap (:mod:`softco.eval.coordinator`): every worker's model calls reserve there, so
  the budget holds across the cluster (exit 4, resumable) and the workers together start at most ``--rpm``
  calls a minute.
- **A worker that dies** (killed, out of memory, its node lost): before each model call a worker leaves its
  project's latest state with the actor (only when it changed). The driver writes that checkpoint to the
  run's directory as a partial run and records the run as not finished; the next ``softco eval`` with the
  same command ships the partial project to a worker, which resumes it: finished steps are not asked (nor
  paid) again, and finished runs are never redone. The calls the dead worker had in flight count as spent
  at their worst case. A run whose worker died before its first model call starts again from nothing.
- **Files on the workers**: a run carries its requirement, SOP name, settings and acceptance tests in its
  :class:`~softco.eval.spec.RunSpec`; paths in it (an SOP directory, a ``script:``/``replay:`` file,
  ``SOFTCO_PRICES``) must exist at the same path on every node. The driver's ``SOFTCO_*`` and ``OPENAI_*``
  environment variables are passed to each run (set in the worker for the run's time, then put back: a
  Ray ``runtime_env`` would start a new pool of worker processes for every eval).
- **The step cache** lives on each worker's disk for the run's time only: on Ray a run never reuses
  another's cached steps (the local backend does, per variant).
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import sys
import tempfile
import time
import uuid
from collections import deque
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any, cast

from pydantic import BaseModel, ConfigDict

from softco import config
from softco.errors import UsageError
from softco.eval.coordinator import EvalCoordinator
from softco.eval.shipping import BOARD_FILE, ProjectPack, ShippingError, pack_project, unpack_project
from softco.eval.spec import OnDone, OnStart, RunRecord, RunSpec, execute_run, not_started
from softco.llm.budget import Grant, SharedLedger

if TYPE_CHECKING:
    from softco.eval.driver import EvalOptions

NAMESPACE = "softco"
#: Set to 0 before Ray is imported, Ray binds 127.0.0.1 only (see :func:`import_ray`).
LOOPBACK_ENV = "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"
#: Environment variables the driver passes to the workers (prefixes).
FORWARDED_ENV = ("SOFTCO_", "OPENAI_")


class RayUnavailable(UsageError):
    """Ray is not installed, or the cluster cannot be reached."""


def import_ray(local_only: bool = False) -> ModuleType:
    """Ray, imported. ``local_only``: a Ray that softco starts on this machine talks on 127.0.0.1 only, which
    Ray decides when it is first imported (``RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0``; without it a local Ray
    listens on every address of the machine)."""
    if local_only and "ray" not in sys.modules:
        os.environ.setdefault(LOOPBACK_ENV, "0")
    try:
        import ray
    except ImportError:
        raise RayUnavailable("--backend ray needs Ray: pip install 'softco[ray]' (or use --backend local)") from None
    return ray


class WorkerResult(BaseModel):
    """What a worker sends back: the run's record (JSON) and its project, or why it could not."""

    model_config = ConfigDict(extra="forbid")
    record: str | None = None
    error: str | None = None
    pack: ProjectPack | None = None
    #: what the run printed (its ``<project>.log``), the end of it if long
    log: str = ""
    node: str = ""


class RayLedger:
    """The worker's side of the shared ledger (a :class:`softco.llm.budget.Ledger`): every reservation asks the
    eval's actor; before it, the project's state is left with the actor if it changed (see the module)."""

    #: the project's state is taken before every call: the run commits each artifact at once (company.run)
    takes_checkpoints = True

    def __init__(self, coordinator: Any, run: str, project: Path) -> None:
        self.coordinator = coordinator
        self.run = run
        self.project = project
        self._state: tuple[object, ...] | None = None
        #: do not ask the actor again before this (time.monotonic()): it said to wait that long
        self._not_before = 0.0

    def _project_state(self) -> tuple[object, ...]:
        def stat(p: Path) -> tuple[int, int] | None:
            try:
                s = p.stat()
            except OSError:
                return None
            return s.st_mtime_ns, s.st_size

        board = self.project / BOARD_FILE
        git_dir = self.project / ".git"
        return (
            stat(board),
            stat(board.with_name(board.name + "-wal")),
            stat(git_dir / "HEAD"),
            stat(git_dir / "refs" / "heads"),
            stat(git_dir / "index"),
        )

    def checkpoint(self) -> None:
        state = self._project_state()
        if state == self._state:
            return
        try:
            pack = pack_project(self.project)
        except ShippingError:  # a checkpoint is a help, never a reason to stop the run
            return
        self._state = state
        self.coordinator.checkpoint.remote(self.run, pack)  # ordered before this handle's next call

    def reserve(self, tokens: int, usd: float | None) -> Grant:
        if time.monotonic() < self._not_before:  # the actor said to wait: the caller asks again shortly
            return Grant(False)
        ray = import_ray()
        self.checkpoint()
        grant, wait = ray.get(self.coordinator.ask.remote(self.run, tokens, usd))
        if not grant.ok and grant.stop is None:
            self._not_before = time.monotonic() + wait
        return cast(Grant, grant)

    def settle(self, tokens: int, usd: float, used_tokens: int, used_usd: float) -> None:
        ray = import_ray()
        ray.get(self.coordinator.settle.remote(self.run, tokens, usd, used_tokens, used_usd))


def run_on_worker(
    spec_json: str,
    coordinator: Any,
    start: ProjectPack | None,
    env: dict[str, str] | None = None,
    settings: config.Config | None = None,
) -> WorkerResult:
    """:func:`run_in_worker` with the driver's ``env`` (see the module) set for the run's time, and its
    ``settings`` (the command's flags over the environment over the softco.toml its --output found)."""
    saved = {k: os.environ.get(k) for k in env or {}}
    forwarded_here = [k for k in os.environ if k.startswith(FORWARDED_ENV) and k not in (env or {})]
    removed = {k: os.environ.pop(k) for k in forwarded_here}  # only the driver's SOFTCO_*/OPENAI_* apply
    os.environ.update(env or {})
    try:
        if settings is None:
            return run_in_worker(spec_json, coordinator, start)
        with config.using(settings):
            return run_in_worker(spec_json, coordinator, start)
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        os.environ.update(removed)


def run_in_worker(spec_json: str, coordinator: Any, start: ProjectPack | None) -> WorkerResult:
    """One run on a Ray worker, in a temp dir of its own (the body of the Ray task). Paths of the worker's
    temp dir in the record and the log (a message naming the project) are written as :data:`WORKER_ROOT`,
    which the driver replaces with its output directory."""
    ray = import_ray()
    node = str(ray.get_runtime_context().get_node_id())
    spec = RunSpec.model_validate_json(spec_json)
    with tempfile.TemporaryDirectory(prefix="softco-ray-") as tmp:
        root = Path(tmp) / "out"
        project = root / spec.rel_dir
        project.parent.mkdir(parents=True, exist_ok=True)
        if start is not None:
            unpack_project(start, project)
        ledger = RayLedger(coordinator, spec.key, project)
        log_path = project.parent / f"{project.name}.log"
        try:
            record = execute_run(spec, project, ledger)
        except Exception as exc:  # execute_run records what a run goes through; anything else is a bug
            error = f"internal error on Ray node {node[:12]}: {type(exc).__name__}: {exc} (a bug in softco: report it)"
            return WorkerResult(
                error=_portable(error, root), pack=_pack_quietly(project), log=_log(log_path, root), node=node
            )
        return WorkerResult(
            record=_portable(record.model_dump_json(), root),
            pack=pack_project(project),
            log=_log(log_path, root),
            node=node,
        )


#: Stands for the worker's output directory in what a worker sends back (see :func:`run_on_worker`).
WORKER_ROOT = "<softco-ray-output>"
#: The most of a run's log a worker sends back (its end).
MAX_LOG_CHARS = 1_000_000


def _portable(text: str, root: Path) -> str:
    """``text`` with the worker's output directory (a temp dir: plain ASCII) written as :data:`WORKER_ROOT`."""
    return text.replace(str(root), WORKER_ROOT)


def _localised(text: str, output: Path, as_json: bool = False) -> str:
    """``text`` with :data:`WORKER_ROOT` written as the driver's ``output`` (escaped inside JSON strings)."""
    return text.replace(WORKER_ROOT, json.dumps(str(output), ensure_ascii=False)[1:-1] if as_json else str(output))


def _log(path: Path, root: Path) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
    return _portable(text[-MAX_LOG_CHARS:], root)


def _pack_quietly(project: Path) -> ProjectPack | None:
    try:
        return pack_project(project) if project.exists() else None
    except ShippingError:
        return None


def forwarded_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k.startswith(FORWARDED_ENV)}


def place(pack: ProjectPack, dest: Path) -> None:
    """Write ``pack`` at ``dest``, replacing what is there (an earlier partial state of the same run) only
    once the new project is complete beside it."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    incoming = dest.parent / f".{dest.name}.incoming-{uuid.uuid4().hex[:8]}"
    try:
        unpack_project(pack, incoming)
    except BaseException:
        shutil.rmtree(incoming, ignore_errors=True)
        raise
    old = dest.parent / f".{dest.name}.old-{uuid.uuid4().hex[:8]}"
    if dest.exists():
        dest.rename(old)
    incoming.rename(dest)
    shutil.rmtree(old, ignore_errors=True)


def partial_project(dest: Path) -> ProjectPack | None:
    """The state an earlier invocation left for a run that did not finish (None: start from nothing)."""
    if not (dest / BOARD_FILE).is_file():
        return None
    return pack_project(dest)


class RayBackend:
    """Runs an eval's runs as Ray tasks (see the module): a :class:`softco.eval.spec.Backend`. ``output`` is
    the eval's output directory; ``ledger`` the driver's budget ledger (what earlier invocations spent is in
    its budget), which the actor takes over for the run and hands back at the end (spent, stopped)."""

    def __init__(
        self,
        output: Path,
        ledger: SharedLedger,
        address: str | None = None,
        jobs: int | None = None,
        rpm: int | None = None,
    ) -> None:
        if rpm is not None and rpm < 1:
            raise UsageError(f"--rpm {rpm}: give 1 or more calls a minute, or leave it out for no cap")
        self.output = output.absolute()
        self.ledger = ledger
        self.address = address
        self.jobs = jobs
        self.rpm = rpm
        self.totals: dict[str, Any] = {}
        #: the Ray node ids that ran a run
        self.nodes: set[str] = set()

    def _connect(self, ray: ModuleType, address: str | None) -> bool:
        """Connect to the cluster; True when this call started a Ray that :meth:`run` must stop."""
        if ray.is_initialized():
            return False
        if not address:
            raise RayUnavailable(
                "--backend ray needs a cluster: give --ray-address ADDR or set RAY_ADDRESS "
                "(--ray-address local starts Ray on this machine)"
            )
        try:
            if address == "local":
                # Ray's own log lines would break softco's progress lines; its errors still show
                ray.init(address="local", include_dashboard=False, log_to_driver=False, logging_level=logging.ERROR)
            else:
                ray.init(address=address, log_to_driver=False, logging_level=logging.ERROR)
        except (ConnectionError, RuntimeError, ValueError) as exc:
            last = (str(exc).strip().splitlines() or [type(exc).__name__])[-1][:200]
            raise RayUnavailable(
                f"cannot connect to Ray at {address}: {last}; check the address (or use --ray-address local)"
            ) from None
        return True

    def run(self, specs: Sequence[RunSpec], on_done: OnDone, on_start: OnStart | None = None) -> None:
        address = self.address or os.environ.get("RAY_ADDRESS")
        ray = import_ray(local_only=address == "local")
        started = self._connect(ray, address)
        try:
            self._run(ray, specs, on_done, on_start)
        finally:
            if started:
                ray.shutdown()

    def _run(self, ray: ModuleType, specs: Sequence[RunSpec], on_done: OnDone, on_start: OnStart | None) -> None:
        name = f"softco-eval-{uuid.uuid4().hex[:12]}"
        coordinator = (
            ray.remote(EvalCoordinator)
            .options(name=name, namespace=NAMESPACE, num_cpus=0, max_restarts=0)
            .remote(self.ledger.budget, self.rpm, self.ledger.hint)
        )
        task = ray.remote(run_on_worker).options(num_cpus=1, max_retries=0, retry_exceptions=False)
        env, settings = forwarded_env(), config.current()
        jobs = self.jobs or max(1, int(ray.cluster_resources().get("CPU", 1)))
        queue = deque(specs)
        running: dict[Any, RunSpec] = {}
        try:
            while queue or running:
                while queue and len(running) < jobs:
                    spec = queue.popleft()
                    stopped = ray.get(coordinator.totals.remote())["stopped"]
                    if stopped:  # the shared budget stopped: no further run starts
                        on_done(spec, not_started(spec, stopped))
                        continue
                    if on_start is not None:
                        on_start(spec)
                    try:
                        start = partial_project(self.output / spec.rel_dir)
                    except ShippingError as exc:  # the partial project here cannot be read: say so, go on
                        on_done(spec, _failed(spec, f"cannot send the unfinished run to a worker: {exc}"))
                        continue
                    running[task.remote(spec.model_dump_json(), coordinator, start, env, settings)] = spec
                if not running:
                    continue
                ready, _ = ray.wait(list(running), num_returns=1)
                for ref in ready:
                    spec = running.pop(ref)
                    on_done(spec, self._collect(ray, ref, spec, coordinator))
        except BaseException:  # Ctrl-C or a failure here: stop the runs in flight, keep what they did
            for ref in running:
                ray.cancel(ref, force=True)
            for spec in running.values():
                try:
                    self._salvage(ray, spec, coordinator)
                except (ray.exceptions.RayError, ShippingError, OSError):
                    pass  # the cluster is gone too: that run starts again next time
            raise
        finally:
            try:
                self.totals = ray.get(coordinator.totals.remote())
                ray.kill(coordinator)
            except ray.exceptions.RayError:
                self.totals = {}
            if self.totals:  # what the runs spent, for the driver's summary and its exit code
                budget = self.ledger.budget
                budget.spent_usd, budget.spent_tokens = self.totals["spent_usd"], self.totals["spent_tokens"]
                self.ledger.stopped = self.ledger.stopped or self.totals["stopped"]

    def _salvage(self, ray: ModuleType, spec: RunSpec, coordinator: Any) -> bool:
        """Write off a dead worker's calls in flight; put its last checkpoint in the run's directory."""
        ray.get(coordinator.write_off.remote(spec.key))
        pack: ProjectPack | None = ray.get(coordinator.take_checkpoint.remote(spec.key))
        if pack is None:
            return False
        place(pack, self.output / spec.rel_dir)
        return True

    def _collect(self, ray: ModuleType, ref: Any, spec: RunSpec, coordinator: Any) -> RunRecord:
        try:
            result: WorkerResult = ray.get(ref)
        except ray.exceptions.RayError as exc:  # the worker died (killed, out of memory, its node lost)
            kept = self._salvage(ray, spec, coordinator)
            what = "its last state is kept and" if kept else "it had made no model call; it"
            return _failed(
                spec,
                f"the Ray worker of this run died ({type(exc).__name__}); {what} is resumed when the same "
                "`softco eval` command runs again",
            )
        ray.get(coordinator.write_off.remote(spec.key))
        ray.get(coordinator.take_checkpoint.remote(spec.key))
        self.nodes.add(result.node)
        dest = self.output / spec.rel_dir
        if result.pack is not None:
            try:
                place(result.pack, dest)
            except (ShippingError, OSError) as exc:
                return _failed(spec, f"the project that came back could not be written to {dest}: {exc}")
        if result.log:
            with (dest.parent / f"{dest.name}.log").open("a", encoding="utf-8") as log:
                log.write(_localised(result.log, self.output))
        if result.record is None:
            return _failed(spec, _localised(result.error or "the worker sent no record", self.output))
        record = RunRecord.model_validate_json(_localised(result.record, self.output, as_json=True))
        if record.report:  # the run's HTML report, made again here: it names the project's path on this machine
            record.report = _report(dest, spec.rel_dir)
        return record


def _report(project: Path, rel_dir: str) -> str:
    from softco.report.html import write_report
    from softco.report.project import ReportError, load_project

    try:
        path = write_report(load_project(project))
    except (ReportError, OSError):
        return ""
    return f"{rel_dir}/{path.relative_to(project).as_posix()}"


def _failed(spec: RunSpec, why: str) -> RunRecord:
    record = not_started(spec, why)
    record.status = "error"
    return record


def make_ray_backend(output: Path, ledger: SharedLedger, opts: EvalOptions) -> RayBackend:
    """The backend `softco eval --backend ray` uses."""
    return RayBackend(output, ledger, address=opts.ray_address, jobs=opts.jobs, rpm=opts.rpm)
