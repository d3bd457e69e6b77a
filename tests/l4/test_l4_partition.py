"""DP partition: brute force on small cases, structural properties, determinism."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from l4bench.l4 import dp_table, equal_partition, partition


def compositions(total: int, parts: int):
    """All ways to write total as an ordered sum of `parts` positive integers."""
    for cuts in itertools.combinations(range(1, total), parts - 1):
        b = (0, *cuts, total)
        yield tuple(b[q + 1] - b[q] for q in range(parts))


def brute_force(cost: np.ndarray) -> float:
    """Enumerate every contiguous partition of K bins with every instance split."""
    K, N = cost.shape[0] - 1, cost.shape[2] - 1
    best = np.inf
    for s in range(1, min(K, N) + 1):
        for widths in compositions(K, s):
            ends = np.cumsum(widths)
            starts = ends - np.array(widths)
            for counts in compositions(N, s):
                total = sum(cost[a, b, m] for a, b, m in zip(starts, ends, counts, strict=True))
                best = min(best, total)
    return best


def synthetic_cost(K: int, N: int, rng: np.random.Generator, p_inf: float = 0.1) -> np.ndarray:
    """Load / m with a per-stage overhead, a mixing penalty, noise and some infeasible entries."""
    load = rng.random(K) * 10
    c = np.full((K + 1, K + 1, N + 1), np.inf)
    for i in range(K):
        for j in range(i + 1, K + 1):
            for m in range(1, N + 1):
                c[i, j, m] = load[i:j].sum() / m + 0.5 * (j - i) ** 1.5 + rng.random() * 0.3
    c[rng.random(c.shape) < p_inf] = np.inf
    return c


def plan_cost(cost: np.ndarray, part) -> float:
    """Recompute a partition's cost from the table."""
    return float(
        sum(
            cost[a, b, m]
            for a, b, m in zip(
                part.stage_start_bins, part.stage_end_bins, part.instances_per_stage, strict=True
            )
        )
    )


@pytest.mark.parametrize("seed", range(60))
def test_dp_matches_brute_force(seed):
    rng = np.random.default_rng(seed)
    K, N = int(rng.integers(1, 7)), int(rng.integers(1, 5))
    cost = synthetic_cost(K, N, rng, p_inf=0.15 if seed % 2 else 0.0)
    best = brute_force(cost)
    if not np.isfinite(best):
        with pytest.raises(ValueError):
            partition(cost)
        return
    part = partition(cost)
    assert part.total_cost == pytest.approx(best, rel=1e-12)
    assert plan_cost(cost, part) == pytest.approx(best, rel=1e-12)
    assert dp_table(cost)[K, N] == pytest.approx(best, rel=1e-12)


@settings(max_examples=60, deadline=None)
@given(K=st.integers(1, 12), N=st.integers(1, 12), seed=st.integers(0, 2**31 - 1))
def test_partition_properties(K, N, seed):
    cost = np.random.default_rng(seed).random((K + 1, K + 1, N + 1)) * 100
    part = partition(cost)
    ends = part.stage_end_bins
    assert ends[-1] == K and all(
        b > a for a, b in zip((0, *ends), ends, strict=False)
    )  # increasing, no empty stage
    assert all(m >= 1 for m in part.instances_per_stage) and sum(part.instances_per_stage) == N
    assert part.num_stages <= min(K, N)
    assert plan_cost(cost, part) == pytest.approx(part.total_cost)


@settings(max_examples=40, deadline=None)
@given(K=st.integers(1, 40), N=st.integers(1, 40), s=st.integers(1, 10))
def test_equal_partition_properties(K, N, s):
    part = equal_partition(K, N, s)
    assert part.num_stages == min(s, K, N)
    assert part.stage_end_bins[-1] == K and sorted(set(part.stage_end_bins)) == list(part.stage_end_bins)
    assert sum(part.instances_per_stage) == N and min(part.instances_per_stage) >= 1
    assert max(part.instances_per_stage) - min(part.instances_per_stage) <= 1


def test_partition_is_deterministic_and_ties_are_stable():
    cost = np.ones((9, 9, 9))  # every partition of 8 bins on 8 instances with s stages costs s
    a, b = partition(cost), partition(cost.copy())
    assert a == b
    assert a.num_stages == 1 and a.instances_per_stage == (8,) and a.total_cost == 1.0


def test_single_stage_when_splitting_does_not_pay():
    K, N = 6, 4
    cost = np.full((K + 1, K + 1, N + 1), np.inf)
    for i, j, m in itertools.product(range(K + 1), range(K + 1), range(1, N + 1)):
        if i < j:
            cost[i, j, m] = 10.0 / m + 1.0  # fixed cost per stage: one stage with all instances wins
    part = partition(cost)
    assert part.stage_end_bins == (K,) and part.instances_per_stage == (N,)


def test_large_table_runs():
    cost = np.random.default_rng(0).random((65, 65, 65))
    part = partition(cost)
    assert sum(part.instances_per_stage) == 64 and part.stage_end_bins[-1] == 64


def test_bad_shape_rejected():
    with pytest.raises(ValueError):
        partition(np.zeros((3, 4, 3)))
