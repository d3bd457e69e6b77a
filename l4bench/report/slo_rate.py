"""Max arrival rate under an SLO per scheduler, from a simulator rate sweep with repeats (issue 15).

Reads DIR/rate_<r>/summary.json as written by one `'arrival.rate=[r1,r2,...]'` run with
experiment.repeats=R (every rate's repeat r replays the same requests for every scheduler). A
request is good when it meets the run's `slo` (TTFT and TPOT bounds); a rate meets the SLO when
at least FRACTION of its completed requests are good. A scheduler's max rate is the highest rate
of the grid that meets it with every lower rate of the grid meeting it too, per repeat and on the
attainment averaged over repeats; the L4 / other ratio is given per repeat (its range says how
much the grid and the repeats decide it).

With --tag NAME the attainment is recomputed from DIR/rate_<r>/requests.parquet over the measured,
completed requests of that workload class only (good: ttft_ms <= --ttft-ms and tpot_ms <= --tpot-ms),
for SLOs one class cannot meet at any rate (a 30k-token prefill that alone takes longer than the
TTFT bound).

Usage: python -m l4bench.report.slo_rate DIR [--fraction 0.9] [--versus least_requests] [--out PREFIX]
         [--tag NAME --ttft-ms 2000 --tpot-ms 100]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import pandas as pd

from l4bench.report.blocks import register


def collect(root: Path) -> pd.DataFrame:
    """One row per (rate, scheduler, repeat): completed, good requests, attainment."""
    rows: list[dict[str, Any]] = []
    for path in sorted(root.glob("rate_*/summary.json")):
        doc = json.loads(path.read_text())
        rate = float(doc["meta"]["arrival"]["rate"])
        for rep in doc.get("per_repeat", []):
            for name, s in rep["schedulers"].items():
                done = int(s.get("completed") or 0)
                good = int(s.get("num_good_requests") or 0)
                rows.append({"rate": rate, "scheduler": name, "repeat": int(rep["repeat"]), "completed": done,
                             "good": good, "attainment": good / done if done else 0.0})
    if not rows:
        raise FileNotFoundError(f"no rate_*/summary.json with per-repeat entries under {root}")
    return pd.DataFrame(rows).sort_values(["scheduler", "repeat", "rate"]).reset_index(drop=True)


def collect_requests(root: Path, tag: str, ttft_ms: float, tpot_ms: float) -> pd.DataFrame:
    """collect()'s rows from the per-request records, over the measured completed requests tagged tag."""
    rows: list[dict[str, Any]] = []
    cols = ["repeat", "scheduler", "tag", "is_measured", "is_completed", "ttft_ms", "tpot_ms"]
    for path in sorted(root.glob("rate_*/requests.parquet")):
        rate = float(json.loads((path.parent / "summary.json").read_text())["meta"]["arrival"]["rate"])
        d = pd.read_parquet(path, columns=cols)
        d = d[d.is_measured & d.is_completed & (d.tag == tag)]
        d = d.assign(good=(d.ttft_ms <= ttft_ms) & (d.tpot_ms.fillna(0.0) <= tpot_ms))
        for (name, rep), g in d.groupby(["scheduler", "repeat"]):
            rows.append({"rate": rate, "scheduler": name, "repeat": int(rep), "completed": len(g),
                         "good": int(g.good.sum()), "attainment": float(g.good.mean()) if len(g) else 0.0})
    if not rows:
        raise FileNotFoundError(f"no rate_*/requests.parquet with measured '{tag}' requests under {root}")
    return pd.DataFrame(rows).sort_values(["scheduler", "repeat", "rate"]).reset_index(drop=True)


def max_rate(rates: list[float], attainment: list[float], fraction: float) -> float:
    """Highest rate (ascending grid) meeting fraction with every lower rate meeting it; 0.0 if none."""
    best = 0.0
    for r, a in sorted(zip(rates, attainment, strict=True)):
        if a < fraction:
            break
        best = r
    return best


def capacity(df: pd.DataFrame, fraction: float) -> pd.DataFrame:
    """Per scheduler: max rate on the repeat-mean attainment, and per repeat (min, max, list)."""
    out = []
    for name, g in df.groupby("scheduler"):
        mean = g.groupby("rate").attainment.mean()
        per = [max_rate(list(h.rate), list(h.attainment), fraction) for _, h in g.groupby("repeat")]
        out.append({"scheduler": name, "max_rate_mean_attainment": max_rate(list(mean.index), list(mean), fraction),
                    "max_rate_per_repeat": ",".join(f"{r:g}" for r in per),
                    "max_rate_min": min(per), "max_rate_max": max(per)})
    return pd.DataFrame(out)


def ratios(df: pd.DataFrame, fraction: float, name: str, other: str) -> list[float]:
    """name's max rate / other's, per repeat (inf where only other meets no rate of the grid, nan where neither does)."""
    per: dict[str, dict[int, float]] = {}
    for (s, rep), h in df[df.scheduler.isin([name, other])].groupby(["scheduler", "repeat"]):
        per.setdefault(str(s), {})[int(rep)] = max_rate(list(h.rate), list(h.attainment), fraction)
    reps = sorted(set(per.get(name, {})) & set(per.get(other, {})))
    return [per[name][r] / per[other][r] if per[other][r] else (float("inf") if per[name][r] else float("nan"))
            for r in reps]


