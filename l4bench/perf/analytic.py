"""A first-principles step-time model: bytes over bandwidth, FLOPs over compute, plus overheads.

One engine step of a Llama-style decoder costs

    t = step_overhead_s + num_seqs * per_seq_overhead_s
        + max(weight_bytes / (bw * bw_eff), 2 * params * num_tokens / (flops * linear_eff))
        + decode_kv_bytes / (bw * bw_eff) * (1 + spread_beta * (1 - mean_ctx / max_ctx)
                                               + spread_kappa * (max_ctx / mean_ctx - 1))
        + 4 * layers * q_dim * prefill_attention_tokens / (flops * attention_eff)

The linear layers are a roofline (weights streamed once per step overlap with their GEMMs). Decode
attention is memory bound: every decoding sequence reads its whole KV cache. The spread factor models
what split-KV decode kernels (FlashAttention/FlashInfer) pay when one batch mixes long and short
contexts: work is tiled per (sequence, KV split) with one split heuristic for the batch, so the long
sequences' tiles run on a few SMs while the rest idle; the penalty vanishes for a homogeneous batch
(mean == max) and approaches (1 + beta) when one long context dominates a batch of short ones.
The spread is l4bench.l4.spread.length_spread, the project's one definition (1 - mean / max). The
kappa term grows with the longest context: a kernel that walks a long sequence in one work unit
(time ~ batch x max_len). With `kernel_table` + `attention_backend`, beta and kappa are fitted to the
kernel benchmark's mixed/homogeneous ratios of that backend (l4bench/perf/kernels.py).
Prefill attention is compute bound (causal QK^T and PV: 4 * q_dim FLOPs per query-key pair per layer).
"""

from __future__ import annotations

import numpy as np

from l4bench.errors import ConfigError
from l4bench.l4.spread import length_spread, length_spread_array
from l4bench.perf.base import BatchShape, GpuSpec, ModelSpec

#: KV cache block size (tokens) used to round capacities, as in vLLM's default.
BLOCK_TOKENS = 16


