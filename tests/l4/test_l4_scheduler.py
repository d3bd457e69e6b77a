"""L4Scheduler behaviour: stage-consistent dispatch, hop bounds, refinement, balancing, ablations."""

from __future__ import annotations

import dataclasses
import json
import random

import numpy as np
import pytest
from l4_helpers import LinearPerfModel, cluster, idle_views, rng, view

from l4bench.errors import ConfigError
from l4bench.l4 import (
    L4NoBalanceScheduler,
    L4NoDpScheduler,
    L4NoMigrationScheduler,
    L4NoRefineScheduler,
    L4Scheduler,
    Partition,
    partition,
)
from l4bench.l4.dispatch import externality_s, prefill_compute_s
from l4bench.sched.base import GlobalScheduler
from l4bench.types import Request, RequestView

KW = {"num_bins": 8, "min_bin_tokens": 64}  # edges 0, 64, 142, 314, 697, 1545, 3425, 7594, 16384 (approx.)


def make(cls=L4Scheduler, n: int = 4, **kw) -> L4Scheduler:
    s = cls(cluster(n, max_model_len=16384), LinearPerfModel(), rng(0), **{**KW, **kw})
    s.apply_partition(
        Partition((4, 8), (2, 2), 0.0)
    )  # stage 0: bins 0-3 on {0, 1}; stage 1: bins 4-7 on {2, 3}
    return s


def req(rid: int, prompt: int, t: float = 0.0, out: int = 100, max_tokens: int | None = None) -> RequestView:
    """What a scheduler gets: the view (a true output `out` in the workload it cannot read)."""
    return Request(rid, t, prompt, out, max_tokens=max_tokens).view()


def test_implements_protocol_and_rejects_bad_objective():
    assert isinstance(make(), GlobalScheduler)
    with pytest.raises(ConfigError, match="objective"):
        L4Scheduler(cluster(), LinearPerfModel(), rng(), objective="p50")


def test_route_picks_stage_instance_and_sets_hop_bound():
    bound = make().upper_bound_tokens(0)
    s = make(prior_output_tokens=4 * bound)  # expected to run far past the bound: hops there
    assert bound == int(s.edges[4])
    views = [view(0, (500,) * 30), view(1, (200,)), view(2), view(3)]
    d = s.route(req(1, 100), views, 0.0)
    assert d.instance_id == 1 and d.hop_at_tokens == bound  # least loaded of stage 0
    d = s.route(req(2, bound), views, 0.0)  # a context equal to the bound belongs to the next stage
    assert d.instance_id in (2, 3) and d.hop_at_tokens is None  # last stage: no hop


def test_route_skips_unhealthy_and_falls_back_to_nearest_stage():
    s = make()
    sick = [dataclasses.replace(v, is_healthy=v.instance_id > 1) for v in idle_views(4)]
    d = s.route(req(1, 100), sick, 0.0)
    assert d.instance_id in (2, 3)


def test_on_bound_moves_to_next_stage_least_loaded_or_stays():
    s = make()
    bound = s.upper_bound_tokens(0)
    assert bound is not None
    views = [view(0), view(1), view(2, (4000,) * 10), view(3, (2000,))]
    d = s.on_bound(req(1, 100), bound, 0, views, 1.0)
    assert d.instance_id == 3 and d.hop_at_tokens is None
    d = s.on_bound(req(1, 100), bound, 2, views, 1.0)  # src already serves that stage: stay
    assert d.instance_id == 2


def loaded_views(detail: bool = True):
    return [
        view(0, (600,) * 40, (300, 200), detail),
        view(1, (600,) * 40, (), detail),
        view(2, (), (), detail),
        view(3, (), (), detail),
    ]


def test_refinement_moves_boundary_toward_less_loaded_with_hysteresis():
    s = make(refine_min_interval_s=10.0, balance_threshold=100.0)
    s.rebalance(loaded_views(), 100.0)
    assert s.layout.end_bins == (3, 8)  # stage 0 is the pressed one: its top bin goes to stage 1
    s.rebalance(loaded_views(), 105.0)
    assert s.layout.end_bins == (3, 8)  # too soon
    s.rebalance(loaded_views(), 110.0)
    assert s.layout.end_bins == (2, 8)
    flipped = [view(0), view(1), view(2, (9000,) * 20, (), True), view(3, (9000,) * 20, (), True)]
    s.rebalance(flipped, 125.0)
    assert s.layout.end_bins == (3, 8)  # now stage 1 is pressed: the boundary moves up


