"""`softco eval --backend ray` on a local 2-CPU Ray (one for this module): the local backend's eval.json scores
and output, Ray on 127.0.0.1 only, the eval-wide --budget across workers (exit 4, resumable), a killed worker's
run resumed by the next invocation."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import ray_helpers as rh
from eval_helpers import calc_script, invoke
from fake_server import FakeOpenAIServer, FakeRequest
from helpers import repo_files
from ray_helpers import LocalEval


@pytest.fixture(scope="module")
def local_eval(tmp_path_factory: pytest.TempPathFactory) -> LocalEval:
    return rh.local_eval(tmp_path_factory)


ray: Any = pytest.importorskip("ray", reason="Ray is not installed: pip install 'softco[ray]'")

RAY = ("--backend", "ray", "--jobs", "2")


@pytest.fixture(scope="module")
def local_ray() -> Iterator[Any]:
    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        yield ray
    finally:
        ray.shutdown()


def test_ray_gives_the_local_scores_and_listens_on_loopback_only(
    local_ray: Any, local_eval: LocalEval, tmp_path: Path
) -> None:
    out = tmp_path / "ev"
    with FakeOpenAIServer(rh.answers()) as srv:
        code, text = invoke(*rh.eval_args(local_eval.suite, out, srv.base_url), *RAY)
        listening = rh.ray_listen_addresses()
    assert code == 0 and not srv.errors, text
    on_ray = rh.records(out)
    assert rh.scores(on_ray) == rh.scores(local_eval.records)
    calc, strict = on_ray["calc|fake-model|1"], on_ray["calc-strict|fake-model|1"]
    assert (calc.executability, calc.hidden_passed, calc.hidden_total) == (4, 4, 4)
    assert (strict.executability, strict.hidden_failed) == (3, ["acceptance/test_calc_strict.py::test_divide_floors"])
    for r in on_ray.values():  # the output looks as the local backend's: same projects, same history
        ray_dir, local_dir = out / r.rel_dir, local_eval.output / r.rel_dir
        assert repo_files(ray_dir) == repo_files(local_dir)  # (but pytest's timings in docs/test_report.json)
        assert rh.history(ray_dir) == rh.history(local_dir)
        assert (out / r.report).is_file() and str(ray_dir) in (out / r.report).read_text()
        assert str(ray_dir) in (ray_dir.parent / f"{ray_dir.name}.log").read_text()  # the driver's paths
    assert (out / "eval.md").is_file() and (out / "scoreboard.html").is_file()
    # Ray (its servers, its workers, this driver's side of it) listens on 127.0.0.1 only
    assert len(listening) >= 3, listening
    assert all(rh.is_loopback(a) for a in listening), listening


def test_the_eval_budget_stops_every_worker_before_a_call_could_cross_it(
    local_ray: Any,
    local_eval: LocalEval,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    prices = tmp_path / "prices.json"
    prices.write_text(json.dumps({"fake-model": [1000.0, 1000.0]}))  # USD per million tokens: $0.001 a token
    monkeypatch.setenv("SOFTCO_PRICES", str(prices))
    out = tmp_path / "ev"
    with FakeOpenAIServer(rh.answers()) as srv:
        args = rh.eval_args(local_eval.suite, out, srv.base_url)
        code, text = invoke(*args, *RAY, "--budget", "8")
        stopped = rh.records(out)
        spent, asked = rh.spent_usd(out), len(srv.requests)
        # the same command with a budget that fits: each run goes on where it stopped
        again, text_again = invoke(*args, *RAY, "--budget", "100")
    assert code == 4, text
    assert "higher --budget" in text
    assert "budget" in {r.status for r in stopped.values()}
    assert 0 < spent <= 8.0  # the workers together never crossed the eval's budget
    assert again == 0 and not srv.errors, text_again
    assert 0 < asked < len(srv.requests)
    assert rh.scores(rh.records(out), steps=False) == rh.scores(local_eval.records, steps=False)


def test_a_killed_worker_leaves_a_run_the_next_invocation_resumes(
    local_ray: Any, local_eval: LocalEval, tmp_path: Path
) -> None:
    killed: list[int] = []

    def kill_at_design(req: FakeRequest) -> None:  # the worker dies while the architect's call is out
        if req.step == "architect/write_design/project" and not killed:
            killed.extend(rh.kill_run_workers())

    out = tmp_path / "ev"
    with FakeOpenAIServer(rh.answers(kill_at_design)) as srv:
        args = [*rh.eval_args(local_eval.suite, out, srv.base_url), *RAY, "--tasks", "calc"]
        code, text = invoke(*args)
        first = rh.records(out)["calc|fake-model|1"]
        kept = rh.history(out / first.rel_dir)
        again, text_again = invoke(*args)
    assert len(killed) == 1
    assert code == 1 and first.status == "error" and "worker of this run died" in first.error, text
    assert len(kept) == 2 and kept[1] == "prd: Calc (2 requirements)"  # the state before the call it died in
    assert again == 0, text_again
    second = rh.records(out)["calc|fake-model|1"]
    assert rh.scores({"calc": second}, steps=False) == rh.scores(
        {"calc": local_eval.records["calc|fake-model|1"]}, steps=False
    )
    asked = [r.step for r in srv.requests]
    assert asked.count("product_manager/write_prd/project") == 1  # the resume did not ask (nor pay) it again
    assert asked.count("architect/write_design/project") == 2  # the call the dead worker had out, then again


def test_batch_on_ray_with_a_script_file(local_ray: Any, tmp_path: Path) -> None:
    """`softco batch --backend ray`: the same runner without scoring; a `script:` file read by the workers."""
    batch = tmp_path / "reqs.txt"
    batch.write_text("a tiny calculator library with safe division\na tiny calculator library, again\n")
    out = tmp_path / "b"
    llm = calc_script(tmp_path / "script.json")
    code, text = invoke("batch", str(batch), "--llm", llm, "--output", str(out), "--max-fix-rounds", "1", *RAY)
    assert code == 0, text
    recs = json.loads((out / "batch.json").read_text())["records"]
    got = [(r["status"], r["executability"], r["own_passed"], r["own_total"]) for r in recs]
    assert got == [("done", None, 3, 3)] * 2
    assert all((out / r["rel_dir"] / "calc" / "ops.py").is_file() for r in recs)


def test_ray_workers_take_the_drivers_settings_file_and_environment(
    local_ray: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The driver's settings reach every Ray worker: out/softco.toml (the --output's, not the working
    directory's, which is not valid here and would stop every run) names the endpoint; SOFTCO_MODEL names the
    model every request asks for and OPENAI_API_KEY the key each sends, both set after Ray started its workers
    (so only the driver has them)."""
    batch = tmp_path / "reqs.txt"
    batch.write_text("a tiny calculator library with safe division\na tiny calculator library, again\n")
    out = tmp_path / "b"
    out.mkdir()
    (tmp_path / "softco.toml").write_text("timeout = -1\n")
    monkeypatch.setenv("SOFTCO_MODEL", "model-of-the-driver")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-of-the-driver")
    with FakeOpenAIServer(rh.answers()) as srv:
        (out / "softco.toml").write_text(f'base_url = "{srv.base_url}"\ntimeout = 120\n')
        code, text = invoke("batch", str(batch), "--output", str(out), "--max-fix-rounds", "1", *RAY)
        asked = {str(r.body.get("model")) for r in srv.chat_requests()}
        keys = {r.headers.get("authorization") for r in srv.chat_requests()}
        ran = len(srv.chat_requests())
    assert code == 0 and not srv.errors, text
    recs = json.loads((out / "batch.json").read_text())["records"]
    assert [(r["status"], r["own_passed"], r["own_total"]) for r in recs] == [("done", 3, 3)] * 2
    assert ran >= 2 * 6 and asked == {"model-of-the-driver"} and keys == {"Bearer sk-of-the-driver"}