def markdown(df: pd.DataFrame, fraction: float) -> str:
    """Attainment per (rate, scheduler) as mean over repeats (min-max), then the capacity table."""
    att = df.groupby(["rate", "scheduler"]).attainment.agg(["mean", "min", "max"]).reset_index()
    names = sorted(df.scheduler.unique())
    lines = ["| rate req/s | " + " | ".join(names) + " |", "|---|" + "---|" * len(names)]
    for rate, g in att.groupby("rate"):
        cells = {r.scheduler: f"{r['mean']:.3f} ({r['min']:.3f}-{r['max']:.3f})" for _, r in g.iterrows()}
        lines.append(f"| {rate:g} | " + " | ".join(cells.get(n, "") for n in names) + " |")
    cap = capacity(df, fraction)
    lines += ["", f"| scheduler | max rate, repeat-mean attainment >= {fraction:g} | max rate per repeat |",
              "|---|---|---|"]
    lines += [f"| {r.scheduler} | {r.max_rate_mean_attainment:g} | {r.max_rate_per_repeat} |" for _, r in cap.iterrows()]
    return "\n".join(lines)


def _ratio_line(df: pd.DataFrame, fraction: float) -> str:
    r = ratios(df, fraction, "l4", "least_requests")
    cells = ("n/a (neither meets any rate)" if x != x else f"{x:.3g}" for x in r)
    return "L4 / least_requests max rate, per repeat: " + ", ".join(cells)


def _sections(base: Path, label: str, long_class: bool = False) -> list[str]:
    """Under the heading label, the every-request and short-class tables of one sweep folder's attainment CSVs (what --out
    and --tag short wrote), each with L4 / least_requests per repeat."""
    parts = []
    for what, name in (("every request", "slo_rate"), ("the short class only (90% of requests)", "slo_rate_short")):
        df = pd.read_csv(base / f"{name}.attainment.csv")
        parts += [f"{label}, {what}: SLO attainment per rate, mean over "
                  f"{df.repeat.nunique()} repeats (min-max); then the max rate with attainment >= 0.9:",
                  markdown(df, 0.9), _ratio_line(df, 0.9)]
        if long_class and name == "slo_rate":
            parts.append(_long_class(base, capacity(df, 0.9)))
    return parts


@register("live_gpu_triton_sim_slo_rate")
def render_twin(root: Path) -> str:
    """results/live_gpu_triton_sim: attainment per rate and max rate under the SLO, per backend (600 s runs)."""
    return "\n\n".join(part for backend in ("TRITON_ATTN", "FLASH_ATTN")
                       for part in _sections(root / "results" / "live_gpu_triton_sim" / f"slo_rate600_{backend}", f"**{backend}**"))


def _long_class(base: Path, cap: pd.DataFrame, long_prompt: int = 8192) -> str:
    """What the long prompts got at each scheduler's max rate (repeat means of its run's per_bucket):
    a share-of-requests SLO can be met while a 10% long class waits far beyond the TTFT bound."""
    cells = []
    for _, r in cap.iterrows():
        rate = float(r.max_rate_mean_attainment)
        path = base / f"rate_{rate:g}" / "summary.json"
        if not rate or not path.is_file():
            continue
        s = json.loads(path.read_text())["schedulers"][r.scheduler]
        b = [x for x in s.get("per_bucket", []) if x["lo_tokens"] >= long_prompt and x["count"]]
        if len(b) == 1:
            cells.append(f"{r.scheduler} at {rate:g} req/s: mean TTFT {b[0]['mean_ttft_ms'] / 1e3:.1f} s, "
                         f"mean E2E {b[0]['mean_e2el_ms'] / 1e3:.1f} s")
    return f"Prompts >= {long_prompt:,} tokens at each max rate (every request): " + "; ".join(cells) + "."


def render_h200(root: Path, backend: str) -> str:
    """results/l4_eval/h200_<backend>/slo_rate: attainment per rate and max rate under the SLO, 16 instances."""
    base = root / "results" / "l4_eval" / f"h200_{backend}" / "slo_rate"
    return "\n\n".join(_sections(base, f"**{backend}**, 16 instances", long_class=True))


for _backend in ("TRITON_ATTN", "FLASH_ATTN_2"):
    register(f"l4_eval_h200_slo_rate_{_backend}")(lambda root, b=_backend: render_h200(root, b))


def main(argv: list[str] | None = None) -> None:
    """Entry point: print the tables and L4 / VERSUS per repeat; with --out write PREFIX.csv files."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("root", type=Path)
    ap.add_argument("--fraction", type=float, default=0.9)
    ap.add_argument("--versus", default="least_requests")
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument("--tag", default=None, help="one workload class, from requests.parquet")
    ap.add_argument("--ttft-ms", type=float, default=2000.0)
    ap.add_argument("--tpot-ms", type=float, default=100.0)
    a = ap.parse_args(argv)
    try:
        df = collect(a.root) if a.tag is None else collect_requests(a.root, a.tag, a.ttft_ms, a.tpot_ms)
    except FileNotFoundError as e:
        raise SystemExit(f"error: {e}") from None
    print(markdown(df, a.fraction))
    r = ratios(df, a.fraction, "l4", a.versus)
    print(f"\nl4 / {a.versus} max rate per repeat: " + ", ".join(f"{x:.3g}" for x in r))
    if a.out is not None:
        df.to_csv(a.out.with_suffix(".attainment.csv"), index=False)
        capacity(df, a.fraction).to_csv(a.out.with_suffix(".capacity.csv"), index=False)


if __name__ == "__main__":
    main()
