"""Fit a step-time model to a measured profile: nonnegative least squares on BatchShape features.

    step_time_s = sum_i coef_i * feature_i(batch),  coef_i >= 0

Rows are weighted by 1 / measured time, so the fit minimizes relative error (a 5 ms step matters as
much as a 500 ms one). A seeded ~20% of the compositions is held out and the error of the fitted
coefficients on them is reported. Run: `python -m l4bench.perf.fit results/profiles/h100/llama-3.1-8b`.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from l4bench.errors import ConfigError
from l4bench.perf.base import BatchShape


@dataclass(frozen=True, slots=True)
class FeatureParams:
    """Engine facts some features need (stored in fit.json beside the coefficients).

    Args:
        cudagraph_max_tokens: largest step (in tokens) vLLM replays from a CUDA graph; bigger steps
            run without graphs and pay the kernel launches (0 with enforce_eager).
    """

    cudagraph_max_tokens: int = 512


def _spread(b: BatchShape, p: FeatureParams) -> float:
    """Decode straggler work: how far the longest context sticks out above the mean (tokens)."""
    if b.num_decodes == 0:
        return 0.0
    return float(b.decode_context_max - b.decode_context_sum / b.num_decodes)


def _prefill_context(b: BatchShape, p: FeatureParams) -> float:
    """Sum over prefill chunks of their mean attended context (exact for one chunk): KV each chunk streams."""
    if b.num_prefill_tokens == 0:
        return 0.0
    return b.prefill_attention_tokens * b.num_prefill_seqs / b.num_prefill_tokens


FEATURES: dict[str, Callable[[BatchShape, FeatureParams], float]] = {
    "const": lambda b, p: 1.0,
    "num_seqs": lambda b, p: float(b.num_decodes + b.num_prefill_seqs),
    "num_tokens": lambda b, p: float(b.num_tokens),
    "decode_context_sum": lambda b, p: float(b.decode_context_sum),
    "decode_context_max": lambda b, p: float(b.decode_context_max),
    "decode_context_spread": _spread,
    "prefill_attention_tokens": lambda b, p: float(b.prefill_attention_tokens),
    "prefill_context": _prefill_context,
    "prefill_step": lambda b, p: float(b.num_prefill_seqs > 0),
    "no_cudagraph": lambda b, p: float(b.num_tokens > p.cudagraph_max_tokens),
}
DEFAULT_FEATURES = ("const", "num_seqs", "num_tokens", "decode_context_sum", "decode_context_max",
                    "prefill_attention_tokens", "prefill_context", "no_cudagraph")


def feature_vector(batch: BatchShape, names: tuple[str, ...] | list[str],
                   params: FeatureParams = FeatureParams()) -> np.ndarray:
    """The named features of one batch."""
    unknown = [n for n in names if n not in FEATURES]
    if unknown:
        raise ConfigError(f"perf.features: unknown {unknown}; valid: {', '.join(FEATURES)}")
    return np.array([FEATURES[n](batch, params) for n in names], dtype=float)


def shapes_of(df: pd.DataFrame) -> list[BatchShape]:
    """BatchShape of every profile row."""
    return [
        BatchShape(num_prefill_tokens=int(r["num_prefill_tokens"]), num_prefill_seqs=int(r["num_prefill_seqs"]),
                   prefill_attention_tokens=float(r["prefill_attention_tokens"]), num_decodes=int(r["num_decodes"]),
                   decode_context_sum=int(r["decode_context_sum"]), decode_context_max=int(r["decode_context_max"]),
                   decode_context_min=int(r["decode_context_min"]))
        for r in df.to_dict("records")
    ]


def design_matrix(shapes: list[BatchShape], names: tuple[str, ...] | list[str],
                  params: FeatureParams = FeatureParams()) -> np.ndarray:
    """One row of features per batch."""
    return np.vstack([feature_vector(s, names, params) for s in shapes])


def fit_nnls(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Nonnegative coefficients minimizing the relative squared error of x @ coef against y."""
    from scipy.optimize import nnls

    w = 1.0 / y
    scale = np.maximum(np.abs(x * w[:, None]).max(axis=0), 1e-30)  # column scaling for conditioning
    coef, _ = nnls(x * w[:, None] / scale, y * w, maxiter=50 * x.shape[1])
    return np.asarray(coef / scale)


