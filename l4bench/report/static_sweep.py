"""static_ranges' boundary chosen by a simulator sweep, as an operator would (issue 15).

scripts/static_sweep.sh runs static_ranges once per candidate boundary (one repeat, the same
requests for every boundary) into DIR/b<boundary>/; this module reads those runs, tabulates mean and
p99 E2E, TTFT, TPOT, throughput and SLO attainment per boundary, and picks the boundary with the
lowest mean E2E.

Usage: python -m l4bench.report.static_sweep DIR [--out PREFIX]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

COLUMNS = ("mean_e2el_ms", "p99_e2el_ms", "mean_ttft_ms", "mean_tpot_ms", "request_throughput")


class SweepError(ValueError):
    """The sweep folder holds no usable static_ranges runs, or runs of different requests."""


def _boundaries(run_dir: Path) -> list[int]:
    cfg = yaml.safe_load((run_dir / "config_resolved.yaml").read_text())
    over = ((cfg.get("experiment") or {}).get("scheduler_overrides") or {}).get("static_ranges") or {}
    if "boundaries" not in over:
        raise SweepError(f"{run_dir}: no experiment.scheduler_overrides.static_ranges.boundaries")
    return [int(b) for b in over["boundaries"]]


def collect(root: Path) -> pd.DataFrame:
    """One row per run under root/*/ (boundaries from its resolved config), sorted by boundary."""
    rows: list[dict[str, Any]] = []
    digests: set[str] = set()
    for path in sorted(root.glob("*/summary.json")):
        doc = json.loads(path.read_text())
        s = doc["schedulers"].get("static_ranges")
        if s is None:
            continue
        digests.update(r["requests_sha256"] for r in doc.get("per_repeat", [])[:1])
        done = max(int(s.get("completed") or 0), 1)
        bounds = _boundaries(path.parent)
        rows.append({"boundaries": ",".join(map(str, bounds)), "first_boundary": bounds[0],
                     **{c: s.get(c) for c in COLUMNS},
                     "slo_attainment": float(s.get("num_good_requests") or 0) / done})
    if not rows:
        raise SweepError(f"no static_ranges summary.json under {root}/*/")
    if len(digests) > 1:
        raise SweepError(f"{root}: the runs replay different requests ({len(digests)} request digests)")
    return pd.DataFrame(rows).sort_values("first_boundary").reset_index(drop=True)


def best(df: pd.DataFrame) -> str:
    """The boundaries (comma-joined) of the row with the lowest mean E2E."""
    return str(df.loc[df.mean_e2el_ms.idxmin(), "boundaries"])


def markdown(df: pd.DataFrame) -> str:
    """The sweep table: boundary, mean/p99 E2E in s, mean TTFT s, mean TPOT ms, req/s, SLO share."""
    pick = best(df)
    lines = ["| boundary (tokens) | mean E2E s | p99 E2E s | mean TTFT s | mean TPOT ms | req/s | SLO attainment |",
             "|---|---|---|---|---|---|---|"]
    for _, r in df.iterrows():
        mark = " (best)" if r.boundaries == pick else ""
        lines.append(f"| {r.boundaries}{mark} | {r.mean_e2el_ms / 1e3:.2f} | {r.p99_e2el_ms / 1e3:.2f} | "
                     f"{r.mean_ttft_ms / 1e3:.2f} | {r.mean_tpot_ms:.1f} | {r.request_throughput:.2f} | "
                     f"{r.slo_attainment:.3f} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    """Entry point: print the table and the best boundary; with --out write PREFIX.csv."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("root", type=Path)
    ap.add_argument("--out", type=Path, default=None)
    a = ap.parse_args(argv)
    try:
        df = collect(a.root)
    except (SweepError, FileNotFoundError) as e:
        raise SystemExit(f"error: {e}") from None
    print(markdown(df))
    print(f"best: {best(df)}", file=sys.stderr)
    if a.out is not None:
        df.to_csv(a.out.with_suffix(".csv"), index=False)


if __name__ == "__main__":
    main()
