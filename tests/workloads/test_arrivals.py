"""Arrival processes: rates, burstiness, determinism, trace speedup, duration cut, validation."""

from __future__ import annotations

import random

import numpy as np
import pytest

from l4bench.errors import ConfigError
from l4bench.types import Request
from l4bench.workloads import ConstantArrivals, GammaArrivals, PoissonArrivals, TraceArrivals


def _reqs(n: int, arrivals: list[float] | None = None) -> list[Request]:
    times = arrivals if arrivals is not None else [0.0] * n
    return [
        Request(request_id=i, arrival_s=t, prompt_tokens=100 + i, output_tokens=10)
        for i, t in enumerate(times)
    ]


def _gaps(reqs: list[Request]) -> np.ndarray:
    return np.diff([r.arrival_s for r in reqs])


@pytest.mark.parametrize(
    "proc,cv",
    [
        (PoissonArrivals(rate=4.0), 1.0),
        (GammaArrivals(rate=4.0, cv=3.0), 3.0),
        (GammaArrivals(rate=4.0, cv=0.5), 0.5),
        (ConstantArrivals(rate=4.0), 0.0),
    ],
)
def test_rate_and_cv(proc, cv):
    out = proc.assign(_reqs(20_000), np.random.default_rng(1))
    gaps = _gaps(out)
    assert 1.0 / gaps.mean() == pytest.approx(4.0, rel=0.05)
    assert gaps.std() / gaps.mean() == pytest.approx(cv, abs=0.1 * max(cv, 1.0))
    assert out[0].arrival_s == 0.0 and [r.request_id for r in out] == list(range(len(out)))


@pytest.mark.parametrize("proc", [PoissonArrivals(2.0), GammaArrivals(2.0, 2.0), ConstantArrivals(2.0)])
def test_seeded_determinism_ignores_global_rngs(proc):
    reqs = _reqs(500)
    a = proc.assign(reqs, np.random.default_rng(7))
    random.seed(123)
    np.random.seed(123)
    np.random.random(10)
    b = proc.assign(reqs, np.random.default_rng(7))
    assert a == b
    assert reqs[3].arrival_s == 0.0  # inputs untouched (new objects)


def test_drawn_arrivals_keep_workload_order():
    out = PoissonArrivals(1.0).assign(_reqs(50), np.random.default_rng(0))
    assert [r.prompt_tokens for r in out] == [100 + i for i in range(50)]


def test_trace_speedup_sorts_and_renumbers():
    reqs = _reqs(4, [10.0, 14.0, 12.0, 30.0])
    out = TraceArrivals(speedup=2.0).assign(reqs, np.random.default_rng(0))
    assert [r.arrival_s for r in out] == [0.0, 1.0, 2.0, 10.0]
    assert [r.prompt_tokens for r in out] == [100, 102, 101, 103]
    assert [r.request_id for r in out] == [0, 1, 2, 3]


def test_trace_without_timestamps_is_an_error():
    with pytest.raises(ConfigError, match=r"arrival=trace: the workload has no timestamps.*poisson"):
        TraceArrivals().assign(_reqs(5), np.random.default_rng(0))


def test_max_duration_drops_late_requests():
    out = ConstantArrivals(rate=2.0, max_duration_s=10.0).assign(_reqs(100), np.random.default_rng(0))
    assert len(out) == 21 and out[-1].arrival_s == 10.0
    out = TraceArrivals(speedup=1.0, max_duration_s=3.0).assign(
        _reqs(3, [0.0, 2.0, 5.0]), np.random.default_rng(0)
    )
    assert [r.arrival_s for r in out] == [0.0, 2.0]


def test_trace_on_real_mooncake_speedup(data_dir):
    from l4bench.workloads import MooncakeWorkload

    reqs = MooncakeWorkload(data_dir=str(data_dir)).load(np.random.default_rng(0))
    out = TraceArrivals(speedup=4.0, max_duration_s=600.0).assign(reqs, np.random.default_rng(0))
    assert out[-1].arrival_s <= 600.0
    assert len(out) / 600.0 == pytest.approx(4 * 3.40, rel=0.25)


@pytest.mark.parametrize(
    "make,msg",
    [
        (lambda: PoissonArrivals(rate=-1), "arrival.rate: must be > 0, got -1"),
        (lambda: GammaArrivals(rate=0), "arrival.rate: must be > 0, got 0"),
        (lambda: GammaArrivals(rate=1, cv=0), "arrival.cv: must be > 0, got 0"),
        (lambda: ConstantArrivals(rate=-2.5), "arrival.rate: must be > 0, got -2.5"),
        (lambda: TraceArrivals(speedup=0), "arrival.speedup: must be > 0, got 0"),
        (lambda: PoissonArrivals(rate=1, max_duration_s=-5), "arrival.max_duration_s: must be > 0, got -5"),
    ],
)
def test_validation(make, msg):
    with pytest.raises(ConfigError) as exc:
        make()
    assert str(exc.value) == msg


def test_empty_workload():
    assert PoissonArrivals(1.0).assign([], np.random.default_rng(0)) == []
