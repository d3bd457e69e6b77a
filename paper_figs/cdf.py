"""Per-request E2E latency distributions kept small: ``e2e_cdf.csv`` beside each run's summary.json.

requests.parquet is too large to commit, so ``python -m paper_figs.cdf RUN_DIR...`` (or
``--experiment NAME`` for every run of an experiment) writes, per scheduler, the E2E latency at
fixed quantiles (dense in the tail). Fig. 3 reads the CSV, or the parquet when the CSV is absent.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

from paper_figs.common import DEFAULT_RESULTS, MissingDataError, single_runs, sweeps

CDF_FILE = "e2e_cdf.csv"
#: Quantiles stored: every 1% and a dense tail up to 99.9%.
QUANTILES = np.unique(np.concatenate([np.linspace(0.0, 1.0, 101), np.linspace(0.99, 0.999, 10)]))


def quantile_frame(requests: pd.DataFrame) -> pd.DataFrame:
    """Rows (scheduler, quantile, e2el_ms, num_completed) from a records frame's completed requests."""
    done = requests[requests["is_completed"].astype(bool)]
    rows = []
    for name, d in done.groupby("scheduler", sort=False):
        e2el = d["e2el_ms"].to_numpy(dtype=float)
        e2el = e2el[np.isfinite(e2el)]
        if e2el.size == 0:
            continue
        for q, v in zip(QUANTILES, np.quantile(e2el, QUANTILES), strict=True):
            rows.append({"scheduler": name, "quantile": round(float(q), 4), "e2el_ms": float(v),
                         "num_completed": int(e2el.size)})
    return pd.DataFrame(rows, columns=["scheduler", "quantile", "e2el_ms", "num_completed"])


def load_quantiles(run_dir: Path) -> pd.DataFrame:
    """E2E quantiles of one run: e2e_cdf.csv, else computed from requests.parquet."""
    path = Path(run_dir) / CDF_FILE
    if path.is_file():
        return pd.read_csv(path)
    parquet = Path(run_dir) / "requests.parquet"
    if parquet.is_file():
        cols = ["scheduler", "is_completed", "e2el_ms"]
        return quantile_frame(pd.read_parquet(parquet, columns=cols))
    raise MissingDataError(f"{run_dir} has neither {CDF_FILE} nor requests.parquet; "
                           f"write it with: python -m paper_figs.cdf {run_dir}")


def write_cdf(run_dir: Path) -> Path:
    """Write RUN_DIR/e2e_cdf.csv from RUN_DIR/requests.parquet."""
    cols = ["scheduler", "is_completed", "e2el_ms"]
    df = quantile_frame(pd.read_parquet(Path(run_dir) / "requests.parquet", columns=cols))
    out = Path(run_dir) / CDF_FILE
    df.to_csv(out, index=False, float_format="%.6g")
    return out


def main(argv: list[str] | None = None) -> int:
    """CLI: write e2e_cdf.csv for the given run folders or every run of --experiment."""
    ap = argparse.ArgumentParser(prog="python -m paper_figs.cdf", description=__doc__.splitlines()[0])
    ap.add_argument("runs", nargs="*", type=Path, help="run folders holding requests.parquet")
    ap.add_argument("--experiment", action="append", default=[], help="every run of this experiment")
    ap.add_argument("--results", type=Path, default=DEFAULT_RESULTS)
    args = ap.parse_args(argv)
    runs = list(args.runs)
    for exp in args.experiment:
        runs += single_runs(args.results, exp) + [j for sw in sweeps(args.results, exp) for j in sw]
    for run in runs:
        if (run / "requests.parquet").is_file():
            print(write_cdf(run))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
