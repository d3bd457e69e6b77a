"""Per-backend mixed-batch penalty of the analytic model, from the kernel benchmark's kernels.csv.

The kernel benchmark (`python -m l4bench.profiling.kernels`) times one decode attention layer per
backend on a homogeneous batch and on mixed batches of the same size and total tokens. With
x = max_len / mean_len and s = l4bench.l4.spread.length_spread = 1 - 1/x, the penalty

    mixed / homogeneous attention time = 1 + spread_beta * s + spread_kappa * (x - 1)

is fitted per backend (nonnegative, relative error; l4bench.l4.nnls.nnls). spread_beta saturates (a
split-KV kernel with one split heuristic per batch); spread_kappa grows with the longest context (a
kernel that walks the long sequence in one work unit: time ~ max_len). AnalyticPerfModel applies it to
its decode-attention term when `kernel_table` is set.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from l4bench.errors import ConfigError
from l4bench.l4.nnls import nnls

REPO_KERNELS = Path(__file__).resolve().parents[2] / "results" / "kernels"
#: Engine backend names (vLLM's, l4bench.engines.attention) -> the kernel benchmark's names
#: (l4bench.profiling.kernels.backends.BACKEND_NAMES). FLASH_ATTN is FA3 on Hopper (vLLM's default).
KERNEL_NAMES = {"FLASH_ATTN": "fa3", "FLASH_ATTN (FA3)": "fa3", "FLASH_ATTN_3": "fa3", "FLASH_ATTN_2": "fa2",
                "TRITON_ATTN": "triton", "FLASHINFER": "flashinfer"}
#: Column names accepted for one quantity (the benchmark's own first).
ALIASES = {"max_len": ("max_seq_len", "max_len"), "ratio": ("vs_homog", "ratio_vs_homogeneous")}


@dataclass(frozen=True, slots=True)
class KernelPenalty:
    """Fitted penalty of one backend and how well it reproduces the table's ratios."""

    backend: str
    spread_beta: float
    spread_kappa: float
    num_mixed: int
    max_abs_error_pct: float
    source: str

    def ratio(self, max_over_mean: float) -> float:
        """Predicted mixed / homogeneous attention time at this max_len / mean_len."""
        x = max(float(max_over_mean), 1.0)
        return 1.0 + self.spread_beta * (1.0 - 1.0 / x) + self.spread_kappa * (x - 1.0)


def find_kernel_table(kernel_table: str) -> Path:
    """A kernels.csv path: the file, a folder holding it, or '<gpu>/vllm-<version>' under results/kernels."""
    for cand in (Path(kernel_table), Path("results") / "kernels" / kernel_table, REPO_KERNELS / kernel_table):
        path = cand / "kernels.csv" if cand.is_dir() else cand
        if path.is_file():
            return path
    found = sorted(str(p.parent.relative_to(REPO_KERNELS)) for p in REPO_KERNELS.glob("*/*/kernels.csv"))
    raise ConfigError(f"perf.kernel_table: no kernels.csv at {kernel_table!r}; "
                      f"valid: a path or one of {', '.join(found) or 'none yet (python -m l4bench.profiling.kernels)'}")


def kernel_backend(backend: str) -> str:
    """The kernel table's name of a backend: engine names map (FLASH_ATTN -> fa3), table names pass."""
    return KERNEL_NAMES.get(str(backend).strip().upper(), str(backend).strip())


def _column(df: pd.DataFrame, key: str) -> str | None:
    return next((c for c in ALIASES[key] if c in df), None)


def mixed_ratios(df: pd.DataFrame, backend: str) -> pd.DataFrame:
    """One backend's mixed rows with x = max_len / mean_len and ratio = mixed / homogeneous median time."""
    max_col = _column(df, "max_len")
    need = {"backend", "batch_size", "total_tokens", "median_us"}
    if max_col is None or not need <= set(df.columns):
        raise ConfigError(f"perf.kernel_table: columns {sorted(df.columns)}; valid: backend, batch_size, "
                          "total_tokens, max_seq_len (or max_len), median_us")
    names = {str(backend).strip().upper(), kernel_backend(backend).upper()}  # as given, or the table's name
    rows = df[df["backend"].astype(str).str.upper().isin(names) & df["median_us"].notna()]
    if "status" in rows:
        rows = rows[rows["status"].astype(str) == "ok"]
    rows = rows.assign(max_len=rows[max_col].astype(float), mean_len=rows["total_tokens"] / rows["batch_size"])
    is_homog = (rows["kind"] == "homogeneous") if "kind" in rows else np.isclose(rows["max_len"], rows["mean_len"], rtol=1e-3)
    homog = rows[is_homog].groupby(["batch_size", "total_tokens"])["median_us"].median()
    mixed = rows[(rows["kind"] == "mixed") if "kind" in rows else ~is_homog].copy()
    key = list(zip(mixed["batch_size"], mixed["total_tokens"], strict=True))
    mixed["ratio"] = [m / homog[k] if k in homog.index else np.nan for m, k in zip(mixed["median_us"], key, strict=True)]
    given = _column(mixed, "ratio")
    if given:  # no homogeneous row of that size in the table: the benchmark's own ratio
        mixed["ratio"] = mixed["ratio"].fillna(mixed[given].astype(float))
    mixed["x"] = mixed["max_len"] / mixed["mean_len"]
    return mixed[mixed["ratio"].notna() & (mixed["x"] > 1.0)].reset_index(drop=True)


def fit_penalty(df: pd.DataFrame, backend: str, source: str = "") -> KernelPenalty:
    """spread_beta and spread_kappa of one backend, by relative-error NNLS on its mixed/homogeneous ratios."""
    mixed = mixed_ratios(df, backend)
    if mixed.empty:
        have = sorted(set(df["backend"].astype(str))) if "backend" in df else []
        raise ConfigError(f"perf.attention_backend: no mixed rows with a homogeneous pair for {backend!r} in "
                          f"{source or 'the kernel table'}; valid: {', '.join(have) or 'none'} "
                          f"(or an engine name: {', '.join(KERNEL_NAMES)})")
    x, r = mixed["x"].to_numpy(float), mixed["ratio"].to_numpy(float)
    a = np.column_stack([1.0 - 1.0 / x, x - 1.0]) / r[:, None]
    beta, kappa = (float(v) for v in nnls(a, (r - 1.0) / r))
    pred = 1.0 + beta * (1.0 - 1.0 / x) + kappa * (x - 1.0)
    return KernelPenalty(backend, beta, kappa, len(mixed), float(np.max(np.abs(pred / r - 1.0)) * 100), source)


def load_penalty(kernel_table: str, backend: str) -> KernelPenalty:
    """The penalty of `backend` from a kernels.csv (see find_kernel_table)."""
    path = find_kernel_table(kernel_table)
    return fit_penalty(pd.read_csv(path), backend, str(path))
