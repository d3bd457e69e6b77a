"""Entry queueing of a stage: G/G/m waiting (Sakasegawa M/M/m times the Allen-Cunneen factor).

Split from cost.py; ``stage_cost_table`` adds ``queueing_term`` to every objective's E2E.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from l4bench.l4.histogram import BinStats, IntArray

if TYPE_CHECKING:
    from l4bench.l4.cost import AffineStepTime, CostParams

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]


def variability(st: BinStats, edges: IntArray, step: AffineStepTime, p: CostParams) -> FloatArray:
    """(c_a^2 + c_s^2) / 2 of every stage [i, j) (Allen-Cunneen G/G/m factor), shape (K+1, K+1).

    c_a^2: index of dispersion (variance / mean) of the stage's arrival counts over the window's
    sub-windows (1 for Poisson; bursty traces read far above 1; 1 when no sub-window counts).
    c_s^2: squared coefficient of variation of the prefill service time of the requests entering
    the stage (prompts by bin, hop-ins at the stage's lower edge): prefill is served first come,
    first served, so a short prompt queued behind a long one waits for all of its chunks (the
    size-interval-assignment effect); decode is shared by the whole batch and does not add to it.
    """
    K = len(edges) - 1

    def prefill_s(tokens: FloatArray, attn: FloatArray) -> FloatArray:
        out: FloatArray = (
            step.per_token_s * tokens
            + step.per_attention_pair_s * attn
            + step.base_s * np.ceil(tokens / p.chunk_tokens)
        )
        return out

    n = st.prompt_rate
    mean_p = st.prefill_tokens / np.maximum(n, 1e-12)
    s_bin = np.where(n > 0, prefill_s(mean_p, st.prefill_attn / np.maximum(n, 1e-12)), 0.0)
    c0, c1, c2 = (np.concatenate([[0.0], np.cumsum(x)]) for x in (n, n * s_bin, n * s_bin * s_bin))
    m0, m1, m2 = (c[None, :] - c[:, None] for c in (c0, c1, c2))
    if p.is_migrating:  # hop-ins at edge i recompute hop_recompute * e_i tokens
        e = edges.astype(np.float64)[: K + 1]
        hop = st.cross_rate[: K + 1]
        s_hop = prefill_s(p.hop_recompute * e, (p.hop_recompute * e) ** 2 / 2.0)
        m0, m1, m2 = m0 + hop[:, None], m1 + (hop * s_hop)[:, None], m2 + (hop * s_hop * s_hop)[:, None]
    mean = m1 / np.maximum(m0, 1e-12)
    cs2 = np.where(mean > 0, m2 / np.maximum(m0, 1e-12) / np.maximum(mean * mean, 1e-30) - 1.0, 1.0)
    ca2 = np.ones_like(cs2)
    if st.sub_counts is not None and st.sub_counts.shape[1] >= 2:
        cum = np.concatenate([np.zeros((1, st.sub_counts.shape[1])), np.cumsum(st.sub_counts, axis=0)])
        counts = cum[None, :, :] - cum[:, None, :]  # [i, j, t]: arrivals of stage [i, j) in sub-window t
        mu = counts.mean(axis=2)
        ca2 = np.where(mu > 0, counts.var(axis=2, ddof=1) / np.maximum(mu, 1e-12), 1.0)
    out: FloatArray = (np.maximum(ca2, 0.0) + np.maximum(cs2, 0.0)) / 2.0
    return out


def queueing_term(
    work: FloatArray, lam: FloatArray, rho: FloatArray, ok: BoolArray, m: FloatArray, var: FloatArray
) -> FloatArray:
    """Request-seconds per second spent queueing to enter a stage of m instances (G/G/m).

    The fluid model above has no arrival variance: it rates one instance at utilization rho as
    well as eight. Entering requests wait W = S * rho^(sqrt(2(m+1)) - 1) / (m (1 - rho)) * var
    (M/M/m by Sakasegawa, times the Allen-Cunneen factor var = (c_a^2 + c_s^2) / 2) with
    S = work / lam the instance-seconds of marginal work one request brings; the term is lam * W.
    Small stages run hot pay for it, bursty arrivals (c_a^2 >> 1) make them pay more, and mixing
    short and long prompts in one FCFS prefill queue (c_s^2 >> 1) costs too, so the DP splits
    off a stage only where that, not the fluid model alone, says it gains.
    """
    r = np.where(ok, np.clip(rho, 0.0, 0.999), 0.0)
    service = work / np.maximum(lam, 1e-12)
    wait = service * r ** (np.sqrt(2.0 * (m + 1.0)) - 1.0) / (m * (1.0 - r)) * var
    out: FloatArray = np.where(lam > 0, lam * wait, 0.0)
    return out
