"""External routers: config validation, argv, simulator rejection, and vllm-router in front of fake backends."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from live_fakes import FakeEngine

from l4bench.errors import ConfigError
from l4bench.live.external import ExternalRouter, is_external
from l4bench.live.procs import live_processes
from l4bench.live.runner import LiveRunner
from l4bench.types import ClusterSpec, Request

REPO = Path(__file__).resolve().parents[2]
CLUSTER = ClusterSpec(num_instances=2, max_model_len=8192, kv_capacity_tokens=100_000)


def test_policy_and_kind_are_validated() -> None:
    with pytest.raises(ConfigError, match="scheduler.policy"):
        ExternalRouter("vllm_router", "least_tokens")
    with pytest.raises(ConfigError, match="scheduler.kind"):
        ExternalRouter("nginx", "round_robin")
    assert ExternalRouter("sglang_router", "cache_aware").name == "sglang_router_cache_aware"


def test_command_lifts_admission_limits() -> None:
    r = ExternalRouter("vllm_router", "power_of_two", args={"cache-threshold": 0.5})
    cmd = r.command("/py", ["http://a:1", "http://b:2"], 9000)
    assert cmd[:3] == ["/py", "-m", "vllm_router.launch_router"]
    i = cmd.index("--worker-urls")
    assert cmd[i + 1 : i + 3] == ["http://a:1", "http://b:2"]
    assert cmd[cmd.index("--policy") + 1] == "power_of_two" and cmd[cmd.index("--port") + 1] == "9000"
    assert cmd[cmd.index("--queue-size") + 1] == "4096" and cmd[cmd.index("--cache-threshold") + 1] == "0.5"


def test_simulator_gets_a_clear_config_error() -> None:
    r = ExternalRouter("vllm_router", "round_robin")
    assert is_external(r) and not is_external(object())
    with pytest.raises(ConfigError, match="only in live experiments"):
        r.route(Request(0, 0.0, 8, 1), [], 0.0)


def _engine_python_with(module: str) -> str:
    python = os.environ.get("L4BENCH_ENGINE_PYTHON") or str(REPO / ".venv-engine" / "bin" / "python")
    if (
        not Path(python).exists()
        or subprocess.run([python, "-c", f"import {module}"], capture_output=True).returncode
    ):
        pytest.skip(f"no engine venv with {module} (scripts/setup_live_cpu.sh)")
    return python


def test_vllm_router_in_front_of_fake_backends(tmp_path: Path) -> None:
    """The runner starts vllm-router before the engines' replay and stops it after; every request completes."""
    python = _engine_python_with("vllm_router")
    reqs = [Request(i, 0.02 * i, 32 + i, 6) for i in range(16)]
    runner = LiveRunner(
        CLUSTER,
        REPO / "l4bench" / "models" / "tiny-llama",
        "tiny-llama",
        tmp_path,
        FakeEngine(),
        python=sys.executable,
        router_python=python,
        ready_timeout_s=30,
        request_timeout_s=30,
        show_progress=False,
    )
    with runner:
        result = runner.run(reqs, ExternalRouter("vllm_router", "round_robin"))
    assert live_processes() == []
    assert all(r.is_completed and r.num_generated_tokens == 6 for r in result.records), [
        r.error for r in result.records
    ]
    assert result.extra["external_router"] == "vllm_router" and result.extra["policy"] == "round_robin"
    assert (tmp_path / "logs" / "vllm_router_round_robin.log").exists()
