"""Repeat aggregation: means of every number, CIs over repeats, ratios to the best baseline."""

from __future__ import annotations

import numpy as np
import pytest

from l4bench.metrics.repeats import (
    aggregate,
    best_baseline,
    bootstrap_ci95,
    mean_tree,
    versus_best,
    versus_each_repeat_best,
)


def _entry(mean_e2el: float, **kw):
    return {"scheduler": "x", "seed": kw.pop("seed", 0), "completed": 10, "mean_e2el_ms": mean_e2el,
            "per_bucket": [{"bucket": "[0,10)", "count": 4, "mean_e2el_ms": mean_e2el}],
            "bootstrap_ci95": {"mean_e2el_ms": {"low": 1.0, "high": 2.0}}, **kw}


def test_mean_tree_averages_numbers_keeps_equal_ints_and_matches_buckets_by_label():
    a = {"n": 4, "x": 1.0, "s": "a", "b": [{"bucket": "[0,1)", "v": 1.0}, {"bucket": "[1,2)", "v": 3.0}]}
    b = {"n": 4, "x": 3.0, "s": "b", "b": [{"bucket": "[1,2)", "v": 5.0}], "only_b": 7}
    got = mean_tree([a, b])
    assert got["n"] == 4 and isinstance(got["n"], int) and got["x"] == 2.0 and got["s"] == "a"
    assert got["b"] == [{"bucket": "[0,1)", "v": 1.0}, {"bucket": "[1,2)", "v": 4.0}]
    assert got["only_b"] == 7
    assert mean_tree([3, 4]) == 3.5 and mean_tree([None, 2.0]) == 2.0


def test_one_repeat_keeps_the_run_and_has_null_ci_with_a_note():
    e = _entry(100.0)
    agg = aggregate([e])
    assert agg["mean_e2el_ms"] == 100.0 and agg["num_repeats"] == 1
    assert agg["bootstrap_ci95"] == e["bootstrap_ci95"]
    ci = agg["ci95"]["mean_e2el_ms"]
    assert ci["low"] is None and ci["high"] is None and "1 repeat" in ci["note"]


def test_repeats_average_with_t_interval_and_keep_repeat_zero_seed():
    agg = aggregate([_entry(100.0, seed=0), _entry(110.0, seed=77), _entry(120.0, seed=99)])
    assert agg["mean_e2el_ms"] == pytest.approx(110.0) and agg["seed"] == 0 and agg["num_repeats"] == 3
    assert "bootstrap_ci95" not in agg  # per run only (kept in per_repeat)
    ci = agg["ci95"]["mean_e2el_ms"]
    assert ci["n"] == 3 and ci["low"] < 110.0 < ci["high"]
    assert agg["per_bucket"][0]["mean_e2el_ms"] == pytest.approx(110.0)


def test_best_baseline_ignores_l4_and_its_ablations():
    s = {"l4": {"mean_e2el_ms": 1.0}, "l4_no_dp": {"mean_e2el_ms": 2.0}, "rr": {"mean_e2el_ms": 5.0},
         "lt": {"mean_e2el_ms": 4.0}, "bad": {"mean_e2el_ms": None}}
    assert best_baseline(s) == "lt"


def test_versus_best_over_repeats_is_paired_per_repeat():
    # l4 is exactly 0.9x lt in every repeat although both vary a lot across repeats
    lt = [100.0, 200.0, 150.0]
    per_repeat = [{"l4": {"mean_e2el_ms": 0.9 * v}, "lt": {"mean_e2el_ms": v}} for v in lt]
    summaries = {"l4": aggregate([r["l4"] for r in per_repeat]), "lt": aggregate([r["lt"] for r in per_repeat])}
    got = versus_best(per_repeat, summaries, [], {"num_resamples": 0, "seeds": []})
    assert got["best_baseline"] == "lt"
    r = got["schedulers"]["l4"]
    assert r["ratio"] == pytest.approx(0.9) and r["low"] == pytest.approx(0.9) and r["high"] == pytest.approx(0.9)
    assert r["per_repeat"] == pytest.approx([0.9, 0.9, 0.9]) and "log ratio" in r["method"]


def test_versus_best_with_one_repeat_bootstraps_matched_requests():
    rng = np.random.default_rng(0)
    base = rng.lognormal(7, 1, 400)
    l4 = base * rng.uniform(0.7, 1.0, 400)
    per_repeat = [{"l4": {"mean_e2el_ms": l4.mean()}, "rr": {"mean_e2el_ms": base.mean()}}]
    summaries = {n: aggregate([e]) for n, e in per_repeat[0].items()}
    got = versus_best(per_repeat, summaries, [{"l4": l4, "rr": base}], {"num_resamples": 500, "seeds": [[0, 2]]})
    r = got["schedulers"]["l4"]
    assert r["ratio"] == pytest.approx(l4.mean() / base.mean())
    assert r["low"] < r["ratio"] < r["high"] < 1.0 and r["num_paired_requests"] == 400
    assert "paired request-level bootstrap" in r["method"]


def test_bootstrap_block_flags_tail_percentiles_with_few_values_beyond():
    rng = np.random.default_rng(1)
    lat = {m: rng.lognormal(0, 1, 300) for m in ("e2el_ms", "ttft_ms", "tpot_ms")}
    b = bootstrap_ci95(lat, [0, 2], 200)
    assert b["p99_e2el_ms"]["n"] == 300 and "understates" in b["p99_e2el_ms"]["note"]  # 3 values above p99
    assert "note" not in b["p90_e2el_ms"] and b["p90_e2el_ms"]["low"] < b["p90_e2el_ms"]["high"]


def test_versus_each_repeat_best_counts_a_baseline_that_wins_only_some_repeats():
    per_repeat = [{"l4": {"mean_e2el_ms": 80.0}, "a": {"mean_e2el_ms": 100.0}, "b": {"mean_e2el_ms": 120.0}},
                  {"l4": {"mean_e2el_ms": 80.0}, "a": {"mean_e2el_ms": 100.0}, "b": {"mean_e2el_ms": 64.0}}]
    summaries = {n: aggregate([r[n] for r in per_repeat]) for n in ("l4", "a", "b")}
    fixed = versus_best(per_repeat, summaries, [], {"num_resamples": 0, "seeds": []})
    each = versus_each_repeat_best(per_repeat, list(summaries))
    assert fixed["best_baseline"] == "b" and each["best_baseline_per_repeat"] == ["a", "b"]
    assert each["schedulers"]["l4"]["per_repeat"] == pytest.approx([0.8, 1.25])
    assert fixed["schedulers"]["l4"]["per_repeat"] == pytest.approx([80 / 120, 1.25])
