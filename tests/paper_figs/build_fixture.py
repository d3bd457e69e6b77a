"""Rebuild tests/data/results_fixture/ with the real harness at toy size (about a minute).

    python tests/paper_figs/build_fixture.py

Runs ``python -m l4bench`` for every fig_* experiment with tiny overrides (tiny-llama, 2-8 simulated
instances, synthetic bimodal lengths, 40 requests, 4 schedulers), keeps only the small files the
figures read (summary.json, comparison.csv, timeline.json, e2e_cdf.csv) under fixed folder names, and
adds a toy DP benchmark and Fig. 1's inputs (the committed H200 kernels.csv and the profiles'
headline rows). fig_live is the simulator relabelled as a live engine: the fixture tests plumbing, not numbers.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))
OUT = REPO / "tests" / "data" / "results_fixture"
STAMP = "2000-01-01_00-00-00"
KEEP = ("summary.json", "comparison.csv")
TINY = ["cluster=pair", "model=tiny-llama", "workload=synthetic_bimodal", "arrival=poisson",
        "workload.num_requests=40", "progress=false", "cluster.max_model_len=16384",
        "workload.long_tokens=12000", "workload.long_fraction=0.2", "workload.jitter=0.5",
        "workload.output_tokens=64", "engine.timeline_interval_s=2.0", "~arrival.speedup", "~workload.trace"]
SCHEDULERS = "experiment.schedulers=[l4,l4_no_dp,l4_no_migration,llumnix,round_robin]"


def run(tmp: Path, experiment: str, *overrides: str) -> Path:
    """One single run of the harness; returns its run folder."""
    cmd = [sys.executable, "-m", "l4bench", f"+experiment={experiment}", f"results_dir={tmp}", *TINY, *overrides]
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)}\n{proc.stderr[-3000:]}")
    return Path(proc.stdout.strip().splitlines()[-1]).parent


def keep(src: Path, dst: Path, *extra: str) -> None:
    """Copy the small result files the figures read (e2e_cdf.csv is made from the parquet)."""
    from paper_figs.cdf import write_cdf

    write_cdf(src)
    dst.mkdir(parents=True, exist_ok=True)
    for name in (*KEEP, *extra):
        if (src / name).is_file():
            shutil.copy(src / name, dst / name)


def main() -> int:
    """Rebuild the whole fixture."""
    shutil.rmtree(OUT, ignore_errors=True)
    with tempfile.TemporaryDirectory() as t:
        tmp = Path(t)
        for i, rate in enumerate((2.0, 4.0, 8.0)):
            keep(run(tmp, "fig_rates", SCHEDULERS, f"arrival.rate={rate}"), OUT / "fig_rates" / f"multirun_{STAMP}" / str(i),
                 "e2e_cdf.csv")
        for i, n in enumerate((2, 4, 8)):
            src = run(tmp, "fig_scale", SCHEDULERS, f"scale.instances={n}", f"arrival.rate={n}")
            keep(src, OUT / "fig_scale" / f"multirun_{STAMP}" / str(i))
        keep(run(tmp, "fig_timeline", "arrival.rate=4"), OUT / "fig_timeline" / STAMP, "timeline.json")
        keep(run(tmp, "fig_live_sim", "arrival.rate=2"), OUT / "fig_live_sim" / STAMP)
        keep(run(tmp, "fig_live", "engine=sim", "~engine.devices", "~engine.device_env_var", "arrival.rate=2"), OUT / "fig_live" / STAMP)
        live_repeats(tmp)
    live = OUT / "fig_live" / STAMP / "summary.json"
    doc = json.loads(live.read_text())
    doc["meta"]["engine"] = "LiveRunner"  # relabelled: see the module docstring
    live.write_text(json.dumps(doc, indent=2))
    subprocess.run([sys.executable, str(REPO / "benchmarks" / "bench_dp_grid.py"), "--bins", "8", "16",
                    "--instances", "4", "8", "--repeats", "1", "--out", str(OUT / "bench" / "dp_solve_time.csv")],
                   check=True, capture_output=True)
    write_premise(OUT)
    print(OUT)
    return 0


def live_repeats(tmp: Path) -> None:
    """Fig. 12's live/<name>_repeats/{live,sim}: one 2-repeat simulator run as both halves, the "live"
    copy relabelled and without one scheduler in repeat 0 (a run lost in a device session)."""
    src = run(tmp, "fig_rates", "perf=analytic", "arrival.rate=2", "experiment.repeats=2",
              "experiment.schedulers=[l4,round_robin,least_tokens]")
    dst = OUT / "live" / "toy_repeats"
    keep(src, dst / "sim")
    doc = json.loads((src / "summary.json").read_text())
    doc["meta"]["engine"] = "LiveRunner"
    del doc["per_repeat"][0]["schedulers"]["least_tokens"]
    (dst / "live").mkdir(parents=True, exist_ok=True)
    (dst / "live" / "summary.json").write_text(json.dumps(doc, indent=2))


def write_premise(out: Path) -> None:
    """Fig. 1's inputs: the committed H200 kernel table and the profiles' headline rows (real values, trimmed)."""
    import pandas as pd

    kernels = Path("kernels") / "h200" / "vllm-0.25.0"
    (out / kernels).mkdir(parents=True, exist_ok=True)
    shutil.copy(REPO / "results" / kernels / "kernels.csv", out / kernels / "kernels.csv")
    for src in sorted((REPO / "results" / "profiles" / "h200" / "llama-3.1-8b").glob("*/profile.csv")):
        df = pd.read_csv(src)
        dst = out / src.relative_to(REPO / "results")
        dst.parent.mkdir(parents=True, exist_ok=True)
        df[df["group"].isin(["headline_uniform", "headline_mixed"])].to_csv(dst, index=False)


if __name__ == "__main__":
    raise SystemExit(main())
