"""Stage cost C(i, j, m): the QoE cost of serving length bins [i, j) on m instances.

The performance model is reached through one narrow protocol (``StepTimeModel.step_time_s``). It is
probed once, at construction, on a grid of batch shapes, and summarized by an affine surrogate

    step_time = a + b * num_tokens + q * num_seqs + c * decode_context_sum + d * spread + g * num_decodes * decode_context_max
                  + h * prefill_attention_tokens + x * decode_context_max [num_decodes > T or a prefill],
    spread = ctx_sum * (1 - mean_ctx / max_ctx)

(spread: l4bench.l4.spread, the project's one definition; fitted by l4bench.l4.nnls.fit_relative,
non-negative least squares on relative error, the routine the profile fits use too). The ``d`` and
``g`` terms carry the length-mix penalty (split-KV kernels pay for the longest context in the batch);
both vanish or shrink for a length-homogeneous batch. ``x`` is a per-step cost of the longest context
alone, for steps above a fitted batch threshold or with a prefill chunk: a kernel that stops
splitting a long sequence's KV across thread blocks (vLLM's Triton unified attention above 16
sequences) makes every sequence of the step wait for the longest one, so the step pays ~1 us per
token of the longest context whatever the batch size (the measured H200 TRITON_ATTN fit's
``split_2d_context_max``). For a stage it adds to the per-step base, x * its longest
context. With the surrogate, a stage's steady state has
a closed form (see README.md), so the whole table of K^2 N costs is a few numpy expressions.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from enum import Enum
from typing import Protocol

import numpy as np
import numpy.typing as npt

from l4bench.l4.histogram import BinStats, IntArray
from l4bench.l4.nnls import fit_relative
from l4bench.l4.spread import spread_tokens, spread_tokens_array
from l4bench.perf.base import BatchShape
from l4bench.types import InstanceView

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
OVERLOAD_COST = 1e9  # fallback cost per unit of overload when no partition is feasible
MAX_CONTEXT_MIN_SEQS = (0, 4, 8, 16, 32, 64)  # candidate batch thresholds of the longest-context term
GOODPUT_TIEBREAK = 1e-4  # weight of mean E2E inside the goodput objective (breaks ties)


class StepTimeModel(Protocol):
    """The only thing the L4 core needs from a performance model."""

    def step_time_s(self, batch: BatchShape) -> float:
        """Seconds one engine step takes for this batch composition."""
        ...


class Objective(str, Enum):
    """The QoE objective the DP minimizes."""

    MEAN_E2E = "mean_e2e"
    P99 = "p99"
    GOODPUT = "goodput"


@dataclass(frozen=True)
class AffineStepTime:
    """Affine surrogate of a performance model's step time (coefficients in seconds per unit)."""

    base_s: float
    per_token_s: float
    per_seq_s: float
    per_context_token_s: float
    per_spread_token_s: float
    per_padded_token_s: float
    per_attention_pair_s: float
    per_max_context_s: float = 0.0
    max_context_min_seqs: int = 0  # the x term applies to batches of more decodes than this
    max_rel_error: float = 0.0

    def step_s(
        self,
        num_tokens: float,
        num_seqs: float,
        ctx_sum: float,
        num_decodes: float,
        ctx_max: float,
        attention: float = 0.0,
    ) -> float:
        """Surrogate step time for aggregate batch numbers."""
        spread = spread_tokens(num_decodes, ctx_sum, ctx_max)
        return (
            self.base_s
            + self.per_token_s * num_tokens
            + self.per_seq_s * num_seqs
            + self.per_context_token_s * ctx_sum
            + self.per_spread_token_s * spread
            + self.per_padded_token_s * num_decodes * ctx_max
            + self.per_attention_pair_s * attention
            + self.per_max_context_s * (ctx_max if self.pays_max_context(num_tokens, num_decodes) else 0.0)
        )

    def pays_max_context(self, num_tokens: float, num_decodes: float) -> bool:
        """Whether the longest-context term applies: more decodes than its threshold, or a prefill chunk."""
        return num_decodes > self.max_context_min_seqs or num_tokens > num_decodes

    def view_load_s(self, view: InstanceView, chunk_tokens: int) -> float:
        """Predicted load of an instance: its step time, stretched by queued prefill chunks."""
        waiting = view.num_waiting_tokens
        step = self.step_s(
            view.num_running + min(waiting, chunk_tokens),
            view.num_running + min(view.num_waiting, 1),
            view.num_context_tokens,
            view.num_running,
            view.max_context_tokens,
        )
        return step * (1.0 + waiting / chunk_tokens)


