"""Small helpers of the step model: KV blocks and decode-stretch step times."""

from __future__ import annotations

from l4bench.perf.base import BatchShape, PerfModel

#: KV cache block size in tokens (vLLM's default).
BLOCK_TOKENS = 16
#: below this many steps the per-step Python call is cheaper than the model's numpy path.
SMALL_STRETCH = 16


def num_blocks(tokens: int) -> int:
    """KV blocks holding `tokens` tokens."""
    return -(-tokens // BLOCK_TOKENS)


def decode_times(
    perf: PerfModel, num_decodes: int, context_sum: int, context_max: int, context_min: int, num_steps: int
) -> list[float]:
    """Step times of consecutive pure-decode steps, every context growing by one per step.

    Uses the model's vectorized ``decode_step_times_s`` when it has one (it must be bit-identical to
    ``step_time_s``); otherwise calls ``step_time_s`` once per step.
    """
    fast = getattr(perf, "decode_step_times_s", None)
    if fast is not None and num_steps > SMALL_STRETCH:
        return list(fast(num_decodes, context_sum, context_max, context_min, num_steps))
    return [
        perf.step_time_s(
            BatchShape(
                num_decodes=num_decodes,
                decode_context_sum=context_sum + num_decodes * j,
                decode_context_max=context_max + j,
                decode_context_min=context_min + j,
            )
        )
        for j in range(num_steps)
    ]
