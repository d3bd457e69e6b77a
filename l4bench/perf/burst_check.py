"""Live burst vs simulated burst: short-request inter-token time, live and sim, and the sim's % error.

The live side is the profiler's burst.json (l4bench/profiling/burst.py: `configs.<name>.runs[*].
token_times_ms`, one list of token times per request, in `prompt_tokens` order); the sim side is the
requests.parquet of `+experiment=burst_sim` with the same workload (`token_offsets_us` per request).
Both are reduced the same way: every gap between consecutive tokens of a request is one ITL sample;
short = prompt below the burst's longest prompt when the burst mixes lengths (all requests otherwise).

    python -m l4bench.perf.burst_check results/profiles/h200/llama-3.1-8b/TRITON_ATTN/burst.json \
        --sim mixed=results/burst_sim/<run>/0 --sim homogeneous=results/burst_sim/<run>/1
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from l4bench.errors import ConfigError

#: Issue 13 item 5's goal for the short requests' mean ITL.
GOAL_PCT = 15.0


def long_threshold(prompt_tokens: list[int]) -> int:
    """Prompts at least this long are long: the longest prompt when lengths differ, else none."""
    return max(prompt_tokens) if len(set(prompt_tokens)) > 1 else max(prompt_tokens) + 1


def _stats(gaps_ms: list[np.ndarray]) -> dict[str, float]:
    pooled = np.concatenate(gaps_ms) if gaps_ms else np.array([])
    if pooled.size == 0:
        return {}
    return {"num_requests": len(gaps_ms), "itl_mean_ms": float(pooled.mean()),
            "itl_p50_ms": float(np.percentile(pooled, 50)), "itl_p90_ms": float(np.percentile(pooled, 90))}


def live_itl(burst: dict[str, Any], config: str) -> dict[str, dict[str, float]]:
    """Short and long ITL statistics (ms) of one config of a burst.json, pooled over its runs."""
    configs = burst.get("configs") or {}
    if config not in configs:
        raise ConfigError(f"burst.json: no config {config!r}; valid: {', '.join(configs) or 'none'}")
    prompts = [int(p) for p in configs[config]["prompt_tokens"]]
    cut = long_threshold(prompts)
    groups: dict[str, list[np.ndarray]] = {"short": [], "long": []}
    for run in configs[config].get("runs", []):
        for prompt, times in zip(prompts, run["token_times_ms"], strict=True):
            groups["long" if prompt >= cut else "short"].append(np.diff(np.asarray(times, dtype=float)))
    return {kind: _stats(g) for kind, g in groups.items() if g}


def sim_requests(path: Path) -> pd.DataFrame:
    """requests.parquet of a run folder (or the file itself)."""
    path = Path(path)
    file = path / "requests.parquet" if path.is_dir() else path
    if not file.is_file():
        raise ConfigError(f"--sim: no requests.parquet at {path}; valid: a burst_sim run folder")
    return pd.read_parquet(file)


def sim_itl(requests: pd.DataFrame, prompt_tokens: list[int] | None = None) -> dict[str, dict[str, float]]:
    """Short and long ITL statistics (ms) of simulated requests (the live burst's prompts set the cut)."""
    cut = long_threshold(prompt_tokens or requests["prompt_tokens"].astype(int).tolist())
    groups: dict[str, list[np.ndarray]] = {"short": [], "long": []}
    for prompt, offsets in zip(requests["prompt_tokens"], requests["token_offsets_us"], strict=True):
        gaps = np.diff(np.asarray(offsets, dtype=float)) / 1e3
        groups["long" if int(prompt) >= cut else "short"].append(gaps)
    return {kind: _stats(g) for kind, g in groups.items() if g}


def compare(burst: dict[str, Any], config: str, requests: pd.DataFrame) -> dict[str, Any]:
    """Live vs sim ITL of one config: per kind (short, long) the statistics and the sim's % error."""
    live = live_itl(burst, config)
    prompts = [int(p) for p in burst["configs"][config]["prompt_tokens"]]
    if sorted(prompts) != sorted(int(p) for p in requests["prompt_tokens"]):
        raise ConfigError(f"--sim {config}: the simulated prompts differ from the live burst's ({len(prompts)} "
                          f"prompts, {min(prompts)}-{max(prompts)} tokens); valid: the same workload (and burst scale)")
    sim = sim_itl(requests, prompts)
    out: dict[str, Any] = {"config": config}
    for kind in ("short", "long"):
        if kind not in live or kind not in sim:
            continue
        row: dict[str, Any] = {"num_requests_live": live[kind]["num_requests"],
                               "num_requests_sim": sim[kind]["num_requests"]}
        for stat in ("itl_mean_ms", "itl_p50_ms", "itl_p90_ms"):
            row[f"live_{stat}"], row[f"sim_{stat}"] = live[kind][stat], sim[kind][stat]
            row[f"{stat}_error_pct"] = (sim[kind][stat] / live[kind][stat] - 1.0) * 100.0
        out[kind] = row
    if "short" in out:
        out["short_mean_within_goal"] = abs(out["short"]["itl_mean_ms_error_pct"]) <= GOAL_PCT
    return out


def main(argv: list[str] | None = None) -> int:
    """`python -m l4bench.perf.burst_check BURST_JSON --sim CONFIG=RUN_DIR [...] [--out FILE]`."""
    ap = argparse.ArgumentParser(prog="python -m l4bench.perf.burst_check", description=__doc__)
    ap.add_argument("burst_json", type=Path)
    ap.add_argument("--sim", action="append", required=True, help="CONFIG=RUN_DIR (e.g. mixed=results/...)")
    ap.add_argument("--out", type=Path, default=None, help="write the comparison as JSON here")
    args = ap.parse_args(argv)
    try:
        burst = json.loads(Path(args.burst_json).read_text())
        pairs = [s.split("=", 1) for s in args.sim]
        if any(len(p) != 2 for p in pairs):
            raise ConfigError(f"--sim: {args.sim}; valid: CONFIG=RUN_DIR")
        results = [compare(burst, name, sim_requests(Path(run))) for name, run in pairs]
    except (ConfigError, OSError, json.JSONDecodeError) as exc:
        print(f"error: {exc}")
        return 2
    for res in results:
        for kind in ("short", "long"):
            if kind in res:
                r = res[kind]
                print(f"{res['config']:<12} {kind:<5} ITL mean live {r['live_itl_mean_ms']:.2f} ms, sim "
                      f"{r['sim_itl_mean_ms']:.2f} ms ({r['itl_mean_ms_error_pct']:+.1f}%); p90 live "
                      f"{r['live_itl_p90_ms']:.2f}, sim {r['sim_itl_p90_ms']:.2f} ({r['itl_p90_ms_error_pct']:+.1f}%)")
    if args.out:
        args.out.write_text(json.dumps({"burst_json": str(args.burst_json), "sim_runs": dict(pairs),
                                        "goal_pct": GOAL_PCT, "results": results}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
