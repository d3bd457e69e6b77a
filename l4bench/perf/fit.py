"""Fit a step-time model to a measured profile: nonnegative least squares on BatchShape features.

    step_time_s = sum_i coef_i * feature_i(batch),  coef_i >= 0

Rows count by relative error (l4bench.l4.nnls.fit_relative, the project's one fit routine). The
feature set follows the profile's attention backend (l4bench.perf.features.BACKEND_FEATURES; meta.json
`fit_features` or --features override it). The coefficients written are fitted on every row; the
reported error is k-fold over whole compositions (l4bench.perf.crossval), for mixed and uniform ones.
Run: `python -m l4bench.perf.fit results/profiles/<gpu>/<model>/<backend>`.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from l4bench.errors import ConfigError
from l4bench.l4.nnls import fit_relative
from l4bench.perf.base import BatchShape
from l4bench.perf.crossval import HoldoutResult, holdout_errors, with_compositions
from l4bench.perf.features import (
    DEFAULT_FEATURES,
    FEATURES,
    FeatureParams,
    backend_of,
    check_features,
    design_matrix,
    feature_vector,
    features_for,
    params_from_meta,
    shapes_of,
)

__all__ = ["DEFAULT_FEATURES", "FEATURES", "FeatureParams", "FitResult", "design_matrix", "feature_vector",
           "fit_profile", "fit_profile_dir", "headline_table", "load_profile", "main", "shapes_of"]
#: Step-time columns in order of preference (a per-composition median when the profiler writes one).
TIME_COLUMNS = ("step_time_median_s", "step_time_s")
#: vLLM attention backends a profile folder may be named after.
KNOWN_BACKENDS = ("FLASH_ATTN", "FLASH_ATTN_2", "FLASH_ATTN_3", "TRITON_ATTN", "FLASHINFER", "FLEX_ATTENTION")
DEFAULT_PARAMS = FeatureParams()
LEGACY_BACKEND_NOTE = "assumed: profile predates backend recording (vLLM 0.25.0's default on Hopper, FA3)"


@dataclass(frozen=True)
class FitResult:
    """Coefficients fitted on every row, and the whole-composition held-out errors."""

    features: tuple[str, ...]
    coefficients: tuple[float, ...]
    params: FeatureParams
    backend: str
    num_rows: int
    num_compositions: int
    train_mape: float
    holdout: HoldoutResult

    def predict_s(self, shapes: list[BatchShape]) -> np.ndarray:
        """Predicted step times (seconds)."""
        return np.asarray(design_matrix(shapes, self.features, self.params) @ np.array(self.coefficients))


def usable_rows(df: pd.DataFrame) -> pd.DataFrame:
    """Rows whose measured steps had the requested composition and a positive time (step_time_s = the median)."""
    df = df.copy()
    col = next((c for c in TIME_COLUMNS if c in df), None)
    if col is None:
        raise ConfigError(f"profile: no step-time column; valid: one of {', '.join(TIME_COLUMNS)}")
    df["step_time_s"] = df[col].astype(float)
    if "is_exact" in df:
        df = df[df["is_exact"].astype(str).str.lower().isin(["true", "1"])]
    return df[df["step_time_s"] > 0].reset_index(drop=True)


def fit_profile(df: pd.DataFrame, features: tuple[str, ...] = DEFAULT_FEATURES, params: FeatureParams = DEFAULT_PARAMS,
                backend: str = "FLASH_ATTN", num_folds: int = 5, seeds: tuple[int, ...] = (0, 1, 2, 3, 4)) -> FitResult:
    """Fit every usable row; held-out errors by k-fold over whole compositions (one fold split per seed)."""
    check_features(features)
    df = with_compositions(usable_rows(df))
    if len(df) < len(features):
        raise ConfigError(f"profile: {len(df)} usable rows < {len(features)} features; valid: a bigger profile")
    y = df["step_time_s"].to_numpy(float)
    x = design_matrix(shapes_of(df), features, params)
    coef = fit_relative(x, y)
    train = float(np.mean(np.abs(x @ coef - y) / y))
    hold = holdout_errors(df, features, params, num_folds, seeds)
    return FitResult(tuple(features), tuple(float(c) for c in coef), params, backend, len(df),
                     int(df["composition_id"].nunique()), train, hold)


def headline_table(df: pd.DataFrame) -> pd.DataFrame:
    """Homogeneous vs mixed decode batch of equal size and equal total context tokens (headline rows)."""
    df = df.groupby(["group", "req_num_decodes"], as_index=False).agg(
        name=("name", "first"), req_decode_context_sum=("req_decode_context_sum", "first"),
        step_time_s=("step_time_s", "median"))
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


def fit_json(result: FitResult, meta: dict[str, Any]) -> dict[str, Any]:
    """What FittedPerfModel loads: coefficients + the engine facts they hold for."""
    keys = ("vllm_version", "torch_version", "gpu_name", "model", "kv_capacity_tokens", "block_size",
            "max_model_len", "cudagraph_mode", "enforce_eager", "engine_kwargs", "date_utc",
            "attention_backend", "flash_attn_version", "attention_backend_source")
    hold = result.holdout.to_json()
    return {
        "features": list(result.features), "coefficients": dict(zip(result.features, result.coefficients, strict=True)),
        "params": asdict(result.params), "attention_backend": result.backend, "train_mape": result.train_mape,
        "holdout_mape": hold["all"]["mean_abs_pct"] / 100.0, "holdout_max_ape": hold["all"]["max_abs_pct"] / 100.0,
        "holdout": hold, "num_rows": result.num_rows, "num_compositions": result.num_compositions,
        "profile": {k: meta.get(k) for k in keys},
    }


def load_profile(profile_dir: Path) -> tuple[pd.DataFrame, dict[str, Any]]:
    """profile.csv and meta.json of one profile folder; meta records the attention backend (assumed if absent)."""
    csv_path = Path(profile_dir) / "profile.csv"
    if not csv_path.is_file():
        raise ConfigError(f"profile: no profile.csv in {profile_dir}; valid: a folder written by l4bench.profiling")
    meta_path = Path(profile_dir) / "meta.json"
    meta = json.loads(meta_path.read_text()) if meta_path.is_file() else {}
    df = pd.read_csv(csv_path)
    folder = Path(profile_dir).resolve().name.upper()
    if meta.get("attention_backend"):
        meta.setdefault("attention_backend_source", "meta.json")
    elif "attention_backend" in df and df["attention_backend"].notna().any():
        meta.update(attention_backend=str(df["attention_backend"].dropna().iloc[0]),
                    attention_backend_source="profile.csv")
    elif folder in KNOWN_BACKENDS:
        meta.update(attention_backend=folder, attention_backend_source="folder name")
    else:  # the first layout, <gpu>/<model>/ with no backend folder
        meta.update(attention_backend="FLASH_ATTN", flash_attn_version=3, attention_backend_source=LEGACY_BACKEND_NOTE)
    return df, meta


def fit_profile_dir(profile_dir: Path, features: tuple[str, ...] | None = None, num_folds: int = 5,
                    num_seeds: int = 5, first_seed: int = 0) -> FitResult:
    """Fit profile.csv in `profile_dir`; write fit.json and fit_report.md beside it.

    A profile_repeat.csv beside it (the same grid run again) is compared in the report, not fitted.
    """
    from l4bench.perf.report import write_report

    profile_dir = Path(profile_dir)
    df, meta = load_profile(profile_dir)
    names = features or features_for(meta, has_position="decode_max_position" in df)
    params = params_from_meta(meta)
    result = fit_profile(df, names, params, backend_of(meta), num_folds,
                         tuple(range(first_seed, first_seed + num_seeds)))
    (profile_dir / "fit.json").write_text(json.dumps(fit_json(result, meta), indent=2) + "\n")
    repeat_path = profile_dir / "profile_repeat.csv"
    repeat = usable_rows(pd.read_csv(repeat_path)) if repeat_path.is_file() else None
    write_report(profile_dir / "fit_report.md", usable_rows(df), result, meta, repeat)
    return result


def main(argv: list[str] | None = None) -> int:
    """`python -m l4bench.perf.fit DIR [--features a,b,c] [--folds K] [--seeds S]`."""
    ap = argparse.ArgumentParser(prog="python -m l4bench.perf.fit", description=__doc__)
    ap.add_argument("profile_dir", type=Path)
    ap.add_argument("--features", default=None, help="comma-separated; default: the backend's set")
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--seeds", type=int, default=5, help="fold assignments to average the error over")
    args = ap.parse_args(argv)
    try:
        res = fit_profile_dir(args.profile_dir, tuple(args.features.split(",")) if args.features else None,
                              args.folds, args.seeds)
    except ConfigError as exc:
        print(f"error: {exc}")
        return 2
    h = res.holdout.summaries[0]
    print(f"{res.backend}: train MAPE {res.train_mape:.1%}; held-out ({res.holdout.num_folds}-fold over "
          f"{res.num_compositions} compositions): mixed mean {h['mixed']['mean_abs_pct']:.1f}% "
          f"(max {h['mixed']['max_abs_pct']:.1f}%), uniform mean {h['uniform']['mean_abs_pct']:.1f}% "
          f"(max {h['uniform']['max_abs_pct']:.1f}%)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