@dataclass(frozen=True, slots=True)
class FitResult:
    """Coefficients, the held-out split and its errors."""

    features: tuple[str, ...]
    coefficients: tuple[float, ...]
    params: FeatureParams
    train_names: tuple[str, ...]
    holdout_names: tuple[str, ...]
    train_mape: float
    holdout_mape: float
    holdout_max_ape: float

    def predict_s(self, shapes: list[BatchShape]) -> np.ndarray:
        """Predicted step times (seconds)."""
        return np.asarray(design_matrix(shapes, self.features, self.params) @ np.array(self.coefficients))


def split_holdout(num_rows: int, fraction: float, rng: np.random.Generator) -> tuple[list[int], list[int]]:
    """Indices of train and held-out rows: a seeded random `fraction` of the compositions is held out."""
    order = rng.permutation(num_rows)
    num_hold = int(round(fraction * num_rows)) if num_rows >= 5 else 0
    return sorted(int(i) for i in order[num_hold:]), sorted(int(i) for i in order[:num_hold])


def usable_rows(df: pd.DataFrame) -> pd.DataFrame:
    """Rows whose measured steps had the requested composition and a positive time."""
    if "is_exact" in df:
        df = df[df["is_exact"].astype(str).str.lower().isin(["true", "1"])]
    return df[df["step_time_s"] > 0].reset_index(drop=True)


def fit_profile(df: pd.DataFrame, features: tuple[str, ...] = DEFAULT_FEATURES, holdout_fraction: float = 0.2,
                rng: np.random.Generator | None = None, params: FeatureParams = FeatureParams()) -> FitResult:
    """Fit on a seeded (1 - holdout_fraction) of the usable rows; report errors on the rest."""
    rng = rng if rng is not None else np.random.default_rng(0)
    df = usable_rows(df)
    if len(df) < len(features):
        raise ConfigError(f"profile: {len(df)} usable rows < {len(features)} features; valid: a bigger profile")
    y = df["step_time_s"].to_numpy(float)
    x = design_matrix(shapes_of(df), features, params)
    train, hold = split_holdout(len(df), holdout_fraction, rng)
    coef = fit_nnls(x[train], y[train])
    train_ape = np.abs(x[train] @ coef - y[train]) / y[train]
    hold_ape = np.abs(x[hold] @ coef - y[hold]) / y[hold] if hold else np.array([np.nan])
    return FitResult(tuple(features), tuple(float(c) for c in coef), params, tuple(df["name"][train]),
                     tuple(df["name"][hold]), float(train_ape.mean()), float(np.mean(hold_ape)),
                     float(np.max(hold_ape)))


def split_stability(df: pd.DataFrame, features: tuple[str, ...], holdout_fraction: float, num_splits: int,
                    params: FeatureParams = FeatureParams()) -> dict[str, float]:
    """Held-out error over `num_splits` seeded random splits (how much the reported split was luck)."""
    fits = [fit_profile(df, features, holdout_fraction, np.random.default_rng(1000 + k), params)
            for k in range(num_splits)]
    return {"num_splits": num_splits, "holdout_mape_mean": float(np.mean([f.holdout_mape for f in fits])),
            "holdout_mape_worst": float(np.max([f.holdout_mape for f in fits])),
            "holdout_max_ape_worst": float(np.max([f.holdout_max_ape for f in fits]))}


