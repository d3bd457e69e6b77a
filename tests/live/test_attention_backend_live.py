"""engine.attention_backend on live clusters: the flags each engine gets, bad names, what is recorded.

Runners get python=sys.executable: a local runner resolves its engine python when built, and these
tests start no server, so they need no engine venv.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from l4bench.engines.sglang import SglangEngine
from l4bench.engines.vllm import VllmEngine
from l4bench.errors import ConfigError
from l4bench.live.runner import LiveRunner
from l4bench.types import ClusterSpec

MODEL_DIR = Path(__file__).resolve().parents[2] / "l4bench" / "models" / "tiny-llama"
CLUSTER = ClusterSpec(num_instances=2, max_model_len=8192, kv_capacity_tokens=100_000)
PY = sys.executable


def _argv(runner: LiveRunner) -> list[str]:
    launcher = runner._make_launcher()
    return launcher.spec.command(0, 8100)  # type: ignore[attr-defined]


def test_vllm_servers_get_the_backend_flags(tmp_path: Path) -> None:
    runner = LiveRunner(CLUSTER, MODEL_DIR, "t", tmp_path, VllmEngine(), python=PY, attention_backend="FLASH_ATTN_2")
    argv = _argv(runner)
    i = argv.index("--attention-backend")
    assert argv[i + 1] == "FLASH_ATTN"
    assert argv[argv.index("--attention-config") + 1] == '{"flash_attn_version": 2}'
    default = _argv(LiveRunner(CLUSTER, MODEL_DIR, "t", tmp_path, VllmEngine(), python=PY))
    assert "--attention-backend" not in default and "--attention-config" not in default


def test_sglang_servers_get_their_own_names(tmp_path: Path) -> None:
    argv = _argv(LiveRunner(CLUSTER, MODEL_DIR, "t", tmp_path, SglangEngine(), python=PY, attention_backend="triton"))
    assert argv[argv.index("--attention-backend") + 1] == "triton"


def test_bad_backend_fails_before_anything_starts(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="engine.attention_backend"):
        LiveRunner(CLUSTER, MODEL_DIR, "t", tmp_path, VllmEngine(), python=PY, attention_backend="FA9")
    with pytest.raises(ConfigError, match="engine.attention_backend"):  # checked before the engine python
        LiveRunner(CLUSTER, MODEL_DIR, "t", tmp_path, VllmEngine(), python=str(tmp_path / "no-python"),
                   attention_backend="FA9")


def test_selected_backend_is_read_from_the_instance_logs(tmp_path: Path) -> None:
    runner = LiveRunner(CLUSTER, MODEL_DIR, "t", tmp_path, VllmEngine(), python=PY, attention_backend="TRITON_ATTN")
    runner.log_dir.mkdir(parents=True)
    assert runner._selected_attention()["source"] == "not in the logs"
    for i in range(2):
        (runner.log_dir / f"instance-{i}.log").write_text(
            "INFO [cuda.py:416] Using AttentionBackendEnum.TRITON_ATTN backend.\n")
    found = runner._selected_attention()
    assert found["selected"] == "TRITON_ATTN" and found["source"] == "2 instance logs"
    attached = LiveRunner(CLUSTER, MODEL_DIR, "t", tmp_path, VllmEngine(), launcher="attach", urls=["u", "v"],
                          attention_backend="FLASH_ATTN")
    assert attached._selected_attention()["selected"] is None


def test_backend_and_placement_flags_reach_one_argv(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "0,1,2,3")
    runner = LiveRunner(CLUSTER, MODEL_DIR, "t", tmp_path, VllmEngine(), python=PY, attention_backend="FLASH_ATTN_2",
                        gpus_per_instance=2, gpu_memory_utilization=0.4)
    argv = _argv(runner)
    flags = {a: argv[i + 1] for i, a in enumerate(argv[:-1]) if a.startswith("--")}
    assert flags["--attention-backend"] == "FLASH_ATTN" and flags["--attention-config"] == '{"flash_attn_version": 2}'
    assert flags["--tensor-parallel-size"] == "2" and flags["--gpu-memory-utilization"] == "0.4"
    assert runner._device_list == ("0,1", "2,3")
