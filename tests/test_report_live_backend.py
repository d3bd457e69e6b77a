"""l4bench.report.live_backend: the per-backend live table and the goals, on a synthetic run folder."""

import json

import numpy as np
import pandas as pd
import pytest

from l4bench.report.live_backend import backend_penalty, backend_table
from l4bench.report.live_goals import fa3_goals, strict_goals

RUN = "run"


def _summary(means_s):
    scheds = {n: {"completed": 300, "num_prompts": 300, "mean_e2el_ms": m * 1e3, "p99_e2el_ms": 4 * m * 1e3,
                  "mean_ttft_ms": 100.0, "mean_tpot_ms": 10.0, "request_throughput": 1.0, "migrations": 0}
              for n, m in means_s.items()}
    return {"schedulers": scheds, "per_repeat": [{"repeat": 0, "requests_sha256": "abc", "schedulers": scheds}]}


def _write(tmp_path, factors, seed=0):
    """A live run where each scheduler's E2E is the same requests' base times x its factor (+ noise)."""
    rng = np.random.default_rng(seed)
    base = rng.lognormal(8.0, 1.0, 300)
    rows = [{"repeat": 0, "request_id": i, "scheduler": n, "is_measured": True, "is_completed": True,
             "e2el_ms": base[i] * f * rng.lognormal(0, 0.02)} for n, f in factors.items() for i in range(300)]
    means = {n: float(np.mean([r["e2el_ms"] for r in rows if r["scheduler"] == n])) / 1e3 for n in factors}
    for side in ("live", "sim"):
        (tmp_path / RUN / side).mkdir(parents=True)
        (tmp_path / RUN / side / "summary.json").write_text(json.dumps(_summary(means)))
    pd.DataFrame(rows).to_csv(tmp_path / RUN / "live" / "requests.csv", index=False)


def test_goals_met_when_l4_is_faster_and_missed_when_slower(tmp_path):
    _write(tmp_path, {"l4": 0.8, "least_requests": 1.0, "static_ranges": 1.2})
    goals = fa3_goals(tmp_path, tmp_path / RUN)
    assert "mean E2E no worse than the best baseline (least_requests): met" in goals
    assert "p99 E2E below static_ranges': met" in goals
    (tmp_path / RUN).rename(tmp_path / "old")
    _write(tmp_path, {"l4": 1.3, "least_requests": 1.0, "static_ranges": 1.2})
    goals = fa3_goals(tmp_path, tmp_path / RUN)
    assert "(least_requests): missed" in goals and "below static_ranges': missed" in goals


def test_a_run_without_l4_reports_not_measured_and_no_ratio(tmp_path):
    _write(tmp_path, {"static_ranges": 1.0})
    assert fa3_goals(tmp_path, tmp_path / RUN) == "- repeat 0: not measured (live ran static_ranges only)."
    out = backend_table(tmp_path, tmp_path / RUN)
    assert "| 0 | static_ranges | 300 / 300 |" in out and "no paired ratio" in out


def test_table_refuses_a_twin_of_other_requests(tmp_path):
    _write(tmp_path, {"l4": 1.0, "least_requests": 1.0})
    doc = json.loads((tmp_path / RUN / "sim" / "summary.json").read_text())
    doc["per_repeat"][0]["requests_sha256"] = "other"
    (tmp_path / RUN / "sim" / "summary.json").write_text(json.dumps(doc))
    with pytest.raises(ValueError, match="did not replay the live requests"):
        backend_table(tmp_path, tmp_path / RUN)


