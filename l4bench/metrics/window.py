"""Warm-up and cool-down exclusion: which requests count in the metrics (raw records keep all).

A request is excluded when it arrives in the first ``warmup_s`` seconds after the first arrival,
in the last ``cooldown_s`` seconds before the last arrival, or is among the first
``warmup_requests`` / last ``cooldown_requests`` by arrival. The rules are decided on the
requests alone (arrivals), so every scheduler of a repeat is measured on the same requests.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace
from typing import Any

import numpy as np

from l4bench.errors import ConfigError
from l4bench.metrics.records import RunResult


@dataclass(frozen=True, slots=True)
class MeasurementWindow:
    """The ``metrics:`` config keys of the exclusion rules (0 = nothing excluded)."""

    warmup_s: float = 0.0
    cooldown_s: float = 0.0
    warmup_requests: int = 0
    cooldown_requests: int = 0

    def __post_init__(self) -> None:
        """Reject negative or non-numeric values (ConfigError)."""
        for name, value in asdict(self).items():
            bad = isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value)
            if bad or value < 0:
                raise ConfigError(f"metrics.{name}: {value!r}; valid: a number >= 0 (0 = exclude nothing)")
            if name.endswith("_requests") and int(value) != value:
                raise ConfigError(f"metrics.{name}: {value!r}; valid: a whole number of requests")

    @property
    def is_active(self) -> bool:
        """True when any rule excludes something."""
        return any(v > 0 for v in asdict(self).values())

    def flags(self, arrival_s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(in warm-up, in cool-down) boolean arrays over requests, by arrival time and rank."""
        t = np.asarray(arrival_s, dtype=np.float64)
        warm = np.zeros(t.shape, dtype=bool)
        cool = np.zeros(t.shape, dtype=bool)
        if t.size == 0:
            return warm, cool
        rank = np.empty(t.size, dtype=np.int64)
        rank[np.argsort(t, kind="stable")] = np.arange(t.size)
        warm |= (t < t.min() + self.warmup_s) if self.warmup_s > 0 else warm
        warm |= rank < int(self.warmup_requests)
        cool |= (t > t.max() - self.cooldown_s) if self.cooldown_s > 0 else cool
        cool |= rank >= t.size - int(self.cooldown_requests)
        return warm, cool

    def measured(self, arrival_s: np.ndarray) -> np.ndarray:
        """Boolean mask of the requests that count in the metrics."""
        warm, cool = self.flags(arrival_s)
        return ~(warm | cool)

    def describe(self, arrival_s: np.ndarray) -> dict[str, Any]:
        """The rules and how many requests each excluded (a request in both counts as warm-up)."""
        warm, cool = self.flags(arrival_s)
        return {
            **asdict(self),
            "excluded_warmup": int(warm.sum()),
            "excluded_cooldown": int((cool & ~warm).sum()),
            "measured": int((~(warm | cool)).sum()),
            "total": int(warm.size),
        }


def restrict(result: RunResult, measured_ids: set[int]) -> RunResult:
    """The run seen through the window: only measured requests' records.

    ``duration_s`` becomes first measured arrival to last measured finish (unchanged when
    nothing is excluded), so throughputs are over the measured requests and time.
    """
    records = [r for r in result.records if r.request_id in measured_ids]
    if len(records) == len(result.records):
        return result
    finishes = [r.finish_s for r in records if r.finish_s is not None]
    start = min((r.arrival_s for r in records), default=0.0)
    duration_s = max(0.0, max(finishes) - start) if finishes else 0.0
    return replace(result, records=records, duration_s=duration_s)
