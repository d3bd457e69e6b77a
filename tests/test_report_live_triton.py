import math

import pytest

from l4bench.report.live_stats import unpaired_ratio


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


def test_paired_ratio_cancels_what_both_schedulers_share():
    import numpy as np

    from l4bench.report.live_stats import paired_ratio

    rng = np.random.default_rng(0)
    base = rng.lognormal(0.0, 1.0, 400)  # request sizes: most of the spread, shared by both
    a, b = 1.1 * base * rng.lognormal(0, 0.05, 400), base.copy()
    b[3] = np.nan  # not completed under b: dropped from both
    r, lo, hi = paired_ratio(a, b)
    ok = np.isfinite(b)
    assert r == pytest.approx(a[ok].mean() / b[ok].mean()) and lo < r < hi and 1.0 < lo and hi < 1.2
    shuffled = rng.permutation(b[ok])  # the same values, unpaired: a much wider interval
    _, lo2, hi2 = paired_ratio(a[ok], shuffled)
    assert math.log(hi2 / lo2) > 5 * math.log(hi / lo)
    assert paired_ratio(b, b, q=99.0) == (1.0, 1.0, 1.0)


def test_placement_counts_where_each_class_went_first(tmp_path):
    from l4bench.report.live_triton import placement

    rows = ["repeat,scheduler,request_id,prompt_tokens,is_measured,instances,num_hops,recomputed_tokens",
            "1,x,0,1000,True,0,0,0", "1,x,1,1200,True,0,0,0", "1,x,2,900,True,1;0,1,900",
            "1,x,3,20000,True,0,1,20000", "1,x,4,30000,True,1,0,0", "1,x,5,30000,False,0,0,0"]
    (tmp_path / "r.csv").write_text("\n".join(rows) + "\n")
    assert placement(tmp_path / "r.csv")["x"] == {"long": 2, "short": 3, "long_on_short_instance": 1,
                                                  "short_elsewhere": 1, "hops": 2, "recomputed_tokens": 20900}


def test_twin_layouts_sorts_snapshots_by_where_the_first_bound_is():
    from l4bench.report.live_triton import twin_layouts

    snaps = [{"t_s": 10.0 * i, "boundaries_tokens": b} for i, b in
             enumerate([[2000, 32768], [20000, 32768], [32768], [2400, 32768]])]
    out = twin_layouts(snaps)
    assert "(4 snapshots, every 10 s)" in out and "<= 8192) in 2," in out
    assert "(20000 tokens: short and long prompts share stage 0) in 1, one stage of both instances in 1." in out


def test_unpaired_ratio_without_a_run_interval_has_no_interval():
    r, lo, hi = unpaired_ratio(_s(10.0, 9.0, 11.0), {"m": 20.0}, "m")
    assert r == pytest.approx(0.5) and math.isnan(lo) and math.isnan(hi)
