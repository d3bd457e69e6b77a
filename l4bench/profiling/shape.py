"""Turn what the engine scheduled in one step into a BatchShape (pure; no engine imports)."""

from __future__ import annotations

from dataclasses import dataclass

from l4bench.perf.base import BatchShape


@dataclass(frozen=True, slots=True)
class ScheduledSeq:
    """One sequence in a step: tokens computed before it, tokens scheduled now, its prompt length."""

    prior_tokens: int
    num_tokens: int
    num_prompt_tokens: int

    @property
    def is_decode(self) -> bool:
        """True once the prompt is fully computed (the step extends the output by one token)."""
        return self.prior_tokens >= self.num_prompt_tokens


def batch_shape(seqs: list[ScheduledSeq]) -> BatchShape:
    """Aggregate one step's sequences into a BatchShape (decode context = KV tokens attended)."""
    decode_ctx = [s.prior_tokens + s.num_tokens for s in seqs if s.is_decode]
    chunks = [s for s in seqs if not s.is_decode and s.num_tokens > 0]
    return BatchShape(
        num_prefill_tokens=sum(c.num_tokens for c in chunks),
        num_prefill_seqs=len(chunks),
        prefill_attention_tokens=float(sum(c.num_tokens * (c.prior_tokens + c.num_tokens / 2) for c in chunks)),
        num_decodes=len(decode_ctx),
        decode_context_sum=sum(decode_ctx),
        decode_context_max=max(decode_ctx, default=0),
        decode_context_min=min(decode_ctx, default=0),
    )


def shape_matches(shape: BatchShape, num_decodes: int, chunk_tokens: int) -> bool:
    """Whether a measured step has the decode count and prefill chunk the composition asked for."""
    want_seqs = 1 if chunk_tokens else 0
    return (shape.num_decodes == num_decodes and shape.num_prefill_tokens == chunk_tokens
            and shape.num_prefill_seqs == want_seqs)


def longest_decode_position(seqs: list[ScheduledSeq]) -> float:
    """Where the longest decode sits among the step's decodes, in scheduling order: 0 first, 1 last.

    NaN unless the batch has a long sequence (longest > 2 x shortest): among equal ones it means nothing.
    """
    ctx = [s.prior_tokens + s.num_tokens for s in seqs if s.is_decode]
    if len(ctx) < 2 or max(ctx) <= 2 * min(ctx):
        return float("nan")
    return ctx.index(max(ctx)) / (len(ctx) - 1)
