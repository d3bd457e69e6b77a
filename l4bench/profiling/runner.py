"""Profile vLLM step time over a grid of batch compositions; write profile.csv + meta.json (+ the fit).

`run_profile` is what `python -m l4bench +experiment=profile` (and `python -m l4bench.profiling`) call.
Rows are appended as they are measured, so a run stopped by its time budget (or killed) keeps them.
"""

from __future__ import annotations

import datetime as dt
import json
import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from l4bench.engines.attention import vllm_backend_config, vllm_llm_kwargs
from l4bench.errors import ConfigError
from l4bench.profiling.driver import VllmStepDriver
from l4bench.profiling.grid import build_grid
from l4bench.profiling.grid_backend import prompt_union_tokens
from l4bench.profiling.passes import CSV_FIELDS, SHAPE_FIELDS, PassPlan, profile_row, run_passes

__all__ = ["CSV_FIELDS", "SHAPE_FIELDS", "profile_row", "run_profile", "read_model_config", "engine_meta"]

def read_model_config(model_dir: Path) -> dict[str, Any]:
    """The model folder's config.json (architecture facts only; weights are dummy)."""
    path = Path(model_dir) / "config.json"
    if not path.is_file():
        raise ConfigError(f"profile.model_dir: no config.json in {model_dir}; valid: a folder with a HF config.json")
    return dict(json.loads(path.read_text()))


def engine_meta(driver: VllmStepDriver, engine_kwargs: dict[str, Any], startup_s: float) -> dict[str, Any]:
    """Versions, device and flags of the profiled engine (what a reader needs to trust the numbers)."""
    import torch
    import vllm

    cfg = driver.engine.vllm_config
    comp = cfg.compilation_config
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else f"cpu ({platform.processor()})"
    return {
        "vllm_version": vllm.__version__, "torch_version": torch.__version__,
        "cuda_version": getattr(torch.version, "cuda", None), "gpu_name": gpu, "python": sys.version.split()[0],
        "engine_kwargs": engine_kwargs, "kv_capacity_tokens": driver.kv_capacity_tokens(),
        "block_size": int(cfg.cache_config.block_size), "max_model_len": driver.max_model_len,
        "cudagraph_mode": str(getattr(comp, "cudagraph_mode", "unknown")),
        "cudagraph_max_capture_size": max(getattr(comp, "cudagraph_capture_sizes", None) or [0]),
        "enforce_eager": bool(cfg.model_config.enforce_eager), "startup_s": round(startup_s, 1),
        "async_scheduling": bool(getattr(cfg.scheduler_config, "async_scheduling", False)),
        "prefix_caching": bool(cfg.cache_config.enable_prefix_caching),
        "date_utc": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "nvidia_smi": _nvidia_smi(),
    }


def _nvidia_smi() -> str | None:
    """GPU name, memory, driver and max SM clock as nvidia-smi reports them (None without one)."""
    query = "--query-gpu=name,memory.total,driver_version,clocks.max.sm"
    try:
        out = subprocess.run(["nvidia-smi", query, "--format=csv,noheader"], capture_output=True, text=True,
                             timeout=20, check=True)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


