"""Llumnix (Sun et al., OSDI'24): freeness-based dispatch plus load-balancing migration."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from l4bench.errors import ConfigError
from l4bench.sched.base import BaseScheduler
from l4bench.sched.common import check_positive
from l4bench.types import ClusterSpec, Decision, InstanceView, Migration, RequestView, RunningRequest

if TYPE_CHECKING:
    from l4bench.perf.base import PerfModel


def freeness_of(free_tokens: float, num_requests: int) -> float:
    """Free KV tokens per request (incl. the next one); monotone: more debt or requests = less free."""
    n = num_requests + 1
    # Dividing a deficit by n would make a deeper queue look *freer*; multiply instead.
    return free_tokens / n if free_tokens >= 0 else free_tokens * n


class LlumnixScheduler(BaseScheduler):
    """Llumnix's global scheduler on l4bench's InstanceView aggregates.

    Freeness (the paper's F = (M - sum of virtual usages) / B, and its code's "remaining_steps"
    load) is modelled per instance as::

        free  = kv_capacity - watermark_fraction * kv_capacity - kv_used - waiting_prompt_tokens
        F     = free / (num_running + num_waiting + 1)      (free * (n + 1) when free < 0)

    i.e. the decode steps each request (including the one being placed) could still take before
    the KV cache fills. The headroom for decoding is vLLM's watermark, as Llumnix's code does
    (num_watermark_blocks); queued requests count with their whole prompt (the paper's virtual
    usage of queued requests, extended from the head-of-line request to the whole queue).

    Modelled: dispatch to the highest freeness (optionally uniformly among the top k, Llumnix's
    topk_random_dispatch); periodic pairing of the i-th least free with the i-th freest healthy
    instance ("balanced" pair policy); per pair at most one migration per tick of the running
    request with the shortest context (Llumnix's cheapest-to-move "SR" choice), only if the
    freeness gap exceeds min_freeness_gap_tokens and, as in Llumnix, the load difference after the
    move stays positive and smaller than before (no ping-pong); the destination must hold the
    request's context; optional migrate-out threshold (sources below it, destinations that stay
    above it).
    Not modelled: request priorities and the virtual usage that reserves headroom for
    high-priority requests; de-fragmentation's fake head-of-line usage; auto-scaling
    (instance add/drain, termination's infinite virtual usage); the multi-stage live KV
    migration mechanism itself (the harness performs migrations by recompute and accounts
    their cost; KV transfer is planned, issue 16); prefill-decode disaggregation.

    Args:
        rebalance_interval_s: seconds between migration rounds. Llumnix polls every 50 ms with
            near-free live migration; here a migration costs a recompute or transfer of the whole
            context (hundreds of ms for long prompts) and each round needs per-request views, so
            1 s lets moves land before the next decision. None disables migration.
        watermark_fraction: share of KV capacity held back as decode headroom (vLLM: 0.01).
        min_freeness_gap_tokens: smallest freeness gap (tokens per request) that triggers a move.
        max_migrations_per_tick: at most this many pairs migrate one request each per round.
        migrate_out_freeness_tokens: if set, only instances with freeness below it migrate out and
            a destination must stay at or above it after the move; None: any instance may.
        topk_random_dispatch: dispatch uniformly among the k freest instances (1: the freest).
    """

    name = "llumnix"

    def __init__(
        self,
        cluster: ClusterSpec,
        perf: PerfModel | None = None,
        rng: np.random.Generator | None = None,
        rebalance_interval_s: float | None = 1.0,
        watermark_fraction: float = 0.01,
        min_freeness_gap_tokens: float = 1024.0,
        max_migrations_per_tick: int = 4,
        migrate_out_freeness_tokens: float | None = None,
        topk_random_dispatch: int = 1,
    ) -> None:
        super().__init__(cluster, perf, rng)
        if rebalance_interval_s is not None:
            check_positive(self.name, "rebalance_interval_s", rebalance_interval_s)
        if not 0.0 <= watermark_fraction < 1.0:
            raise ConfigError(
                f"{self.name}.watermark_fraction: got {watermark_fraction!r}; valid: 0 <= x < 1"
            )
        check_positive(self.name, "min_freeness_gap_tokens", min_freeness_gap_tokens, allow_zero=True)
        check_positive(self.name, "max_migrations_per_tick", max_migrations_per_tick)
        check_positive(self.name, "topk_random_dispatch", topk_random_dispatch)
        self.rebalance_interval_s = rebalance_interval_s
        self.watermark_fraction = float(watermark_fraction)
        self.min_freeness_gap_tokens = float(min_freeness_gap_tokens)
        self.max_migrations_per_tick = int(max_migrations_per_tick)
        self.migrate_out_freeness_tokens = migrate_out_freeness_tokens
        self.topk_random_dispatch = int(topk_random_dispatch)

    def free_tokens(self, v: InstanceView) -> float:
        """KV tokens left after running usage, the waiting queue's prompts and the watermark."""
        capacity = v.kv_capacity_tokens or self.cluster.kv_capacity_tokens
        return capacity * (1.0 - self.watermark_fraction) - v.kv_used_tokens - v.num_waiting_tokens

    def freeness(self, v: InstanceView) -> float:
        """Llumnix freeness of one instance (free tokens per request, see the class docstring)."""
        return freeness_of(self.free_tokens(v), v.num_requests)

    def route(self, req: RequestView, views: Sequence[InstanceView], now_s: float) -> Decision:
        """Dispatch to the freest healthy instance (or a random one of the k freest)."""
        ranked = sorted(self.healthy(views), key=lambda v: (-self.freeness(v), v.instance_id))
        k = min(self.topk_random_dispatch, len(ranked))
        pick = ranked[0] if k == 1 else ranked[int(self.rng.integers(k))]
        return Decision(instance_id=pick.instance_id)

    def rebalance(self, views: Sequence[InstanceView], now_s: float) -> list[Migration]:
        """Pair least free with freest instances; move each pair's shortest running request."""
        ok = sorted((v for v in views if v.is_healthy), key=lambda v: (self.freeness(v), v.instance_id))
        migrations: list[Migration] = []
        for i in range(len(ok) // 2):
            if len(migrations) >= self.max_migrations_per_tick:
                break
            src, dst = ok[i], ok[len(ok) - 1 - i]
            threshold = self.migrate_out_freeness_tokens
            if threshold is not None and self.freeness(src) >= threshold:
                break  # sources are sorted by freeness: no later one is below the threshold either
            req = self._pick_request(src, dst)
            if req is not None:
                migrations.append(Migration(req.request_id, src.instance_id, dst.instance_id))
        return migrations

    def _pick_request(self, src: InstanceView, dst: InstanceView) -> RunningRequest | None:
        """The shortest decoding request on src whose move narrows the gap without inverting it."""
        f_src, f_dst = self.freeness(src), self.freeness(dst)
        if f_dst - f_src <= self.min_freeness_gap_tokens:
            return None
        movable = [r for r in src.requests if not r.is_waiting and r.num_generated_tokens > 0]
        if not movable:
            return None
        req = min(movable, key=lambda r: (r.context_tokens, r.request_id))
        c = req.context_tokens
        if self.free_tokens(dst) < c:
            return None
        f_src_after = freeness_of(self.free_tokens(src) + c, src.num_requests - 1)
        f_dst_after = freeness_of(self.free_tokens(dst) - c, dst.num_requests + 1)
        threshold = self.migrate_out_freeness_tokens
        if threshold is not None and f_dst_after < threshold:
            return None
        # Llumnix "balanced": the gap after the move must stay positive and shrink.
        if not 0 < f_dst_after - f_src_after < f_dst - f_src:
            return None
        return req
