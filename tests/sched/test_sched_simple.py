"""Dispatch-only baselines: round_robin, random, least_requests, least_tokens, power_of_two."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from l4bench.errors import ConfigError
from l4bench.sched.least_requests import LeastRequestsScheduler
from l4bench.sched.least_tokens import LeastTokensScheduler
from l4bench.sched.power_of_two import PowerOfTwoScheduler
from l4bench.sched.random import RandomScheduler
from l4bench.sched.round_robin import RoundRobinScheduler


def test_round_robin_cycles_and_skips_unhealthy(cluster4, mkview, mkreq):
    s = RoundRobinScheduler(cluster=cluster4, perf=None, rng=np.random.default_rng(0))
    views = [mkview(i) for i in range(4)]
    assert [s.route(mkreq(k), views, 0.0).instance_id for k in range(6)] == [0, 1, 2, 3, 0, 1]
    views[2] = mkview(2, is_healthy=False)
    assert [s.route(mkreq(k), views, 0.0).instance_id for k in range(4)] == [3, 0, 1, 3]


def test_round_robin_ignores_load(cluster4, mkview, mkreq):
    s = RoundRobinScheduler(cluster=cluster4)
    views = [mkview(0, running=(90_000,)), mkview(1), mkview(2), mkview(3)]
    assert s.route(mkreq(), views, 0.0).instance_id == 0


def test_random_covers_healthy_only(cluster4, mkview, mkreq):
    s = RandomScheduler(cluster=cluster4, rng=np.random.default_rng(1))
    views = [mkview(0), mkview(1, is_healthy=False), mkview(2), mkview(3)]
    counts = Counter(s.route(mkreq(k), views, 0.0).instance_id for k in range(600))
    assert set(counts) == {0, 2, 3}
    assert all(150 < c < 250 for c in counts.values())  # ~200 each


def test_random_falls_back_to_all_when_none_healthy(cluster4, mkview, mkreq):
    s = RandomScheduler(cluster=cluster4, rng=np.random.default_rng(1))
    views = [mkview(i, is_healthy=False) for i in range(4)]
    assert {s.route(mkreq(k), views, 0.0).instance_id for k in range(100)} == {0, 1, 2, 3}


def test_least_requests_picks_fewest_and_lowest_id_on_ties(cluster4, mkview, mkreq):
    s = LeastRequestsScheduler(cluster=cluster4)
    views = [
        mkview(0, running=(1, 1)),
        mkview(1, running=(50_000,)),
        mkview(2, waiting=(5,)),
        mkview(3, running=(2, 2)),
    ]
    assert s.route(mkreq(), views, 0.0).instance_id == 1  # 1 request, ties with 2: lower id wins
    views[1] = mkview(1, running=(50_000,), is_healthy=False)
    assert s.route(mkreq(), views, 0.0).instance_id == 2


def test_least_tokens_picks_fewest_tokens(cluster4, mkview, mkreq):
    s = LeastTokensScheduler(cluster=cluster4)
    views = [
        mkview(0, running=(100,) * 10),  # 1000 tokens, 10 requests
        mkview(1, running=(5000,)),
        mkview(2, running=(300,), waiting=(800,)),  # 1100 tokens (waiting counts)
        mkview(3, running=(600, 400)),  # 1000 tokens: ties with 0
    ]
    assert s.route(mkreq(), views, 0.0).instance_id == 0
    views[0] = mkview(0, running=(100,) * 10, is_healthy=False)
    assert s.route(mkreq(), views, 0.0).instance_id == 3


@pytest.fixture
def p2_views(mkview):
    """Instance 3 has the most tokens but fewest requests; instance 0 the fewest tokens."""
    return [
        mkview(0, running=(100,) * 8),  # 800 tokens, 8 requests
        mkview(1, running=(2000,) * 2),  # 4000 tokens, 2 requests
        mkview(2, running=(3000,) * 2),  # 6000 tokens, 2 requests
        mkview(3, running=(9000,)),  # 9000 tokens, 1 request
    ]


def test_power_of_two_tokens_never_picks_heaviest(cluster4, p2_views, mkreq):
    s = PowerOfTwoScheduler(cluster=cluster4, rng=np.random.default_rng(3), load="tokens")
    counts = Counter(s.route(mkreq(k), p2_views, 0.0).instance_id for k in range(600))
    assert 3 not in counts
    assert 240 < counts[0] < 360  # instance 0 wins every pair it is in: 3 of 6 pairs
    assert counts[0] > counts[1] > counts[2]


def test_power_of_two_requests_load(cluster4, p2_views, mkreq):
    s = PowerOfTwoScheduler(cluster=cluster4, rng=np.random.default_rng(3), load="requests")
    counts = Counter(s.route(mkreq(k), p2_views, 0.0).instance_id for k in range(600))
    assert 0 not in counts  # most requests
    assert counts[3] > counts[1] > counts[2]  # 1-vs-2 ties on requests go to fewer tokens


def test_power_of_two_tie_breaks_on_requests(mkview, mkreq):
    from l4bench.types import ClusterSpec

    s = PowerOfTwoScheduler(cluster=ClusterSpec(2, 131072, 100_000), rng=np.random.default_rng(0))
    views = [mkview(0, running=(500, 500)), mkview(1, running=(1000,))]
    assert {s.route(mkreq(k), views, 0.0).instance_id for k in range(20)} == {1}


def test_power_of_two_single_healthy_and_bad_load(cluster4, mkview, mkreq):
    s = PowerOfTwoScheduler(cluster=cluster4, rng=np.random.default_rng(0))
    views = [mkview(i, is_healthy=(i == 2), running=(0 if i == 2 else 1,)) for i in range(4)]
    assert s.route(mkreq(), views, 0.0).instance_id == 2
    with pytest.raises(ConfigError, match="power_of_two.load"):
        PowerOfTwoScheduler(cluster=cluster4, load="kv")
