"""The burst experiment, live side: all requests added at once to the profiled in-process engine.

Two configurations (issue 13, item 5): `homogeneous` = 64 x 2k prompts, `mixed` = 63 x 1k + 1 x 64k
(the long one added last), 256 output tokens each with ignore_eos. Every request's token arrival
times (wall clock when the engine step that produced the token returned) are kept, so the
inter-token times of the short requests and of the long one come out per request; the engine's
step times and compositions are kept too. Each repeat uses fresh prompts (no prefix-cache hits),
so every repeat is the same cold burst the simulator twin (conf/experiment/burst_sim.yaml) replays.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from l4bench.profiling.prompts import slot_tokens
from l4bench.profiling.stats import bootstrap_ci95

BURST_SLOT_BASE = 3_000_000
MAX_BURST_STEPS = 100_000


@dataclass(frozen=True, slots=True)
class BurstConfig:
    """One burst: prompt lengths in the order they are added, output tokens of every request."""

    name: str
    prompt_tokens: tuple[int, ...]
    output_tokens: int = 256

    @property
    def long_threshold_tokens(self) -> int:
        """Prompts at least this long count as long (none when all prompts are equal)."""
        return max(self.prompt_tokens) if len(set(self.prompt_tokens)) > 1 else max(self.prompt_tokens) + 1


def default_configs(output_tokens: int = 256, scale: int = 1) -> list[BurstConfig]:
    """64 x 2k vs 63 x 1k + 1 x 64k (scale > 1 divides every length, for small engines)."""
    short, homo, long = 1024 // scale, 2048 // scale, 65536 // scale
    return [BurstConfig("homogeneous", (homo,) * 64, output_tokens),
            BurstConfig("mixed", (short,) * 63 + (long,), output_tokens)]


def run_one(driver: Any, config: BurstConfig, repeat: int) -> dict[str, Any]:
    """Add every request of `config` at once, step until all finish; token times relative to the add."""
    if driver.core.scheduler.requests:
        raise RuntimeError("burst needs an idle engine")
    slot0 = BURST_SLOT_BASE + 1000 * (2 * repeat + (config.name == "mixed"))
    prompts = [slot_tokens(slot0 + i, n, driver.vocab_size, driver.seed) for i, n in enumerate(config.prompt_tokens)]
    t0 = time.perf_counter()
    ids = [driver.add(p, config.output_tokens) for p in prompts]
    times: dict[str, list[float]] = {rid: [] for rid in ids}
    steps: list[list[float]] = []
    left = set(ids)
    for _ in range(MAX_BURST_STEPS):
        if not left:
            break
        sample = driver.step()
        now = time.perf_counter() - t0
        steps.append([round(now, 5), round(sample.core_step_s, 6), sample.shape.num_decodes,
                      sample.shape.num_prefill_tokens])
        for out in driver.last_outputs:
            rid = out.request_id
            if rid in times:
                times[rid].extend([now] * len(out.outputs[0].token_ids))
                if out.finished:
                    left.discard(rid)
    else:
        driver.abort(list(left))
        raise RuntimeError(f"burst {config.name}: {len(left)} requests unfinished after {MAX_BURST_STEPS} steps")
    return {"repeat": repeat, "token_times_ms": [[round(t * 1e3, 2) for t in times[rid]] for rid in ids],
            "steps": steps, "wall_s": round(time.perf_counter() - t0, 3)}


def itl_groups(config: BurstConfig, runs: list[dict[str, Any]]) -> tuple[list[list[float]], list[list[float]]]:
    """Per-request inter-token times (s) of the short requests and of the long ones, over runs."""
    short: list[list[float]] = []
    long: list[list[float]] = []
    for run in runs:
        for prompt, times_ms in zip(config.prompt_tokens, run["token_times_ms"], strict=True):
            gaps = list(np.diff(np.asarray(times_ms, dtype=float)) / 1e3)
            (long if prompt >= config.long_threshold_tokens else short).append(gaps)
    return short, long


def summarize(config: BurstConfig, runs: list[dict[str, Any]], seed: int = 0) -> dict[str, Any]:
    """ITL mean / p50 / p90 (ms, with a request-level bootstrap 95% CI) of short and long requests, TTFT."""
    rng = np.random.default_rng([seed, len(config.prompt_tokens), config.output_tokens])
    out: dict[str, Any] = {"num_runs": len(runs)}
    for kind, groups in zip(("short", "long"), itl_groups(config, runs), strict=True):
        if not any(groups):
            continue
        stats: dict[str, Any] = {"num_requests": len(groups)}
        for stat in ("mean", "p50", "p90"):
            value, low, high = bootstrap_ci95(groups, stat, rng)
            stats[f"itl_{stat}_ms"] = round(value * 1e3, 4)
            stats[f"itl_{stat}_ci95_ms"] = [round(low * 1e3, 4), round(high * 1e3, 4)]
        per_run = [float(np.mean(np.concatenate(g))) * 1e3 for g in _split_runs(groups, len(runs)) if g]
        stats["itl_mean_ms_per_run"] = [round(v, 4) for v in per_run]
        out[kind] = stats
    ttft = [[times[0] for times, p in zip(r["token_times_ms"], config.prompt_tokens, strict=True)
             if p < config.long_threshold_tokens] for r in runs]
    out["short_ttft_mean_ms"] = round(float(np.mean([t for run in ttft for t in run])), 3) if runs else None
    out["makespan_ms"] = [max(t[-1] for t in r["token_times_ms"]) for r in runs]
    return out


def _split_runs(groups: list[list[float]], num_runs: int) -> list[list[np.ndarray]]:
    """The pooled per-request groups back into runs (every run has the same number of requests)."""
    if num_runs == 0:
        return []
    per = len(groups) // num_runs
    return [[np.asarray(g) for g in groups[i * per:(i + 1) * per] if g] for i in range(num_runs)]


def run_burst(driver: Any, configs: list[BurstConfig], repeats: int, seed: int, deadline: float | None,
              first_estimate_s: float = 20.0) -> dict[str, Any]:
    """Run each config `repeats` times in a seeded shuffled order while the deadline allows."""
    order = [(c, r) for r in range(repeats) for c in np.random.default_rng([seed, r]).permutation(len(configs))]
    runs: dict[str, list[dict[str, Any]]] = {c.name: [] for c in configs}
    walls_s: list[float] = []
    skipped = 0
    for index, (ci, repeat) in enumerate(order):
        config = configs[int(ci)]
        expect_s = 1.2 * max(walls_s) if walls_s else first_estimate_s
        if deadline is not None and time.perf_counter() + expect_s > deadline:
            skipped = len(order) - index
            print(f"[burst] deadline: {skipped} runs skipped", flush=True)
            break
        run = run_one(driver, config, repeat)
        run["order_index"] = index
        runs[config.name].append(run)
        walls_s.append(run["wall_s"])
        print(f"[burst] {config.name} repeat {repeat}: {run['wall_s']:.1f} s", flush=True)
    result: dict[str, Any] = {"configs": {}, "num_skipped_runs": skipped}
    for config in configs:
        result["configs"][config.name] = {
            "prompt_tokens": list(config.prompt_tokens), "output_tokens": config.output_tokens,
            "summary": summarize(config, runs[config.name], seed), "runs": runs[config.name],
        }
    result["comparison"] = _comparison(result["configs"])
    return result


def _comparison(configs: dict[str, Any]) -> dict[str, Any]:
    homo = configs.get("homogeneous", {}).get("summary", {}).get("short", {})
    mixed = configs.get("mixed", {}).get("summary", {}).get("short", {})
    if not homo or not mixed:
        return {}
    return {f"short_itl_{s}_mixed_over_homogeneous": round(mixed[f"itl_{s}_ms"] / homo[f"itl_{s}_ms"], 4)
            for s in ("mean", "p50", "p90")}