def test_placement_counts_each_class_on_the_other_stage(tmp_path):
    from l4bench.report.live_backend import placement

    rows = []
    for i in range(40):  # every 4th request long; l4 puts the 1st long and the 2nd short on the other stage
        long = i % 4 == 0
        for name, inst in (("static_ranges", int(long)), ("l4", int(long) ^ int(i in (0, 1)))):
            rows.append({"repeat": 0, "request_id": i, "scheduler": name, "is_measured": i != 39,
                         "is_completed": True, "prompt_tokens": 20000 if long else 1000, "instances": str(inst),
                         "e2el_ms": 8000.0 if long else 2000.0, "ttft_ms": 100.0, "tpot_ms": 10.0})
    (tmp_path / RUN / "live").mkdir(parents=True)
    pd.DataFrame(rows).to_csv(tmp_path / RUN / "live" / "requests.csv", index=False)
    out = placement(tmp_path, tmp_path / RUN, (("live", "live"),), long_prompt=8192)
    assert "| live | static_ranges | 0 | 0 / 10 | 0 / 29 | 2.00 | 100 | 10.0 | 8.00 | 3.54 |" in out
    assert "| live | l4 | 0 | 1 / 10 | 1 / 29 |" in out  # request 39 (short) is not measured


def test_goals_add_the_ratio_over_repeats_when_there_are_several(tmp_path):
    _write(tmp_path, {"l4": 0.8, "least_requests": 1.0})
    doc = json.loads((tmp_path / RUN / "live" / "summary.json").read_text())
    doc["versus_best_baseline"] = {"metric": "mean_e2el_ms", "best_baseline": "least_requests", "schedulers": {
        "l4": {"ratio": 1.08, "low": 0.56, "high": 2.1, "n": 2, "method": "t on log ratio"}}}
    (tmp_path / RUN / "live" / "summary.json").write_text(json.dumps(doc))
    assert fa3_goals(tmp_path, tmp_path / RUN).endswith(
        "- over 2 repeats (t on log ratio): L4 / least_requests mean E2E 1.080 [0.560, 2.100]: met (CI containing or below 1).")


def test_an_l4_variant_gets_paired_ratios_to_each_baseline_and_to_l4(tmp_path):
    _write(tmp_path, {"l4": 0.8, "l4_no_spill": 0.9, "least_requests": 1.0})
    out = backend_table(tmp_path, tmp_path / RUN)
    assert "- repeat 0, L4 / least_requests: mean E2E 0.80" in out
    assert "- repeat 0, l4_no_spill / least_requests: mean E2E 0.90" in out
    assert "- repeat 0, l4_no_spill / l4: mean E2E 1.12" in out


def test_twin_predictions_list_schedulers_as_configured_with_their_ratio_to_the_best_baseline(tmp_path):
    from l4bench.report.live_backend import twin_predictions

    _write(tmp_path, {"l4": 0.8, "least_requests": 1.0, "static_ranges": 1.25})
    out = twin_predictions(tmp_path, tmp_path / RUN, (("flat", "sim"),))
    lines = [line for line in out.splitlines() if line.startswith("| flat")]
    assert [line.split(" | ")[2] for line in lines] == ["l4", "least_requests (best baseline)", "static_ranges"]
    assert lines[0].split(" | ")[5].startswith("0.8") and lines[1].split(" | ")[5] == "1.000"


def test_ratio_transfer_marks_twin_ratios_inside_the_live_interval(tmp_path):
    from l4bench.report.live_backend import ratio_transfer

    _write(tmp_path, {"l4": 0.8, "least_requests": 1.0})  # the twin's summary is live's: its ratio is inside
    out = ratio_transfer(tmp_path, tmp_path / RUN, (("same", "sim"),))
    assert "| 0 | L4 / least_requests | mean | 0.80" in out and " in |" in out
    assert "- same: 2 of 2 twin ratios inside the live CI, 2 on the same side of 1 as live" in out
    far = json.loads((tmp_path / RUN / "sim" / "summary.json").read_text())
    for entry in far["per_repeat"]:
        entry["schedulers"]["l4"] = {**entry["schedulers"]["l4"], "mean_e2el_ms": 5e3, "p99_e2el_ms": 2e4}
    (tmp_path / RUN / "sim" / "summary.json").write_text(json.dumps(far))
    assert "- same: 0 of 2 twin ratios inside the live CI, 0 on the same side of 1 as live" in \
        ratio_transfer(tmp_path, tmp_path / RUN, (("same", "sim"),))


