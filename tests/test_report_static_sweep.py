"""static_ranges boundary sweep table (l4bench.report.static_sweep)."""

import json

import pytest

from l4bench.report.static_sweep import SweepError, best, collect, main, markdown


def _run(root, boundary, mean_ms, digest="abc"):
    d = root / f"b{boundary}"
    d.mkdir(parents=True)
    s = {"mean_e2el_ms": mean_ms, "p99_e2el_ms": 4 * mean_ms, "mean_ttft_ms": mean_ms / 2, "mean_tpot_ms": 20.0,
         "request_throughput": 10.0, "completed": 100, "num_good_requests": 90}
    doc = {"schedulers": {"static_ranges": s}, "per_repeat": [{"repeat": 0, "requests_sha256": digest}]}
    (d / "summary.json").write_text(json.dumps(doc))
    (d / "config_resolved.yaml").write_text(
        f"experiment:\n  scheduler_overrides:\n    static_ranges:\n      boundaries: [{boundary}]\n")


def test_the_lowest_mean_e2e_boundary_is_picked_and_rows_sort_by_boundary(tmp_path):
    for b, m in [(16384, 9000.0), (2048, 7000.0), (4096, 5000.0)]:
        _run(tmp_path, b, m)
    df = collect(tmp_path)
    assert list(df.first_boundary) == [2048, 4096, 16384]
    assert best(df) == "4096"
    assert "| 4096 (best) | 5.00 | 20.00 |" in markdown(df)
    assert df.slo_attainment.tolist() == [0.9, 0.9, 0.9]


def test_runs_of_different_requests_are_refused(tmp_path):
    _run(tmp_path, 2048, 1.0, digest="a")
    _run(tmp_path, 4096, 1.0, digest="b")
    with pytest.raises(SweepError, match="different requests"):
        collect(tmp_path)


def test_an_empty_folder_is_one_clear_error(tmp_path):
    with pytest.raises(SystemExit, match="no static_ranges summary.json"):
        main([str(tmp_path)])
