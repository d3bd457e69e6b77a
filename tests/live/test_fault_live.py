"""Live fault test: kill one vLLM CPU instance mid-replay; no in-flight request may be silently lost.

Every request in flight at the kill either continues on the surviving instance (recompute: its
prompt + generated tokens are prefilled there) or ends with an error record naming the cause.
Run: `pytest -m live tests/live/test_fault_live.py -s` (~2 min on 2 cores).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from live_engine import engine_python, results_dir, run_cli, summary_table

pytestmark = [pytest.mark.live, pytest.mark.slow]


def test_kill_instance_mid_replay(tmp_path: Path) -> None:
    python = engine_python()
    # A burst of longer requests, so that many are in flight on both instances when instance 1 dies.
    overrides = [
        "+experiment=smoke_live",
        "experiment.schedulers=[round_robin]",
        "arrival.rate=25",
        "workload.output_mean_tokens=320",  # long enough that instance 1 is still generating when it dies, under CI load
        "engine.fault={instance: 1, at_s: 2.5}",
    ]
    summary, run_dir, wall_s = run_cli(python, results_dir(tmp_path), overrides, 900)
    s = summary["schedulers"]["round_robin"]
    fault = s["fault"]
    print(f"\nfault_live in {wall_s:.0f} s: {fault}\n{summary_table(summary)}")
    n = summary["num_requests"]
    df = pd.read_parquet(run_dir / "requests.parquet")
    assert len(df) == n and set(df["request_id"]) == set(range(n))  # one record per request
    assert fault["lost"] == 0
    assert fault["in_flight_at_kill"] >= 1
    assert fault["continued_after_hop"] + fault["in_flight_failed"] >= 1  # some were on the killed instance
    assert fault["in_flight_completed"] + fault["in_flight_failed"] == fault["in_flight_at_kill"]
    assert s["completed"] + s["failed"] == n
    failed = df[~df["is_completed"]]
    assert (
        failed["error"].notna().all() and (failed["error"].str.len() > 0).all()
    )  # every failure names its cause
    done = df[df["is_completed"]]
    assert (done["num_generated_tokens"] == done["output_tokens"]).all()
    late = done[done["arrival_s"] > fault["kill_s"] + 2.0]
    assert late["instances"].map(lambda xs: list(xs)[-1] == 0).all()  # the router stopped using the dead one