def run_profile(
    out_dir: Path,
    model_dir: Path,
    grid: str = "smoke",
    max_model_len: int | None = None,
    gpu_memory_utilization: float = 0.9,
    max_num_batched_tokens: int = 8192,
    max_num_seqs: int = 1024,
    enforce_eager: bool = False,
    warmup_steps: int = 2,
    measure_steps: int = 5,
    chunk_samples: int = 3,
    time_budget_s: float | None = None,
    max_compositions: int | None = None,
    seed: int = 0,
    engine_kwargs: dict[str, Any] | None = None,
    fit: bool = True,
    holdout_fraction: float = 0.2,
    attention_backend: str | None = None,
    passes: int = 3,
    max_priority: int | None = None,
    burst: bool = False,
    burst_repeats: int = 3,
    burst_output_tokens: int = 256,
    burst_scale: int = 1,
    burst_reserve_s: float = 60.0,
) -> Path:
    """Start vLLM on `model_dir` (dummy weights), time every composition of `grid`, write the profile.

    Args:
        time_budget_s: stop measuring once this many seconds have passed since the call (start-up
            included); the rows measured so far are kept. With burst on, the profile stops
            burst_reserve_s earlier so the burst fits too.
        engine_kwargs: extra vllm.LLM keyword arguments (e.g. {"dtype": "float32"}).
        fit: also fit the performance model (fit.json, fit_report.md) when scipy is available.
        attention_backend: vLLM backend name (FLASH_ATTN, TRITON_ATTN, FLASH_ATTN_2, ...); None = default.
        passes: shuffled passes over every priority level (each composition measured in each).
        max_priority: measure only compositions of priority <= this (None: all).
        burst: afterwards, run the burst experiment (burst.py) in the same engine -> burst.json.
        burst_scale: divide the burst's prompt lengths by this (small engines, CPU rehearsals).
    Returns the output folder.
    """
    t_start = time.perf_counter()
    out_dir, model_dir = Path(out_dir), Path(model_dir)
    hf = read_model_config(model_dir)
    vllm_backend_config(attention_backend)  # a bad name fails here, before the engine starts
    kwargs: dict[str, Any] = {
        "gpu_memory_utilization": gpu_memory_utilization, "max_num_batched_tokens": max_num_batched_tokens,
        "max_num_seqs": max_num_seqs, "enforce_eager": enforce_eager, "enable_prefix_caching": True,
        "async_scheduling": False, **vllm_llm_kwargs(attention_backend), **(engine_kwargs or {}),
    }
    if max_model_len:
        kwargs["max_model_len"] = max_model_len
    driver = VllmStepDriver.start(model_dir, kwargs, int(hf["vocab_size"]), seed)
    meta = engine_meta(driver, kwargs, time.perf_counter() - t_start)
    comps = build_grid(grid, meta["kv_capacity_tokens"], driver.max_model_len, max_num_batched_tokens,
                       max_compositions, max_priority)
    meta.update({"model": model_dir.name, "model_config": hf, "grid": grid, "num_planned": len(comps),
                 "warmup_steps": warmup_steps, "measure_steps": measure_steps, "chunk_samples": chunk_samples,
                 "passes": passes, "max_priority": max_priority, "prompt_union_tokens": prompt_union_tokens(comps),
                 "attention_backend": {"requested": attention_backend, **driver.selected_attention()},
                 "timing": "median wall time of EngineCore.step (schedule + forward + sample + update) over "
                           "every step of every pass; CI: Student t over the pass medians"})
    out_dir.mkdir(parents=True, exist_ok=True)
    _write_meta(out_dir, meta)
    print(f"[profile] engine up in {meta['startup_s']} s; kv {meta['kv_capacity_tokens']} tokens; "
          f"attention {meta['attention_backend']}; {len(comps)} compositions x {passes} passes", flush=True)
    deadline = None if time_budget_s is None else t_start + time_budget_s - (burst_reserve_s if burst else 0.0)
    plan = PassPlan(passes, warmup_steps, measure_steps, chunk_samples, seed, deadline, attention_backend)
    num_done, stopped = run_passes(driver, comps, out_dir, plan)
    meta.update({"num_measured": num_done, "stopped_by_budget": stopped,
                 "elapsed_s": round(time.perf_counter() - t_start, 1)})
    _write_meta(out_dir, meta)
    if burst:
        _run_burst(driver, out_dir, meta, (burst_repeats, burst_output_tokens, burst_scale), seed,
                   None if time_budget_s is None else t_start + time_budget_s)
    if fit:
        _fit_if_possible(out_dir, holdout_fraction, seed)
    return out_dir


def _write_meta(out_dir: Path, meta: dict[str, Any]) -> None:
    (out_dir / "meta.json").write_text(json.dumps(meta, indent=2, default=str) + "\n")


def _run_burst(driver: VllmStepDriver, out_dir: Path, meta: dict[str, Any], spec: tuple[int, int, int], seed: int,
               deadline: float | None) -> None:
    from l4bench.profiling.burst import default_configs, run_burst

    repeats, output_tokens, scale = spec
    t0 = time.perf_counter()
    try:
        result = run_burst(driver, default_configs(output_tokens, scale), repeats, seed, deadline)
    except RuntimeError as err:  # the profile is written already; say what failed in one line
        print(f"[burst] failed: {err}", flush=True)
        meta["burst"] = {"error": str(err)[:300]}
        _write_meta(out_dir, meta)
        return
    keys = ("vllm_version", "torch_version", "gpu_name", "model", "attention_backend", "engine_kwargs",
            "cudagraph_mode", "kv_capacity_tokens", "date_utc")
    result = {"experiment": "burst", "repeats": repeats, "scale": scale, "seed": seed,
              "engine": {k: meta.get(k) for k in keys}, "elapsed_s": round(time.perf_counter() - t0, 1),
              "timing": "token time = wall clock when the in-process engine step that produced it returned",
              **result}
    (out_dir / "burst.json").write_text(json.dumps(result, separators=(",", ":")) + "\n")
    meta["burst"] = {"elapsed_s": result["elapsed_s"], "comparison": result["comparison"]}
    _write_meta(out_dir, meta)
    print(f"[burst] {result['comparison']} in {result['elapsed_s']} s", flush=True)


def _fit_if_possible(out_dir: Path, holdout_fraction: float, seed: int) -> None:
    try:
        from l4bench.perf.fit import fit_profile_dir
    except ImportError as err:  # scipy missing (e.g. vLLM's CPU venv): fit later with l4bench.perf.fit
        print(f"[profile] fit skipped ({err}); run `python -m l4bench.perf.fit {out_dir}`", flush=True)
        return
    # each composition is held out once in k-fold by composition: a held-out share of 1/k
    fit_profile_dir(out_dir, num_folds=max(2, round(1.0 / holdout_fraction)), first_seed=seed)
