"""Service-level objectives for goodput: the config group ``slo:`` (ttft_ms, tpot_ms, e2el_ms)."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

from l4bench.errors import ConfigError


@dataclass(frozen=True, slots=True)
class SloSpec:
    """Per-request latency limits in ms; None means that metric is not constrained.

    A request is "good" when it completed and every set limit holds (metric <= limit), as in
    ``vllm bench serve --goodput``. A request with <= 1 output token has TPOT 0 for this test.
    """

    ttft_ms: float | None = None
    tpot_ms: float | None = None
    e2el_ms: float | None = None

    def __post_init__(self) -> None:
        """Reject limits that are not positive finite numbers (ConfigError)."""
        for name, value in asdict(self).items():
            if value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ConfigError(f"slo.{name}: {value!r} is not a number; valid: positive ms or null")
            if not math.isfinite(value) or value <= 0:
                raise ConfigError(f"slo.{name}: {value!r} must be > 0; valid: positive ms or null")

    @property
    def is_set(self) -> bool:
        """True when at least one limit is given (goodput is only reported then)."""
        return any(v is not None for v in (self.ttft_ms, self.tpot_ms, self.e2el_ms))

    def to_dict(self) -> dict[str, float | None]:
        """Plain dict for summary.json."""
        return {k: (None if v is None else float(v)) for k, v in asdict(self).items()}
