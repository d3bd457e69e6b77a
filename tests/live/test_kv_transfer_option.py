"""engine.kv_transfer: the vLLM flag on every instance, one-line errors, agreement with the migration model."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from l4bench.engines.sglang import SglangEngine
from l4bench.engines.vllm import VllmEngine
from l4bench.errors import ConfigError
from l4bench.l4.migration import KvTransferMigration, RecomputeMigration
from l4bench.live.kv_hops import kv_settings
from l4bench.live.runner import LiveRunner
from l4bench.types import ClusterSpec

MODEL = Path(__file__).resolve().parents[2] / "l4bench" / "models" / "llama-3.1-8b"


def test_vllm_flag_for_nixl_and_none_by_default():
    flags = VllmEngine().kv_transfer_flags("nixl")
    assert json.loads(flags["kv-transfer-config"]) == {"kv_connector": "NixlConnector", "kv_role": "kv_both"}
    assert VllmEngine().kv_transfer_flags(None) == {}
    with pytest.raises(ConfigError, match="engine.kv_transfer: unknown 'mooncake'"):
        VllmEngine().kv_transfer_flags("mooncake")
    with pytest.raises(ConfigError, match="valid: null"):
        SglangEngine().kv_transfer_flags("nixl")


def test_every_launched_instance_gets_the_flag(tmp_path):
    runner = LiveRunner(ClusterSpec(2, 4096, 100_000), MODEL, "m", tmp_path, VllmEngine(), python="/bin/true",
                        kv_transfer="nixl", migration=KvTransferMigration(kv_bytes_per_token=131072))
    cmd = runner._make_launcher().spec.command(0, 8000)
    assert cmd[cmd.index("--kv-transfer-config") + 1] == '{"kv_connector":"NixlConnector","kv_role":"kv_both"}'
    off = LiveRunner(ClusterSpec(2, 4096, 100_000), MODEL, "m", tmp_path, VllmEngine(), python="/bin/true")
    assert "--kv-transfer-config" not in off._make_launcher().spec.command(0, 8000)


def test_settings_record_the_mode_and_the_kv_bytes_estimate():
    router, facts = kv_settings("nixl", None, MODEL, {})
    assert router == {"kv_transfer": "nixl", "kv_bytes_per_token": 131072}
    assert facts == {"mode": "nixl", "connector": "NixlConnector", "kv_bytes_per_token_estimate": 131072}
    assert kv_settings(None, RecomputeMigration(), MODEL, {"kv-cache-dtype": "fp8"})[1]["mode"] == "recompute"
    assert kv_settings(None, None, MODEL, {"kv-cache-dtype": "fp8"})[0]["kv_bytes_per_token"] == 65536


@pytest.mark.parametrize(("mode", "migration"), [("nixl", RecomputeMigration()), (None, KvTransferMigration())])
def test_router_and_cost_model_must_agree(mode, migration):
    with pytest.raises(ConfigError, match="engine.kv_transfer"):
        kv_settings(mode, migration, MODEL, {})