def _probe_shapes(max_len: int, max_seqs: int, chunk: int, kv_cap: int) -> list[BatchShape]:
    """A deterministic grid of decode / mixed / prefill batches inside the cluster's limits."""
    shapes: list[BatchShape] = []
    his = sorted({int(x) for x in np.geomspace(min(128, max_len), max_len, 6)})
    sizes = sorted({1, 4, 16, 64, max(1, min(256, max_seqs))})
    for bsz, hi, ratio, pf in itertools.product(sizes, his, (1, 8, 64), (0, chunk // 2)):
        lo = max(1, hi // ratio)
        ctx_sum = hi if bsz == 1 else hi + (bsz - 1) * (lo + hi) // 2
        # contexts spread evenly between lo and hi, and one hi among bsz - 1 at lo (the mix L4 avoids)
        sums = {ctx_sum, hi + (bsz - 1) * lo} if bsz > 2 and ratio > 1 else {ctx_sum}
        for total in sorted(t for t in sums if t <= kv_cap):
            shapes.append(
                BatchShape(
                    num_prefill_tokens=pf,
                    num_prefill_seqs=int(pf > 0),
                    prefill_attention_tokens=pf * pf / 2.0,
                    num_decodes=bsz,
                    decode_context_sum=total,
                    decode_context_max=hi,
                    decode_context_min=lo if bsz > 1 else hi,
                )
            )
    for pf, before in itertools.product((256, max(256, chunk // 4), chunk), (0, max_len // 4)):
        shapes.append(
            BatchShape(
                num_prefill_tokens=pf, num_prefill_seqs=1, prefill_attention_tokens=pf * (before + pf / 2.0)
            )
        )
    return shapes


def fit_affine(
    perf: StepTimeModel, max_model_len: int, max_num_seqs: int, chunk_tokens: int, kv_capacity_tokens: int
) -> AffineStepTime:
    """Probe ``perf`` on a grid of batch shapes and fit the affine surrogate (relative error).

    The longest-context term applies to steps with a prefill chunk or more decodes than a threshold,
    picked from MAX_CONTEXT_MIN_SEQS by the lowest mean relative error (a kernel may switch to an
    unsplit path above some batch size or with a prefill in the batch, e.g. vLLM's Triton unified
    attention); ties keep the smallest.
    """
    shapes = _probe_shapes(max_model_len, max_num_seqs, chunk_tokens, kv_capacity_tokens)
    base = np.array(
        [
            [
                1.0,
                s.num_tokens,
                s.num_decodes + s.num_prefill_seqs,
                s.decode_context_sum,
                spread_tokens(s.num_decodes, s.decode_context_sum, s.decode_context_max),
                s.num_decodes * s.decode_context_max,
                s.prefill_attention_tokens,
            ]
            for s in shapes
        ]
    )
    y = np.array([perf.step_time_s(s) for s in shapes])
    decodes = np.array([s.num_decodes for s in shapes])
    has_prefill = np.array([s.num_prefill_tokens > 0 for s in shapes])
    ctx_max = np.array([float(s.decode_context_max) for s in shapes])
    best: tuple[float, int, FloatArray, FloatArray] | None = None
    for min_seqs in MAX_CONTEXT_MIN_SEQS:
        x = np.column_stack([base, np.where((decodes > min_seqs) | has_prefill, ctx_max, 0.0)])
        coef = fit_relative(x, y)
        rel = np.abs(x @ coef - y) / np.maximum(y, 1e-9)
        if best is None or rel.mean() < best[0] - 1e-9:
            best = (float(rel.mean()), min_seqs, coef, rel)
    assert best is not None
    _, min_seqs, coef, rel = best
    a, b, q, c, d, g, h, x_max = (float(v) for v in coef)
    return AffineStepTime(a, b, q, c, d, g, h, x_max, min_seqs, max_rel_error=float(rel.max()))


@dataclass(frozen=True)
class CostParams:
    """Knobs of the stage-cost model (see README.md for their meaning)."""

    objective: Objective
    max_utilization: float
    kv_capacity_tokens: int
    max_num_seqs: int
    chunk_tokens: int
    hop_recompute: float  # fraction of the context prefilled again on a hop (1 = recompute; 0 = free hop)
    is_migrating: bool
    slo_ttft_s: float
    slo_tpot_s: float
    hop_stall_fixed_s: float = 0.0  # latency a hop adds (migration model), not instance work
    hop_stall_per_token_s: float = 0.0  # ... plus this per context token (KV transfer: bytes / bandwidth)


@dataclass(frozen=True)
class CostTable:
    """cost[i, j, m] (inf if infeasible), fallback (always finite) and predicted step time, (K+1, K+1, N+1)."""

    cost: FloatArray
    fallback: FloatArray
    step_s: FloatArray


def _range_max(x: FloatArray) -> FloatArray:
    """M[i, j] = max(x[i:j]) for i < j (0 elsewhere), shape (K+1, K+1)."""
    K = len(x)
    tri = np.where(np.arange(K)[None, :] >= np.arange(K)[:, None], x[None, :], 0.0)
    out = np.zeros((K + 1, K + 1))
    out[:K, 1:] = np.maximum.accumulate(tri, axis=1)
    return out


def _pair_sums(st: BinStats, edges: IntArray, p: CostParams) -> tuple[FloatArray, ...]:
    """Per (i, j) table of stage entry rate, prompt rate, prefill, attention, decode steps/sums, max ctx."""

    def rng(x: FloatArray) -> FloatArray:
        c = np.concatenate([[0.0], np.cumsum(x)])
        out: FloatArray = c[None, :] - c[:, None]  # [i, j] = sum x[i:j]
        return out

    e = edges.astype(np.float64)
    hop = st.cross_rate[: len(e)] if p.is_migrating else np.zeros(len(e))
    prompts = rng(st.prompt_rate)
    lam = prompts + hop[:, None]
    pre = rng(st.prefill_tokens) + (p.hop_recompute * e * hop)[:, None]
    attn = rng(st.prefill_attn) + (p.hop_recompute * e * e / 2.0 * hop)[:, None]
    if p.is_migrating:
        dec, dsum, dmax = rng(st.dec_steps), rng(st.dec_ctx_sum), _range_max(st.dec_ctx_max)
    else:
        dec, dsum, dmax = rng(st.pdec_steps), rng(st.pdec_ctx_sum), _range_max(st.pdec_ctx_max)
    return lam, prompts, pre, attn, dec, dsum, dmax


def stage_cost_table(
    st: BinStats, edges: IntArray, num_instances: int, step: AffineStepTime, p: CostParams
) -> CostTable:
    """All stage costs C(i, j, m) for the window's histogram, as one vectorized computation."""
    from l4bench.l4.queueing import queueing_term, variability  # noqa: PLC0415 - queueing imports cost's types

    K, N = len(edges) - 1, num_instances
    ii, jj = np.triu_indices(K + 1, k=1)  # all stages [i, j) with i < j
    lam, prompts, pre, attn, dec, dsum, dmax = (t[ii, jj][:, None] for t in _pair_sums(st, edges, p))
    inv_m = 1.0 / np.arange(1, N + 1, dtype=np.float64)[None, :]
    spread = spread_tokens_array(dec, dsum, dmax)
    work = (
        step.per_token_s * (pre + dec)
        + step.per_seq_s * (dec + lam)
        + step.per_context_token_s * dsum
        + step.per_spread_token_s * spread
        + step.per_padded_token_s * dec * dmax
        + step.per_attention_pair_s * attn
    )
    rho = work * inv_m  # fraction of each instance's time spent on marginal (load-proportional) work
    ok = rho < p.max_utilization
    # the longest-context term is a per-step cost, so it joins the base of the stage's steps, for stages
    # whose instances batch more decodes than its threshold (the batch judged with the term in the step)
    slack = np.where(ok, 1.0 - rho, 1.0)
    tau = step.base_s / slack
    if step.per_max_context_s > 0.0:
        with_max = (step.base_s + step.per_max_context_s * dmax) / slack
        tau = np.where(dec * inv_m * with_max > step.max_context_min_seqs, with_max, tau)
    batch = dec * inv_m * tau
    kv = dsum * inv_m * tau
    # resident KV fluctuates: a Poisson number of residents (mean = batch) with E[L^2] <= E[L] L_max
    # gives std = sqrt(kv L_max); a few 100k-token contexts per instance swing it by a large share
    # of capacity, and an instance past capacity preempts and recomputes (a thrash the fluid mean
    # does not show), so the mean plus one standard deviation must fit
    kv_std = np.sqrt(kv * dmax)
    ok &= (kv + kv_std <= p.kv_capacity_tokens) & (batch <= p.max_num_seqs)
    # request-seconds per second: every decode step and every prefill chunk step lasts tau, and a
    # chunk step also computes its chunk (b per token, h per attention pair): an entering request
    # (prompt or hop-in recompute) waits its own prefill's compute, not just chunks x tau
    prefill_compute = step.per_token_s * pre + step.per_attention_pair_s * attn
    fluid: FloatArray = tau * (dec + pre / p.chunk_tokens + lam / 2.0) + prefill_compute
    var = variability(st, edges, step, p)[ii, jj][:, None]
    e2e = fluid + queueing_term(work, lam, rho, ok, np.arange(1, N + 1, dtype=np.float64)[None, :], var)
    if p.is_migrating and (p.hop_stall_fixed_s > 0 or p.hop_stall_per_token_s > 0):
        e = edges.astype(np.float64)  # hop-ins at edge i each stall fixed + per_token x e_i seconds
        stall = st.cross_rate[: len(e)] * (p.hop_stall_fixed_s + p.hop_stall_per_token_s * e)
        e2e = e2e + stall[ii][:, None]
    if p.objective is Objective.MEAN_E2E:
        cost = e2e
    elif p.objective is Objective.P99:
        cost = e2e / np.where(ok, 1.0 - rho, 1.0)
    else:
        mean_prompt = pre / np.maximum(lam, 1e-12)
        ttft = (np.ceil(mean_prompt / p.chunk_tokens) + 0.5) * tau
        viol = np.where(tau > p.slo_tpot_s, lam, np.where(ttft > p.slo_ttft_s, prompts, 0.0))
        cost = viol + GOODPUT_TIEBREAK * e2e
    overload = np.maximum.reduce(
        [rho / p.max_utilization, (kv + kv_std) / max(p.kv_capacity_tokens, 1), batch / max(p.max_num_seqs, 1)]
    )
    shape = (K + 1, K + 1, N + 1)
    out_cost, out_fb, out_step = np.full(shape, np.inf), np.full(shape, np.inf), np.full(shape, np.inf)
    out_cost[ii, jj, 1:] = np.where(ok, cost, np.inf)
    out_fb[ii, jj, 1:] = np.where(ok, cost, OVERLOAD_COST * overload)
    out_step[ii, jj, 1:] = np.where(ok, tau, math.inf)
    return CostTable(cost=out_cost, fallback=out_fb, step_s=out_step)
