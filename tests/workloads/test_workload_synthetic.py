"""Synthetic workloads: distribution shapes, determinism, validation, config keys == kwargs."""

from __future__ import annotations

import inspect
from pathlib import Path

import numpy as np
import pytest
import yaml

from l4bench.errors import ConfigError
from l4bench.workloads import SyntheticBimodalWorkload, SyntheticLognormalWorkload, SyntheticZipfWorkload

CONF = Path(__file__).resolve().parents[2] / "conf"


def _lens(reqs):
    return np.array([r.prompt_tokens for r in reqs]), np.array([r.output_tokens for r in reqs])


def test_lognormal_mean_and_spread():
    w = SyntheticLognormalWorkload(
        prompt_mean_tokens=4000,
        prompt_sigma=0.8,
        output_mean_tokens=200,
        output_sigma=0.3,
        num_requests=20_000,
    )
    p, o = _lens(w.load(np.random.default_rng(0)))
    assert p.mean() == pytest.approx(4000, rel=0.03) and o.mean() == pytest.approx(200, rel=0.03)
    assert np.log(p).std() == pytest.approx(0.8, abs=0.03)
    assert w.is_synthesized and w.describe()["num_requests"] == 20_000


def test_bimodal_fraction_and_tags():
    w = SyntheticBimodalWorkload(long_fraction=0.1, num_requests=10_000)
    reqs = w.load(np.random.default_rng(0))
    p, o = _lens(reqs)
    assert set(p.tolist()) == {1024, 65536} and set(o.tolist()) == {256}
    assert (p == 65536).mean() == pytest.approx(0.1, abs=0.01)
    assert all((r.tag == "long") == (r.prompt_tokens == 65536) for r in reqs)


def test_bimodal_jitter_and_truncation():
    w = SyntheticBimodalWorkload(jitter=0.2, long_fraction=0.5, num_requests=2000, max_model_len=32768)
    p, o = _lens(w.load(np.random.default_rng(0)))
    short = p[p < 4096]
    assert short.min() >= 819 and short.max() <= 1229 and short.std() > 50
    assert p.max() == 32768 - 256 and w.describe()["num_truncated"] > 900


def test_zipf_is_heavy_tailed_within_bounds():
    w = SyntheticZipfWorkload(exponent=1.5, min_tokens=256, max_tokens=65536, num_requests=20_000)
    p, _ = _lens(w.load(np.random.default_rng(0)))
    assert p.min() >= 256 and p.max() <= 65536
    assert np.median(p) < 1024 and np.quantile(p, 0.99) > 10_000

    # density ~ x^-1.5 on [lo, hi] -> P(X > x) = (x^-0.5 - hi^-0.5) / (lo^-0.5 - hi^-0.5)
    def survival(x: float) -> float:
        return (x**-0.5 - 65536**-0.5) / (256**-0.5 - 65536**-0.5)

    assert (p > 1024).mean() == pytest.approx(survival(1024), rel=0.05)
    assert (p > 4096).mean() == pytest.approx(survival(4096), rel=0.05)


def test_zipf_exponent_one():
    p, _ = _lens(SyntheticZipfWorkload(exponent=1.0, num_requests=100).load(np.random.default_rng(0)))
    assert p.min() >= 256 and p.max() <= 131072


def test_default_count_and_seeded_determinism():
    w = SyntheticLognormalWorkload()
    a, b = w.load(np.random.default_rng(3)), w.load(np.random.default_rng(3))
    assert len(a) == 1000 and a == b and a != w.load(np.random.default_rng(4))


@pytest.mark.parametrize(
    "make,pattern",
    [
        (lambda: SyntheticBimodalWorkload(long_fraction=1.5), "long_fraction: must be in"),
        (lambda: SyntheticBimodalWorkload(jitter=1.0), "jitter"),
        (lambda: SyntheticZipfWorkload(min_tokens=100, max_tokens=50), "max_tokens: must be > min_tokens"),
        (lambda: SyntheticLognormalWorkload(prompt_sigma=0), "prompt_sigma: must be > 0"),
        (lambda: SyntheticZipfWorkload(num_requests=-3), "num_requests"),
    ],
)
def test_validation(make, pattern):
    with pytest.raises(ConfigError, match=pattern):
        make()


@pytest.mark.parametrize(
    "path",
    sorted((CONF / "workload").glob("*.yaml")) + sorted((CONF / "arrival").glob("*.yaml")),
    ids=lambda p: f"{p.parent.name}/{p.stem}",
)
def test_yaml_keys_are_constructor_kwargs(path):
    import importlib

    cfg = yaml.safe_load(path.read_text())
    module, _, name = cfg.pop("_target_").rpartition(".")
    cls = getattr(importlib.import_module(module), name)
    params = inspect.signature(cls.__init__).parameters
    assert set(cfg) <= set(params) - {"self"}
    required = {k for k, p in params.items() if k != "self" and p.default is inspect.Parameter.empty}
    assert required <= set(cfg)
