"""Compose every option of every config group and build the object it describes."""

from __future__ import annotations

import numpy as np
import pytest
from _data import shared_workloads
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate
from omegaconf import OmegaConf

from l4bench.cli import call_accepted, conf_dir, model_dir, options
from l4bench.perf.base import GpuSpec, ModelSpec
from l4bench.types import ClusterSpec


def _compose(overrides: list[str]):
    with initialize_config_dir(config_dir=str(conf_dir()), version_base="1.3"):
        return compose("config", overrides=overrides, return_hydra_config=False)


def _perf(cfg):
    model = ModelSpec(**OmegaConf.to_container(cfg.model, resolve=True))
    gpu = GpuSpec(**OmegaConf.to_container(cfg.gpu, resolve=True))
    return model, gpu, instantiate(cfg.perf, _partial_=True, _convert_="all")


def _data_overrides() -> list[str]:
    d = shared_workloads()
    return [f"data_dir={d}"] if d else []


@pytest.mark.parametrize("name", options("model"))
def test_model_options_match_shipped_config_json(name):
    cfg = _compose([f"model={name}"])
    spec = ModelSpec(**OmegaConf.to_container(cfg.model, resolve=True))
    assert spec.name == name
    assert (model_dir(name) / "config.json").is_file()
    assert spec.kv_bytes_per_token > 0


@pytest.mark.parametrize("name", options("gpu"))
def test_gpu_options(name):
    gpu = GpuSpec(**OmegaConf.to_container(_compose([f"gpu={name}"]).gpu, resolve=True))
    assert gpu.memory_bandwidth_bytes_s > 0 and gpu.dense_flops > 0


@pytest.mark.parametrize("name", options("perf"))
def test_perf_options(name):
    cfg = _compose([f"perf={name}"])
    model, gpu, make = _perf(cfg)
    perf = make(model=model, gpu=gpu, gpu_memory_utilization=0.9)
    assert perf.kv_capacity_tokens > 0


@pytest.mark.parametrize("name", options("cluster"))
def test_cluster_options(name):
    cfg = _compose([f"cluster={name}"])
    assert cfg.cluster.num_instances >= 1


@pytest.mark.parametrize("name", options("arrival"))
def test_arrival_options(name):
    cfg = _compose([f"arrival={name}"])
    arrival = instantiate(cfg.arrival, _partial_=True, _convert_="all")()
    assert hasattr(arrival, "assign")


@pytest.mark.parametrize("name", options("max_tokens"))
def test_max_tokens_options(name):
    from l4bench.types import Request

    cfg = _compose([f"max_tokens={name}"])
    rule = instantiate(cfg.max_tokens, _partial_=True, _convert_="all")()
    out = rule.assign([Request(0, 0.0, 100, 50), Request(1, 0.5, 200, 3000)], 4096)
    assert all(r.max_tokens is not None and r.max_tokens >= r.output_tokens for r in out)
    assert rule.describe()["rule"]


@pytest.mark.parametrize("name", options("workload"))
def test_workload_options(name):
    cfg = _compose([f"workload={name}", *_data_overrides()])
    workload = instantiate(cfg.workload, _partial_=True, _convert_="all")()
    assert hasattr(workload, "load")
    if getattr(workload, "source", "offline") == "online":
        return  # needs the network and the `hf` extra
    if name not in ("lengths_csv",) and (shared_workloads() or name.startswith("synthetic") or name == "longbench"):
        reqs = workload.load(np.random.default_rng(0))
        assert reqs and all(r.prompt_tokens > 0 and r.output_tokens > 0 for r in reqs[:100])


@pytest.mark.parametrize("name", options("scheduler"))
def test_scheduler_options(name):
    cfg = _compose([f"+scheduler={name}", "model=tiny-llama"])
    model, gpu, make = _perf(cfg)
    perf = make(model=model, gpu=gpu, gpu_memory_utilization=0.9)
    cluster = ClusterSpec(num_instances=4, max_model_len=model.max_model_len, kv_capacity_tokens=perf.kv_capacity_tokens)
    make_sched = instantiate(cfg.scheduler, _partial_=True, _convert_="all")
    sched = call_accepted(make_sched, cluster=cluster, perf=perf, rng=np.random.default_rng(0))
    assert sched is not None


@pytest.mark.parametrize("name", options("engine"))
def test_engine_options_compose(name):
    cfg = _compose([f"engine={name}"])
    assert instantiate(cfg.engine, _partial_=True, _convert_="all") is not None


@pytest.mark.parametrize("name", options("experiment"))
def test_experiment_options_compose(name):
    cfg = _compose([f"+experiment={name}", *_data_overrides()])
    assert cfg.experiment.name == name
    assert cfg.experiment.task in ("replay", "profile")


@pytest.mark.parametrize("overrides", [
    ["perf=fitted", "perf.profile=h100/llama-3.1-8b/FLASH_ATTN"],  # the first layout, as FLASH_ATTN
    ["perf=fitted", "perf.profile=h100/llama-3.1-8b"],
    ["perf=fitted", "perf.attention_backend=FLASH_ATTN"],
    ["perf=analytic", "perf.spread_kappa=0.05"],
    ["perf=analytic", "perf.spread_beta=0", "perf.kernel_table=tests/data/kernels_tiny.csv",
     "perf.attention_backend=TRITON_ATTN"],
])
def test_perf_backend_options(overrides):
    """Every per-backend perf key composes and builds a model (issue 13 item 4)."""
    model, gpu, make = _perf(_compose(overrides))
    perf = make(model=model, gpu=gpu, gpu_memory_utilization=0.9)
    assert perf.kv_capacity_tokens > 0
    if "perf=fitted" in overrides:
        assert perf.attention_backend == "FLASH_ATTN"
    if any(o.startswith("perf.kernel_table") for o in overrides):
        assert perf.kernel_penalty.backend == "TRITON_ATTN" and perf.kernel_penalty.spread_kappa > 0


@pytest.mark.parametrize("name", options("migration"))
def test_migration_options_sit_at_engine_migration(name):
    cfg = _compose([f"migration={name}"])
    model = ModelSpec(**OmegaConf.to_container(cfg.model, resolve=True))
    migration = instantiate(cfg.engine.migration, kv_bytes_per_token=model.kv_bytes_per_token)
    mode = {"kv_transfer_cuda_ipc": "kv_transfer"}.get(name, name)  # another host's kv_transfer fit
    assert migration.mode == mode and migration.stall_s(4096) >= 0
    assert instantiate(cfg.engine, _partial_=True, _convert_="all") is not None
