"""Instances that share one GPU slow each other by how much the neighbour runs, not by a flat factor.

``perf.gpu_share=0.5`` makes every step of an instance that shares a GPU twice as long, whatever the
other instance does. Measured on one H200 (results/live/gpu_h200_shared_interference_load): an
instance decodes at its own speed beside an idle neighbour and 1.7x / 2.24x / 2.32x slower beside
one running 8 / 32 / 128 short requests. With ``engine.gpu_contention`` the simulator replaces the
flat factor by that curve: each planned step of instance i takes ``perf`` time x gpu_share (the flat
factor undone) x slowdown(tokens per step its GPU neighbours compute now, interpolated linearly,
constant past the last point). The curve's x axis is called ``neighbour_seqs`` because the probe's
neighbours only decode (one token per sequence); a prefilling neighbour's chunk counts its tokens,
which puts it past the last measured point (an extrapolation). A neighbour whose load changes cuts i's stretch after the step in flight, so the
next steps use the new factor. The scheduler's own cost model keeps the perf model it was given.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from l4bench.errors import ConfigError


@dataclass(frozen=True)
class GpuContention:
    """The neighbour-load curve of instances sharing a GPU (consecutive ids, instances_per_gpu each)."""

    instances_per_gpu: int
    neighbour_seqs: tuple[float, ...]
    slowdown: tuple[float, ...]
    flat_share: float = 1.0  # the perf model's gpu_share, undone here
    source: str = ""

    def __post_init__(self) -> None:
        xs, ys = self.neighbour_seqs, self.slowdown
        if self.instances_per_gpu < 2:
            raise ConfigError(f"engine.gpu_contention.instances_per_gpu: {self.instances_per_gpu}; valid: >= 2")
        if len(xs) != len(ys) or len(xs) < 2 or xs[0] != 0 or any(b <= a for a, b in zip(xs, xs[1:], strict=False)):
            raise ConfigError("engine.gpu_contention: neighbour_seqs must start at 0 and increase, one slowdown each "
                              f"(got {list(xs)} and {list(ys)})")
        if any(y <= 0 for y in ys):
            raise ConfigError(f"engine.gpu_contention.slowdown: {list(ys)}; valid: factors > 0")

    @classmethod
    def from_config(cls, cfg: dict[str, Any] | None, flat_share: float) -> GpuContention | None:
        """From engine.gpu_contention ({instances_per_gpu, neighbour_seqs, slowdown, source}); None: off."""
        if not cfg:
            return None
        unknown = set(cfg) - {"instances_per_gpu", "neighbour_seqs", "slowdown", "source"}
        if unknown:
            raise ConfigError(f"engine.gpu_contention: unknown keys {sorted(unknown)}; valid: instances_per_gpu, "
                              "neighbour_seqs, slowdown, source")
        return cls(int(cfg.get("instances_per_gpu", 2)), tuple(float(x) for x in cfg["neighbour_seqs"]),
                   tuple(float(y) for y in cfg["slowdown"]), float(flat_share), str(cfg.get("source", "")))

    def neighbours(self, instance_id: int, num_instances: int) -> range:
        """The other instances on instance_id's GPU (its own id included; callers skip it)."""
        first = instance_id - instance_id % self.instances_per_gpu
        return range(first, min(first + self.instances_per_gpu, num_instances))

    def time_scale(self, neighbour_tokens: int) -> float:
        """Multiplier of perf's step time for an instance whose GPU neighbours compute this many tokens per step."""
        return self.flat_share * float(np.interp(neighbour_tokens, self.neighbour_seqs, self.slowdown))

    def describe(self) -> dict[str, Any]:
        """What the run's summary records."""
        return {"instances_per_gpu": self.instances_per_gpu, "neighbour_seqs": list(self.neighbour_seqs),
                "slowdown": list(self.slowdown), "flat_share_undone": self.flat_share, "source": self.source}


def neighbour_load(stretches: Sequence[Any]) -> int:
    """Tokens per step the given instances' current stretches compute (a decode: 1, a prefill chunk:
    its tokens; an idle instance: 0). For the probe's decode-only neighbours that is their sequences."""
    return sum(r.num_new for st in stretches if st is not None for r in st.reqs)
