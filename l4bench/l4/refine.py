"""Runtime range refinement: adjacent stages shift their shared boundary by one bin toward the
less loaded side, a local decision between two neighbours, with hysteresis.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt


@dataclass(frozen=True)
class RefineParams:
    """Hysteresis knobs.

    Args:
        threshold: minimum relative pressure gap, (hi - lo) / lo, before a boundary moves.
        min_interval_s: minimum time between two shifts of the same boundary.
    """

    threshold: float = 0.25
    min_interval_s: float = 10.0


def refine_boundaries(
    end_bins: Sequence[int],
    pressure: Sequence[float],
    last_shift_s: Sequence[float],
    now_s: float,
    params: RefineParams,
) -> tuple[tuple[int, ...], tuple[float, ...]]:
    """New end bins and last-shift times after one refinement round.

    Args:
        end_bins: exclusive end bin of each stage (the last is K and never moves).
        pressure: per stage, measured load relative to the load the plan predicted (1 = as planned).
        last_shift_s: per inner boundary (len = stages - 1), when it last moved (-inf: never).
    Boundary s (between stage s and s + 1) moves down by one bin when stage s is the more pressed
    (its top bin goes to stage s + 1), up when stage s + 1 is; no stage ever loses its last bin.
    """
    ends = list(end_bins)
    shifts = list(last_shift_s)
    for s in range(len(ends) - 1):
        if now_s - shifts[s] < params.min_interval_s:
            continue
        lo_stage, hi_stage = pressure[s], pressure[s + 1]
        start = ends[s - 1] if s > 0 else 0
        if lo_stage > hi_stage * (1.0 + params.threshold) and ends[s] - 1 > start:
            ends[s] -= 1
            shifts[s] = now_s
        elif hi_stage > lo_stage * (1.0 + params.threshold) and ends[s] + 1 < ends[s + 1]:
            ends[s] += 1
            shifts[s] = now_s
    return tuple(ends), tuple(shifts)


def gate_shifts(
    old_ends: Sequence[int],
    new_ends: Sequence[int],
    counts: Sequence[int],
    cost: npt.NDArray[np.float64],
    margin: float,
) -> tuple[int, ...]:
    """Undo every proposed shift that the cost table C(i, j, m) prices worse by more than margin.

    Pressure reacts to bursts the window has not seen yet but is a noisy signal; a shift the model
    says costs more than ``margin`` (relative, on the two stages it touches; e.g. a bound moved into
    the bulk of a length mode, so that most of its requests hop) is not worth following.
    """
    out = list(new_ends)
    for s in range(len(out) - 1):
        if out[s] == old_ends[s]:
            continue
        a, c = (old_ends[s - 1] if s > 0 else 0), old_ends[s + 1]
        m0, m1 = counts[s], counts[s + 1]
        before = float(cost[a, old_ends[s], m0] + cost[old_ends[s], c, m1])
        after = float(cost[a, out[s], m0] + cost[out[s], c, m1])
        if math.isfinite(before) and not after <= before * (1.0 + margin):
            out[s] = old_ends[s]
    return tuple(out)
