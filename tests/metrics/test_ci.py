"""Confidence intervals: t-interval against scipy, exact bootstrap percentiles, coverage, pairing."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from l4bench.metrics import ci


@pytest.mark.parametrize("values", [[1.0, 2.0, 4.0], [10.0, 10.5, 9.0, 12.0, 11.0], [3.0, 3.0]])
def test_t_interval_matches_scipy(values):
    got = ci.t_interval(values)
    assert got["n"] == len(values) and got["mean"] == pytest.approx(np.mean(values))
    if np.std(values) == 0:
        assert got["low"] == got["high"] == pytest.approx(values[0])
        return
    lo, hi = stats.t.interval(0.95, len(values) - 1, loc=np.mean(values), scale=stats.sem(values))
    assert got["low"] == pytest.approx(lo) and got["high"] == pytest.approx(hi)


def test_t_interval_of_one_value_has_no_bounds_and_says_so():
    got = ci.t_interval([5.0, None, float("nan")])
    assert got["mean"] == 5.0 and got["low"] is None and got["high"] is None and got["n"] == 1
    assert "no interval" in got["note"]


def test_log_ratio_interval_is_the_exponentiated_t_interval_of_logs():
    ratios = [0.8, 0.9, 0.85, 1.0]
    got = ci.log_ratio_interval(ratios)
    logs = np.log(ratios)
    lo, hi = stats.t.interval(0.95, len(logs) - 1, loc=logs.mean(), scale=stats.sem(logs))
    assert got["mean"] == pytest.approx(math.exp(logs.mean()))
    assert (got["low"], got["high"]) == (pytest.approx(math.exp(lo)), pytest.approx(math.exp(hi)))


def test_resample_counts_are_deterministic_and_sum_to_n():
    a = np.concatenate(list(ci.resample_counts(50, 300, seed=[3, 2])))
    b = np.concatenate(list(ci.resample_counts(50, 300, seed=[3, 2])))
    c = np.concatenate(list(ci.resample_counts(50, 300, seed=[4, 2])))
    assert a.shape == (300, 50) and np.array_equal(a, b) and not np.array_equal(a, c)
    assert (a.sum(axis=1) == 50).all()


def test_bootstrap_means_equal_numpy_on_the_materialized_resamples():
    rng = np.random.default_rng(0)
    vals = rng.lognormal(0, 1, 300)
    vals[::7] = np.nan  # e.g. failed requests: drawn, not counted
    reps = ci.bootstrap_stats({"x": vals}, seed=[1], num_resamples=40)
    finite = np.isfinite(vals)
    for i, counts in enumerate(np.concatenate(list(ci.resample_counts(300, 40, [1, 0])))):
        assert reps["x:mean"][i] == pytest.approx(np.repeat(vals[finite], counts[finite]).mean())


@pytest.mark.parametrize("q", [50.0, 90.0, 99.0, 100.0])
def test_order_statistic_draws_match_materialized_bootstrap_percentiles(q):
    rng = np.random.default_rng(3)
    vals = np.sort(rng.lognormal(0, 1, 300))
    fast = ci._order_statistic_percentiles(vals, q, 4000, np.random.default_rng(4))
    slow = np.percentile(vals[rng.integers(0, 300, size=(4000, 300))], q, axis=1)
    assert stats.ks_2samp(fast, slow).pvalue > 0.001
    np.testing.assert_allclose(np.percentile(fast, [2.5, 50, 97.5]), np.percentile(slow, [2.5, 50, 97.5]),
                               rtol=0.05)


def test_bootstrap_percentile_interval_covers_the_true_p90_about_95_percent():
    # exponential(1): p90 = ln 10; 200 data sets of 400 draws, 300 resamples each
    rng = np.random.default_rng(12)
    truth = math.log(10.0)
    hits = 0
    num_sets = 200
    for k in range(num_sets):
        data = rng.exponential(1.0, 400)
        lo, hi = ci.percentile_interval(ci.bootstrap_stats({"x": data}, seed=k, num_resamples=300)["x:p90"])
        hits += lo <= truth <= hi
    assert 0.88 <= hits / num_sets <= 0.99, hits


def test_paired_ratio_is_exact_when_one_scheduler_is_a_constant_multiple():
    rng = np.random.default_rng(5)
    a = rng.lognormal(0, 1, 500)
    ratio, reps, n = ci.paired_ratio_replicates(500, 0.8 * a, a, seed=0, num_resamples=200)
    assert n == 500 and ratio == pytest.approx(0.8)
    np.testing.assert_allclose(reps, 0.8)  # paired: every resample has the same requests for both


def test_paired_ratio_uses_only_requests_both_completed():
    a = np.array([1.0, 2.0, np.nan, 4.0])
    b = np.array([2.0, np.nan, 6.0, 8.0])
    ratio, _, n = ci.paired_ratio_replicates(4, a, b, seed=0, num_resamples=10)
    assert n == 2 and ratio == pytest.approx(5.0 / 10.0)
