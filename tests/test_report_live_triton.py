import math

import pytest

from l4bench.report.live_triton import unpaired_ratio


def _s(mean, lo, hi):
    return {"m": mean, "bootstrap_ci95": {"m": {"low": lo, "high": hi}}}


def test_unpaired_ratio_combines_both_intervals_in_log_space():
    a, b = _s(10.0, 9.0, 11.0), _s(20.0, 18.0, 22.0)
    r, lo, hi = unpaired_ratio(a, b, "m")
    assert r == pytest.approx(0.5)
    se = (math.log(11 / 9)) / (2 * 1.959963984540054)
    assert math.log(hi / r) == pytest.approx(1.959963984540054 * math.sqrt(2) * se)
    assert lo < r < hi and math.log(r / lo) == pytest.approx(math.log(hi / r))


def test_unpaired_ratio_is_wider_than_either_run_alone():
    a, b = _s(10.0, 9.0, 11.0), _s(10.0, 10.0 - 1e-9, 10.0 + 1e-9)
    _, lo, hi = unpaired_ratio(a, b, "m")
    assert hi / lo == pytest.approx(11 / 9, rel=1e-6)  # a near-exact denominator adds no width
    _, lo2, hi2 = unpaired_ratio(a, a, "m")
    assert hi2 / lo2 > hi / lo


def test_interference_table_is_relative_to_each_repeats_idle_phase(tmp_path):
    import json

    from l4bench.report.live_triton import INTERFERENCE, shared_gpu_interference

    phases = [{"b_load": load, "a_tpot_ms_mean": a, "b_tpot_ms_mean": b}
              for load, a, b in (("idle", 8.0, None), ("short", 16.0, 15.0), ("long", 20.0, 30.0),
                                 ("idle", 10.0, None), ("short", 25.0, 20.0), ("long", 30.0, 31.0))]
    (tmp_path / INTERFERENCE).mkdir(parents=True)
    (tmp_path / INTERFERENCE / "interference_TRITON_ATTN.json").write_text(json.dumps({"phases": phases}))
    out = shared_gpu_interference(tmp_path)
    assert "| 0 | long | 20.0 | 2.50 | 30.0 |" in out and "| 1 | short | 25.0 | 2.50 | 20.0 |" in out
    assert "| 1 | idle | 10.0 | 1.00 |  |" in out
