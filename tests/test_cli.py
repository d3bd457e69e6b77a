"""The command line as a user runs it: outputs, bad input, multirun, determinism."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from _data import REPO, shared_workloads

SMOKE = ["+experiment=smoke", "progress=false", "workload.num_requests=24",
         "experiment.schedulers=[round_robin,least_tokens]"]


def _run(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO), "HYDRA_FULL_ERROR": "0"}
    return subprocess.run([sys.executable, "-m", "l4bench", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300)


def test_smoke_writes_every_output_and_prints_summary_path_last(tmp_path):
    p = _run(SMOKE, tmp_path)
    assert p.returncode == 0, p.stderr
    summary = Path(p.stdout.strip().splitlines()[-1])
    assert summary.name == "summary.json" and summary.is_file()
    run_dir = summary.parent
    assert run_dir.parent == tmp_path / "results" / "smoke"  # results/ of the working directory
    for name in ("config_resolved.yaml", "requests.parquet", "comparison.csv", "timeline.json"):
        assert (run_dir / name).is_file(), name
    assert list((run_dir / "figures").glob("*.png"))
    doc = json.loads(summary.read_text())
    assert set(doc["schedulers"]) == {"round_robin", "least_tokens"}
    for s in doc["schedulers"].values():
        assert s["completed"] == 24 and s["failed"] == 0
        for key in ("request_throughput", "output_throughput", "total_token_throughput", "mean_ttft_ms",
                    "p99_tpot_ms", "median_itl_ms", "p90_e2el_ms", "request_goodput", "migrations",
                    "recomputed_tokens", "per_bucket", "batch_spread_mean", "engine", "num_instances",
                    "workload", "seed"):
            assert key in s, key
    comp = pd.read_csv(run_dir / "comparison.csv")
    assert list(comp["scheduler"]) == ["round_robin", "least_tokens"]
    prov = doc["provenance"]
    assert prov["engine"] == "simulator" and prov["gpu"]["simulated"] is True and len(prov["config_sha256"]) == 64
    assert doc["repeats"]["count"] == 1 and len(doc["per_repeat"]) == 1


def test_same_seed_same_records_other_seed_differs(tmp_path):
    def records(seed: int, sub: str) -> pd.DataFrame:
        p = _run([*SMOKE, f"seed={seed}", f"hydra.run.dir={tmp_path / sub}"], tmp_path)
        assert p.returncode == 0, p.stderr
        df = pd.read_parquet(tmp_path / sub / "requests.parquet")
        return df[["scheduler", "request_id", "arrival_s", "prompt_tokens", "first_token_s", "finish_s"]]

    a, b, c = records(1, "a"), records(1, "b"), records(2, "c")
    pd.testing.assert_frame_equal(a, b)
    assert not a["arrival_s"].equals(c["arrival_s"])


@pytest.mark.parametrize(
    "args, needle",
    [
        (["workload=nope"], "workload: unknown option 'nope'; valid:"),
        (["arrival=poisson", "arrival.rate=-1"], "arrival.rate"),
        (["cluster.num_instances=0"], "cluster.num_instances: must be >= 1"),
        (["experiment.schedulers=[round_robin,nope]"], "unknown scheduler 'nope'; valid:"),
        (["workload=lengths_csv", "workload.path=/nonexistent/file.csv"], "workload.path"),
        (["experiment.schedulers=[vllm_router_round_robin]"], "external router and runs only live"),
        (["+experiment.scheduler_overrides.round_robin.nope=1"], "scheduler_overrides.round_robin.nope: not an option"),
        (["+workload.nope=1"], "workload.nope: not an option of"),
        (["seed=abc"], "seed: expected a number (like the default 0), got 'abc'"),
        (["cluster.max_num_seqs=many"], "cluster.max_num_seqs: expected a number"),
        (["progress=maybe"], "progress: expected a boolean"),
        (["experiment.schedulers=round_robin"], "experiment.schedulers: expected a list"),
        (["nope=1"], "Could not override 'nope'. To append to your config use +nope=1"),
        (["seed=[1"], "bad override:"),
        (["-m", "arrival.rate=2,fast"], "arrival.rate: expected a number"),
        (["experiment.repeats=0"], "experiment.repeats: 0; valid: a whole number >= 1"),
        (["metrics.warmup_s=-1"], "metrics.warmup_s: -1; valid:"),
        (["experiment.shuffle_schedulers=maybe"], "experiment.shuffle_schedulers: 'maybe'"),
    ],
)
def test_bad_input_is_one_line_without_traceback(tmp_path, args, needle):
    p = _run([*SMOKE, *args], tmp_path)
    assert p.returncode != 0
    assert needle in p.stderr, p.stderr
    assert "Traceback" not in p.stderr
    assert len([ln for ln in p.stderr.splitlines() if ln.startswith("error:")]) == 1


def test_multirun_sweeps_into_numbered_dirs(tmp_path):
    p = _run(["-m", *SMOKE, "arrival.rate=2,4", "hydra.sweep.dir=" + str(tmp_path / "sweep")], tmp_path)
    assert p.returncode == 0, p.stderr
    rates = [json.loads((tmp_path / "sweep" / str(i) / "summary.json").read_text())["meta"]["arrival"]["rate"]
             for i in (0, 1)]
    assert rates == [2.0, 4.0]


def test_multirun_over_a_config_group_is_not_ambiguous(tmp_path):
    p = _run(["-m", "+experiment=burst_sim", "workload=burst_mixed,burst_homogeneous",
              "hydra.sweep.dir=" + str(tmp_path / "sweep")], tmp_path)
    assert p.returncode == 0, p.stderr
    groups = [json.loads((tmp_path / "sweep" / str(i) / "summary.json").read_text())["meta"]["workload_info"]["groups"]
              for i in (0, 1)]
    assert groups == [[[63, 1024, 256], [1, 65536, 256]], [[64, 2048, 256]]]


def test_rate_list_sweeps_inside_one_run_with_the_same_numbers_as_single_runs(tmp_path):
    p = _run([*SMOKE, "arrival.rate=[2,4]", f"hydra.run.dir={tmp_path / 'sweep'}"], tmp_path)
    assert p.returncode == 0, p.stderr
    sweep = Path(p.stdout.strip().splitlines()[-1])
    assert sweep == tmp_path / "sweep" / "sweep.json"
    doc = json.loads(sweep.read_text())
    assert doc["rates"] == [2.0, 4.0] and set(doc["points"]) == {"2", "4"}
    single = _run([*SMOKE, "arrival.rate=4", f"hydra.run.dir={tmp_path / 'one'}"], tmp_path)
    assert single.returncode == 0, single.stderr
    one = json.loads((tmp_path / "one" / "summary.json").read_text())
    four = json.loads((tmp_path / "sweep" / doc["points"]["4"]["summary"]).read_text())
    assert four["meta"]["arrival"]["rate"] == 4.0
    for name in ("round_robin", "least_tokens"):
        for key in ("completed", "mean_e2el_ms", "p99_ttft_ms", "request_throughput"):
            assert four["schedulers"][name][key] == one["schedulers"][name][key], (name, key)
            assert doc["points"]["4"]["schedulers"][name][key] == one["schedulers"][name][key]


@pytest.mark.parametrize("rate", ["[]", "[2,-1]", "[3,3]", "[a,b]"])
def test_bad_rate_list_is_one_line(tmp_path, rate):
    p = _run([*SMOKE, f"arrival.rate={rate}"], tmp_path)
    assert p.returncode != 0 and "arrival.rate" in p.stderr and "Traceback" not in p.stderr, p.stderr


@pytest.mark.skipif(shared_workloads() is None, reason="needs the Mooncake trace (L4BENCH_DATA_DIR)")
def test_mooncake_experiment_runs_the_conversation_trace(tmp_path):
    p = _run(["+experiment=mooncake", "progress=false", "workload.num_requests=200",
              "experiment.schedulers=[least_tokens]", f"data_dir={shared_workloads()}"], tmp_path)
    assert p.returncode == 0, p.stderr
    doc = json.loads(Path(p.stdout.strip().splitlines()[-1]).read_text())
    assert doc["meta"]["workload"] == "mooncake_conversation"
    assert doc["schedulers"]["least_tokens"]["completed"] == 200


def test_live_experiment_replays_in_the_simulator_with_live_keys_dropped(tmp_path):
    p = _run(["+experiment=smoke_live", "engine=sim", "progress=false", "workload.num_requests=10",
              "experiment.schedulers=[least_tokens]"], tmp_path)
    assert p.returncode == 0, p.stderr
    assert "ignored by l4bench.sim.simulator.Simulator" in p.stdout + p.stderr
    doc = json.loads(Path(p.stdout.strip().splitlines()[-1]).read_text())
    assert doc["schedulers"]["least_tokens"]["completed"] == 10
