"""Profile vLLM step time over a grid of batch compositions; write profile.csv + meta.json (+ the fit).

`run_profile` is what `python -m l4bench +experiment=profile` (and `python -m l4bench.profiling`) call.
Rows are appended as they are measured, so a run stopped by its time budget (or killed) keeps them.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import platform
import statistics
import subprocess
import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from l4bench.errors import ConfigError
from l4bench.profiling.driver import StepSample, VllmStepDriver
from l4bench.profiling.grid import Composition, build_grid
from l4bench.profiling.shape import shape_matches

SHAPE_FIELDS = ("num_prefill_tokens", "num_prefill_seqs", "prefill_attention_tokens", "num_decodes",
                "decode_context_sum", "decode_context_max", "decode_context_min")
CSV_FIELDS = ("name", "group", "req_num_decodes", "req_decode_context_sum", "req_chunk_tokens",
              "req_chunk_prior_tokens", *SHAPE_FIELDS, "step_time_s", "step_time_min_s", "step_time_max_s",
              "engine_step_time_s", "num_samples", "is_exact", "wall_s")


def read_model_config(model_dir: Path) -> dict[str, Any]:
    """The model folder's config.json (architecture facts only; weights are dummy)."""
    path = Path(model_dir) / "config.json"
    if not path.is_file():
        raise ConfigError(f"profile.model_dir: no config.json in {model_dir}; valid: a folder with a HF config.json")
    return dict(json.loads(path.read_text()))


def profile_row(comp: Composition, samples: list[StepSample], wall_s: float) -> dict[str, Any]:
    """One CSV row: the requested composition, the middle step's shape, the step-time statistics."""
    times = [s.core_step_s for s in samples]
    middle = samples[len(samples) // 2].shape
    row: dict[str, Any] = {
        "name": comp.name, "group": comp.group, "req_num_decodes": comp.num_decodes,
        "req_decode_context_sum": comp.decode_context_sum, "req_chunk_tokens": comp.chunk_tokens,
        "req_chunk_prior_tokens": comp.chunk_prior_tokens,
    }
    row.update({k: v for k, v in asdict(middle).items() if k in SHAPE_FIELDS})
    row.update({
        "step_time_s": statistics.median(times), "step_time_min_s": min(times), "step_time_max_s": max(times),
        "engine_step_time_s": statistics.median(s.engine_step_s for s in samples), "num_samples": len(samples),
        "is_exact": all(shape_matches(s.shape, comp.num_decodes, comp.chunk_tokens) for s in samples),
        "wall_s": round(wall_s, 3),
    })
    return row


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


def _measure(driver: VllmStepDriver, comp: Composition, warmup_steps: int, measure_steps: int,
             chunk_samples: int) -> list[StepSample]:
    if comp.chunk_tokens:
        return driver.measure_chunk(comp, warmup_steps, chunk_samples)
    return driver.measure_decode(comp, warmup_steps, measure_steps)


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
) -> Path:
    """Start vLLM on `model_dir` (dummy weights), time every composition of `grid`, write the profile.

    Args:
        time_budget_s: stop measuring once this many seconds have passed since the call (start-up
            included); the rows measured so far are kept.
        engine_kwargs: extra vllm.LLM keyword arguments (e.g. {"dtype": "float32"}).
        fit: also fit the performance model (fit.json, fit_report.md) when scipy is available.
    Returns the output folder.
    """
    t_start = time.perf_counter()
    out_dir, model_dir = Path(out_dir), Path(model_dir)
    hf = read_model_config(model_dir)
    kwargs: dict[str, Any] = {
        "gpu_memory_utilization": gpu_memory_utilization, "max_num_batched_tokens": max_num_batched_tokens,
        "max_num_seqs": max_num_seqs, "enforce_eager": enforce_eager, "enable_prefix_caching": True,
        "async_scheduling": False, **(engine_kwargs or {}),
    }
    if max_model_len:
        kwargs["max_model_len"] = max_model_len
    driver = VllmStepDriver.start(model_dir, kwargs, int(hf["vocab_size"]), seed)
    meta = engine_meta(driver, kwargs, time.perf_counter() - t_start)
    comps = build_grid(grid, meta["kv_capacity_tokens"], driver.max_model_len, max_num_batched_tokens,
                       max_compositions)
    meta.update({"model": model_dir.name, "model_config": hf, "grid": grid, "num_planned": len(comps),
                 "warmup_steps": warmup_steps, "measure_steps": measure_steps, "chunk_samples": chunk_samples,
                 "timing": "median wall time of EngineCore.step (schedule + forward + sample + update)"})
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "meta.json").write_text(json.dumps(meta, indent=2, default=str) + "\n")
    print(f"[profile] engine up in {meta['startup_s']} s; kv {meta['kv_capacity_tokens']} tokens; "
          f"{len(comps)} compositions", flush=True)
    num_done, stopped = _run_grid(driver, comps, out_dir / "profile.csv", t_start, time_budget_s,
                                  (warmup_steps, measure_steps, chunk_samples))
    meta.update({"num_measured": num_done, "stopped_by_budget": stopped,
                 "elapsed_s": round(time.perf_counter() - t_start, 1)})
    (out_dir / "meta.json").write_text(json.dumps(meta, indent=2, default=str) + "\n")
    if fit:
        _fit_if_possible(out_dir, holdout_fraction, seed)
    return out_dir


def _run_grid(driver: VllmStepDriver, comps: list[Composition], csv_path: Path, t_start: float,
              time_budget_s: float | None, steps: tuple[int, int, int]) -> tuple[int, bool]:
    num_done = 0
    with csv_path.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=CSV_FIELDS)
        writer.writeheader()
        for comp in comps:
            if time_budget_s is not None and time.perf_counter() - t_start > time_budget_s:
                print(f"[profile] time budget reached; {len(comps) - num_done} compositions skipped", flush=True)
                return num_done, True
            t0 = time.perf_counter()
            try:
                samples = _measure(driver, comp, *steps)
            except RuntimeError as err:  # one bad composition must not lose the others
                print(f"[profile] {comp.name}: {err}", flush=True)
                continue
            row = profile_row(comp, samples, time.perf_counter() - t0)
            writer.writerow(row)
            fh.flush()
            num_done += 1
            print(f"[profile] {comp.name}: {row['step_time_s'] * 1e3:.2f} ms "
                  f"(exact={row['is_exact']}, {row['wall_s']:.1f} s)", flush=True)
    return num_done, False


def _fit_if_possible(out_dir: Path, holdout_fraction: float, seed: int) -> None:
    try:
        from l4bench.perf.fit import fit_profile_dir
    except ImportError as err:  # scipy missing (e.g. vLLM's CPU venv): fit later with l4bench.perf.fit
        print(f"[profile] fit skipped ({err}); run `python -m l4bench.perf.fit {out_dir}`", flush=True)
        return
    # each composition is held out once in k-fold by composition: a held-out share of 1/k
    fit_profile_dir(out_dir, num_folds=max(2, round(1.0 / holdout_fraction)), first_seed=seed)
