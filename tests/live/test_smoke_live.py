"""Live CPU smoke test: 2 vLLM CPU instances, ~100 long-tailed requests, every scheduler through the CLI.

Each scheduler (l4bench's router with round_robin, least_tokens and L4; vllm-router; sglang-router
and smg, fed the text form "t<id> ..." of the same token ids) must complete every request with exactly the
requested number of tokens; L4 must migrate at least once.
Run: `pytest -m live tests/live/test_smoke_live.py -s` (needs the engine venv, ~5 min on 2 cores).
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from live_engine import REPO, engine_python, results_dir, run_cli, summary_table

pytestmark = [pytest.mark.live, pytest.mark.slow]

SCHEDULERS = ["round_robin", "least_tokens", "vllm_router_round_robin", "sglang_router", "smg_least_load"]


def test_smoke_live_every_scheduler_completes_every_request(tmp_path: Path) -> None:
    python = engine_python()
    schedulers = (["l4"] if (REPO / "conf" / "scheduler" / "l4.yaml").exists() else []) + SCHEDULERS
    summary, run_dir, wall_s = run_cli(
        python,
        results_dir(tmp_path),
        ["+experiment=smoke_live", f"experiment.schedulers=[{','.join(schedulers)}]"],
        1200,
    )
    print(
        f"\nsmoke_live: {len(schedulers)} schedulers in {wall_s:.0f} s (run dir {run_dir})\n{summary_table(summary)}"
    )
    assert summary["failed_schedulers"] == {}
    assert list(summary["schedulers"]) == schedulers
    n = summary["num_requests"]
    assert n >= 90
    df = pd.read_parquet(run_dir / "requests.parquet")
    errors = df[df["error"].notna()].groupby(["scheduler", "error"]).size()
    for name, s in summary["schedulers"].items():
        assert (s["completed"], s["failed"]) == (n, 0), f"{name}; errors:\n{errors.to_string()}"
    assert len(df) == n * len(schedulers)
    assert (df["num_generated_tokens"] == df["output_tokens"]).all()
    assert df["error"].isna().all()
    assert df["prompt_tokens"].max() > 5 * df["prompt_tokens"].median()  # long-tailed
    if "l4" in schedulers:
        assert summary["schedulers"]["l4"]["migrations"] >= 1
    timeline = json.loads((run_dir / "timeline.json").read_text())  # l4bench's router records one; external ones none
    assert timeline["round_robin"] and len(timeline["round_robin"][0]["num_running"]) == 2
    if "l4" in schedulers:
        assert any("boundaries_tokens" in e for e in timeline["l4"]), timeline["l4"][:2]
    assert timeline["sglang_router"] == []
    extra = summary["schedulers"]["round_robin"]
    assert extra["engine_version"] != "unknown" and extra["launcher"] == "local"
    assert extra["prefix_cache_reset"] is True
    sglang = summary["schedulers"]["sglang_router"]
    assert sglang["external_router"] == "sglang_router" and sglang["prompts"].startswith("text form")
    smg = summary["schedulers"]["smg_least_load"]
    assert smg["external_router"] == "smg" and smg["policy"] == "least_load"
