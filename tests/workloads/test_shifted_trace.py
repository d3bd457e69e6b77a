"""Shifted trace arrivals: same gaps (circularly), a different start per seed, deterministic."""

from __future__ import annotations

import numpy as np

from l4bench.types import Request
from l4bench.workloads.arrivals import TraceArrivals
from l4bench.workloads.shifted_trace import ShiftedTraceArrivals


def _trace() -> list[Request]:
    t = np.cumsum(np.random.default_rng(0).exponential(1.0, 200))
    return [Request(i, float(x), 100 + i, 10) for i, x in enumerate(t)]


def test_each_seed_replays_a_different_window_of_the_same_trace():
    arr = ShiftedTraceArrivals(max_duration_s=50.0)
    a = arr.assign(_trace(), np.random.default_rng(1))
    b = arr.assign(_trace(), np.random.default_rng(1))
    c = arr.assign(_trace(), np.random.default_rng(2))
    assert [(r.arrival_s, r.prompt_tokens) for r in a] == [(r.arrival_s, r.prompt_tokens) for r in b]
    assert [r.prompt_tokens for r in a] != [r.prompt_tokens for r in c]
    plain = TraceArrivals(max_duration_s=50.0)
    assert [r.prompt_tokens for r in plain.assign(_trace(), np.random.default_rng(1))] == \
        [r.prompt_tokens for r in plain.assign(_trace(), np.random.default_rng(2))]


def test_shift_keeps_every_request_and_the_gaps_except_at_the_seam():
    trace = _trace()
    out = ShiftedTraceArrivals(speedup=2.0).assign(trace, np.random.default_rng(3))
    assert sorted(r.prompt_tokens for r in out) == sorted(r.prompt_tokens for r in trace)
    gaps_in = np.diff([r.arrival_s for r in trace]) / 2.0
    gaps_out = np.diff([r.arrival_s for r in out])
    # all but one gap (the seam) are gaps of the original trace, in the same circular order
    assert np.isin(np.round(gaps_out, 9), np.round(gaps_in, 9)).sum() >= len(gaps_out) - 1
