"""One simulated engine instance behaving like vLLM v1: continuous batching with chunked prefill.

State changes only at step boundaries. A planned "stretch" is a run of consecutive steps: a single
step when any prefill chunk is involved, or many pure-decode steps when nothing inside the instance
can change until the stretch ends (no finish, no hop bound, no KV exhaustion, waiting queue blocked).
Its step end times are computed up front; the simulator may cut it short at any step boundary
(``truncate``) and reads the instance's state at any time lazily (``view``), so results are identical
to planning one step at a time.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections import deque
from dataclasses import dataclass

import numpy as np

from l4bench.l4.spread import length_spread, length_spread_array
from l4bench.metrics.records import RequestRecord
from l4bench.perf.base import BatchShape, PerfModel
from l4bench.sim.stepping import BLOCK_TOKENS, SMALL_STRETCH, decode_times, num_blocks
from l4bench.types import ClusterSpec, InstanceView, Migration, Request, RequestView, RunningRequest

_NO_LIMIT = 1 << 62


@dataclass(slots=True, eq=False)
class SimRequest:
    """Mutable simulator state of one request (identity semantics).

    ``req`` holds the true output length (the engine's stop); the scheduler is only ever handed
    ``view`` (prompt, arrival, the client's max_tokens).
    """

    req: Request
    record: RequestRecord
    context: int  # prompt + generated so far (all hops)
    view: RequestView | None = None  # what the scheduler sees (req.view(), built once)
    computed: int = 0  # tokens with KV on the current instance
    generated: int = 0
    generated_here: int = 0
    hop_at: int | None = None
    instance: int = -1  # -1 while in transit
    blocks: int = 0
    left_s: float | None = None  # when it last left an instance (stall accounting)
    pending: Migration | None = None  # rebalance move to perform at the end of the in-flight step
    num_new: int = 0  # tokens scheduled in the in-flight step
    kv_moved: int = 0  # in transit by KV transfer: tokens whose KV arrives with it


@dataclass(slots=True)
class Stretch:
    """Planned steps of one instance: who runs and when each step ends."""

    reqs: list[SimRequest]
    ends: list[float]
    is_decode: bool
    num_steps: int  # steps to apply when the stretch's event fires (may shrink on truncation)
    num_decodes: int = 0
    context_max: int = 0  # longest / shortest decoding context at the first step
    context_min: int = 0
    context_sum: int = 0  # decoding contexts' sum at the first step


class SimInstance:
    """Running batch, waiting queue and KV blocks of one instance."""

    def __init__(self, instance_id: int, cluster: ClusterSpec, perf: PerfModel, fast_forward: bool = True):
        self.instance_id = instance_id
        self.perf = perf
        self.max_num_seqs = cluster.max_num_seqs
        self.max_num_batched_tokens = cluster.max_num_batched_tokens
        self.capacity_blocks = cluster.kv_capacity_tokens // BLOCK_TOKENS
        self.fast_forward = fast_forward
        self.running: list[SimRequest] = []
        self.waiting: deque[SimRequest] = deque()
        self.free_blocks = self.capacity_blocks
        self.stretch: Stretch | None = None
        self.is_busy = False  # a step event (stretch end or kick) is scheduled
        self.version = 0
        self.spread_sum = 0.0
        self.spread_steps = 0
        self.num_steps = 0
        self.preempted: list[SimRequest] = []  # filled by plan(); the simulator books them
        self.time_scale = 1.0  # multiplies every planned step time (GpuContention: the neighbours' load)

    # ------------------------------------------------------------------ planning
    def plan(self, now_s: float) -> Stretch | None:
        """Form the next step (and extend it to a decode stretch when safe); None when idle."""
        budget = self.max_num_batched_tokens
        scheduled: list[SimRequest] = []
        self.preempted = []
        i = 0
        while i < len(self.running) and budget > 0:
            r = self.running[i]
            n_new = min(r.context - r.computed, budget)
            need = num_blocks(r.computed + n_new) - r.blocks
            is_self_preempted = False
            while need > self.free_blocks:
                victim = self.running.pop()  # lowest priority: the most recently admitted
                self._preempt(victim)
                if victim is r:
                    is_self_preempted = True
                    break
            if is_self_preempted:
                break
            self.free_blocks -= need
            r.blocks += need
            r.num_new = n_new
            budget -= n_new
            scheduled.append(r)
            i += 1
        if not self.preempted:
            budget = self._admit(now_s, budget, scheduled)
        if not scheduled:
            return None
        return self._make_stretch(now_s, scheduled)

    def _preempt(self, r: SimRequest) -> None:
        """Recompute-style preemption: free its KV, back to the front of the waiting queue."""
        r.record.recomputed_tokens += r.computed
        r.record.num_preemptions += 1
        self.free_blocks += r.blocks
        r.blocks = 0
        r.computed = 0
        self.waiting.appendleft(r)
        self.preempted.append(r)

    def _admit(self, now_s: float, budget: int, scheduled: list[SimRequest]) -> int:
        """Admit waiting requests FCFS while budget, seats and KV allow."""
        while self.waiting and budget > 0 and len(self.running) < self.max_num_seqs:
            r = self.waiting[0]
            n_new = min(r.context - r.computed, budget)
            need = num_blocks(r.computed + n_new)  # computed > 0 only for KV moved in with it
            if need > self.free_blocks:
                break
            self.waiting.popleft()
            self.running.append(r)
            self.free_blocks -= need
            r.blocks = need
            r.num_new = n_new
            budget -= n_new
            scheduled.append(r)
            if r.left_s is not None:
                r.record.stall_s += now_s - r.left_s
                r.record.hop_stalls_s.append(now_s - r.left_s)
                r.left_s = None
        return budget

    def _make_stretch(self, now_s: float, scheduled: list[SimRequest]) -> Stretch:
        """Batch shape -> step time(s); a pure-decode batch becomes a multi-step stretch."""
        n_dec = 0
        ctx_sum = 0
        ctx_max = 0
        ctx_min = _NO_LIMIT
        n_pre = 0
        pre_tokens = 0
        pre_attn = 0.0
        for r in scheduled:
            if r.context - r.computed == 1:
                n_dec += 1
                ctx_sum += r.context
                ctx_max = max(ctx_max, r.context)
                ctx_min = min(ctx_min, r.context)
            else:
                n_pre += 1
                pre_tokens += r.num_new
                pre_attn += r.num_new * (r.computed + r.num_new / 2)
        ctx_min = ctx_min if n_dec else 0
        if n_pre == 0 and self.fast_forward and not self.preempted:
            k = self._stretch_len(scheduled)
        else:
            k = 1
        if k == 1 or n_pre:
            shape = BatchShape(pre_tokens, n_pre, pre_attn, n_dec, ctx_sum, ctx_max, ctx_min)
            ends = [now_s + self.perf.step_time_s(shape) * self.time_scale]
        else:
            dts = decode_times(self.perf, n_dec, ctx_sum, ctx_max, ctx_min, k)
            if self.time_scale != 1.0:
                dts = [dt * self.time_scale for dt in dts]
            if k <= SMALL_STRETCH:
                ends = []
                t = now_s
                for dt in dts:
                    t += dt
                    ends.append(t)
            else:  # sequential accumulation: bit-identical to the loop above
                ends = np.add.accumulate(np.array([now_s, *dts])).tolist()[1:]
        return Stretch(scheduled, ends, n_pre == 0, k, n_dec, ctx_max, ctx_min, ctx_sum)

    def _stretch_len(self, scheduled: list[SimRequest]) -> int:
        """Steps until the first finish / hop bound / KV exhaustion (at least 1)."""
        k = _NO_LIMIT
        for r in scheduled:
            k = min(k, r.req.output_tokens - r.generated)
            if r.hop_at is not None:
                k = min(k, max(1, r.hop_at - r.context))
        k = max(1, k)
        if self._extra_blocks(scheduled, k - 1) <= self.free_blocks:
            return k
        lo, hi = 0, k - 2  # the last decode step whose KV still fits (step 0 is allocated already)
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if self._extra_blocks(scheduled, mid) <= self.free_blocks:
                lo = mid
            else:
                hi = mid - 1
        return lo + 1

    @staticmethod
    def _extra_blocks(scheduled: list[SimRequest], j: int) -> int:
        """Blocks needed beyond those already allocated, for decode step j of a stretch."""
        return sum(num_blocks(r.context + j) - r.blocks for r in scheduled)

    # ------------------------------------------------------------------ applying
    def steps_done(self, now_s: float, inclusive: bool) -> int:
        """Steps of the current stretch finished by now (ends < now, or <= now when inclusive)."""
        st = self.stretch
        if st is None:
            return 0
        return (bisect_right if inclusive else bisect_left)(st.ends, now_s, 0, st.num_steps)

    def truncate(self, now_s: float, inclusive: bool) -> float | None:
        """Cut the stretch after the step in flight at now; returns its end time (None if idle/no change)."""
        st = self.stretch
        if st is None:
            return None
        m = self.steps_done(now_s, inclusive)
        if m + 1 >= st.num_steps:
            return None
        st.num_steps = m + 1
        return st.ends[m]

    def apply(self) -> list[SimRequest]:
        """Apply the stretch's steps; returns requests that emitted a token in its last step."""
        st = self.stretch
        assert st is not None
        self.stretch = None
        k = st.num_steps
        self.num_steps += k
        if st.num_decodes >= 2:
            if k == 1:
                self.spread_sum += length_spread(st.num_decodes, st.context_sum, st.context_max)
            else:
                steps = np.arange(k, dtype=np.float64)
                self.spread_sum += float(np.sum(length_spread_array(
                    np.full(k, float(st.num_decodes)), st.context_sum + st.num_decodes * steps, st.context_max + steps)))
            self.spread_steps += k
        times = st.ends[:k]
        emitted: list[SimRequest] = []
        for r in st.reqs:
            if st.is_decode:
                r.computed += k
                r.context += k
                r.generated += k
                r.generated_here += k
                blocks = num_blocks(r.computed)
                self.free_blocks -= blocks - r.blocks
                r.blocks = blocks
                r.record.token_times_s.extend(times)
                emitted.append(r)
            else:
                r.computed += r.num_new
                if r.computed == r.context:
                    r.context += 1
                    r.generated += 1
                    r.generated_here += 1
                    r.record.token_times_s.append(times[0])
                    emitted.append(r)
            if r.record.first_token_s is None and r.record.token_times_s:
                r.record.first_token_s = r.record.token_times_s[0]
        return emitted

    # ------------------------------------------------------------------ observing
    def view(self, now_s: float, inclusive: bool, with_requests: bool = False) -> InstanceView:
        """The instance as a scheduler sees it at now (steps ending before now applied lazily)."""
        st = self.stretch
        m = self.steps_done(now_s, inclusive) if st is not None and st.is_decode else 0
        moving = set(map(id, st.reqs)) if m and st is not None and len(st.reqs) != len(self.running) else None
        ctx_sum = 0
        ctx_max = 0
        ctx_min = _NO_LIMIT
        used = self.capacity_blocks - self.free_blocks
        running: list[RunningRequest] = []
        for r in self.running:
            adv = m if moving is None or id(r) in moving else 0
            c = r.context + adv
            ctx_sum += c
            ctx_max = max(ctx_max, c)
            ctx_min = min(ctx_min, c)
            if adv:
                used += num_blocks(c) - r.blocks
            if with_requests:
                running.append(RunningRequest(r.req.request_id, r.req.prompt_tokens, c, r.generated + adv))
        waiting_tokens = sum(r.context - r.computed for r in self.waiting)
        if with_requests:
            running.extend(
                RunningRequest(r.req.request_id, r.req.prompt_tokens, r.context, r.generated, True)
                for r in self.waiting
            )
        return InstanceView(
            instance_id=self.instance_id,
            num_running=len(self.running),
            num_waiting=len(self.waiting),
            num_context_tokens=ctx_sum,
            num_waiting_tokens=waiting_tokens,
            max_context_tokens=ctx_max,
            min_context_tokens=ctx_min if self.running else 0,
            kv_used_tokens=used * BLOCK_TOKENS,
            kv_capacity_tokens=self.capacity_blocks * BLOCK_TOKENS,
            requests=tuple(running),
        )

    def remove_waiting(self, r: SimRequest) -> None:
        """Take a queued request out (for a migration); its partial KV, if any, is freed."""
        self.waiting.remove(r)
        self.free_blocks += r.blocks
        r.blocks = 0

    def remove_running(self, r: SimRequest) -> None:
        """Take a running request out at a step boundary; its KV is freed."""
        self.running.remove(r)
        self.free_blocks += r.blocks
        r.blocks = 0

    @property
    def batch_spread(self) -> float:
        """Mean over steps with >= 2 decodes of their length spread (l4bench.l4.spread: 1 - mean/max; 0 if none)."""
        return self.spread_sum / self.spread_steps if self.spread_steps else 0.0