def test_refinement_ignores_small_gaps():
    s = make(refine_threshold=0.25)
    same = [view(i, (300,) * 4, (), True) for i in range(4)]
    s.rebalance(same, 100.0)
    assert s.layout.end_bins == (4, 8)


@pytest.mark.parametrize("prior_output_tokens", [256, 4000])
def test_balance_moves_request_to_light_peer_in_same_stage(prior_output_tokens):
    s = make(refine_threshold=100.0, prior_output_tokens=prior_output_tokens)
    views = [
        view(0, (600,) * 40, (300,), True),
        view(1, (), (), True),
        view(2, (), (), True),
        view(3, (), (), True),
    ]
    moves = s.rebalance(views, 50.0)
    assert len(moves) == 1
    m = moves[0]
    assert (m.src_instance, m.dst_instance) == (0, 1)  # never to stage 1's idle instances
    assert m.request_id == 500  # the queued request goes first (nothing to recompute)
    # its hop bound follows the expected final context (300 + expected output) vs the 689 bound
    expect = s.upper_bound_tokens(0) if prior_output_tokens > 2 * 689 else None
    assert m.hop_at_tokens == expect


def test_balance_skips_requests_past_the_stage_bound():
    s = make(refine_threshold=100.0)
    bound = s.upper_bound_tokens(0)
    views = [view(0, (bound + 10,) * 40, (), True), view(1, (), (), True), view(2), view(3)]
    assert s.rebalance(views, 50.0) == []


def test_no_balance_and_no_refine_ablations():
    nb = make(L4NoBalanceScheduler, refine_threshold=100.0)
    views = [
        view(0, (600,) * 40, (300,), True),
        view(1, (), (), True),
        view(2, (), (), True),
        view(3, (), (), True),
    ]
    assert nb.name == "l4_no_balance" and nb.rebalance(views, 50.0) == []
    nr = make(L4NoRefineScheduler)
    nr.rebalance(loaded_views(), 100.0)
    assert nr.name == "l4_no_refine" and nr.layout.end_bins == (4, 8)


def test_no_migration_never_hops():
    s = make(L4NoMigrationScheduler)
    assert s.name == "l4_no_migration" and not s.cost_params.is_migrating
    assert s.route(req(1, 100), idle_views(4), 0.0).hop_at_tokens is None


def feed(s: L4Scheduler, n: int = 200, seed: int = 3) -> list[tuple[int, int | None]]:
    """Drive a scheduler with a seeded mixed-length stream; returns its decisions."""
    g = np.random.default_rng(seed)
    out = []
    views = idle_views(s.num_instances)
    for r in range(n):
        t = r * 0.1
        p = int(g.integers(64, 400)) if g.random() < 0.9 else int(g.integers(6000, 12000))
        d = s.route(req(r, p, t), views, t)
        out.append((d.instance_id, d.hop_at_tokens))
        if r >= 20:
            s.on_finish(req(r - 20, 1, t), int(g.integers(50, 300)), t)
        if r % 20 == 0:
            s.rebalance(loaded_views(), t)
    return out


def test_dp_resolves_lazily_and_no_dp_keeps_equal_split():
    s = make(min_history_requests=50, resolve_interval_s=5.0, refine_threshold=1e9)
    feed(s, n=40)
    assert s.snapshot(4.0)["num_solves"] == 0  # cold start: not enough history yet
    feed(s, n=200)
    assert s._table is not None and s.snapshot(20.0)["num_solves"] >= 2
    plan = partition(s._table.cost)
    assert (s.layout.end_bins, s.layout.instances_per_stage) == (
        plan.stage_end_bins,
        plan.instances_per_stage,
    )
    nd = L4NoDpScheduler(
        cluster(4, 16384),
        LinearPerfModel(),
        rng(0),
        **KW,
        prior_num_stages=2,
        refine_threshold=1e9,
        min_history_requests=50,
        resolve_interval_s=5.0,
    )
    feed(nd)
    assert nd.name == "l4_no_dp" and nd.layout.end_bins == (4, 8) and nd.layout.instances_per_stage == (2, 2)


