"""Length histogram over a sliding window: per-bin arrival, prefill and decode rates.

Bins are log-spaced context lengths. A request with prompt p and output o contributes its prefill
to bin(p) and one decode step to every context length in [p, p + o) (the length before each step).
Requests still running contribute their expected output length (mean of recently finished outputs).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, replace

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


def make_bin_edges(num_bins: int, min_bin_tokens: int, max_model_len: int) -> IntArray:
    """K + 1 strictly increasing edges: 0, then log-spaced from min_bin_tokens up to max_model_len."""
    if num_bins < 1 or min_bin_tokens < 1 or max_model_len <= min_bin_tokens:
        raise ValueError(
            f"bins: need num_bins >= 1 and 1 <= min_bin_tokens < max_model_len, got "
            f"{num_bins}, {min_bin_tokens}, {max_model_len}"
        )
    inner = np.geomspace(min_bin_tokens, max_model_len, num_bins).round().astype(np.int64)
    edges = np.concatenate([[0], inner]).astype(np.int64)
    for k in range(1, num_bins + 1):  # tiny ranges round to duplicates: force strictly increasing
        edges[k] = max(int(edges[k]), int(edges[k - 1]) + 1)
    return edges


def bin_of(edges: IntArray, tokens: int) -> int:
    """Bin index holding a context of this many tokens (clipped to the last bin)."""
    k = int(np.searchsorted(edges, tokens, side="right")) - 1
    return min(max(k, 0), len(edges) - 2)


@dataclass(frozen=True)
class BinStats:
    """Per-bin rates (per second) measured over the window.

    Decode quantities are by position (the bin of the context at each step) in ``dec_*``, and by
    prompt bin in ``pdec_*`` (where decode work lands when requests never migrate).
    """

    window_s: float
    num_requests: int
    prompt_rate: FloatArray  # prompts arriving per bin
    prefill_tokens: FloatArray  # prompt tokens per bin
    prefill_attn: FloatArray  # sum p^2 / 2 per bin (causal query-key pairs)
    dec_steps: FloatArray  # decode steps at contexts in the bin
    dec_ctx_sum: FloatArray  # sum of those contexts
    dec_ctx_max: FloatArray  # longest context reached inside the bin (0 if none)
    cross_rate: FloatArray  # requests whose context crosses edge k from below (k = 0..K)
    pdec_steps: FloatArray  # decode steps of requests whose prompt is in the bin
    pdec_ctx_sum: FloatArray
    pdec_ctx_max: FloatArray  # longest final context of those requests
    sub_counts: FloatArray | None = None  # (K, T) arrivals per bin in T equal sub-windows (burstiness)


def sub_window_counts(
    edges: IntArray, prompts: IntArray, arrivals_s: FloatArray, start_s: float, sub_s: float, num_sub: int
) -> FloatArray:
    """(K, num_sub) prompt arrivals per bin in consecutive sub-windows of sub_s seconds from start_s."""
    K = len(edges) - 1
    pb = np.clip(np.searchsorted(edges, prompts, side="right") - 1, 0, K - 1)
    tb = np.clip(((arrivals_s - start_s) // sub_s).astype(np.int64), 0, num_sub - 1)
    out = np.zeros((K, num_sub))
    np.add.at(out, (pb, tb), 1.0)
    return out


def bin_stats(edges: IntArray, prompts: IntArray, outputs: IntArray, window_s: float) -> BinStats:
    """Vectorized histogram of (prompt, output) pairs over ``window_s`` seconds."""
    K = len(edges) - 1
    p = prompts.astype(np.float64)
    end = (prompts + np.maximum(outputs, 0)).astype(np.float64)  # contexts seen: [p, end)
    lo, hi = edges[:-1].astype(np.float64), edges[1:].astype(np.float64)
    hi_last = hi.copy()
    hi_last[-1] = np.inf  # contexts past max_model_len belong to the last bin
    a = np.maximum(p[:, None], lo[None, :])
    b = np.minimum(end[:, None], hi_last[None, :])
    n = np.maximum(b - a, 0.0)
    ctx_sum = np.where(n > 0, (a + b - 1.0) * n / 2.0, 0.0)
    ctx_max = np.where(n > 0, b - 1.0, 0.0)
    pb = np.clip(np.searchsorted(edges, prompts, side="right") - 1, 0, K - 1)
    inv = 1.0 / max(window_s, 1e-9)
    cross = np.zeros(K + 1)
    e = edges.astype(np.float64)
    cross[1:K] = ((p[:, None] < e[None, 1:K]) & (end[:, None] > e[None, 1:K])).sum(axis=0)
    per_req_steps = end - p
    per_req_sum = (p + end - 1.0) * per_req_steps / 2.0
    pmax = np.zeros(K)
    np.maximum.at(pmax, pb, end - 1.0)
    return BinStats(
        window_s=window_s,
        num_requests=len(prompts),
        prompt_rate=np.bincount(pb, minlength=K).astype(np.float64) * inv,
        prefill_tokens=np.asarray(np.bincount(pb, weights=p, minlength=K), dtype=np.float64) * inv,
        prefill_attn=np.asarray(np.bincount(pb, weights=p * p / 2.0, minlength=K), dtype=np.float64) * inv,
        dec_steps=n.sum(axis=0) * inv,
        dec_ctx_sum=ctx_sum.sum(axis=0) * inv,
        dec_ctx_max=ctx_max.max(axis=0) if len(prompts) else np.zeros(K),
        cross_rate=cross * inv,
        pdec_steps=np.asarray(np.bincount(pb, weights=per_req_steps, minlength=K), dtype=np.float64) * inv,
        pdec_ctx_sum=np.asarray(np.bincount(pb, weights=per_req_sum, minlength=K), dtype=np.float64) * inv,
        pdec_ctx_max=pmax,
    )


@dataclass(frozen=True)
class WindowSample:
    """The window's requests at one instant, as arrays (a copy: safe to read from another thread)."""

    now_s: float
    start_s: float  # where the window begins (its first arrival, or now_s - window_s)
    prompts: IntArray
    outputs: IntArray  # finished ones' true output, the expected output for the rest
    arrivals_s: FloatArray