def test_strict_goals_need_the_ci_upper_bound_below_each_bound(tmp_path):
    # l4 at 0.45x least_requests and 0.9x static_ranges (the best baseline): both mean goals met;
    # p99 0.9x static_ranges is above 0.8x: missed. l4_no_spill at 0.6x least_requests: missed.
    _write(tmp_path, {"l4": 0.45, "l4_no_spill": 0.6, "least_requests": 1.0, "static_ranges": 0.5})
    goals = strict_goals(tmp_path, tmp_path / RUN)
    assert "L4 mean E2E <= 0.5x least_requests: met" in goals
    assert "L4 mean E2E <= 1.0x static_ranges (best baseline): met" in goals
    assert "L4 p99 E2E <= 0.8x static_ranges (best baseline): missed" in goals
    assert "l4_no_spill mean E2E <= 0.5x least_requests: missed" in goals


def test_backend_penalty_pairs_the_same_requests_and_refuses_others(tmp_path):
    _write(tmp_path, {"l4": 1.0, "static_ranges": 1.0})
    (tmp_path / RUN).rename(tmp_path / "control")
    _write(tmp_path, {"l4": 2.0, "static_ranges": 1.3})
    out = backend_penalty(tmp_path, tmp_path / RUN, tmp_path / "control")
    ratios = {line.split(" | ")[1]: float(line.split(" | ")[4].split()[0]) for line in out.splitlines()[2:]}
    assert ratios["l4"] == pytest.approx(2.0, rel=0.02) and ratios["static_ranges"] == pytest.approx(1.3, rel=0.02)
    doc = json.loads((tmp_path / "control" / "live" / "summary.json").read_text())
    doc["per_repeat"][0]["requests_sha256"] = "other"
    (tmp_path / "control" / "live" / "summary.json").write_text(json.dumps(doc))
    with pytest.raises(ValueError, match="replayed different requests"):
        backend_penalty(tmp_path, tmp_path / RUN, tmp_path / "control")


def test_strict_goals_add_the_ratio_over_repeats_judged_by_its_upper_bound(tmp_path):
    # Two repeats of the same requests, l4 at 0.40x and 0.41x least_requests: each repeat meets 0.5x, and
    # so does their geometric mean (0.405) with its 1-df t-interval (upper ~0.47). One repeat: no such line.
    _write(tmp_path, {"l4": 0.40, "least_requests": 1.0})
    assert "over " not in strict_goals(tmp_path, tmp_path / RUN)
    live = tmp_path / RUN / "live"
    doc = json.loads((live / "summary.json").read_text())
    second = json.loads(json.dumps(doc["per_repeat"][0]))
    second["repeat"] = 1
    doc["per_repeat"].append(second)
    for side in ("live", "sim"):
        (tmp_path / RUN / side / "summary.json").write_text(json.dumps(doc))
    rows = pd.read_csv(live / "requests.csv")
    again = rows.assign(repeat=1)
    again.loc[again.scheduler == "l4", "e2el_ms"] *= 0.41 / 0.40
    pd.concat([rows, again]).to_csv(live / "requests.csv", index=False)
    goals = strict_goals(tmp_path, tmp_path / RUN)
    over = [line for line in goals.splitlines() if line.startswith("- over 2 repeats")]
    assert len(over) == 2  # mean vs least_requests; p99 vs the best baseline (least_requests here)
    assert over[0].startswith("- over 2 repeats (geometric mean, t-interval on the log ratios, 1 degree(s) of "
                              "freedom): L4 mean E2E <= 0.5x least_requests: met, 0.4")
    assert "L4 p99 E2E <= 0.8x the best baseline: met" in over[1]
