"""RayLauncher on a local Ray runtime: fake-backend servers as actors, kill one, teardown."""

from __future__ import annotations

import sys
import urllib.request
from pathlib import Path

import pytest

pytest.importorskip("ray", reason="the `ray` extra is not installed")

from live_fakes import FakeEngine  # noqa: E402

from l4bench.errors import ConfigError  # noqa: E402
from l4bench.live.launchers import http_ok  # noqa: E402
from l4bench.live.ray_launcher import RayLauncher  # noqa: E402


def _launcher(tmp_path: Path, **kw: object) -> RayLauncher:
    return RayLauncher(
        FakeEngine(), sys.executable, "unused", 2, {}, {}, tmp_path / "logs", ready_timeout_s=60, **kw
    )  # type: ignore[arg-type]


def test_bad_strategy_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="engine.ray.strategy"):
        _launcher(tmp_path, strategy="EVERYWHERE")


@pytest.mark.slow
def test_ray_launcher_local_cluster(tmp_path: Path) -> None:
    import ray

    with _launcher(tmp_path, num_cpus_per_instance=0.5) as launcher:
        eps = launcher.start()
        assert [e.instance_id for e in eps] == [0, 1] and len({e.url for e in eps}) == 2
        assert all(e.url.startswith("http://127.0.0.1:") for e in eps)
        assert launcher.healthy() == [True, True]
        body = urllib.request.urlopen(eps[0].url + "/v1/models").read()
        assert b"fake-model" in body
        assert (tmp_path / "logs" / "instance-1.log").exists()
        launcher.kill_instance(1)
        assert launcher.healthy() == [True, False]
        assert launcher.describe()["strategy"] == "PACK"
    assert not ray.is_initialized()
    assert not any(http_ok(e.url + "/health") for e in eps)
