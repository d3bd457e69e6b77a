"""Properties every baseline shares: determinism, healthy-only choices, YAML options."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest
from hydra.utils import instantiate
from omegaconf import OmegaConf

from l4bench.sched.base import BaseScheduler, GlobalScheduler
from l4bench.sched.least_requests import LeastRequestsScheduler
from l4bench.sched.least_tokens import LeastTokensScheduler
from l4bench.sched.llumnix import LlumnixScheduler
from l4bench.sched.power_of_two import PowerOfTwoScheduler
from l4bench.sched.random import RandomScheduler
from l4bench.sched.round_robin import RoundRobinScheduler
from l4bench.sched.sglang_bucket import SglangBucketScheduler
from l4bench.sched.static_ranges import StaticRangesScheduler

CONF = Path(__file__).resolve().parents[2] / "conf" / "scheduler"
CLASSES = [
    RoundRobinScheduler,
    RandomScheduler,
    LeastRequestsScheduler,
    LeastTokensScheduler,
    PowerOfTwoScheduler,
    LlumnixScheduler,
    SglangBucketScheduler,
    StaticRangesScheduler,
]
KWARGS: dict[str, dict] = {
    "llumnix": {"topk_random_dispatch": 2, "min_freeness_gap_tokens": 0},
    "sglang_bucket": {"min_samples": 4, "refresh_interval_s": 0.5},
}


def _random_views(mkview, gen: np.random.Generator, n: int = 4, unhealthy: int | None = None):
    views = []
    for i in range(n):
        running = tuple(int(x) for x in gen.integers(100, 20_000, size=int(gen.integers(0, 6))))
        waiting = tuple(int(x) for x in gen.integers(100, 5_000, size=int(gen.integers(0, 2))))
        views.append(mkview(i, running=running, waiting=waiting, detail=True, is_healthy=(i != unhealthy)))
    return views


def _trace(cls, cluster, mkview, mkreq, seed: int, perturb: bool, unhealthy: int | None = None):
    sched = cls(cluster=cluster, perf=None, rng=np.random.default_rng(seed), **KWARGS.get(cls.name, {}))
    world = np.random.default_rng(1234)  # the test's own stream of views and requests
    out = []
    for k in range(60):
        if perturb:
            random.seed(k)
            np.random.seed(k)
            random.random()
            np.random.random(3)
        views = _random_views(mkview, world, unhealthy=unhealthy)
        req = mkreq(k, prompt_tokens=int(world.integers(10, 50_000)), arrival_s=0.1 * k)
        out.append(sched.route(req, views, 0.1 * k).instance_id)
        if k % 10 == 9:
            out.extend(
                (m.request_id, m.src_instance, m.dst_instance) for m in sched.rebalance(views, 0.1 * k)
            )
    return out


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.name)
def test_same_seed_same_decisions_despite_global_rng(cls, cluster4, mkview, mkreq):
    a = _trace(cls, cluster4, mkview, mkreq, seed=7, perturb=False)
    b = _trace(cls, cluster4, mkview, mkreq, seed=7, perturb=True)
    assert a == b


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.name)
def test_unhealthy_instance_never_chosen(cls, cluster4, mkview, mkreq):
    decisions = _trace(cls, cluster4, mkview, mkreq, seed=3, perturb=False, unhealthy=1)
    assert 1 not in [d for d in decisions if isinstance(d, int)]
    assert all(1 not in d[1:] for d in decisions if isinstance(d, tuple))


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.name)
def test_protocol_and_name(cls, cluster4):
    sched = cls(cluster=cluster4, perf=None, rng=np.random.default_rng(0))
    assert isinstance(sched, BaseScheduler) and isinstance(sched, GlobalScheduler)
    assert (CONF / f"{cls.name}.yaml").is_file()


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.name)
def test_yaml_instantiates_with_runtime_kwargs(cls, cluster4):
    cfg = OmegaConf.load(CONF / f"{cls.name}.yaml")
    make = instantiate(cfg, _partial_=True, _convert_="all")
    sched = make(cluster=cluster4, perf=None, rng=np.random.default_rng(0))
    assert type(sched) is cls and sched.name == cls.name
    for key, value in cfg.items():
        if key != "_target_" and value is not None:
            assert getattr(sched, key) == value, key
