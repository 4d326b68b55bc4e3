"""`softco eval --backend ray` on a local 2-CPU Ray (one cluster for this module): the same scores as the
local backend, Ray on 127.0.0.1 only, the eval-wide budget across workers, a killed worker resumed."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import ray_helpers as rh
from helpers import repo_files

import softco.llm.openai
from softco.budget import Budget, SharedLedger
from softco.eval.spec import RunRecord, RunSpec
from softco.llm.fake_server import FakeOpenAIServer, FakeRequest

ray: Any = pytest.importorskip("ray", reason="Ray is not installed: pip install 'softco[ray]'")

from softco.eval.ray_backend import RayBackend  # noqa: E402


@pytest.fixture(scope="module")
def local_ray() -> Iterator[Any]:
    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        yield ray
    finally:
        ray.shutdown()


@pytest.fixture(scope="module")
def local(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, RunRecord], Path]:
    """What the local backend makes of :func:`ray_helpers.specs` (records, output dir), once for this module."""
    output = tmp_path_factory.mktemp("local")
    with pytest.MonkeyPatch.context() as mp, FakeOpenAIServer(rh.answers()) as srv:
        mp.setattr(softco.llm.openai, "ALLOW_REMOTE_REQUESTS", False)
        mp.setenv("SOFTCO_LOCAL_ONLY", "1")
        records = rh.run_locally(rh.specs(srv.base_url), output)
    assert not srv.errors
    return records, output


def run_on_ray(run_specs: list[RunSpec], output: Path, ledger: SharedLedger | None = None) -> dict[str, RunRecord]:
    records: dict[str, RunRecord] = {}
    backend = RayBackend(output, ledger or SharedLedger(Budget()))
    backend.run(run_specs, lambda spec, record: records.__setitem__(spec.key, record))
    assert sorted(records) == sorted(s.key for s in run_specs)
    return records


def test_ray_gives_the_local_scores_and_listens_on_loopback_only(
    local_ray: Any, local: tuple[dict[str, RunRecord], Path], tmp_path: Path
) -> None:
    with FakeOpenAIServer(rh.answers()) as srv:
        run_specs = rh.specs(srv.base_url)
        on_ray = run_on_ray(run_specs, tmp_path / "ray")
        listening = rh.ray_listen_addresses()
    assert not srv.errors
    assert rh.scores(on_ray) == rh.scores(local[0])
    fixed, buggy = (on_ray[s.key] for s in run_specs)
    assert (fixed.executability, fixed.hidden_passed, fixed.hidden_total) == (4, 4, 4)
    assert (buggy.executability, buggy.hidden_failed) == (3, ["acceptance/test_calc.py::test_divide_by_zero"])
    for spec in run_specs:  # the driver's output looks as the local backend's: same files, same history
        ray_dir, local_dir = tmp_path / "ray" / spec.rel_dir, local[1] / spec.rel_dir
        assert repo_files(ray_dir) == repo_files(local_dir)  # but pytest's timings in docs/test_report.json
        assert rh.history(ray_dir) == rh.history(local_dir)
        assert (ray_dir / ".softco" / "report.html").is_file()
        assert str(tmp_path / "ray" / spec.rel_dir) in (ray_dir.parent / f"{ray_dir.name}.log").read_text()
    # Ray (its servers, its workers, this driver's side of it) listens on 127.0.0.1 only
    assert len(listening) >= 3, listening
    assert all(rh.is_loopback(a) for a in listening), listening


def test_the_eval_budget_stops_every_worker_before_a_call_could_cross_it(
    local_ray: Any, local: tuple[dict[str, RunRecord], Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    prices = tmp_path / "prices.json"
    prices.write_text(json.dumps({"fake-model": [1000.0, 1000.0]}))  # USD per million tokens: $0.001 a token
    monkeypatch.setenv("SOFTCO_PRICES", str(prices))
    budget = 12.0
    with FakeOpenAIServer(rh.answers()) as srv:
        run_specs = rh.specs(srv.base_url)
        ledger = SharedLedger(Budget(max_usd=budget))
        stopped = run_on_ray(run_specs, tmp_path / "out", ledger)
        asked_before = len(srv.requests)
        # the same command again with a budget that fits: each run resumes where it stopped
        resumed = run_on_ray(run_specs, tmp_path / "out", SharedLedger(Budget(max_usd=1000.0)))
    assert not srv.errors
    assert ledger.stopped is not None and "budget" in ledger.stopped
    assert "budget" in {r.status for r in stopped.values()}
    spent = sum(r.cost_usd or 0.0 for r in stopped.values())
    assert 0 < spent <= budget
    assert ledger.budget.spent_usd <= budget
    assert 0 < asked_before < len(srv.requests)
    assert rh.scores(resumed, steps=False) == rh.scores(local[0], steps=False)


def test_a_killed_worker_leaves_a_run_the_next_invocation_resumes(
    local_ray: Any, local: tuple[dict[str, RunRecord], Path], tmp_path: Path
) -> None:
    killed: list[int] = []

    def kill_at_design(req: FakeRequest) -> None:  # the worker dies while the architect's call is out
        if req.step == "architect/write_design/project" and not killed:
            killed.extend(rh.kill_run_workers())

    with FakeOpenAIServer(rh.answers(kill_at_design)) as srv:
        spec = rh.specs(srv.base_url)[0]
        first = run_on_ray([spec], tmp_path / "out")[spec.key]
        project = tmp_path / "out" / spec.rel_dir
        kept = rh.history(project)
        second = run_on_ray([spec], tmp_path / "out")[spec.key]
        asked = [r.step for r in srv.requests]
    assert len(killed) == 1
    assert first.status == "error" and "worker of this run died" in first.error
    assert kept == ["requirement: " + spec.requirement, "prd: Calc (2 requirements)"]
    assert rh.scores({spec.key: second}, steps=False) == rh.scores({spec.key: local[0][spec.key]}, steps=False)
    assert asked.count("product_manager/write_prd/project") == 1  # the resume did not ask (nor pay) it again
    assert asked.count("architect/write_design/project") == 2  # the call the dead worker had out, then again
