"""static_ranges: fixed length ranges, instance groups, validation."""

from __future__ import annotations

import pytest

from l4bench.errors import ConfigError
from l4bench.sched.static_ranges import StaticRangesScheduler, even_split
from l4bench.types import ClusterSpec


def _cluster(n: int) -> ClusterSpec:
    return ClusterSpec(num_instances=n, max_model_len=131072, kv_capacity_tokens=100_000)


def test_even_split_gives_remainder_to_longer_ranges():
    assert even_split(5, 2) == [2, 3]
    assert even_split(7, 3) == [2, 2, 3]
    assert even_split(8, 3) == [2, 3, 3]
    assert even_split(4, 4) == [1, 1, 1, 1]


def test_default_is_one_boundary_even_split():
    s = StaticRangesScheduler(cluster=_cluster(5))
    assert s.boundaries == [8192]
    assert s.instances_per_range == [2, 3]
    assert [s.range_of(p) for p in (1, 8191, 8192, 100_000)] == [0, 0, 1, 1]


def test_routes_to_least_tokens_instance_of_its_range(mkview, mkreq):
    s = StaticRangesScheduler(cluster=_cluster(5), boundaries=[4096, 32768], instances_per_range=[2, 2, 1])
    views = [
        mkview(0, running=(3000,)),
        mkview(1, running=(1000,)),
        mkview(2, running=(20_000,)),
        mkview(3, running=(10_000, 10_000)),
        mkview(4, running=(90_000,)),
    ]
    assert s.route(mkreq(prompt_tokens=100), views, 0.0).instance_id == 1
    assert s.route(mkreq(prompt_tokens=4096), views, 0.0).instance_id == 2  # 20000 ties 20000: fewer requests
    assert s.route(mkreq(prompt_tokens=50_000), views, 0.0).instance_id == 4  # the only long instance
    assert s.route(mkreq(prompt_tokens=100), views, 0.0).hop_at_tokens is None


def test_views_out_of_order_map_by_instance_id(mkview, mkreq):
    s = StaticRangesScheduler(cluster=_cluster(4), boundaries=[1000], instances_per_range=[1, 3])
    views = [mkview(3), mkview(2), mkview(1), mkview(0, running=(50_000,))]
    assert s.route(mkreq(prompt_tokens=10), views, 0.0).instance_id == 0


def test_unhealthy_range_member_avoided_and_fallback(mkview, mkreq):
    s = StaticRangesScheduler(cluster=_cluster(4), boundaries=[1000], instances_per_range=[2, 2])
    views = [mkview(0, is_healthy=False), mkview(1, running=(500,)), mkview(2), mkview(3)]
    assert s.route(mkreq(prompt_tokens=10), views, 0.0).instance_id == 1
    views = [mkview(0, is_healthy=False), mkview(1, is_healthy=False), mkview(2, running=(9,)), mkview(3)]
    assert (
        s.route(mkreq(prompt_tokens=10), views, 0.0).instance_id == 3
    )  # whole range down: global least tokens


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"boundaries": [8192, 4096]}, "not strictly increasing"),
        ({"boundaries": [4096, 4096]}, "not strictly increasing"),
        ({"boundaries": [0, 4096]}, "positive integer"),
        ({"boundaries": [1.5]}, "positive integer"),
        ({"boundaries": ["x"]}, "positive integer"),
        ({"boundaries": [10, 20, 30, 40]}, "at least 5 instances"),
        ({"boundaries": [8192], "instances_per_range": [1, 2]}, "sums to 3"),
        ({"boundaries": [8192], "instances_per_range": [4]}, "2 entries"),
        ({"boundaries": [8192], "instances_per_range": [0, 4]}, ">= 1"),
    ],
)
def test_validation_errors(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        StaticRangesScheduler(cluster=_cluster(4), **kwargs)


def test_explicit_split_accepted():
    s = StaticRangesScheduler(cluster=_cluster(4), boundaries=[2048, 16384], instances_per_range=[1, 1, 2])
    assert s.instances_per_range == [1, 1, 2] and s.rebalance([], 0.0) == []
