"""Trace replay started at a seeded random point of the trace (wrapping around): one trace, many repeats.

``arrival=trace`` replays the timestamps as recorded, so every seed (every repeat) replays the same
requests at the same times and a deterministic simulator returns the same numbers: repeats then
measure nothing. This arrival process keeps the trace's requests and gaps but starts the replay at
an offset drawn from the seed: timestamps are shifted circularly by U(0, span), where span is the
trace's duration plus its mean gap (the gap placed at the seam). With ``max_duration_s`` shorter
than the replayed trace, each repeat therefore replays a different window of it.
"""

from __future__ import annotations

import numpy as np

from l4bench.types import Request
from l4bench.workloads.arrivals import TraceArrivals


class ShiftedTraceArrivals(TraceArrivals):
    """Trace timestamps, circularly shifted by a seeded offset, compressed by speedup."""

    name = "trace_shifted"

    def _times(self, requests: list[Request], rng: np.random.Generator) -> np.ndarray:
        times = super()._times(requests, rng)
        if len(times) < 2:
            return times
        t = times - times.min()
        span = float(t.max()) + float(t.max()) / (len(t) - 1)
        offset = float(rng.uniform(0.0, span))
        shifted: np.ndarray = np.mod(t - offset, span)
        return shifted
