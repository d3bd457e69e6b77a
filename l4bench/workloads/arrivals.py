"""Arrival processes: replay trace timestamps, or draw Poisson / gamma / constant arrivals.

Each ``assign(requests, rng)`` returns new Requests (``dataclasses.replace``) sorted by arrival,
ids renumbered 0..n-1 in arrival order, the first arrival at 0.0, and those arriving after
``max_duration_s`` dropped. Drawn processes keep the workload's request order.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from l4bench.errors import ConfigError
from l4bench.types import Request


def _check_positive(option: str, value: float) -> None:
    if not (isinstance(value, int | float) and value > 0):
        raise ConfigError(f"{option}: must be > 0, got {value}")


class _Arrivals:
    """Shared sorting, renumbering and the duration cut."""

    name = "arrivals"

    def __init__(self, max_duration_s: float | None):
        if max_duration_s is not None:
            _check_positive("arrival.max_duration_s", max_duration_s)
        self.max_duration_s = max_duration_s

    def _times(self, requests: list[Request], rng: np.random.Generator) -> np.ndarray:
        raise NotImplementedError

    def assign(self, requests: list[Request], rng: np.random.Generator) -> list[Request]:
        """New requests with arrival_s set, sorted by arrival, ids 0..n-1, cut at max_duration_s."""
        if not requests:
            return []
        times = np.asarray(self._times(requests, rng), dtype=np.float64)
        order = np.argsort(times, kind="stable")
        times = times[order] - times[order[0]]
        out = []
        for new_id, (old, t) in enumerate(zip(order.tolist(), times.tolist(), strict=True)):
            if self.max_duration_s is not None and t > self.max_duration_s:
                break
            out.append(replace(requests[old], request_id=new_id, arrival_s=t))
        return out

    def describe(self) -> dict[str, object]:
        """Parameters for summary.json."""
        return {"name": self.name, **vars(self)}


class TraceArrivals(_Arrivals):
    """Replay the workload's own timestamps, compressed by speedup (2.0 = twice as fast)."""

    name = "trace"

    def __init__(self, speedup: float = 1.0, max_duration_s: float | None = None):
        _check_positive("arrival.speedup", speedup)
        self.speedup = speedup
        super().__init__(max_duration_s)

    def _times(self, requests: list[Request], rng: np.random.Generator) -> np.ndarray:
        times = np.array([r.arrival_s for r in requests], dtype=np.float64)
        if len(times) > 1 and not np.any(times != times[0]):
            raise ConfigError(
                "arrival=trace: the workload has no timestamps (all arrivals equal); "
                "valid: a timestamped workload (mooncake, azure_code, azure_conv) or "
                "arrival=poisson|gamma|constant"
            )
        return times / self.speedup


class PoissonArrivals(_Arrivals):
    """Exponential inter-arrival gaps with mean 1/rate (rate in requests per second)."""

    name = "poisson"

    def __init__(self, rate: float, max_duration_s: float | None = None):
        _check_positive("arrival.rate", rate)
        self.rate = rate
        super().__init__(max_duration_s)

    def _times(self, requests: list[Request], rng: np.random.Generator) -> np.ndarray:
        gaps = rng.exponential(1.0 / self.rate, len(requests))
        gaps[0] = 0.0
        return np.cumsum(gaps)


class GammaArrivals(_Arrivals):
    """Gamma inter-arrival gaps: mean 1/rate, coefficient of variation cv (cv=1 is Poisson, >1 bursty)."""

    name = "gamma"

    def __init__(self, rate: float, cv: float = 2.0, max_duration_s: float | None = None):
        _check_positive("arrival.rate", rate)
        _check_positive("arrival.cv", cv)
        self.rate = rate
        self.cv = cv
        super().__init__(max_duration_s)

    def _times(self, requests: list[Request], rng: np.random.Generator) -> np.ndarray:
        shape = 1.0 / self.cv**2
        gaps = rng.gamma(shape, 1.0 / (self.rate * shape), len(requests))
        gaps[0] = 0.0
        return np.cumsum(gaps)


class ConstantArrivals(_Arrivals):
    """Evenly spaced arrivals, 1/rate seconds apart."""

    name = "constant"

    def __init__(self, rate: float, max_duration_s: float | None = None):
        _check_positive("arrival.rate", rate)
        self.rate = rate
        super().__init__(max_duration_s)

    def _times(self, requests: list[Request], rng: np.random.Generator) -> np.ndarray:
        return np.arange(len(requests), dtype=np.float64) / self.rate


class BurstArrivals(_Arrivals):
    """Every request at t = 0, in the workload's order (the burst experiments)."""

    name = "burst"

    def __init__(self, max_duration_s: float | None = None):
        super().__init__(max_duration_s)

    def _times(self, requests: list[Request], rng: np.random.Generator) -> np.ndarray:
        return np.zeros(len(requests), dtype=np.float64)
