"""`softco eval --backend ray` on a simulated 2-node Ray cluster (ray.cluster_utils.Cluster, one for this
module): each node runs a run, and the scores are the local backend's."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import ray_helpers as rh

from softco.budget import Budget, SharedLedger
from softco.eval.spec import RunRecord
from softco.llm.fake_server import FakeOpenAIServer

ray: Any = pytest.importorskip("ray", reason="Ray is not installed: pip install 'softco[ray]'")

from ray.cluster_utils import Cluster  # noqa: E402

from softco.eval.ray_backend import RayBackend  # noqa: E402


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


def test_two_nodes_each_run_a_run_and_give_the_local_scores(two_nodes: Cluster, tmp_path: Path) -> None:
    assert len([n for n in ray.nodes() if n["Alive"]]) == 2
    records: dict[str, RunRecord] = {}
    with FakeOpenAIServer(rh.answers()) as srv:
        run_specs = rh.specs(srv.base_url)
        local = rh.run_locally(run_specs, tmp_path / "local")
        backend = RayBackend(tmp_path / "ray", SharedLedger(Budget()))  # one CPU a node: one run on each
        backend.run(run_specs, lambda spec, record: records.__setitem__(spec.key, record))
        listening = rh.ray_listen_addresses()
    assert not srv.errors
    assert len(backend.nodes) == 2
    assert rh.scores(records) == rh.scores(local)
    for spec in run_specs:
        assert rh.history(tmp_path / "ray" / spec.rel_dir) == rh.history(tmp_path / "local" / spec.rel_dir)
    assert len(listening) >= 3, listening
    assert all(rh.is_loopback(a) for a in listening), listening
