"""Load balance inside a stage: power-of-two peer probing, no central view needed."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from l4bench.types import InstanceView, Migration, RunningRequest


@dataclass(frozen=True)
class BalanceParams:
    """When an instance hands a request to its probed peer.

    Args:
        threshold: minimum relative load gap, (load_src - load_dst) / load_dst.
        min_gap_s: minimum absolute gap in predicted load (seconds), so idle noise moves nothing.
    """

    threshold: float = 0.3
    min_gap_s: float = 0.002


def pick_request(view: InstanceView, dst: InstanceView, upper_bound: int | None) -> RunningRequest | None:
    """The request to hand over: queued ones first (nothing to recompute), then the shortest context.

    Only requests still inside the stage (context below its upper bound) that fit into the
    destination's free KV are candidates.
    """
    room = dst.kv_capacity_tokens - dst.kv_used_tokens
    best: RunningRequest | None = None
    for r in view.requests:
        if upper_bound is not None and r.context_tokens >= upper_bound:
            continue
        if r.context_tokens > room:
            continue
        if best is None or (not r.is_waiting, r.context_tokens, r.request_id) < (
            not best.is_waiting,
            best.context_tokens,
            best.request_id,
        ):
            best = r
    return best


def balance_stage(
    members: Sequence[int],
    views: Mapping[int, InstanceView],
    loads: Mapping[int, float],
    upper_bound: int | None,
    rng: np.random.Generator,
    params: BalanceParams,
) -> list[Migration]:
    """One round of power-of-two probing in one stage: at most one move per instance pair.

    Every instance, in random order, probes one random peer of the stage; if it is more loaded than
    the peer by the threshold (relative and absolute) it hands one request over. An instance takes
    part in at most one move per round, so moves never cascade within a round.
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
        req = pick_request(views[src], views[dst], upper_bound)
        if req is None:
            continue
        moves.append(Migration(req.request_id, src, dst, upper_bound))
        busy.update((src, dst))
    return moves
