"""SGLang-router-style length buckets: boundaries from load-weighted quantiles of recent prompts."""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from l4bench.sched.base import BaseScheduler
from l4bench.sched.common import check_positive, least_tokens_view, pick_min
from l4bench.types import ClusterSpec, Decision, InstanceView, RequestView

if TYPE_CHECKING:
    from l4bench.perf.base import PerfModel


def weighted_boundaries(lengths: Sequence[int], num_buckets: int) -> list[int]:
    """num_buckets-1 boundaries b_k: the smallest length whose cumulative token weight reaches k/n.

    Each length weighs its own token count (prefill work and KV footprint grow with it), so the
    buckets (b_{k-1}, b_k] carry about equal shares of the window's tokens.
    """
    x = np.sort(np.asarray(lengths, dtype=np.int64))
    cum = np.cumsum(np.maximum(x, 1), dtype=np.float64)
    targets = cum[-1] * np.arange(1, num_buckets) / num_buckets
    idx = np.minimum(np.searchsorted(cum, targets, side="left"), len(x) - 1)
    return [int(b) for b in x[idx]]


class SglangBucketScheduler(BaseScheduler):
    """Dispatch by prompt length into one bucket per instance; boundaries track the load.

    Like sgl-router's ``bucket`` policy (prefill side of its PD experiments): the router keeps a
    time window of recent request lengths and every ``refresh_interval_s`` recomputes the
    num_instances-1 boundaries so each instance's bucket holds an equal share of the window's
    tokens. Instance k (in instance-id order) serves prompts in (b_{k-1}, b_k]; a prompt equal to
    a boundary may go to either adjacent bucket (least tokens wins), so a mass of identical
    lengths is split rather than piled onto one instance. Dispatch only: no migration, no hop
    bounds. Until ``min_samples`` prompts have been seen it falls back to least tokens. Not
    modelled: sgl-router's imbalance fallback (balance_abs/rel thresholds) and its use of
    character rather than token counts.

    Args:
        refresh_interval_s: seconds between boundary recomputations (sgl-router default: 5).
        window_s: only prompts that arrived within this many seconds count.
        min_samples: prompts needed in the window before buckets are used.
        max_window_requests: cap on remembered prompts (oldest dropped first).
    """

    name = "sglang_bucket"

    def __init__(
        self,
        cluster: ClusterSpec,
        perf: PerfModel | None = None,
        rng: np.random.Generator | None = None,
        refresh_interval_s: float = 5.0,
        window_s: float = 60.0,
        min_samples: int = 32,
        max_window_requests: int = 10000,
    ) -> None:
        super().__init__(cluster, perf, rng)
        check_positive(self.name, "refresh_interval_s", refresh_interval_s, allow_zero=True)
        check_positive(self.name, "window_s", window_s)
        check_positive(self.name, "min_samples", min_samples)
        check_positive(self.name, "max_window_requests", max_window_requests)
        self.refresh_interval_s = float(refresh_interval_s)
        self.window_s = float(window_s)
        self.min_samples = int(min_samples)
        self.max_window_requests = int(max_window_requests)
        self._window: deque[tuple[float, int]] = deque()  # (arrival_s, prompt_tokens)
        self._boundaries: list[int] | None = None
        self._last_refresh_s = float("-inf")

    @property
    def boundaries(self) -> list[int] | None:
        """The current bucket boundaries (None before the first refresh)."""
        return None if self._boundaries is None else list(self._boundaries)

    def observe(self, prompt_tokens: int, now_s: float) -> None:
        """Add a prompt to the window and drop the ones that fell out of it."""
        self._window.append((now_s, prompt_tokens))
        while self._window and (
            self._window[0][0] < now_s - self.window_s or len(self._window) > self.max_window_requests
        ):
            self._window.popleft()

    def maybe_refresh(self, num_buckets: int, now_s: float) -> None:
        """Recompute boundaries when the interval has passed or the instance count changed."""
        stale = self._boundaries is None or len(self._boundaries) != num_buckets - 1
        due = now_s - self._last_refresh_s >= self.refresh_interval_s
        if (stale or due) and len(self._window) >= self.min_samples:
            self._boundaries = weighted_boundaries([p for _, p in self._window], num_buckets)
            self._last_refresh_s = now_s

    def route(self, req: RequestView, views: Sequence[InstanceView], now_s: float) -> Decision:
        """Record the prompt, refresh boundaries if due, and send it to its bucket's instance."""
        self.observe(req.prompt_tokens, now_s)
        ordered = sorted(views, key=lambda v: v.instance_id)
        self.maybe_refresh(len(ordered), now_s)
        b = self._boundaries
        if b is None or len(b) != len(ordered) - 1:
            return Decision(instance_id=least_tokens_view(self.healthy(ordered)).instance_id)
        p = req.prompt_tokens
        lo = int(np.searchsorted(b, p, side="left"))  # first bucket whose upper bound >= p
        hi = int(np.searchsorted(b, p, side="right"))  # buckets up to here have a lower bound <= p
        pos_of = {v.instance_id: pos for pos, v in enumerate(ordered)}

        def key(v: InstanceView) -> tuple[float, ...]:
            """Distance from the bucket range [lo, hi] (0 inside), then tokens, then requests."""
            pos = pos_of[v.instance_id]
            return (max(lo - pos, pos - hi, 0), v.num_tokens, v.num_requests)

        # An unhealthy bucket instance hands its requests to the nearest healthy bucket.
        return Decision(instance_id=pick_min(self.healthy(ordered), key).instance_id)
