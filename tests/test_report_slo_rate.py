"""Max rate under an SLO from a rate sweep with repeats (l4bench.report.slo_rate)."""

import json

from l4bench.report.slo_rate import capacity, collect, markdown, max_rate, ratios


def _rate(root, rate, attain):  # attain: {scheduler: [attainment per repeat]}
    d = root / f"rate_{rate:g}"
    d.mkdir(parents=True)
    reps = []
    for r in range(len(next(iter(attain.values())))):
        reps.append({"repeat": r, "schedulers": {n: {"completed": 100, "num_good_requests": round(100 * a[r])}
                                                 for n, a in attain.items()}})
    (d / "summary.json").write_text(json.dumps({"meta": {"arrival": {"rate": rate}}, "per_repeat": reps}))


def test_max_rate_stops_at_the_first_rate_missing_the_slo():
    assert max_rate([1, 2, 3, 4], [0.99, 0.95, 0.5, 0.95], 0.9) == 2
    assert max_rate([2, 1], [0.95, 0.99], 0.9) == 2
    assert max_rate([1, 2], [0.5, 0.99], 0.9) == 0.0


def test_capacity_per_repeat_and_the_ratio(tmp_path):
    _rate(tmp_path, 1.0, {"l4": [1.0, 1.0], "least_requests": [0.95, 0.95]})
    _rate(tmp_path, 2.0, {"l4": [0.95, 0.92], "least_requests": [0.80, 0.91]})
    _rate(tmp_path, 3.0, {"l4": [0.91, 0.60], "least_requests": [0.10, 0.20]})
    df = collect(tmp_path)
    cap = capacity(df, 0.9).set_index("scheduler")
    assert cap.loc["l4", "max_rate_per_repeat"] == "3,2"
    assert cap.loc["least_requests", "max_rate_per_repeat"] == "1,2"
    assert cap.loc["l4", "max_rate_mean_attainment"] == 2.0   # mean at 3: 0.755
    assert cap.loc["least_requests", "max_rate_mean_attainment"] == 1.0   # mean at 2: 0.855
    assert ratios(df, 0.9, "l4", "least_requests") == [3.0, 1.0]
    assert "| 2 | 0.935 (0.920-0.950) | 0.855 (0.800-0.910) |" in markdown(df, 0.9)


def test_one_class_from_the_request_records(tmp_path):
    import pandas as pd

    from l4bench.report.slo_rate import collect_requests

    d = tmp_path / "rate_1"
    d.mkdir()
    (d / "summary.json").write_text(json.dumps({"meta": {"arrival": {"rate": 1.0}}}))
    pd.DataFrame({"repeat": [0] * 4, "scheduler": ["l4"] * 4, "tag": ["short", "short", "short", "long"],
                  "is_measured": [True, True, False, True], "is_completed": [True] * 4,
                  "ttft_ms": [100.0, 3000.0, 100.0, 100.0], "tpot_ms": [10.0] * 4}).to_parquet(d / "requests.parquet")
    df = collect_requests(tmp_path, "short", 2000.0, 100.0)
    assert df[["completed", "good", "attainment"]].values.tolist() == [[2, 1, 0.5]]


def test_neither_meeting_any_rate_is_not_an_infinite_ratio(tmp_path):
    _rate(tmp_path, 1.0, {"l4": [0.5], "least_requests": [0.4]})
    r = ratios(collect(tmp_path), 0.9, "l4", "least_requests")
    assert len(r) == 1 and r[0] != r[0]


def test_the_long_class_at_each_max_rate_comes_from_that_rates_summary(tmp_path):
    from l4bench.report.slo_rate import _long_class

    _rate(tmp_path, 1.0, {"l4": [1.0], "static_ranges": [0.95]})
    _rate(tmp_path, 2.0, {"l4": [0.5], "static_ranges": [0.95]})
    for rate, ttft in ((1.0, 1500.0), (2.0, 60000.0)):
        p = tmp_path / f"rate_{rate:g}" / "summary.json"
        doc = json.loads(p.read_text())
        doc["schedulers"] = {n: {"per_bucket": [
            {"lo_tokens": 0, "count": 90, "mean_ttft_ms": 50.0, "mean_e2el_ms": 1e3},
            {"lo_tokens": 8192, "count": 10, "mean_ttft_ms": ttft, "mean_e2el_ms": 2 * ttft}]} for n in ("l4", "static_ranges")}
        p.write_text(json.dumps(doc))
    text = _long_class(tmp_path, capacity(collect(tmp_path), 0.9))
    assert "l4 at 1 req/s: mean TTFT 1.5 s, mean E2E 3.0 s" in text
    assert "static_ranges at 2 req/s: mean TTFT 60.0 s, mean E2E 120.0 s" in text
