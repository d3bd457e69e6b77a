"""Load balance inside a stage: power-of-two peer probing, no central view needed."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np

from l4bench.types import InstanceView, Migration, RunningRequest

#: Predicted load (seconds) of an instance view.
LoadFn = Callable[[InstanceView], float]

#: Running requests (shortest contexts first) evaluated per probe, besides every queued one.
MAX_RUNNING_CANDIDATES = 4


@dataclass(frozen=True)
class BalanceParams:
    """When an instance hands a request to its probed peer.

    Args:
        threshold: minimum relative load gap, (load_src - load_dst) / load_dst, to consider a move.
        min_gap_s: minimum absolute gap in predicted load (seconds), so idle noise moves nothing;
            a move must also lower the pair's larger predicted load by at least this much.
    """

    threshold: float = 0.3
    min_gap_s: float = 0.002


def without(view: InstanceView, r: RunningRequest) -> InstanceView:
    """The source's view after r leaves it."""
    if r.is_waiting:
        return replace(  # a queued request still has (up to) its whole context to prefill
            view,
            num_waiting=max(0, view.num_waiting - 1),
            num_waiting_tokens=max(0, view.num_waiting_tokens - r.context_tokens),
        )
    others = [q.context_tokens for q in view.requests if not q.is_waiting and q.request_id != r.request_id]
    return replace(
        view,
        num_running=max(0, view.num_running - 1),
        num_context_tokens=max(0, view.num_context_tokens - r.context_tokens),
        max_context_tokens=max(others, default=0),
        kv_used_tokens=max(0, view.kv_used_tokens - r.context_tokens),
    )


def with_added(view: InstanceView, r: RunningRequest) -> InstanceView:
    """The destination's view after r arrives: queued, its whole context to prefill (recompute)."""
    return replace(
        view,
        num_waiting=view.num_waiting + 1,
        num_waiting_tokens=view.num_waiting_tokens + r.context_tokens,
    )


def pick_request(
    view: InstanceView,
    dst: InstanceView,
    upper_bound: int | None,
    load: LoadFn | None = None,
    min_gain_s: float = 0.0,
) -> RunningRequest | None:
    """The request whose move lowers the pair's larger predicted load the most (None: no move helps).

    Candidates: every queued request and the few shortest running ones, still inside the stage
    (context below its upper bound) and fitting the destination's free KV. A moved request costs
    the destination a prefill of its whole context (recompute), so handing over an instance's only
    request, or a long running one, is rejected when it would just move (or grow) the bottleneck.
    Without a load function, the first candidate (queued first, then shortest context) is taken.
    """
    room = dst.kv_capacity_tokens - dst.kv_used_tokens
    cands = [
        r
        for r in view.requests
        if (upper_bound is None or r.context_tokens < upper_bound) and r.context_tokens <= room
    ]
    cands.sort(key=lambda r: (not r.is_waiting, r.context_tokens, r.request_id))
    queued = [r for r in cands if r.is_waiting]
    cands = queued + [r for r in cands if not r.is_waiting][:MAX_RUNNING_CANDIDATES]
    if load is None:
        return cands[0] if cands else None
    before = load(view)
    best, best_peak = None, before - min_gain_s
    for r in cands:
        peak = max(load(without(view, r)), load(with_added(dst, r)))
        if peak < best_peak:
            best, best_peak = r, peak
    return best


def balance_stage(  # noqa: PLR0913 - the stage's state plus the policy
    members: Sequence[int],
    views: Mapping[int, InstanceView],
    loads: Mapping[int, float],
    upper_bound: int | None,
    rng: np.random.Generator,
    params: BalanceParams,
    load: LoadFn | None = None,
) -> list[Migration]:
    """One round of power-of-two probing in one stage: at most one move per instance pair.

    Every instance, in random order, probes one random peer of the stage; if it is more loaded than
    the peer by the threshold (relative and absolute) it hands over the request whose move lowers
    the pair's larger predicted load by at least ``min_gap_s`` (recompute on the peer included).
    An instance takes part in at most one move per round, so moves never cascade within a round.
    """
    ids = [i for i in members if i in views and views[i].is_healthy]
    if len(ids) < 2:
        return []
    busy: set[int] = set()
    moves: list[Migration] = []
    for src in (ids[int(k)] for k in rng.permutation(len(ids))):
        peers = [i for i in ids if i != src]
        dst = peers[int(rng.integers(len(peers)))]
        if src in busy or dst in busy:
            continue
        gap = loads[src] - loads[dst]
        if gap <= params.min_gap_s or loads[src] <= loads[dst] * (1.0 + params.threshold):
            continue
        req = pick_request(views[src], views[dst], upper_bound, load, params.min_gap_s)
        if req is None:
            continue
        moves.append(Migration(req.request_id, src, dst, upper_bound))
        busy.update((src, dst))
    return moves
