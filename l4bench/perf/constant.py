"""A constant step-time model for golden tests and quick what-ifs."""

from __future__ import annotations

from l4bench.errors import ConfigError
from l4bench.perf.base import BatchShape, GpuSpec, ModelSpec


class ConstantPerfModel:
    """Every non-empty step takes step_time_s + prefill_time_per_token_s * num_prefill_tokens."""

    name = "constant"

    def __init__(
        self,
        model: ModelSpec | None = None,
        gpu: GpuSpec | None = None,
        gpu_memory_utilization: float = 0.9,
        step_time_s: float = 0.02,
        prefill_time_per_token_s: float = 0.0,
        kv_capacity_tokens: int = 1_000_000,
    ):
        if step_time_s <= 0 or prefill_time_per_token_s < 0:
            raise ConfigError("perf: step_time_s must be > 0 and prefill_time_per_token_s >= 0; valid: positive")
        if kv_capacity_tokens <= 0:
            raise ConfigError(f"perf.kv_capacity_tokens: {kv_capacity_tokens}; valid: > 0")
        self.model = model
        self.gpu = gpu
        self.step_time = float(step_time_s)
        self.prefill_time_per_token_s = float(prefill_time_per_token_s)
        self.kv_capacity_tokens = int(kv_capacity_tokens)

    def step_time_s(self, batch: BatchShape) -> float:
        """Seconds one engine step takes (0 for an empty batch)."""
        if batch.num_decodes + batch.num_prefill_seqs == 0:
            return 0.0
        return self.step_time + self.prefill_time_per_token_s * batch.num_prefill_tokens

    def decode_step_times_s(
        self, num_decodes: int, context_sum: int, context_max: int, context_min: int, num_steps: int
    ) -> list[float]:
        """Step times of `num_steps` pure-decode steps (bit-identical to step_time_s per step)."""
        return [self.step_time] * num_steps
