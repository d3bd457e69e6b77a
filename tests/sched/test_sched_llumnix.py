"""llumnix: freeness, dispatch to the freest, load-balancing migration."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from l4bench.errors import ConfigError
from l4bench.sched.llumnix import LlumnixScheduler, freeness_of
from l4bench.types import ClusterSpec, Migration


@pytest.fixture
def loaded(mkview):
    """Instance 0 overloaded (queue too), 1 and 2 similar, 3 idle."""
    return [
        mkview(0, running=(20_000, 30_000, 5_000), waiting=(10_000,), detail=True),  # F = 34000/5 = 6800
        mkview(1, running=(10_000, 10_000), detail=True),  # F = 79000/3 = 26333
        mkview(2, running=(10_000, 12_000), detail=True),  # F = 77000/3 = 25667
        mkview(3, detail=True),  # F = 99000
    ]


def _sched(cluster, **kw):
    return LlumnixScheduler(cluster=cluster, perf=None, rng=np.random.default_rng(0), **kw)


def test_freeness_values_and_monotonicity(cluster4, loaded):
    s = _sched(cluster4)
    assert [round(s.freeness(v)) for v in loaded] == [6800, 26333, 25667, 99000]
    assert freeness_of(1000, 9) < freeness_of(1000, 0)
    assert freeness_of(-1000, 9) < freeness_of(-1000, 0) < freeness_of(0, 5)


def test_zero_capacity_view_uses_cluster_capacity(cluster4, mkview):
    s = _sched(cluster4)
    assert s.freeness(mkview(0, capacity=0)) == pytest.approx(99_000)


def test_route_to_freest_healthy(cluster4, loaded, mkview, mkreq):
    s = _sched(cluster4)
    assert s.route(mkreq(), loaded, 0.0).instance_id == 3
    loaded[3] = mkview(3, is_healthy=False)
    assert s.route(mkreq(), loaded, 0.0).instance_id == 1


def test_route_topk_random(cluster4, loaded, mkreq):
    s = _sched(cluster4, topk_random_dispatch=2)
    counts = Counter(s.route(mkreq(k), loaded, 0.0).instance_id for k in range(200))
    assert set(counts) == {3, 1} and min(counts.values()) > 60


def test_rebalance_moves_shortest_running_from_most_to_least_loaded(cluster4, loaded):
    s = _sched(cluster4)
    # Pair (0, 3) migrates request 2 (context 5000, the shortest running); pair (2, 1) is within the gap.
    assert s.rebalance(loaded, 1.0) == [Migration(request_id=2, src_instance=0, dst_instance=3)]


def test_rebalance_none_when_balanced(cluster4, mkview):
    s = _sched(cluster4)
    views = [mkview(i, running=(8_000, 2_000), waiting=(1_000,), detail=True) for i in range(4)]
    assert s.rebalance(views, 1.0) == []


def test_rebalance_no_ping_pong_for_a_lone_request(mkview):
    s = _sched(ClusterSpec(2, 131072, 100_000))
    views = [mkview(0, running=(30_000,), detail=True), mkview(1, detail=True)]
    assert s.rebalance(views, 1.0) == []  # moving it would just swap the imbalance


def test_rebalance_skips_waiting_and_prefilling_requests(cluster4, mkview):
    s = _sched(cluster4)
    views = [mkview(0, running=(40_000, 30_000), waiting=(9_000,), detail=True, generated=0)]
    views += [mkview(i, detail=True) for i in (1, 2, 3)]
    assert s.rebalance(views, 1.0) == []


def test_rebalance_respects_destination_capacity(mkview):
    s = _sched(ClusterSpec(2, 131072, 100_000))
    views = [mkview(0, running=(60_000, 30_000), detail=True), mkview(1, capacity=20_000, detail=True)]
    assert s.rebalance(views, 1.0) == []


def test_rebalance_ignores_unhealthy_and_views_without_detail(cluster4, loaded, mkview):
    s = _sched(cluster4)
    loaded[3] = mkview(3, is_healthy=False, detail=True)
    migs = s.rebalance(loaded, 1.0)
    assert all(3 not in (m.src_instance, m.dst_instance) for m in migs)
    assert s.rebalance([mkview(0, running=(50_000, 40_000)), mkview(1)], 1.0) == []


def test_migrate_out_threshold(cluster4, loaded):
    assert _sched(cluster4, migrate_out_freeness_tokens=5_000).rebalance(loaded, 1.0) == []
    assert len(_sched(cluster4, migrate_out_freeness_tokens=10_000).rebalance(loaded, 1.0)) == 1


def test_max_migrations_per_tick(cluster4, mkview):
    views = [
        mkview(0, running=(30_000, 20_000, 4_000), detail=True),
        mkview(1, running=(30_000, 20_000, 3_000), detail=True),
        mkview(2, detail=True),
        mkview(3, detail=True),
    ]
    both = _sched(cluster4).rebalance(views, 1.0)
    assert [(m.src_instance, m.dst_instance) for m in both] == [(0, 3), (1, 2)]
    one = _sched(cluster4, max_migrations_per_tick=1).rebalance(views, 1.0)
    assert one == [Migration(request_id=2, src_instance=0, dst_instance=3)]


@pytest.mark.parametrize(
    "kwargs",
    [
        {"rebalance_interval_s": 0},
        {"watermark_fraction": 1.0},
        {"max_migrations_per_tick": 0},
        {"topk_random_dispatch": 0},
        {"min_freeness_gap_tokens": -1},
    ],
)
def test_validation(cluster4, kwargs):
    with pytest.raises(ConfigError, match="llumnix"):
        _sched(cluster4, **kwargs)


def test_interval_knob(cluster4):
    assert _sched(cluster4).rebalance_interval_s == 1.0
    assert _sched(cluster4, rebalance_interval_s=None).rebalance_interval_s is None
