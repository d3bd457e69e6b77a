"""Held-out error of a step-time fit by whole compositions: k-fold over composition ids.

A profile may hold several rows of one composition (passes, repeats). Rows of one composition are
never split between train and test, so a fold's error is that of compositions the fit never saw.
Errors are per composition (median prediction vs median measurement of its rows) and are reported
separately for mixed compositions (decode lengths spread: a long context among short ones) and
uniform ones.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from l4bench.l4.nnls import fit_relative
from l4bench.l4.spread import length_spread_array
from l4bench.perf.features import FeatureParams, design_matrix, shapes_of

#: A decode batch whose length spread (1 - mean/max context) is at least this counts as mixed.
MIXED_SPREAD = 0.25


def _bool_column(col: pd.Series) -> np.ndarray:
    return col.astype(str).str.lower().isin(["true", "1", "1.0"]).to_numpy()


def with_compositions(df: pd.DataFrame) -> pd.DataFrame:
    """df plus composition_id (the profile's, else its row name) and is_mixed (the profile's, else by spread)."""
    out = df.copy()
    if "composition_id" not in out:
        out["composition_id"] = out["name"].astype(str)
    out["composition_id"] = out["composition_id"].astype(str)
    if "is_mixed" in out:
        out["is_mixed"] = _bool_column(out["is_mixed"])
    else:
        spread = length_spread_array(out["num_decodes"].to_numpy(float), out["decode_context_sum"].to_numpy(float),
                                     out["decode_context_max"].to_numpy(float))
        out["is_mixed"] = (out["num_decodes"].to_numpy() > 1) & (spread >= MIXED_SPREAD)
    return out


def composition_folds(ids: np.ndarray, num_folds: int, rng: np.random.Generator) -> list[np.ndarray]:
    """Row indices of each test fold: the unique composition ids shuffled and cut into num_folds parts."""
    unique = np.array(sorted(set(ids.tolist())))
    parts = np.array_split(rng.permutation(unique), min(num_folds, len(unique)))
    return [np.flatnonzero(np.isin(ids, part)) for part in parts if len(part)]


def out_of_fold(x: np.ndarray, y: np.ndarray, ids: np.ndarray, num_folds: int,
                rng: np.random.Generator) -> np.ndarray:
    """Prediction of every row by the fit on the folds that do not hold its composition."""
    pred = np.full(len(y), np.nan)
    for test in composition_folds(ids, num_folds, rng):
        train = np.setdiff1d(np.arange(len(y)), test)
        pred[test] = x[test] @ fit_relative(x[train], y[train])
    return pred


def per_composition(df: pd.DataFrame, pred_s: np.ndarray) -> pd.DataFrame:
    """One row per composition: median measured and predicted time (ms), error %, is_mixed."""
    tmp = pd.DataFrame({"composition": df["composition_id"].to_numpy(), "is_mixed": df["is_mixed"].to_numpy(),
                        "measured_ms": df["step_time_s"].to_numpy() * 1e3, "predicted_ms": pred_s * 1e3})
    out = tmp.groupby("composition", sort=True).agg(is_mixed=("is_mixed", "first"),
                                                   measured_ms=("measured_ms", "median"),
                                                   predicted_ms=("predicted_ms", "median")).reset_index()
    out["error_pct"] = (out["predicted_ms"] / out["measured_ms"] - 1.0) * 100.0
    return out


def error_summary(table: pd.DataFrame) -> dict[str, dict[str, float | int]]:
    """Mean and max abs. error (%) over mixed, uniform and all compositions."""
    out: dict[str, dict[str, float | int]] = {}
    for key, rows in (("mixed", table[table["is_mixed"]]), ("uniform", table[~table["is_mixed"]]), ("all", table)):
        err = rows["error_pct"].abs()
        out[key] = {"num_compositions": int(len(rows)), "mean_abs_pct": float(err.mean()) if len(rows) else float("nan"),
                    "max_abs_pct": float(err.max()) if len(rows) else float("nan")}
    return out


@dataclass(frozen=True)
class HoldoutResult:
    """Whole-composition k-fold error: the first seed's per-composition table and all seeds' summaries."""

    num_folds: int
    table: pd.DataFrame
    summaries: list[dict[str, dict[str, float | int]]]

    def to_json(self) -> dict[str, Any]:
        """fit.json's "holdout" block: first seed's errors and the spread over seeds."""
        first = self.summaries[0]
        worst = {k: max(s[k]["mean_abs_pct"] for s in self.summaries) for k in first}
        return {"method": f"{self.num_folds}-fold over whole compositions", "num_seeds": len(self.summaries),
                **first, "worst_seed_mean_abs_pct": worst}


def holdout_errors(df: pd.DataFrame, features: tuple[str, ...], params: FeatureParams, num_folds: int = 5,
                   seeds: tuple[int, ...] = (0, 1, 2, 3, 4)) -> HoldoutResult:
    """k-fold by composition for each seed (a different fold assignment per seed)."""
    df = with_compositions(df)
    x = design_matrix(shapes_of(df), features, params)
    y = df["step_time_s"].to_numpy(float)
    ids = df["composition_id"].to_numpy()
    tables = [per_composition(df, out_of_fold(x, y, ids, num_folds, np.random.default_rng(s))) for s in seeds]
    return HoldoutResult(num_folds, tables[0], [error_summary(t) for t in tables])
