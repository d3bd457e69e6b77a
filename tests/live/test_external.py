"""External routers: config validation, argv, simulator rejection, text prompts, and both routers in front of fake backends."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from live_fakes import FakeEngine

from l4bench.engines.vllm import VllmEngine
from l4bench.errors import ConfigError
from l4bench.live.external import ExternalRouter, is_external
from l4bench.live.loadgen import LoadGenConfig, LoadGenerator
from l4bench.live.procs import live_processes
from l4bench.live.runner import LiveRunner
from l4bench.types import ClusterSpec, Request
from l4bench.workloads.tokens import prompt_token_ids, token_ids_as_text

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


def test_only_sglang_router_needs_text_prompts() -> None:
    assert ExternalRouter("sglang_router", "cache_aware").needs_text_prompts
    assert not ExternalRouter("vllm_router", "round_robin").needs_text_prompts


def test_text_form_carries_the_same_ids() -> None:
    req = Request(3, 0.0, 700, 8)
    ids = prompt_token_ids(req, 4096)
    gen = LoadGenerator(
        "http://x", VllmEngine(), lambda r: prompt_token_ids(r, 4096), LoadGenConfig(ids_as_text=True)
    )
    body = gen._body(req)
    assert body["prompt"] == token_ids_as_text(ids) and body["return_token_ids"] is True
    assert [int(w[1:]) for w in body["prompt"].split(" ")] == ids and body["max_tokens"] == 8
    plain = LoadGenerator("http://x", VllmEngine(), lambda r: prompt_token_ids(r, 4096))._body(req)
    assert plain["prompt"] == ids


def test_tiny_llama_tokenizer_maps_words_to_ids() -> None:
    doc = json.loads((REPO / "l4bench" / "models" / "tiny-llama" / "tokenizer.json").read_text())
    vocab = doc["model"]["vocab"]
    assert doc["model"]["type"] == "WordLevel" and doc["pre_tokenizer"]["type"] == "WhitespaceSplit"
    assert vocab == {f"t{i}": i for i in range(4096)}
    assert not [t for t in doc["added_tokens"] if t["special"]]  # nothing inserted or skipped


def test_text_router_needs_the_word_tokenizer(tmp_path: Path) -> None:
    model = REPO / "l4bench" / "models"
    py = sys.executable  # a local runner resolves its engine python when built; no server starts here
    bad = LiveRunner(
        CLUSTER, model / "tiny-llama", "t", tmp_path, VllmEngine(), python=py,
        engine_args={"skip-tokenizer-init": True},
    )
    with pytest.raises(ConfigError, match="skip-tokenizer-init"):
        bad._check_text_prompts("sglang_router")
    with pytest.raises(ConfigError, match="word-level tokenizer"):
        LiveRunner(CLUSTER, model / "llama-3.1-8b", "l", tmp_path, VllmEngine(), python=py)._check_text_prompts("s")
    LiveRunner(CLUSTER, model / "tiny-llama", "t", tmp_path, VllmEngine(), python=py)._check_text_prompts("s")


def _engine_python_with(module: str) -> str:
    python = os.environ.get("L4BENCH_ENGINE_PYTHON") or str(REPO / ".venv-engine" / "bin" / "python")
    if (
        not Path(python).exists()
        or subprocess.run([python, "-c", f"import {module}"], capture_output=True).returncode
    ):
        pytest.skip(f"no engine venv with {module} (scripts/setup_live_cpu.sh)")
    return python


@pytest.mark.parametrize(
    ("kind", "module"), [("vllm_router", "vllm_router"), ("sglang_router", "sglang_router")]
)
def test_external_router_in_front_of_fake_backends(tmp_path: Path, kind: str, module: str) -> None:
    """The runner starts the router before the replay and stops it after; every request completes."""
    python = _engine_python_with(module)
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
        result = runner.run(reqs, ExternalRouter(kind, "round_robin"))
    assert live_processes() == []
    assert all(r.is_completed and r.num_generated_tokens == 6 for r in result.records), [
        r.error for r in result.records
    ]
    assert result.extra["external_router"] == kind and result.extra["policy"] == "round_robin"
    assert ("prompts" in result.extra) == (kind == "sglang_router")
    assert (tmp_path / "logs" / f"{kind}_round_robin.log").exists()


def _smg_or_skip() -> str:
    from l4bench.errors import ConfigError
    from l4bench.live.external import smg_bin

    try:
        return smg_bin(sys.executable)
    except ConfigError:
        pytest.skip("no smg executable (scripts/setup_smg.sh, L4BENCH_SMG_BIN)")


@pytest.mark.parametrize("policy", ["power_of_two", "cache_aware", "least_load"])
def test_smg_in_front_of_fake_backends(tmp_path: Path, policy: str) -> None:
    """smg launch with each conf/scheduler/smg_*.yaml policy: text prompts, every request completes."""
    smg = _smg_or_skip()
    reqs = [Request(i, 0.02 * i, 32 + i, 6) for i in range(16)]
    runner = LiveRunner(
        CLUSTER, REPO / "l4bench" / "models" / "tiny-llama", "tiny-llama", tmp_path, FakeEngine(),
        python=sys.executable, ready_timeout_s=30, request_timeout_s=30, show_progress=False,
    )  # fmt: skip
    router = ExternalRouter("smg", policy)
    assert router.needs_text_prompts
    cmd = router.command(sys.executable, ["http://a:1"], 9)
    assert cmd[:2] == [smg, "launch"] and "--prometheus-port" in cmd and cmd[cmd.index("--policy") + 1] == policy
    with runner:
        result = runner.run(reqs, router)
    assert live_processes() == []
    assert all(r.is_completed and r.num_generated_tokens == 6 for r in result.records), [
        r.error for r in result.records
    ]
    assert result.extra["external_router"] == "smg" and result.extra["prompts"].startswith("text form")


def test_missing_smg_is_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from l4bench.errors import ConfigError
    from l4bench.live.external import smg_bin

    monkeypatch.delenv("L4BENCH_SMG_BIN", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(ConfigError, match="setup_smg.sh") as e:
        smg_bin(str(tmp_path / "python"))
    assert "\n" not in str(e.value)
    (tmp_path / "smg").write_text("")
    assert smg_bin(str(tmp_path / "python")) == str(tmp_path / "smg")  # the engine venv's own
