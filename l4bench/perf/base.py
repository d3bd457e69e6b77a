"""The narrow interface between performance models and their users (simulator, L4 stage cost).

A step is one engine iteration: a continuous batch holding some decoding sequences (one token each)
and some prefill chunks. Its time depends on aggregates only, so callers can describe hypothetical
batches (L4's DP) as cheaply as real ones (the simulator).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable


@dataclass(frozen=True, slots=True)
class BatchShape:
    """Aggregate composition of one engine step.

    Args:
        num_prefill_tokens: new prompt tokens computed this step (sum of chunk lengths).
        num_prefill_seqs: sequences contributing a prefill chunk.
        prefill_attention_tokens: sum over chunks of chunk_len * (tokens before chunk + chunk_len / 2),
            i.e. query-key pairs attended (causal), a measure of prefill attention work.
        num_decodes: sequences decoding one token.
        decode_context_sum: sum of their context lengths (KV tokens read).
        decode_context_max: the longest decoding context.
        decode_context_min: the shortest decoding context.
        decode_max_position: where the longest decode sits in the batch's order (0 first, 1 last;
            None: unknown, as in the simulator, which keeps no order). Only order-aware fits use it.
    """

    num_prefill_tokens: int = 0
    num_prefill_seqs: int = 0
    prefill_attention_tokens: float = 0.0
    num_decodes: int = 0
    decode_context_sum: int = 0
    decode_context_max: int = 0
    decode_context_min: int = 0
    decode_max_position: float | None = None

    @property
    def num_tokens(self) -> int:
        """Tokens through the linear layers this step."""
        return self.num_prefill_tokens + self.num_decodes


@dataclass(frozen=True, slots=True)
class ModelSpec:
    """Architecture facts a performance model needs (from the model's config.json)."""

    name: str
    num_layers: int
    hidden_size: int
    num_attention_heads: int
    num_kv_heads: int
    head_dim: int
    intermediate_size: int
    vocab_size: int
    max_model_len: int
    dtype_bytes: int = 2

    @property
    def num_params(self) -> int:
        """Parameter count of a Llama-style decoder (attention + gated MLP + embeddings + head)."""
        h, L = self.hidden_size, self.num_layers
        attn = h * (self.num_attention_heads * self.head_dim) * 2 + h * (self.num_kv_heads * self.head_dim) * 2
        mlp = 3 * h * self.intermediate_size
        return L * (attn + mlp + 2 * h) + 2 * self.vocab_size * h + h

    @property
    def kv_bytes_per_token(self) -> int:
        """KV cache bytes for one token across all layers (K and V)."""
        return 2 * self.num_layers * self.num_kv_heads * self.head_dim * self.dtype_bytes


@dataclass(frozen=True, slots=True)
class GpuSpec:
    """Datasheet numbers of one accelerator."""

    name: str
    memory_bytes: float
    memory_bandwidth_bytes_s: float
    dense_flops: float  # BF16 dense tensor throughput
    num_sms: int = 132


@runtime_checkable
class PerfModel(Protocol):
    """Step time of one engine iteration, and the KV capacity it implies."""

    name: str
    kv_capacity_tokens: int  # per instance

    def step_time_s(self, batch: BatchShape) -> float:
        """Seconds one engine step takes for this batch composition."""
        ...
