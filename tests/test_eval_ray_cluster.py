"""`softco eval --backend ray` on a simulated 2-node Ray cluster (ray.cluster_utils.Cluster, one for this
module): each node runs a run, and eval.json's scores are the local backend's."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import ray_helpers as rh
from eval_helpers import invoke
from fake_server import FakeOpenAIServer
from ray_helpers import LocalEval


@pytest.fixture(scope="module")
def local_eval(tmp_path_factory: pytest.TempPathFactory) -> LocalEval:
    return rh.local_eval(tmp_path_factory)


ray: Any = pytest.importorskip("ray", reason="Ray is not installed: pip install 'softco[ray]'")

from ray.cluster_utils import Cluster  # noqa: E402

import softco.eval.ray_backend  # noqa: E402


@pytest.fixture(scope="module")
def two_nodes() -> Iterator[Cluster]:
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "include_dashboard": False})
    try:
        cluster.add_node(num_cpus=1)
        ray.init(address=cluster.address, log_to_driver=False)
        cluster.wait_for_nodes()
        yield cluster
    finally:
        ray.shutdown()
        cluster.shutdown()


def test_two_nodes_each_run_a_run_and_give_the_local_scores(
    two_nodes: Cluster, local_eval: LocalEval, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert len([n for n in ray.nodes() if n["Alive"]]) == 2
    backends: list[softco.eval.ray_backend.RayBackend] = []
    make = softco.eval.ray_backend.make_ray_backend

    def keep(*args: Any) -> softco.eval.ray_backend.RayBackend:
        backends.append(make(*args))
        return backends[-1]

    monkeypatch.setattr(softco.eval.ray_backend, "make_ray_backend", keep)
    with FakeOpenAIServer(rh.answers()) as srv:
        # one CPU a node, two runs at once: one on each node
        args = rh.eval_args(local_eval.suite, tmp_path / "ray", srv.base_url)
        code, text = invoke(*args, "--backend", "ray", "--jobs", "2")
        listening = rh.ray_listen_addresses()
    assert code == 0 and not srv.errors, text
    assert len(backends) == 1 and len(backends[0].nodes) == 2
    on_ray = rh.records(tmp_path / "ray")
    assert rh.scores(on_ray) == rh.scores(local_eval.records)
    assert sorted(r.executability for r in on_ray.values()) == [3, 4]
    for r in on_ray.values():
        assert rh.history(tmp_path / "ray" / r.rel_dir) == rh.history(local_eval.output / r.rel_dir)
    assert len(listening) >= 3, listening
    assert all(rh.is_loopback(a) for a in listening), listening
