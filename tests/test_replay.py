"""The replay loop: paired repeats, live order shuffle, measurement window, provenance, failures."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from l4bench.metrics.records import RequestRecord, RunResult
from l4bench.metrics.window import MeasurementWindow
from l4bench.replay import ReplayPlan, repeat_seed, replay_and_write, scheduler_order
from l4bench.types import Request

NAMES = ["l4", "round_robin", "least_tokens", "llumnix"]


@pytest.fixture
def draw_figures():
    """Requested by the one test that lets the replay draw its figures."""


@pytest.fixture(autouse=True)
def _no_figures(request, monkeypatch):
    """Figures cost seconds; only tests asking for draw_figures get them."""
    if "draw_figures" not in request.fixturenames:
        monkeypatch.setattr("l4bench.results_writer._write_figures", lambda *a, **k: None)


def _requests(seed: int, n: int = 30) -> list[Request]:
    rng = np.random.default_rng(seed)
    t = np.cumsum(rng.exponential(0.5, n))
    t -= t[0]
    return [Request(i, float(t[i]), int(rng.integers(10, 500)), 8) for i in range(n)]


class _Sched:
    def __init__(self, name: str, seed: int | None):
        self.name, self.seed = name, seed


class _FakeEngine:
    """Finishes each request after a latency that depends on the scheduler (no real serving)."""

    def __init__(self, fail: tuple[str, int] | None = None):
        self.calls: list[tuple[str, int | None, str]] = []  # (scheduler, seed, digest of the requests)
        self.fail = fail
        self.closed = False

    def run(self, requests: list[Request], scheduler: _Sched) -> RunResult:
        digest = hashlib.sha256(repr([(r.arrival_s, r.prompt_tokens) for r in requests]).encode()).hexdigest()
        self.calls.append((scheduler.name, scheduler.seed, digest))
        if self.fail and self.fail[0] == scheduler.name and self.fail[1] == scheduler.seed:
            raise RuntimeError("instance died")
        slow = 1.0 + 0.1 * NAMES.index(scheduler.name)
        recs = []
        for r in requests:
            first = r.arrival_s + slow * r.prompt_tokens / 1000
            times = [first + 0.01 * k for k in range(r.output_tokens)]
            recs.append(RequestRecord(r.request_id, "", r.arrival_s, r.prompt_tokens, r.output_tokens,
                                      num_generated_tokens=r.output_tokens, first_token_s=first,
                                      finish_s=times[-1], token_times_s=times, instances=[0]))
        return RunResult(scheduler.name, recs, duration_s=max(x.finish_s for x in recs))

    def close(self) -> None:
        self.closed = True


def _plan(tmp_path: Path, engine: _FakeEngine, **kw) -> ReplayPlan:
    def factory(name: str):
        return lambda seed=None: _Sched(name, seed)

    return ReplayPlan(
        experiment="t", requests=_requests(0), make_engine=lambda: engine,
        schedulers={n: factory(n) for n in NAMES}, out_dir=tmp_path, slo={"ttft_ms": 5000.0},
        length_buckets_tokens=[0, 100, 1000], meta={"engine": "FakeEngine", "seed": 0},
        resolved_config="seed: 0\n", make_requests=_requests, bootstrap_resamples=50,
        provenance={"engine": "fake", "engine_version": "1", "attention_backend": "none",
                    "gpu": {"name": "h100", "simulated": True}}, **kw,
    )


def _run(tmp_path: Path, engine: _FakeEngine, **kw) -> dict:
    path = replay_and_write(_plan(tmp_path, engine, **kw))
    return json.loads(path.read_text())


def test_repeats_differ_in_arrivals_but_are_paired_across_schedulers(tmp_path):
    engine = _FakeEngine()
    doc = _run(tmp_path, engine, repeats=3)
    seeds = [r["seed"] for r in doc["per_repeat"]]
    assert seeds == [repeat_seed(0, r) for r in range(3)] and seeds[0] == 0 and len(set(seeds)) == 3
    assert len({r["requests_sha256"] for r in doc["per_repeat"]}) == 3
    digests = [d for _, _, d in engine.calls]
    for r in range(3):  # every scheduler of a repeat got the same requests, and its seed
        assert len(set(digests[4 * r: 4 * r + 4])) == 1
        assert {s for _, s, _ in engine.calls[4 * r: 4 * r + 4]} == {seeds[r]}
    assert len(set(digests)) == 3
    df = pd.read_parquet(tmp_path / "requests.parquet")
    assert sorted(df["repeat"].unique()) == [0, 1, 2] and len(df) == 3 * 4 * 30
    for _, g in df.groupby("repeat"):
        arrivals = g.pivot(index="request_id", columns="scheduler", values="arrival_s")
        assert (arrivals.nunique(axis=1) == 1).all()
    agg = doc["schedulers"]["l4"]
    assert agg["num_repeats"] == 3 and agg["ci95"]["mean_e2el_ms"]["low"] is not None
    assert engine.closed


def test_one_repeat_keeps_the_old_single_run_and_bootstraps(tmp_path, draw_figures):
    doc = _run(tmp_path, _FakeEngine())
    s = doc["schedulers"]["round_robin"]
    assert s == {**doc["per_repeat"][0]["schedulers"]["round_robin"], "num_repeats": 1, "ci95": s["ci95"]}
    assert s["ci95"]["p99_e2el_ms"]["low"] is None
    b = s["bootstrap_ci95"]["p99_e2el_ms"]
    assert b["low"] <= s["p99_e2el_ms"] <= b["high"]
    vs = doc["versus_best_baseline"]
    assert vs["best_baseline"] == "round_robin" and vs["schedulers"]["round_robin"]["ratio"] == pytest.approx(1.0)
    comp = pd.read_csv(tmp_path / "comparison.csv")
    assert {"mean_e2el_vs_best", "mean_e2el_vs_best_ci_low", "mean_e2el_vs_best_ci_high", "vs_best_method",
            "mean_e2el_vs_each_repeat_best"} <= set(comp)
    assert doc["versus_best_each_repeat"]["best_baseline_per_repeat"] == ["round_robin"]
    assert {p.name for p in (tmp_path / "figures").glob("*.png")} >= {"latency_bars.png", "vs_best.png"}


def test_live_order_is_shuffled_per_repeat_recorded_and_deterministic(tmp_path):
    engine = _FakeEngine()
    doc = _run(tmp_path / "a", engine, repeats=3, shuffle_order=True)
    orders = [r["scheduler_order"] for r in doc["per_repeat"]]
    assert orders == [scheduler_order(NAMES, repeat_seed(0, r), True) for r in range(3)]
    assert [n for n, _, _ in engine.calls] == [n for o in orders for n in o]
    assert any(o != NAMES for o in orders) and all(sorted(o) == sorted(NAMES) for o in orders)
    again = _run(tmp_path / "b", _FakeEngine(), repeats=3, shuffle_order=True)
    assert [r["scheduler_order"] for r in again["per_repeat"]] == orders
    fixed = _run(tmp_path / "c", _FakeEngine(), repeats=2)
    assert all(r["scheduler_order"] == NAMES for r in fixed["per_repeat"])


def test_warmup_and_cooldown_are_excluded_from_metrics_only(tmp_path):
    doc = _run(tmp_path, _FakeEngine(), window=MeasurementWindow(warmup_requests=3, cooldown_s=1.0))
    w = doc["per_repeat"][0]["window"]
    last = _requests(0)[-1].arrival_s
    expected_cool = sum(r.arrival_s > last - 1.0 for r in _requests(0)[3:])
    assert w["excluded_warmup"] == 3 and w["excluded_cooldown"] == expected_cool
    assert doc["metrics_window"]["warmup_requests"] == 3
    s = doc["schedulers"]["l4"]
    assert s["num_prompts"] == 30 - 3 - expected_cool == w["measured"] and s["window"]["measured"] == w["measured"]
    df = pd.read_parquet(tmp_path / "requests.parquet")
    assert len(df) == 4 * 30 and (~df["is_measured"]).sum() == 4 * (3 + expected_cool)


def test_provenance_is_recorded(tmp_path):
    doc = _run(tmp_path, _FakeEngine())
    p = doc["provenance"]
    for key in ("git_commit", "git_dirty", "l4bench", "python", "numpy", "engine", "engine_version",
                "attention_backend", "gpu", "host", "start_time", "config_sha256"):
        assert key in p, key
    assert p["config_sha256"] == hashlib.sha256((tmp_path / "config_resolved.yaml").read_bytes()).hexdigest()
    assert p["gpu"]["simulated"] is True and p["engine"] == "fake"


def test_a_failed_run_is_recorded_and_the_rest_kept(tmp_path):
    doc = _run(tmp_path, _FakeEngine(fail=("llumnix", repeat_seed(0, 1))), repeats=3)
    assert "llumnix" in doc["per_repeat"][1]["failed_schedulers"]
    assert doc["failed_schedulers"]["llumnix"].startswith("repeat 1:")
    assert doc["schedulers"]["llumnix"]["num_repeats"] == 2 and doc["schedulers"]["l4"]["num_repeats"] == 3
    ratio = doc["versus_best_baseline"]["schedulers"]["llumnix"]
    assert ratio["n"] == 2 and ratio["per_repeat"][1] is None
    df = pd.read_parquet(tmp_path / "requests.parquet")
    assert len(df) == (3 * 4 - 1) * 30


def test_repeats_of_a_seed_blind_workload_are_flagged(tmp_path):
    plan = _plan(tmp_path, _FakeEngine(), repeats=2)
    plan.make_requests = lambda seed: _requests(0)  # e.g. a trace replayed as recorded
    doc = json.loads(replay_and_write(plan).read_text())
    assert doc["repeats"]["distinct_request_sets"] == 1
    assert "same requests as repeat 0" in doc["per_repeat"][1]["note"]


def test_a_given_engine_is_used_and_left_open(tmp_path):
    engine = _FakeEngine()
    plan = _plan(tmp_path, _FakeEngine())
    replay_and_write(plan, engine)
    assert len(engine.calls) == len(NAMES) and not engine.closed


def test_first_repeat_runs_a_later_repeat_alone_with_its_paired_bootstrap(tmp_path):
    both = _run(tmp_path / "both", _FakeEngine(), repeats=2)
    alone = _run(tmp_path / "alone", _FakeEngine(), repeats=1, first_repeat=1)
    assert alone["repeats"]["first"] == 1 and [r["repeat"] for r in alone["per_repeat"]] == [1]
    assert alone["per_repeat"][0]["seed"] == repeat_seed(0, 1)
    assert alone["per_repeat"][0]["requests_sha256"] == both["per_repeat"][1]["requests_sha256"]
    assert alone["per_repeat"][0]["schedulers"]["l4"]["mean_e2el_ms"] == both["per_repeat"][1]["schedulers"]["l4"]["mean_e2el_ms"]
    vs = alone["versus_best_baseline"]["schedulers"]["l4"]  # one repeat: the paired request bootstrap, not a bare ratio
    assert vs["low"] is not None and vs["low"] <= vs["ratio"] <= vs["high"] and vs["num_paired_requests"] == 30
    df = pd.read_parquet(tmp_path / "alone" / "requests.parquet")
    assert set(df["repeat"]) == {1}
    assert set(json.loads((tmp_path / "alone" / "timeline.json").read_text())) == set(NAMES)
