"""The project's one NNLS routine and one length-spread definition."""

from __future__ import annotations

import numpy as np
import pytest

from l4bench.l4.nnls import fit_relative, nnls
from l4bench.l4.spread import length_spread, length_spread_array, spread_tokens, spread_tokens_array


def test_nnls_matches_the_kkt_conditions_on_random_problems():
    rng = np.random.default_rng(0)
    for _ in range(200):
        m, n = int(rng.integers(3, 40)), int(rng.integers(1, 9))
        a, b = rng.standard_normal((m, n)), rng.standard_normal(m)
        x = nnls(a, b)
        grad = a.T @ (b - a @ x)  # optimal: x >= 0, grad <= 0, and grad = 0 where x > 0
        assert (x >= 0).all()
        assert (grad <= 1e-8).all()
        assert np.abs(grad[x > 0]).max(initial=0.0) < 1e-8


def test_fit_relative_recovers_nonnegative_truth_and_clips_negative_ones():
    rng = np.random.default_rng(1)
    x = np.column_stack([np.ones(50), rng.uniform(1, 1e5, 50), rng.uniform(0, 1e3, 50)])
    truth = np.array([0.01, 3e-8, 2e-6])
    assert fit_relative(x, x @ truth) == pytest.approx(truth, rel=1e-9)
    y = x @ np.array([0.01, 3e-8, 0.0]) - 1e-7 * x[:, 2]  # a negative effect: NNLS sets it to 0
    coef = fit_relative(x, y)
    assert coef[2] == 0.0 and (coef >= 0).all()


def test_spread_is_padding_share_and_its_token_form():
    assert length_spread(4, 4000, 1000) == 0.0  # homogeneous
    assert length_spread(4, 1000 + 3 * 100, 1000) == pytest.approx(1 - 1300 / 4000)
    assert spread_tokens(4, 1300, 1000) == pytest.approx(1300 * (1 - 1300 / 4000))
    assert length_spread(0, 0, 0) == spread_tokens(0, 0, 0) == 0.0
    n, s, m = np.array([4.0, 0.0, 8.0]), np.array([1300.0, 0.0, 8000.0]), np.array([1000.0, 0.0, 5000.0])
    assert spread_tokens_array(n, s, m).tolist() == [spread_tokens(*t) for t in zip(n, s, m, strict=True)]
    assert length_spread_array(n, s, m).tolist() == [length_spread(*t) for t in zip(n, s, m, strict=True)]
