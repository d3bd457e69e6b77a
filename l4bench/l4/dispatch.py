"""Dispatch inside a stage: the instance where the new request's predicted E2E is least.

With FA3 on an H100 the measured step time is additive (const + per sequence + per token + per KV
token read + prefill terms; results/profiles/h100/llama-3.1-8b/fit_report.md): a mixed batch costs
what a homogeneous one of equal total context costs. What placement changes is what the request
meets there: the prefill already queued ahead of it (FCFS chunked prefill; a 64k prompt is ~3 s
of chunk steps), and the decode step time, which grows with the contexts resident there.

``DispatchLedger`` keeps, per instance, the prefill compute this scheduler sent there and not yet
done (it drains in real time): an admitted prompt whose chunked prefill is still running is
otherwise invisible in an InstanceView (it is "running", with no waiting tokens).
``predicted_e2e_s`` is the request's own predicted latency on an instance.

Tried and reverted (l4bench/l4/README.md, "Dispatch"): adding the request's externality on the
instance's residents (its prefill stalls each of them, its KV read slows their steps) lowered mean
E2E at light and moderate load but made placement unstable near saturation (long prompts pile
onto the few instances with few residents until their prefill queues are tens of seconds long).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from l4bench.l4.cost import AffineStepTime
from l4bench.types import InstanceView


def prefill_compute_s(step: AffineStepTime, tokens: float, chunk_tokens: int) -> float:
    """Seconds of compute a prefill of this many tokens takes (per token, attention, chunk steps)."""
    if tokens <= 0:
        return 0.0
    chunks = -(-tokens // chunk_tokens)
    return (
        step.per_token_s * tokens + step.per_attention_pair_s * tokens * tokens / 2.0 + step.base_s * chunks
    )


@dataclass
class DispatchLedger:
    """Per instance: prefill seconds this scheduler sent there and not yet done (drains in real time)."""

    backlog_s: dict[int, float] = field(default_factory=dict)
    stamp_s: dict[int, float] = field(default_factory=dict)

    def backlog(self, iid: int, now_s: float) -> float:
        """Prefill seconds still queued on the instance."""
        sent = self.backlog_s.get(iid)
        if sent is None:
            return 0.0
        left = sent - (now_s - self.stamp_s[iid])
        return left if left > 0.0 else 0.0  # hot path (every member on every route): no max()

    def add(self, iid: int, seconds: float, now_s: float) -> None:
        """Record prefill work sent to the instance."""
        self.backlog_s[iid] = self.backlog(iid, now_s) + seconds
        self.stamp_s[iid] = now_s


def predicted_e2e_s(
    step: AffineStepTime,
    view: InstanceView,
    queued_s: float,
    prefill_s: float,
    context_tokens: float,
    expected_output_tokens: float,
    chunk_tokens: int,
) -> float:
    """Predicted E2E of a request (context_tokens, its prefill_s) placed on this instance.

    Wait for the queued prefill (queued_s from the ledger, or the view's waiting prompt tokens if
    larger), its own prefill, then expected_output_tokens decode steps at the instance's step time
    with the request's own context added; plus, if the instance's KV cannot hold it, the time its
    residents need to free the shortfall.
    """
    n = view.num_running
    waiting = view.num_waiting_tokens
    waiting_s = prefill_compute_s(step, waiting, chunk_tokens) if waiting > 0 else 0.0
    queued = waiting_s if waiting_s > queued_s else queued_s
    # the step with the request decoding there too: its context joins the sum and may become the longest
    tau = step.step_s(
        n + 1, n + 1, view.num_context_tokens + context_tokens, n + 1, max(view.max_context_tokens, context_tokens)
    )
    own = queued + prefill_s + expected_output_tokens * tau
    # KV: if the instance cannot hold the request next to what it holds and has queued, it waits
    # (or preempts, recomputing) until residents free the shortfall; they free their contexts at
    # about ctx_sum / (expected_output x tau) tokens per second
    need = view.kv_used_tokens + view.num_waiting_tokens + context_tokens + expected_output_tokens
    short = need - view.kv_capacity_tokens
    if view.kv_capacity_tokens > 0 and short > 0:
        own += short * expected_output_tokens * tau / max(view.num_context_tokens, 1)
    return own


def externality_s(
    step: AffineStepTime,
    view: InstanceView,
    prefill_s: float,
    context_tokens: float,
    expected_output_tokens: float,
) -> float:
    """Seconds of E2E a placement adds to the instance's residents (not to the request itself).

    Each running request waits out the new prompt's prefill (its chunks share the steps), and for
    the stretch they run together (about half a resident's expected output) every step reads the
    new context's KV too.
    """
    n = view.num_running
    if n == 0:
        return 0.0
    kv_s = step.per_context_token_s * context_tokens * expected_output_tokens / 2.0
    return n * (prefill_s + kv_s)