def test_same_seed_same_decisions_and_snapshot_is_json():
    def run():
        random.seed(123)
        np.random.seed(7)  # perturbing global RNGs must not matter
        s = make(min_history_requests=30, resolve_interval_s=3.0)
        decisions = feed(s)
        migs = s.rebalance(loaded_views(), 30.0)
        return decisions, migs, s.snapshot(30.0)

    a, b = run(), run()
    assert a == b
    snap = json.loads(json.dumps(a[2]))
    assert len(snap["stage_of_instance"]) == 4 and sum(snap["instances_per_stage"]) == 4
    assert snap["boundaries_tokens"][-1] == 16384 and snap["boundaries_tokens"] == sorted(
        snap["boundaries_tokens"]
    )


def test_hop_only_when_the_expected_run_past_the_bound_pays_for_the_recompute():
    bound = make().upper_bound_tokens(0)
    views = idle_views(4)
    s = make(prior_output_tokens=20)
    # expected to end just past the bound: recomputing `bound` tokens for a few more is not worth it,
    # whatever the (unreadable) true output is
    assert s.route(req(1, bound - 10, out=20), views, 0.0).hop_at_tokens is None
    assert s.route(req(2, bound - 10, out=10 * bound), views, 0.0).hop_at_tokens is None
    # finished requests teach it that outputs run long (hop_recompute=1): now it hops
    for k in range(50):
        s.on_finish(req(100 + k, 10), 2 * bound, 1.0)
    assert s.route(req(3, bound - 10, out=20), views, 1.0).hop_at_tokens == bound
    # with nothing recomputed on a hop, or with the rule off, every crossing hops
    for t in (make(prior_output_tokens=20, hop_recompute=0.0), make(prior_output_tokens=20, hop_payback=0.0)):
        assert t.route(req(4, bound - 10, out=20), views, 0.0).hop_at_tokens == bound


def test_max_tokens_is_read_only_as_an_explicit_hint():
    bound = make().upper_bound_tokens(0)
    views = idle_views(4)
    off, on = make(prior_output_tokens=20), make(prior_output_tokens=20, use_max_tokens_hint=True)
    assert off.route(req(1, bound - 10, max_tokens=4 * bound), views, 0.0).hop_at_tokens is None
    assert on.route(req(1, bound - 10, max_tokens=4 * bound), views, 0.0).hop_at_tokens == bound
    assert on.route(req(2, bound - 10, max_tokens=20), views, 0.0).hop_at_tokens is None
    assert off.reads()["max_tokens_hint"] is False and on.reads()["max_tokens_hint"] is True
    assert on.snapshot(0.0)["use_max_tokens_hint"] is True


def test_residual_output_estimate_from_finishes():
    h = make().hist
    assert h.expected_output_given(0) == h.prior_output_tokens
    for k, o in enumerate((10, 20, 30, 100)):
        h.add_finish(k, o)
    assert h.expected_output_given(0) == 40.0
    assert h.expected_output_given(25) == 65.0  # mean of the outputs longer than 25
    assert h.expected_output_given(100) == 101.0  # none longer: at least one more token


def test_externality_weight_keeps_long_prompts_off_busy_instances():
    """Own-E2E dispatch takes the idle instance of the neighbour stage; charging the residents'
    added E2E (weight 1) keeps the long prompt home when the neighbour is full of short requests."""
    bound = make().upper_bound_tokens(0)
    views = [view(0, (300,) * 40), view(1, (300,) * 40), view(2, (bound,) * 2), view(3, (bound,) * 2)]
    long_req = req(1, 4 * bound, out=64)
    own = make(n=4)
    ext = make(n=4, externality_weight=1.0)
    assert own.route(long_req, views, 0.0).instance_id in (2, 3)
    assert ext.route(long_req, views, 0.0).instance_id in (2, 3)
    # the long stage has prefill queued (ledger), less than what the long prompt would cost the 40
    # residents of a stage-0 instance: own-E2E spills to stage 0, the weighted cost does not
    pre = prefill_compute_s(ext.step, 4 * bound, ext.chunk_tokens)
    harm = externality_s(ext.step, views[0], pre, 4 * bound, ext.hist.expected_output_tokens())
    for s in (own, ext):
        s.ledger.add(2, harm / 2, 0.0)
        s.ledger.add(3, harm / 2, 0.0)
    assert own.route(req(2, 4 * bound, out=64), views, 0.0).instance_id in (0, 1)
    assert ext.route(req(3, 4 * bound, out=64), views, 0.0).instance_id in (2, 3)
