"""Information boundary: L4 decides from prompt, arrival and finished requests, never true lengths.

The same simulated run twice, with every request's true output length changed but its max_tokens
kept, must give identical L4 decisions until the first request finishes (before that, nothing a
router could observe differs between the two runs).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import numpy as np
import pytest
from l4_helpers import LinearPerfModel, cluster

from l4bench.l4 import L4Scheduler
from l4bench.sim.simulator import Simulator
from l4bench.types import Decision, InstanceView, Migration, Request, RequestView
from l4bench.workloads.max_tokens import ModelMaxTokens, TrueLengthMaxTokens

MAX_MODEL_LEN = 16384


class RecordingScheduler:
    """Wraps a scheduler; records every decision (time, kind, request, outcome) and the first finish."""

    def __init__(self, inner: L4Scheduler):
        self.inner = inner
        self.name = inner.name
        self.rebalance_interval_s = inner.rebalance_interval_s
        self.events: list[tuple[Any, ...]] = []
        self.first_finish_s: float | None = None

    def route(self, req: RequestView, views: Sequence[InstanceView], now_s: float) -> Decision:
        assert type(req) is RequestView and not hasattr(req, "output_tokens")
        d = self.inner.route(req, views, now_s)
        self.events.append((now_s, "route", req.request_id, d.instance_id, d.hop_at_tokens))
        return d

    def on_bound(
        self, req: RequestView, context_tokens: int, src: int, views: Sequence[InstanceView], now_s: float
    ) -> Decision:
        assert type(req) is RequestView
        d = self.inner.on_bound(req, context_tokens, src, views, now_s)
        self.events.append((now_s, "bound", req.request_id, context_tokens, d.instance_id, d.hop_at_tokens))
        return d

    def rebalance(self, views: Sequence[InstanceView], now_s: float) -> list[Migration]:
        moves = self.inner.rebalance(views, now_s)
        self.events.append((now_s, "rebalance", tuple(moves), tuple(self.inner.layout.end_bins)))
        return moves

    def on_finish(self, req: RequestView, num_output_tokens: int, now_s: float) -> None:
        if self.first_finish_s is None:
            self.first_finish_s = now_s
        self.inner.on_finish(req, num_output_tokens, now_s)


def workload(seed: int) -> list[Request]:
    """300 requests, log-uniform prompts 100..8k, 60 req/s, true outputs 400..3000 tokens."""
    rng = np.random.default_rng(seed)
    n = 300
    prompts = np.exp(rng.uniform(np.log(100), np.log(8000), n)).astype(int)
    arrivals = np.cumsum(rng.exponential(1 / 60.0, n))
    outputs = rng.integers(400, 3000, n)
    reqs = [Request(i, float(arrivals[i]), int(prompts[i]), int(outputs[i])) for i in range(n)]
    return ModelMaxTokens().assign(reqs, MAX_MODEL_LEN)


def changed_outputs(reqs: list[Request], seed: int) -> list[Request]:
    """Same requests and max_tokens, every true output length different."""
    rng = np.random.default_rng(seed)
    return [replace(r, output_tokens=int(r.output_tokens + rng.integers(1, 500))) for r in reqs]


def run(reqs: list[Request], **kw: Any) -> RecordingScheduler:
    spec = cluster(8, max_model_len=MAX_MODEL_LEN)
    sched = L4Scheduler(
        spec, LinearPerfModel(), np.random.default_rng(0), num_bins=16, min_history_requests=32,
        resolve_interval_s=1.0, rebalance_interval_s=0.5, refine_min_interval_s=1.0, **kw,
    )
    rec = RecordingScheduler(sched)
    Simulator(LinearPerfModel(), spec, timeline_interval_s=None, show_progress=False).run(reqs, rec)
    return rec


def before(rec: RecordingScheduler, t_s: float) -> list[tuple[Any, ...]]:
    return [e for e in rec.events if e[0] < t_s]


@pytest.mark.parametrize("seed", [0, pytest.param(1, marks=pytest.mark.slow)])
def test_l4_decisions_do_not_depend_on_true_output_lengths(seed):
    reqs = workload(seed)
    # a long prior output makes requests take hop bounds before anything finished
    a = run(reqs, prior_output_tokens=1500)
    b = run(changed_outputs(reqs, seed + 100), prior_output_tokens=1500)
    assert a.first_finish_s is not None and b.first_finish_s is not None
    cut = min(a.first_finish_s, b.first_finish_s)
    ea, eb = before(a, cut), before(b, cut)
    # the window is long enough to mean something: many routes, hop bounds set, a DP re-plan
    routes = [e for e in ea if e[1] == "route"]
    assert len(routes) >= 100
    assert any(e[4] is not None for e in routes)  # some requests got a hop bound
    assert any(e[1] == "bound" for e in ea)  # some hopped before the first finish
    assert a.inner._num_solves >= 1
    assert ea == eb
    assert a.events != b.events  # after the first finish the runs do diverge (outputs were learnt)


def test_the_comparison_detects_a_scheduler_that_reads_true_lengths():
    """Control: told the true length (oracle max_tokens + hint), L4's decisions change early."""
    reqs = workload(0)
    oracle = TrueLengthMaxTokens()
    a = run(oracle.assign(reqs, MAX_MODEL_LEN), use_max_tokens_hint=True, prior_output_tokens=64)
    b = run(oracle.assign(changed_outputs(reqs, 100), MAX_MODEL_LEN), use_max_tokens_hint=True, prior_output_tokens=64)
    assert a.first_finish_s is not None and b.first_finish_s is not None
    cut = min(a.first_finish_s, b.first_finish_s)
    assert before(a, cut) != before(b, cut)