def headline_table(df: pd.DataFrame) -> pd.DataFrame:
    """Homogeneous vs mixed decode batch of equal size and equal total context tokens (headline rows)."""
    uni = df[df["group"] == "headline_uniform"].set_index("req_num_decodes")
    mix = df[df["group"] == "headline_mixed"].set_index("req_num_decodes")
    both = uni.index.intersection(mix.index)
    out = pd.DataFrame({
        "num_decodes": both,
        "total_context_tokens": uni.loc[both, "req_decode_context_sum"].to_numpy(),
        "uniform": uni.loc[both, "name"].to_numpy(), "mixed": mix.loc[both, "name"].to_numpy(),
        "uniform_ms": uni.loc[both, "step_time_s"].to_numpy() * 1e3,
        "mixed_ms": mix.loc[both, "step_time_s"].to_numpy() * 1e3,
    })
    out["mixed_over_uniform"] = out["mixed_ms"] / out["uniform_ms"]
    return out.sort_values("num_decodes").reset_index(drop=True)


def fit_json(result: FitResult, meta: dict[str, Any], stability: dict[str, float] | None = None) -> dict[str, Any]:
    """What FittedPerfModel loads: coefficients + the engine facts they hold for."""
    keys = ("vllm_version", "torch_version", "gpu_name", "model", "kv_capacity_tokens", "block_size",
            "max_model_len", "cudagraph_mode", "enforce_eager", "engine_kwargs", "date_utc")
    return {
        "features": list(result.features), "coefficients": dict(zip(result.features, result.coefficients, strict=True)),
        "params": asdict(result.params), "train_mape": result.train_mape, "holdout_mape": result.holdout_mape,
        "holdout_max_ape": result.holdout_max_ape, "holdout_names": list(result.holdout_names),
        "num_train": len(result.train_names), "split_stability": stability or {},
        "profile": {k: meta.get(k) for k in keys},
    }


def params_from_meta(meta: dict[str, Any]) -> FeatureParams:
    """Feature parameters implied by how the profiled engine ran (CUDA graphs or eager)."""
    if meta.get("enforce_eager"):
        return FeatureParams(cudagraph_max_tokens=0)
    return FeatureParams(cudagraph_max_tokens=int(meta.get("cudagraph_max_capture_size") or 512))


def fit_profile_dir(profile_dir: Path, features: tuple[str, ...] = DEFAULT_FEATURES, holdout_fraction: float = 0.2,
                    seed: int = 0, num_splits: int = 20) -> FitResult:
    """Fit profile.csv in `profile_dir`; write fit.json and fit_report.md beside it.

    A profile_repeat.csv beside it (the same grid run again) is compared in the report, not fitted.
    """
    from l4bench.profiling.report import write_report

    profile_dir = Path(profile_dir)
    csv_path = profile_dir / "profile.csv"
    if not csv_path.is_file():
        raise ConfigError(f"profile: no profile.csv in {profile_dir}; valid: a folder written by l4bench.profiling")
    df = pd.read_csv(csv_path)
    meta_path = profile_dir / "meta.json"
    meta = json.loads(meta_path.read_text()) if meta_path.is_file() else {}
    params = params_from_meta(meta)
    result = fit_profile(df, features, holdout_fraction, np.random.default_rng(seed), params)
    stability = split_stability(df, features, holdout_fraction, num_splits, params) if num_splits else {}
    (profile_dir / "fit.json").write_text(json.dumps(fit_json(result, meta, stability), indent=2) + "\n")
    repeat_path = profile_dir / "profile_repeat.csv"
    repeat = usable_rows(pd.read_csv(repeat_path)) if repeat_path.is_file() else None
    write_report(profile_dir / "fit_report.md", df, result, meta, stability, repeat)
    return result


def main(argv: list[str] | None = None) -> int:
    """`python -m l4bench.perf.fit DIR [--holdout-fraction F] [--seed S] [--features a,b,c]`."""
    ap = argparse.ArgumentParser(prog="python -m l4bench.perf.fit", description=__doc__)
    ap.add_argument("profile_dir", type=Path)
    ap.add_argument("--holdout-fraction", type=float, default=0.2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--features", default=",".join(DEFAULT_FEATURES))
    args = ap.parse_args(argv)
    res = fit_profile_dir(args.profile_dir, tuple(args.features.split(",")), args.holdout_fraction, args.seed)
    print(f"train MAPE {res.train_mape:.1%}; held-out MAPE {res.holdout_mape:.1%} "
          f"(max {res.holdout_max_ape:.1%}, {len(res.holdout_names)} rows)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
