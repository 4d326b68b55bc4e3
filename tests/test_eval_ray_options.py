"""`softco eval --backend ray` options that fail before anything starts (no cluster here): one line, exit 2."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import ray_helpers as rh
from eval_helpers import invoke


def test_ray_without_an_address_says_how_to_give_one(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("ray", reason="Ray is not installed: pip install 'softco[ray]'")
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    args = rh.eval_args(rh.write_suite(tmp_path), tmp_path / "ev", "http://127.0.0.1:9/v1", "--backend", "ray")
    code, text = invoke(*args)
    assert code == 2, text
    assert "give --ray-address ADDR or set RAY_ADDRESS" in text and "Traceback" not in text


def test_ray_not_installed_says_what_to_install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` raises ImportError
    args = rh.eval_args(rh.write_suite(tmp_path), tmp_path / "ev", "http://127.0.0.1:9/v1", "--backend", "ray")
    code, text = invoke(*args, "--ray-address", "local")
    assert code == 2, text
    assert "pip install 'softco[ray]'" in text and "Traceback" not in text


@pytest.mark.parametrize("more", [["--rpm", "60"], ["--rpm", "0", "--backend", "ray"]])
def test_rpm_is_a_positive_cap_for_ray_workers(tmp_path: Path, more: list[str]) -> None:
    code, text = invoke(*rh.eval_args(rh.write_suite(tmp_path), tmp_path / "ev", "http://127.0.0.1:9/v1", *more))
    assert code == 2, text
    assert "with --backend ray (it caps every worker together)" in text
    assert not (tmp_path / "ev").exists()
