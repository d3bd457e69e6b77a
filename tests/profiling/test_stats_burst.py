"""Profiler statistics (t intervals, IQR, request bootstrap) and the burst experiment on a fake engine."""

from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pytest

from l4bench.perf.base import BatchShape
from l4bench.profiling.burst import BurstConfig, default_configs, run_burst, summarize
from l4bench.profiling.driver import StepSample
from l4bench.profiling.stats import bootstrap_ci95, iqr, mean_ci95, pass_stats, t975
from l4bench.profiling.summary import describe


def test_t_quantiles_and_intervals():
    assert t975(2) == pytest.approx(4.303) and t975(30) == pytest.approx(2.042, abs=2e-3)
    assert t975(200) == pytest.approx(1.972, abs=2e-3)
    mean, low, high = mean_ci95([1.0, 2.0, 3.0])
    assert mean == 2.0 and high - mean == pytest.approx(4.303 / 3**0.5)
    assert iqr([1.0, 2.0, 3.0, 4.0, 5.0]) == 2.0 and iqr([1.0]) == 0.0
    stats = pass_stats([[1.0, 1.0, 5.0], [2.0], [3.0]])
    assert stats["step_time_s"] == 2.0 and stats["num_passes"] == 3 and stats["step_time_mean_s"] == 2.0


def test_bootstrap_resamples_requests_not_tokens():
    rng = np.random.default_rng(0)
    same = [[0.01] * 10 for _ in range(20)]
    assert bootstrap_ci95(same, "mean", rng) == pytest.approx((0.01, 0.01, 0.01))
    spread = [[0.01 * (i + 1)] * 10 for i in range(20)]
    value, low, high = bootstrap_ci95(spread, "p90", np.random.default_rng(0))
    assert low < value <= high and value == pytest.approx(np.quantile([0.01 * (i + 1) for i in range(20)], 0.9))


class FakeBurstEngine:
    """A driver whose step gives every unfinished request one token; steps take longer with a long prompt."""

    def __init__(self) -> None:
        self.core = SimpleNamespace(scheduler=SimpleNamespace(requests={}))
        self.vocab_size, self.seed = 1000, 0
        self.left: dict[str, int] = {}
        self.prompt: dict[str, int] = {}
        self.last_outputs: list = []
        self.aborted: list[str] = []

    def add(self, prompt_ids: list[int], max_tokens: int) -> str:
        rid = f"r{len(self.prompt)}"
        self.left[rid], self.prompt[rid] = max_tokens, len(prompt_ids)
        return rid

    def abort(self, ids: list[str]) -> None:
        self.aborted += ids

    def step(self) -> StepSample:
        self.last_outputs = []
        for rid in [r for r, n in self.left.items() if n > 0]:
            self.left[rid] -= 1
            self.last_outputs.append(SimpleNamespace(request_id=rid, finished=self.left[rid] == 0,
                                                     outputs=[SimpleNamespace(token_ids=[7])]))
        return StepSample(0.001, 0.001, BatchShape(num_decodes=len(self.last_outputs)))


def test_burst_runs_every_config_and_summarizes(tmp_path):
    configs = [BurstConfig("homogeneous", (64,) * 4, 5), BurstConfig("mixed", (32,) * 3 + (512,), 5)]
    result = run_burst(FakeBurstEngine(), configs, repeats=2, seed=0, deadline=None)
    assert result["num_skipped_runs"] == 0
    mixed = result["configs"]["mixed"]
    assert len(mixed["runs"]) == 2 and all(len(t) == 5 for t in mixed["runs"][0]["token_times_ms"])
    assert mixed["summary"]["short"]["num_requests"] == 6 and mixed["summary"]["long"]["num_requests"] == 2
    assert result["configs"]["homogeneous"]["summary"]["short"]["num_requests"] == 8
    assert "long" not in result["configs"]["homogeneous"]["summary"]
    assert set(result["comparison"]) == {f"short_itl_{s}_mixed_over_homogeneous" for s in ("mean", "p50", "p90")}
    json.dumps(result)


def test_burst_summary_hand_computed():
    config = BurstConfig("mixed", (10, 10, 100), 3)
    run = {"token_times_ms": [[5.0, 15.0, 25.0], [5.0, 15.0, 35.0], [50.0, 90.0, 130.0]], "steps": []}
    summary = summarize(config, [run])
    assert summary["short"]["itl_mean_ms"] == pytest.approx(12.5)
    assert summary["long"]["itl_mean_ms"] == pytest.approx(40.0) and summary["short_ttft_mean_ms"] == 5.0


def test_burst_stops_before_the_deadline():
    result = run_burst(FakeBurstEngine(), default_configs(4, scale=256), repeats=3, seed=0, deadline=0.0)
    assert result["num_skipped_runs"] == 6 and result["comparison"] == {}


def test_default_burst_is_the_issue_13_burst():
    homo, mixed = default_configs()
    assert homo.prompt_tokens == (2048,) * 64 and homo.output_tokens == 256
    assert mixed.prompt_tokens == (1024,) * 63 + (65536,)


def test_summary_of_a_profile_folder(tmp_path):
    (tmp_path / "meta.json").write_text(json.dumps({"attention_backend": {"requested": "TRITON_ATTN",
                                                                          "label": "TRITON_ATTN"}, "passes": 3}))
    (tmp_path / "profile.csv").write_text(
        "name,homogeneous_name,step_time_s,step_time_ci_low_s,step_time_ci_high_s,num_passes\n"
        "u,,0.010,0.009,0.011,3\nm,u,0.030,0.029,0.031,3\n")
    text = "\n".join(describe(tmp_path))
    assert "requested TRITON_ATTN" in text and "3.00x" in text
    assert "no meta.json" in "\n".join(describe(tmp_path / "missing"))


def test_burst_workload_and_arrivals_replay_the_live_burst():
    from l4bench.workloads import BurstArrivals, BurstWorkload

    reqs = BurstArrivals().assign(BurstWorkload([[63, 1024, 256], [1, 65536, 256]]).load(np.random.default_rng(0)),
                                  np.random.default_rng(1))
    assert [r.prompt_tokens for r in reqs] == list(default_configs()[1].prompt_tokens)
    assert {r.arrival_s for r in reqs} == {0.0} and {r.output_tokens for r in reqs} == {256}
    from l4bench.errors import ConfigError

    with pytest.raises(ConfigError, match="workload.groups"):
        BurstWorkload([[1, 2]])


def test_burst_sim_experiment_runs_with_the_analytic_model(tmp_path):
    import os
    import subprocess
    import sys
    from pathlib import Path

    repo = Path(__file__).resolve().parents[2]
    proc = subprocess.run([sys.executable, "-m", "l4bench", "+experiment=burst_sim", "perf=analytic",
                           f"results_dir={tmp_path}"], cwd=repo, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "PYTHONPATH": str(repo)})
    assert proc.returncode == 0, proc.stderr[-2000:]
    summary = json.loads(next(tmp_path.glob("burst_sim/*/summary.json")).read_text())
    run = summary["schedulers"]["round_robin"]
    assert run["completed"] == 64 and run["num_instances"] == 1
    short, long = run["per_bucket"]
    assert short["count"] == 63 and long["count"] == 1 and short["mean_tpot_ms"] > 0