class LengthHistogram:
    """Sliding window of recent arrivals plus an output-length estimate learnt from finishes.

    Arrivals live in numpy arrays (a ring that grows by doubling), so that ``sample()`` is a few
    array copies however many requests the window holds: the live router takes it on its event
    loop and computes ``stats_of(sample)`` in a worker thread.

    Args:
        edges: bin edges from ``make_bin_edges``.
        window_s: how far back arrivals count.
        prior_output_tokens: expected output length before any request has finished.
        output_memory: how many recent finished outputs the estimate averages.
        sub_window_s: if set, stats() also counts arrivals per bin in sub-windows of this length
            (the burstiness the stage cost's queueing term reads).
    """

    def __init__(
        self,
        edges: IntArray,
        window_s: float,
        prior_output_tokens: int,
        output_memory: int = 1024,
        sub_window_s: float | None = None,
    ):
        self.edges = edges
        self.sub_window_s = sub_window_s
        self.window_s = window_s
        self.prior_output_tokens = prior_output_tokens
        cap = 1024
        self._t = np.zeros(cap, dtype=np.float64)  # arrival_s of slots [_lo, _hi)
        self._rid = np.zeros(cap, dtype=np.int64)
        self._p = np.zeros(cap, dtype=np.int64)
        self._out = np.full(cap, -1, dtype=np.int64)  # -1: not finished yet
        self._lo = 0
        self._hi = 0
        self._slot: dict[int, int] = {}  # request id in the window -> its slot
        self._recent: deque[int] = deque(maxlen=output_memory)
        self._recent_sum = 0
        self._sorted: tuple[IntArray, FloatArray] | None = None  # recent outputs sorted, suffix sums
        self._first_s: float | None = None

    def _make_room(self) -> None:
        """Move the window to the front of the arrays, doubling them when it fills more than half."""
        n = self._hi - self._lo
        cap = len(self._t) * (2 if 2 * n > len(self._t) else 1)
        for name in ("_t", "_rid", "_p", "_out"):
            old = getattr(self, name)
            arr = np.full(cap, -1, dtype=old.dtype) if name == "_out" else np.zeros(cap, dtype=old.dtype)
            arr[:n] = old[self._lo : self._hi]
            setattr(self, name, arr)
        shift = self._lo
        self._slot = {rid: slot - shift for rid, slot in self._slot.items()}
        self._lo, self._hi = 0, n

    def add_arrival(self, request_id: int, prompt_tokens: int, now_s: float) -> None:
        """Record a newly routed request."""
        if self._first_s is None:
            self._first_s = now_s
        if self._hi == len(self._t):
            self._make_room()
        i = self._hi
        self._t[i], self._rid[i], self._p[i], self._out[i] = now_s, request_id, prompt_tokens, -1
        self._hi = i + 1
        self._slot[request_id] = i

    def add_finish(self, request_id: int, num_output_tokens: int) -> None:
        """Record a finished request's output length."""
        if len(self._recent) == self._recent.maxlen:
            self._recent_sum -= self._recent[0]
        self._recent.append(num_output_tokens)
        self._recent_sum += num_output_tokens
        self._sorted = None
        slot = self._slot.get(request_id)
        if slot is not None:
            self._out[slot] = num_output_tokens

    def expected_output_tokens(self) -> float:
        """Mean of recent finished outputs, or the prior before any finished."""
        return self._recent_sum / len(self._recent) if self._recent else float(self.prior_output_tokens)

    def expected_output_given(self, generated_tokens: int) -> float:
        """Expected final output of a request that has produced generated_tokens (not finished yet).

        The mean of recent finished outputs longer than generated_tokens (a residual-life estimate
        from finishes only); generated_tokens + 1 when none was that long; the prior before any
        finished (at least generated_tokens + 1).
        """
        if generated_tokens <= 0 or not self._recent:
            return max(self.expected_output_tokens(), float(generated_tokens + 1))
        if self._sorted is None:
            vals = np.sort(np.fromiter(self._recent, dtype=np.int64, count=len(self._recent)))
            suffix = np.concatenate([np.cumsum(vals[::-1], dtype=np.float64)[::-1], [0.0]])
            self._sorted = (vals, suffix)
        vals, suffix = self._sorted
        k = int(np.searchsorted(vals, generated_tokens, side="right"))
        n = len(vals) - k
        return float(suffix[k]) / n if n else float(generated_tokens + 1)

    def prune(self, now_s: float) -> None:
        """Forget arrivals older than the window."""
        cut = now_s - self.window_s
        lo, hi, t = self._lo, self._hi, self._t
        while lo < hi and t[lo] < cut:
            self._slot.pop(int(self._rid[lo]), None)
            lo += 1
        self._lo = lo

    def __len__(self) -> int:
        return self._hi - self._lo

    def sample(self, now_s: float) -> WindowSample:
        """Prune, then copy the window's prompts, outputs (expected where unfinished) and arrivals."""
        self.prune(now_s)
        est = int(round(self.expected_output_tokens()))
        lo, hi = self._lo, self._hi
        out = self._out[lo:hi]
        start = max(self._first_s if self._first_s is not None else now_s, now_s - self.window_s)
        return WindowSample(
            now_s, start, self._p[lo:hi].copy(), np.where(out >= 0, out, est), self._t[lo:hi].copy()
        )

    def stats_of(self, w: WindowSample) -> BinStats:
        """Per-bin rates of a window sample (pure: reads only the sample, edges and settings)."""
        now_s, start = w.now_s, w.start_s
        st = bin_stats(self.edges, w.prompts, w.outputs, max(now_s - start, 1e-3))
        if self.sub_window_s is None or now_s - start < 2.0 * self.sub_window_s:
            return st
        # whole sub-windows ending at now_s (the oldest partial one is dropped: it would read as a lull)
        num_sub = int((now_s - start) // self.sub_window_s)
        first = now_s - num_sub * self.sub_window_s
        keep = w.arrivals_s >= first
        counts = sub_window_counts(
            self.edges, w.prompts[keep], w.arrivals_s[keep], first, self.sub_window_s, num_sub
        )
        return replace(st, sub_counts=counts)

    def stats(self, now_s: float) -> BinStats:
        """Per-bin rates over the window ending at now_s."""
        return self.stats_of(self.sample(now_s))
