"""engine.migration in the simulator: recompute is today's behaviour exactly; kv_transfer moves the KV."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from _routes import routes
from _stand_ins import RoundRobinStandIn, simulate

from l4bench.l4.migration import KvTransferMigration, RecomputeMigration
from l4bench.perf.constant import ConstantPerfModel
from l4bench.types import ClusterSpec, Request

#: routes() of the default (recompute) simulator: "hop_rr" (the simulator's own hop path) as computed with the
#: code before engine.migration existed (main at d807c67, migration_stall_s=0); "l4" re-recorded at 9ca52ee,
#: after L4's surrogate gained its longest-context term (f4078a8), which changes L4's routes on purpose
BEFORE = json.loads((Path(__file__).parents[1] / "data" / "sim_routes_recompute.json").read_text())


def test_default_routes_are_the_ones_before_the_migration_model():
    assert routes() == BEFORE


def test_explicit_recompute_routes_are_the_same():
    assert routes(migration=RecomputeMigration(), l4_kw={"migration": RecomputeMigration()}) == BEFORE


def test_kv_transfer_changes_routes_and_recomputes_almost_nothing():
    kv = KvTransferMigration(fixed_s=0.001, bandwidth_bytes_per_s=1e10, kv_bytes_per_token=2048)
    after = routes(migration=kv, l4_kw={"migration": kv})
    assert after != BEFORE
    hops = [r for r in after["hop_rr"] if len(r[0]) > 1]
    assert hops and all(r[1] < 50 for r in hops)  # ~1 token per hop (plus preemptions), not the context


def test_kv_transfer_hop_accounting():
    """Bound at 10: 5 tokens on instance 0 by 0.5 s; the 9 computed tokens' KV moves in 0.5 + 0.5 s."""
    cluster = ClusterSpec(2, 1000, 1000, max_num_batched_tokens=100)
    kv = KvTransferMigration(fixed_s=0.5, bandwidth_bytes_per_s=1800.0, kv_bytes_per_token=100)
    res = simulate(ConstantPerfModel(step_time_s=0.1), cluster, [Request(0, 0.0, 5, 10)],
                   RoundRobinStandIn(2, hop_at_tokens=10, hop_to=1), migration=kv)
    rec = res.records[0]
    assert rec.instances == [0, 1] and rec.recomputed_tokens == 1
    assert rec.hop_modes == ["kv_transfer"] and rec.hop_kv_bytes == [900]
    assert rec.hop_stalls_s == pytest.approx([1.0]) and rec.stall_s == pytest.approx(1.0)
    # resumed at 1.5 with 9 of 10 tokens' KV there: a decode step emits token 6 at 1.6
    assert rec.token_times_s == pytest.approx([0.1, 0.2, 0.3, 0.4, 0.5, 1.6, 1.7, 1.8, 1.9, 2.0])


def test_recompute_hop_records_mode_and_stall():
    cluster = ClusterSpec(2, 1000, 1000, max_num_batched_tokens=100)
    res = simulate(ConstantPerfModel(step_time_s=0.1), cluster, [Request(0, 0.0, 5, 10)],
                   RoundRobinStandIn(2, hop_at_tokens=10, hop_to=1), migration=RecomputeMigration(fixed_s=0.5))
    rec = res.records[0]
    assert rec.hop_modes == ["recompute"] and rec.hop_kv_bytes == [0] and rec.recomputed_tokens == 10
    assert rec.hop_stalls_s == pytest.approx([0.5])


def test_bad_migration_values_are_config_errors():
    from l4bench.errors import ConfigError

    with pytest.raises(ConfigError, match="bandwidth_bytes_per_s"):
        KvTransferMigration(bandwidth_bytes_per_s=0.0)
    with pytest.raises(ConfigError, match="fixed_s"):
        RecomputeMigration(fixed_s=-1.0)
    assert np.isfinite(KvTransferMigration().stall_s(1000))
