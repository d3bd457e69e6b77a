"""Per-run figures are written and readable; scheduler colours are fixed."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from l4bench.metrics.frame import records_frame
from l4bench.metrics.records import RequestRecord, RunResult
from l4bench.metrics.slo import SloSpec
from l4bench.metrics.summary import summarize
from l4bench.plotting.run_figures import interval_ms, write_run_figures
from l4bench.plotting.style import (
    PALETTE,
    SCHEDULER_ORDER,
    color_for,
    label_for,
    linestyle_for,
    order_schedulers,
)

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _run(name: str, seed: int, n: int = 200) -> RunResult:
    """Random but seeded timings; one failed request."""
    rng = np.random.default_rng(seed)
    records = []
    for i in range(n):
        arrival = 0.1 * i
        out = int(rng.integers(1, 40))
        times = arrival + 0.2 + np.concatenate([[0.0], np.cumsum(rng.exponential(0.02, out - 1))])
        records.append(
            RequestRecord(
                i,
                name,
                arrival,
                int(rng.lognormal(8, 1)),
                out,
                num_generated_tokens=out,
                first_token_s=float(times[0]),
                finish_s=float(times[-1]),
                token_times_s=times.tolist(),
                instances=[i % 2],
            )  # fmt: skip
        )
    records[3] = RequestRecord(3, name, 0.3, 50, 5, error="timeout")
    return RunResult(name, records, duration_s=25.0, batch_spread=[2.0, 3.0])


def test_figures_written(tmp_path: Path) -> None:
    runs = [_run(n, k) for k, n in enumerate(["round_robin", "l4", "somebody_new"])]
    sums = {r.scheduler: summarize(r, SloSpec(ttft_ms=500), [0, 2048, 8192], {"engine": "sim"}) for r in runs}
    paths = write_run_figures(records_frame(runs), sums, tmp_path / "figures", "sim | 2x H100 | tiny | test")
    assert [p.name for p in paths] == ["e2e_cdf.png", "latency_bars.png", "per_bucket.png"]
    for p in paths:
        data = p.read_bytes()
        assert data[:8] == PNG_MAGIC and len(data) > 10_000


def test_ratio_figure_with_intervals_is_written(tmp_path: Path) -> None:
    runs = [_run(n, k) for k, n in enumerate(["round_robin", "l4"])]
    sums = {r.scheduler: summarize(r, SloSpec(ttft_ms=500), [0, 2048], {}) for r in runs}
    versus = {"best_baseline": "round_robin", "schedulers": {
        "round_robin": {"ratio": 1.0, "low": 1.0, "high": 1.0, "method": "t"},
        "l4": {"ratio": 0.9, "low": 0.8, "high": 1.05, "method": "t"}}}
    paths = write_run_figures(records_frame(runs), sums, tmp_path, "t", versus)
    assert paths[-1].name == "vs_best.png" and paths[-1].read_bytes()[:8] == PNG_MAGIC


def test_error_bars_prefer_repeats_then_bootstrap() -> None:
    s = {"ci95": {"mean_e2el_ms": {"low": 1.0, "high": 3.0}, "p99_e2el_ms": {"low": None, "high": None}},
         "bootstrap_ci95": {"p99_e2el_ms": {"low": 5.0, "high": 9.0}, "mean_e2el_ms": {"low": 0.0, "high": 9.0}}}
    assert interval_ms(s, "mean_e2el_ms") == (1.0, 3.0, "repeats")
    assert interval_ms(s, "p99_e2el_ms") == (5.0, 9.0, "bootstrap")
    assert interval_ms(s, "mean_tpot_ms")[2] == ""


def test_figures_survive_empty_and_failed_only(tmp_path: Path) -> None:
    failed = RunResult("random", [RequestRecord(0, "random", 0.0, 10, 5, error="boom")], 0.0)
    sums = {"random": summarize(failed, SloSpec(), [0, 1024], {})}
    paths = write_run_figures(records_frame([failed]), sums, tmp_path, "empty")
    assert all(p.stat().st_size > 0 for p in paths)
    assert all(p.stat().st_size > 0 for p in write_run_figures(records_frame([]), {}, tmp_path / "e", "none"))


def test_palette_fixed_and_complete() -> None:
    assert set(PALETTE) == set(SCHEDULER_ORDER)
    assert len(set(PALETTE.values())) == len(PALETTE)  # distinct colours
    assert color_for("l4") == "#c0392b" and color_for("round_robin") == "#1f77b4"
    assert all(label_for(n) != n for n in SCHEDULER_ORDER)
    assert label_for("unknown_x") == "unknown_x"
    assert linestyle_for("l4_no_dp") == "-" and linestyle_for("llumnix") == "--"
    assert linestyle_for("sglang_router") == ":"


def test_fallback_colour_stable_across_processes() -> None:
    here = color_for("my_new_policy")
    assert here.startswith("#") and here not in PALETTE.values()
    code = "from l4bench.plotting.style import color_for; print(color_for('my_new_policy'))"
    root = Path(__file__).resolve().parents[2]
    out = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == here


@pytest.mark.parametrize(
    ("names", "want"),
    [
        (["x", "round_robin", "l4", "x"], ["l4", "round_robin", "x"]),
        (["b", "a"], ["b", "a"]),
    ],
)
def test_order(names: list[str], want: list[str]) -> None:
    assert order_schedulers(names) == want


def test_empty_buckets_not_plotted() -> None:
    from l4bench.plotting.run_figures import _bucket_labels, _short_bucket

    run = _run("l4", 0, n=30)
    sums = {"l4": summarize(run, SloSpec(), [0, 2048, 1 << 20], {})}
    sums["l4"]["per_bucket"].append(
        {"bucket": "[5,6)", "lo_tokens": 5, "hi_tokens": 6, "count": 0, "failed": 0}
    )
    labels = _bucket_labels(sums, ["l4"])
    assert "[5,6)" not in labels and labels[0] == "[0,2048)"
    assert _short_bucket(sums, "[2048,1048576)") == "2k-1024k"
