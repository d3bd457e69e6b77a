"""Choosing the instance inside a stage: L4Scheduler's dispatch, as a mixin over its state.

The scheduler decides the stage (its layout) and the hop bound; this picks the healthy member where
the request's predicted E2E (dispatch.py) is least, spills to an idle neighbouring stage when that
helps, and falls back to the least loaded instance of the nearest stage.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from l4bench.l4.cost import AffineStepTime
from l4bench.l4.dispatch import DispatchLedger, externality_s, predicted_e2e_s
from l4bench.l4.histogram import LengthHistogram
from l4bench.l4.stages import StageLayout
from l4bench.types import InstanceView


def _view_at(views: Sequence[InstanceView], iid: int) -> InstanceView | None:
    """The view of instance iid (views are normally indexed by id; search otherwise)."""
    if iid < len(views) and views[iid].instance_id == iid:
        return views[iid]
    return next((v for v in views if v.instance_id == iid), None)


@dataclass(frozen=True)
class Placement:
    """What one placement brings: when, its context, and the prefill compute it sends."""

    now_s: float
    context_tokens: int
    prefill_s: float
    final_tokens: int | None = None  # prompt + max output: the context the request ends with


class StageDispatch:
    """Instance choice over the scheduler's layout, ledger, step model and output estimate."""

    layout: StageLayout
    ledger: DispatchLedger
    step: AffineStepTime
    chunk_tokens: int
    hist: LengthHistogram
    spill: bool
    externality_weight: float

    def _least_loaded(self, members: Sequence[int], views: Sequence[InstanceView]) -> int | None:
        """Healthy member with the least predicted load (the fallback outside a placement)."""
        best, best_key = None, (math.inf, 0)
        for iid in members:
            v = _view_at(views, iid)
            if v is None or not v.is_healthy:
                continue
            key = (self.step.view_load_s(v, self.chunk_tokens), v.num_running + v.num_waiting)
            if key < best_key:
                best, best_key = iid, key
        return best

    def _cheapest(
        self, members: Sequence[int], views: Sequence[InstanceView], place: Placement
    ) -> tuple[int | None, float]:
        """Healthy member where the request's predicted E2E is least (dispatch.py)."""
        best, best_cost = None, math.inf
        o = self.hist.expected_output_tokens()
        # hot path (every member, every arrival): bind lookups once
        backlog, step, chunk, now_s = self.ledger.backlog, self.step, self.chunk_tokens, place.now_s
        ext_w = self.externality_weight
        prefill_s, context_tokens = place.prefill_s, place.context_tokens
        for iid in members:
            v = _view_at(views, iid)
            if v is None or not v.is_healthy:
                continue
            cost = predicted_e2e_s(step, v, backlog(iid, now_s), prefill_s, context_tokens, o, chunk)
            if ext_w:
                cost += ext_w * externality_s(step, v, prefill_s, context_tokens, o)
            if cost < best_cost:
                best, best_cost = iid, cost
        return best, best_cost

    def _pick(
        self, stage: int, views: Sequence[InstanceView], place: Placement, prefer: int | None = None
    ) -> int:
        """Cheapest healthy instance of the stage (a neighbour's idle one if spilling helps)."""
        members = self.layout.members[stage]
        if prefer is not None and prefer in members:
            v = _view_at(views, prefer)
            if v is not None and v.is_healthy:
                return prefer
        best, cost = self._cheapest(members, views, place)
        if best is not None and self.spill and self.ledger.backlog(best, place.now_s) > 0.0:
            for s in (stage - 1, stage + 1):
                if 0 <= s < self.layout.num_stages:
                    idle = [i for i in self.layout.members[s] if self.ledger.backlog(i, place.now_s) == 0.0]
                    alt, alt_cost = self._cheapest(idle, views, place)
                    if alt is not None and alt_cost < cost:
                        best, cost = alt, alt_cost
        if best is not None:
            return best
        for s in sorted(range(self.layout.num_stages), key=lambda s: (abs(s - stage), s)):
            best = self._least_loaded(self.layout.members[s], views)
            if best is not None:
                return best
        best = self._least_loaded([v.instance_id for v in views], views)
        return best if best is not None else views[0].instance_id
