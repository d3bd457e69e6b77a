"""engine.gpu_contention: instances sharing a GPU slowed by the neighbour's load instead of a flat factor."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from _stand_ins import RoundRobinStandIn, random_requests, simulate

from l4bench.errors import ConfigError
from l4bench.perf.analytic import AnalyticPerfModel
from l4bench.perf.base import GpuSpec, ModelSpec
from l4bench.sim.contention import GpuContention
from l4bench.types import ClusterSpec

TINY = ModelSpec("tiny", 2, 256, 4, 2, 64, 512, 4096, 65536)
H100 = GpuSpec("h100", 85520809984, 3.35e12, 989e12)
CLUSTER = ClusterSpec(2, 65536, kv_capacity_tokens=4096, max_num_seqs=8, max_num_batched_tokens=64)


class Shared:
    """A perf model with the flat sharing factor (like FittedPerfModel's gpu_share)."""

    def __init__(self, inner: AnalyticPerfModel, share: float):
        self.inner, self.gpu_share, self.name = inner, share, "shared"
        self.kv_capacity_tokens = inner.kv_capacity_tokens

    def step_time_s(self, batch):  # type: ignore[no-untyped-def]
        return self.inner.step_time_s(batch) / self.gpu_share


class OnlyFirst(RoundRobinStandIn):
    """Every request to instance 0: instance 1 stays idle."""

    def route(self, req, views, now_s):  # type: ignore[no-untyped-def]
        return dataclasses.replace(super().route(req, views, now_s), instance_id=0)


def _rows(res):  # type: ignore[no-untyped-def]
    return [r.to_row() for r in res.records]


def _reqs(seed: int = 3):  # type: ignore[no-untyped-def]
    return random_requests(np.random.default_rng(seed), 80, rate=15.0, max_prompt=300, max_output=100)


CURVE = {"instances_per_gpu": 2, "neighbour_seqs": [0, 4, 16], "slowdown": [1.0, 1.5, 2.2]}


def test_the_curve_interpolates_undoes_the_flat_share_and_groups_consecutive_ids():
    c = GpuContention.from_config(CURVE, flat_share=0.5)
    assert c is not None and GpuContention.from_config(None, 0.5) is None
    assert c.time_scale(0) == 0.5 and c.time_scale(2) == pytest.approx(0.5 * 1.25) and c.time_scale(99) == 1.1
    assert list(c.neighbours(3, 4)) == [2, 3] and list(c.neighbours(4, 5)) == [4]
    for bad in ({**CURVE, "neighbour_seqs": [1, 4, 16]}, {**CURVE, "slowdown": [1.0, 2.0]},
                {**CURVE, "instances_per_gpu": 1}, {**CURVE, "gpus": 1}, {**CURVE, "slowdown": [1.0, 0.0, 2.0]}):
        with pytest.raises(ConfigError, match="engine.gpu_contention"):
            GpuContention.from_config(bad, 1.0)


def test_an_idle_neighbour_leaves_an_instance_at_its_own_speed():
    inner = AnalyticPerfModel(TINY, H100)
    alone = simulate(inner, CLUSTER, _reqs(), OnlyFirst(2))
    flat = simulate(Shared(inner, 0.5), CLUSTER, _reqs(), OnlyFirst(2))
    curve = simulate(Shared(inner, 0.5), CLUSTER, _reqs(), OnlyFirst(2), gpu_contention=CURVE)
    assert _rows(curve) == _rows(alone) != _rows(flat)
    assert curve.extra["gpu_contention"]["flat_share_undone"] == 0.5


def test_a_constant_curve_is_the_flat_factor_and_a_busy_neighbour_slows_steps():
    inner = AnalyticPerfModel(TINY, H100)
    flat = simulate(Shared(inner, 0.5), CLUSTER, _reqs(), RoundRobinStandIn(2))
    const = {"instances_per_gpu": 2, "neighbour_seqs": [0, 1], "slowdown": [2.0, 2.0]}
    assert _rows(simulate(Shared(inner, 0.5), CLUSTER, _reqs(), RoundRobinStandIn(2), gpu_contention=const)) == _rows(flat)
    alone = simulate(inner, CLUSTER, _reqs(), RoundRobinStandIn(2))
    curve = simulate(Shared(inner, 0.5), CLUSTER, _reqs(), RoundRobinStandIn(2), gpu_contention=CURVE)
    e2e = [np.mean([r.finish_s - r.arrival_s for r in res.records]) for res in (alone, curve, flat)]
    assert e2e[0] < e2e[1] and e2e[1] != e2e[2]  # slower than alone; not the flat 2x


@pytest.mark.parametrize("seed", [3, 4])
def test_fast_forward_equals_step_by_step_under_contention(seed: int):
    inner = AnalyticPerfModel(TINY, H100)
    runs = [simulate(Shared(inner, 0.5), CLUSTER, _reqs(seed), RoundRobinStandIn(2, hop_at_tokens=150),
                     gpu_contention=CURVE, fast_forward=ff) for ff in (True, False)]
    assert _rows(runs[0]) == _rows(runs[1])
    assert all(r.is_completed for r in runs[0].records)
