"""Warm-up / cool-down exclusion: counts by time and by rank, validation, the windowed run."""

from __future__ import annotations

import numpy as np
import pytest

from l4bench.errors import ConfigError
from l4bench.metrics.records import RequestRecord, RunResult
from l4bench.metrics.window import MeasurementWindow, restrict

ARRIVALS = np.arange(10, dtype=float)  # 0, 1, ..., 9 s


def test_default_window_measures_everything():
    w = MeasurementWindow()
    assert not w.is_active and w.measured(ARRIVALS).all()
    assert w.describe(ARRIVALS)["measured"] == 10


def test_exclusion_by_time_is_relative_to_first_and_last_arrival():
    w = MeasurementWindow(warmup_s=2.5, cooldown_s=1.5)
    shifted = ARRIVALS + 100.0
    np.testing.assert_array_equal(np.flatnonzero(w.measured(shifted)), [3, 4, 5, 6, 7])
    d = w.describe(shifted)
    assert (d["excluded_warmup"], d["excluded_cooldown"], d["measured"], d["total"]) == (3, 2, 5, 10)


def test_exclusion_by_count_uses_arrival_order_not_position():
    w = MeasurementWindow(warmup_requests=2, cooldown_requests=3)
    shuffled = np.array([5.0, 0.0, 9.0, 1.0, 8.0, 2.0, 7.0, 3.0, 6.0, 4.0])
    kept = shuffled[w.measured(shuffled)]
    assert sorted(kept.tolist()) == [2.0, 3.0, 4.0, 5.0, 6.0]


def test_a_request_excluded_by_both_rules_counts_once():
    d = MeasurementWindow(warmup_requests=8, cooldown_requests=5).describe(ARRIVALS)
    assert d["excluded_warmup"] == 8 and d["excluded_cooldown"] == 2 and d["measured"] == 0


@pytest.mark.parametrize("kwargs", [{"warmup_s": -1.0}, {"cooldown_requests": 1.5}, {"warmup_s": "x"},
                                    {"warmup_requests": True}])
def test_bad_values_are_one_config_error(kwargs):
    with pytest.raises(ConfigError, match="metrics\\."):
        MeasurementWindow(**kwargs)


def test_restrict_keeps_measured_records_and_recomputes_duration():
    recs = [RequestRecord(i, "x", float(i), 10, 5, finish_s=float(i) + 2.0) for i in range(5)]
    res = RunResult("x", recs, duration_s=6.0)
    assert restrict(res, {0, 1, 2, 3, 4}) is res
    sub = restrict(res, {1, 2})
    assert [r.request_id for r in sub.records] == [1, 2] and sub.duration_s == pytest.approx(3.0)
    assert len(res.records) == 5  # the raw run keeps everything