def kv_capacity_from_memory(
    model: ModelSpec, gpu: GpuSpec, gpu_memory_utilization: float, activation_reserve_bytes: float
) -> int:
    """KV tokens one instance holds: (memory * util - weights - activation reserve) / KV bytes per token."""
    if not 0.0 < gpu_memory_utilization <= 1.0:
        raise ConfigError(f"gpu_memory_utilization: {gpu_memory_utilization} out of range; valid: (0, 1]")
    free_bytes = gpu.memory_bytes * gpu_memory_utilization - model.num_params * model.dtype_bytes
    free_bytes -= activation_reserve_bytes
    if free_bytes <= 0:
        raise ConfigError(
            f"model: {model.name} does not fit on {gpu.name} at gpu_memory_utilization={gpu_memory_utilization}; "
            "valid: a larger GPU or utilization"
        )
    tokens = int(free_bytes // model.kv_bytes_per_token)
    return tokens - tokens % BLOCK_TOKENS


class AnalyticPerfModel:
    """Roofline step time for one instance of `model` on `gpu` (see module docstring)."""

    name = "analytic"

    def __init__(
        self,
        model: ModelSpec,
        gpu: GpuSpec,
        gpu_memory_utilization: float = 0.9,
        step_overhead_s: float = 0.009,
        per_seq_overhead_s: float = 6.0e-5,
        bandwidth_efficiency: float = 0.85,
        linear_efficiency: float = 0.7,
        attention_efficiency: float = 0.5,
        spread_beta: float = 1.0,
        activation_reserve_bytes: float = 2.0e9,
        spread_kappa: float = 0.0,
        kernel_table: str | None = None,
        attention_backend: str | None = None,
    ):
        for key, value in (("bandwidth_efficiency", bandwidth_efficiency), ("linear_efficiency", linear_efficiency),
                           ("attention_efficiency", attention_efficiency)):
            if not 0.0 < value <= 1.0:
                raise ConfigError(f"perf.{key}: {value} out of range; valid: (0, 1]")
        if min(spread_beta, spread_kappa, step_overhead_s, per_seq_overhead_s) < 0:
            raise ConfigError("perf: spread_beta, spread_kappa, step_overhead_s, per_seq_overhead_s must be >= 0; "
                              "valid: >= 0")
        self.attention_backend = attention_backend
        self.kernel_penalty = None
        if kernel_table is not None:
            spread_beta, spread_kappa = self._penalty_from(kernel_table, attention_backend, spread_beta, spread_kappa)
        self.model = model
        self.gpu = gpu
        self.kv_capacity_tokens = kv_capacity_from_memory(model, gpu, gpu_memory_utilization, activation_reserve_bytes)
        bw = gpu.memory_bandwidth_bytes_s * bandwidth_efficiency
        self._overhead_s = step_overhead_s
        self._per_seq_s = per_seq_overhead_s
        self._weight_time_s = model.num_params * model.dtype_bytes / bw
        self._flop_time_per_token_s = 2.0 * model.num_params / (gpu.dense_flops * linear_efficiency)
        self._kv_time_per_token_s = model.kv_bytes_per_token / bw
        q_dim = model.num_attention_heads * model.head_dim
        self._prefill_attn_time_s = 4.0 * model.num_layers * q_dim / (gpu.dense_flops * attention_efficiency)
        self._beta = spread_beta
        self._kappa = spread_kappa

    def _penalty_from(self, kernel_table: str, backend: str | None, beta: float, kappa: float) -> tuple[float, float]:
        """spread_beta, spread_kappa of `backend` fitted to the kernel benchmark's table."""
        from l4bench.perf.kernels import load_penalty  # pandas, only when a table is used

        if not backend:
            raise ConfigError("perf.attention_backend: required with perf.kernel_table; valid: a backend of the table")
        if beta or kappa:
            raise ConfigError("perf: spread_beta/spread_kappa are fitted from perf.kernel_table; valid: set them to 0 "
                              "or kernel_table to null")
        self.kernel_penalty = load_penalty(kernel_table, backend)
        return self.kernel_penalty.spread_beta, self.kernel_penalty.spread_kappa

    def step_time_s(self, batch: BatchShape) -> float:
        """Seconds one engine step takes for this batch composition (0 for an empty batch)."""
        num_decodes = batch.num_decodes
        num_seqs = num_decodes + batch.num_prefill_seqs
        if num_seqs == 0:
            return 0.0
        linear = max(self._weight_time_s, (batch.num_prefill_tokens + num_decodes) * self._flop_time_per_token_s)
        t = self._overhead_s + num_seqs * self._per_seq_s + linear
        if num_decodes:
            attn = batch.decode_context_sum * self._kv_time_per_token_s
            if num_decodes > 1 and batch.decode_context_max > 0:
                spread = length_spread(num_decodes, batch.decode_context_sum, batch.decode_context_max)
                x = num_decodes * batch.decode_context_max / batch.decode_context_sum if batch.decode_context_sum else 1.0
                attn = attn * (1.0 + self._beta * spread + self._kappa * (x - 1.0))
            t += attn
        if batch.prefill_attention_tokens:
            t += batch.prefill_attention_tokens * self._prefill_attn_time_s
        return t

    def decode_step_times_s(
        self, num_decodes: int, context_sum: int, context_max: int, context_min: int, num_steps: int
    ) -> list[float]:
        """Step times of `num_steps` pure-decode steps, every context growing by one per step.

        Bit-identical to calling step_time_s per step (same float operations in the same order).
        """
        linear = max(self._weight_time_s, num_decodes * self._flop_time_per_token_s)
        const = self._overhead_s + num_decodes * self._per_seq_s + linear
        steps = np.arange(num_steps, dtype=np.int64)
        sums = context_sum + num_decodes * steps
        attn = sums * self._kv_time_per_token_s
        if num_decodes > 1:
            maxes = (context_max + steps).astype(np.float64)
            spread = length_spread_array(np.full(num_steps, float(num_decodes)), sums.astype(np.float64), maxes)
            x = np.where(sums > 0, num_decodes * maxes / np.maximum(sums, 1), 1.0)
            attn = attn * (1.0 + self._beta * spread + self._kappa * (x - 1.0))
        times: list[float] = (const + attn).tolist()
        return times
