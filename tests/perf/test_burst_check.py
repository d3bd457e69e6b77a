"""Live burst.json vs simulated requests.parquet: short/long ITL and the sim's % error."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from l4bench.errors import ConfigError
from l4bench.perf.burst_check import compare, live_itl, long_threshold, main, sim_itl

PROMPTS = [1024] * 3 + [65536]


def _burst(scale: float = 1.0) -> dict:
    """3 short requests decoding every 10 ms (one 50 ms gap: the long prefill), the long one every 12 ms."""
    short = [0.0, 10.0, 60.0, 70.0]
    long = [80.0, 92.0, 104.0, 116.0]
    runs = [{"repeat": r, "token_times_ms": [[t * scale for t in short]] * 3 + [[t * scale for t in long]]}
            for r in range(2)]
    return {"configs": {"mixed": {"prompt_tokens": PROMPTS, "output_tokens": 4, "runs": runs}}}


def _sim(scale: float = 1.0) -> pd.DataFrame:
    offs = [[int(t * 1e3 * scale) for t in ts] for ts in _burst()["configs"]["mixed"]["runs"][0]["token_times_ms"]]
    return pd.DataFrame({"prompt_tokens": PROMPTS, "token_offsets_us": offs})


def test_long_threshold():
    assert long_threshold(PROMPTS) == 65536 and long_threshold([2048] * 4) == 2049


def test_live_and_sim_reduce_the_same_way():
    live, sim = live_itl(_burst(), "mixed"), sim_itl(_sim())
    assert live["short"]["num_requests"] == 6 and sim["short"]["num_requests"] == 3
    assert live["short"]["itl_mean_ms"] == pytest.approx((10 + 50 + 10) / 3)
    assert sim["short"]["itl_mean_ms"] == pytest.approx(live["short"]["itl_mean_ms"])
    assert live["long"]["itl_mean_ms"] == pytest.approx(12.0)


def test_error_is_sim_over_live_and_goal_flag():
    res = compare(_burst(), "mixed", _sim(scale=1.1))
    assert res["short"]["itl_mean_ms_error_pct"] == pytest.approx(10.0, abs=1e-6)
    assert res["short_mean_within_goal"] is True
    assert compare(_burst(), "mixed", _sim(scale=1.2))["short_mean_within_goal"] is False
    with pytest.raises(ConfigError, match="valid: mixed"):
        compare(_burst(), "homogeneous", _sim())
    with pytest.raises(ConfigError, match="prompts differ"):
        compare(_burst(), "mixed", _sim().assign(prompt_tokens=[64] * 3 + [4096]))


def test_cli_writes_json(tmp_path, capsys):
    (tmp_path / "burst.json").write_text(json.dumps(_burst()))
    run = tmp_path / "run"
    run.mkdir()
    _sim(scale=0.9).to_parquet(run / "requests.parquet")
    out = tmp_path / "cmp.json"
    assert main([str(tmp_path / "burst.json"), "--sim", f"mixed={run}", "--out", str(out)]) == 0
    assert "mixed        short ITL mean live 23.33 ms" in capsys.readouterr().out
    got = json.loads(out.read_text())["results"][0]
    assert np.isclose(got["short"]["itl_mean_ms_error_pct"], -10.0)
    assert main([str(tmp_path / "burst.json"), "--sim", "mixed"]) == 2
    assert main([str(tmp_path / "burst.json"), "--sim", f"mixed={tmp_path / 'none'}"]) == 2
