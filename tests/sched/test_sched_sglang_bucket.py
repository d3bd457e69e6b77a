"""sglang_bucket: load-weighted quantile boundaries, bucket dispatch, refresh cadence."""

from __future__ import annotations

import numpy as np
import pytest

from l4bench.errors import ConfigError
from l4bench.sched.sglang_bucket import SglangBucketScheduler, weighted_boundaries

SEED_LENGTHS = [1000] * 4 + [2000] * 2 + [4000, 8000]  # token weights 4000, 4000, 4000, 8000


def _sched(cluster, **kw):
    return SglangBucketScheduler(cluster=cluster, perf=None, rng=np.random.default_rng(0), **kw)


def test_weighted_boundaries():
    assert weighted_boundaries([100] * 10 + [1000], 2) == [100]  # each side holds 1000 tokens
    assert weighted_boundaries(SEED_LENGTHS, 4) == [2000, 4000, 8000]
    assert weighted_boundaries([5], 3) == [5, 5]


def _seeded(cluster, mkview, mkreq, **kw):
    s = _sched(cluster, min_samples=len(SEED_LENGTHS), refresh_interval_s=1e9, **kw)
    views = [mkview(i) for i in range(4)]
    for k, p in enumerate(SEED_LENGTHS):
        s.route(mkreq(k, prompt_tokens=p), views, float(k))
    return s


def test_fallback_to_least_tokens_before_min_samples(cluster4, mkview, mkreq):
    s = _sched(cluster4, min_samples=5)
    views = [
        mkview(0, running=(500,)),
        mkview(1, running=(100,)),
        mkview(2, running=(900,)),
        mkview(3, running=(300,)),
    ]
    assert s.route(mkreq(prompt_tokens=100_000), views, 0.0).instance_id == 1
    assert s.boundaries is None


def test_routes_by_bucket(cluster4, mkview, mkreq):
    s = _seeded(cluster4, mkview, mkreq)
    assert s.boundaries == [2000, 4000, 8000]
    views = [mkview(i, running=(10_000 * (4 - i),)) for i in range(4)]  # load against the buckets
    picks = [s.route(mkreq(prompt_tokens=p), views, 10.0).instance_id for p in (1500, 2001, 3000, 5000, 9000)]
    assert picks == [0, 1, 1, 2, 3]
    assert s.boundaries == [2000, 4000, 8000]  # no refresh within the interval


def test_boundary_length_goes_to_less_loaded_neighbour(cluster4, mkview, mkreq):
    s = _seeded(cluster4, mkview, mkreq)
    views = [mkview(0), mkview(1, running=(5000,)), mkview(2, running=(3000,)), mkview(3)]
    assert s.route(mkreq(prompt_tokens=4000), views, 10.0).instance_id == 2
    views = [mkview(0), mkview(1, running=(1000,)), mkview(2, running=(3000,)), mkview(3)]
    assert s.route(mkreq(prompt_tokens=4000), views, 10.0).instance_id == 1


def test_unhealthy_bucket_goes_to_nearest_healthy(cluster4, mkview, mkreq):
    s = _seeded(cluster4, mkview, mkreq)
    views = [mkview(0), mkview(1), mkview(2, running=(50_000,)), mkview(3, is_healthy=False)]
    assert s.route(mkreq(prompt_tokens=9000), views, 10.0).instance_id == 2  # nearest, though loaded


def test_boundaries_follow_the_window_toward_load_quantiles(cluster4, mkview, mkreq):
    gen = np.random.default_rng(5)
    s = _sched(cluster4, min_samples=8, refresh_interval_s=0.0, window_s=10.0)
    views = [mkview(i) for i in range(4)]
    short = [int(x) for x in gen.integers(500, 1500, size=50)]
    for k, p in enumerate(short):
        s.route(mkreq(k, prompt_tokens=p), views, 0.1 * k)
    before = s.boundaries
    assert before == weighted_boundaries(short, 4)
    long = [int(x) for x in gen.integers(15_000, 25_000, size=100)]
    times = [20.0 + 0.1 * k for k in range(100)]
    for k, (t, p) in enumerate(zip(times, long, strict=True)):
        s.route(mkreq(100 + k, prompt_tokens=p), views, t)
    after = s.boundaries
    in_window = [p for t, p in zip(times, long, strict=True) if t >= times[-1] - 10.0]
    assert after == weighted_boundaries(in_window, 4)
    assert all(a > 10 * b for a, b in zip(after, before, strict=True))
    # each bucket carries about a quarter of the window's tokens
    buckets = np.searchsorted(after, in_window, side="left")
    shares = np.bincount(buckets, weights=in_window, minlength=4) / sum(in_window)
    assert np.all(np.abs(shares - 0.25) < 0.05), shares


def test_instance_count_change_recomputes(cluster4, mkview, mkreq):
    s = _seeded(cluster4, mkview, mkreq)
    s.route(mkreq(prompt_tokens=1000), [mkview(i) for i in range(3)], 20.0)
    assert s.boundaries is not None and len(s.boundaries) == 2


@pytest.mark.parametrize(
    "kwargs", [{"refresh_interval_s": -1}, {"window_s": 0}, {"min_samples": 0}, {"max_window_requests": 0}]
)
def test_validation(cluster4, kwargs):
    with pytest.raises(ConfigError, match="sglang_bucket"):
        _sched(cluster4, **kwargs)


def test_dispatch_only(cluster4, mkview, mkreq):
    s = _seeded(cluster4, mkview, mkreq)
    assert s.rebalance_interval_s is None
    assert s.route(mkreq(prompt_tokens=3000), [mkview(i) for i in range(4)], 10.0).hop_at_tokens is None
