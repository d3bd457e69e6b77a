"""DP partition of K length bins into contiguous stages over N instances.

f[j][k] = min over i < j, 1 <= m <= k of f[i][k - m] + C(i, j, m), f[0][0] = 0; the answer is
f[K][N]. Every stage holds >= 1 bin and >= 1 instance, and all N instances are used, so the number
of stages falls out of the DP. O(K^2 N^2) time, vectorized over (i, k, m) for each j.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from numpy.lib.stride_tricks import sliding_window_view

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Partition:
    """Stages as exclusive end bins (the last is K) and the instances each stage gets."""

    stage_end_bins: tuple[int, ...]
    instances_per_stage: tuple[int, ...]
    total_cost: float

    @property
    def num_stages(self) -> int:
        """Number of stages."""
        return len(self.stage_end_bins)

    @property
    def stage_start_bins(self) -> tuple[int, ...]:
        """Inclusive first bin of each stage."""
        return (0, *self.stage_end_bins[:-1])


def _check(cost: FloatArray) -> tuple[int, int]:
    if cost.ndim != 3 or cost.shape[0] != cost.shape[1] or cost.shape[0] < 2 or cost.shape[2] < 2:
        raise ValueError(f"cost: need shape (K+1, K+1, N+1) with K, N >= 1, got {cost.shape}")
    return cost.shape[0] - 1, cost.shape[2] - 1


def dp_table(cost: FloatArray) -> FloatArray:
    """DP values f[j][k]: best cost of bins [0, j) on exactly k instances (inf if impossible or useless).

    States that cannot reach f[K][N] (k = 0 for j >= 1, k = N for j < K) are left at inf.
    """
    K, N = _check(cost)
    fpad = np.full((K + 1, 2 * N + 1), np.inf)  # fpad[i, N + r] = f[i][r]; r < 0 -> inf
    fpad[0, N] = 0.0
    # win[k, i, t] = f[i][k - (N - t)]: stage of m = N - t instances ending at k instances in all
    win = sliding_window_view(fpad, N, axis=1)[:, : N + 1, :].transpose(1, 0, 2)
    crev = np.ascontiguousarray(cost[:, :, N:0:-1].transpose(1, 0, 2))  # crev[j, i, t] = C(i, j, N - t)
    buf = np.empty(N * K * N)
    for j in range(1, K + 1):
        # k = 0 is impossible for j >= 1; before the last bin, one instance must stay for the rest
        k0, k1 = (1, N) if j < K else (N, N + 1)
        if k1 <= k0:
            continue
        cand = buf[: (k1 - k0) * j * N].reshape(k1 - k0, j, N)
        np.add(win[k0:k1, :j], crev[j, None, :j, :], out=cand)  # (k, i, t) contiguous -> one min
        fpad[j, N + k0 : N + k1] = cand.reshape(k1 - k0, -1).min(axis=1)
    return np.ascontiguousarray(fpad[:, N:])


def partition(cost: FloatArray) -> Partition:
    """Optimal contiguous partition for ``cost[i, j, m]`` = cost of stage bins [i, j) on m instances.

    Entries with i >= j or m == 0 are ignored. Ties go to the smallest i, then the fewest instances.
    Raises ValueError when every partition has infinite cost.
    """
    K, N = _check(cost)
    f = dp_table(cost)
    if not np.isfinite(f[K, N]):
        raise ValueError("partition: every partition is infeasible (infinite cost)")
    ends: list[int] = []
    counts: list[int] = []
    j, k = K, N
    while j > 0:  # read the choices back by recomputing the argmin along the optimal path only
        m = np.arange(1, k + 1)
        vals = f[:j, k - m] + cost[:j, j, 1 : k + 1]
        i, mi = np.unravel_index(int(np.argmin(vals)), vals.shape)
        ends.append(j)
        counts.append(int(m[mi]))
        j, k = int(i), k - int(m[mi])
    return Partition(tuple(reversed(ends)), tuple(reversed(counts)), float(f[K, N]))


def equal_partition(num_bins: int, num_instances: int, num_stages: int) -> Partition:
    """Equal split: ``num_stages`` stages of (nearly) equal bin and instance counts (extras go first)."""
    s = max(1, min(num_stages, num_bins, num_instances))
    ends = tuple(int(round(num_bins * (q + 1) / s)) for q in range(s))
    counts = tuple(num_instances // s + (1 if q < num_instances % s else 0) for q in range(s))
    return Partition(ends, counts, float("nan"))
