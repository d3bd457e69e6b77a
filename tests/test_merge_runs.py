"""python -m l4bench.merge_runs: repeats and schedulers of several run dirs joined into the summary one run would write."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from l4bench.merge_runs import MergeError, load_run, main, merge, per_request_e2el
from l4bench.metrics.frame import read_requests_parquet, write_requests_csv
from l4bench.replay import replay_and_write
from tests.test_replay import NAMES, _FakeEngine, _plan


@pytest.fixture(autouse=True)
def _no_figures(monkeypatch):
    monkeypatch.setattr("l4bench.results_writer._write_figures", lambda *a, **k: None)


def _run(out: Path, config: str = "seed: 0\nexperiment:\n  repeats: 1\n", names=NAMES, **kw) -> Path:
    plan = _plan(out, _FakeEngine(), **kw)
    plan.schedulers = {n: plan.schedulers[n] for n in names}
    plan.resolved_config = config
    replay_and_write(plan)
    return out


def _strip(doc, keys=("schedulers", "versus_best_baseline", "versus_best_each_repeat")):
    """The headline parts of a summary without wall-clock times (they differ run to run)."""
    if isinstance(doc, dict):
        return {k: _strip(v, ()) for k, v in doc.items() if k != "wall_s" and (not keys or k in keys)}
    return [_strip(v, ()) for v in doc] if isinstance(doc, list) else doc


def test_repeats_run_apart_merge_into_what_one_run_of_both_writes(tmp_path):
    whole = json.loads((_run(tmp_path / "whole", repeats=2) / "summary.json").read_text())
    a = _run(tmp_path / "a", repeats=1)
    b = _run(tmp_path / "b", repeats=1, first_repeat=1)
    doc = merge([load_run(b), load_run(a)])  # order of the dirs does not matter
    assert doc["repeats"]["indices"] == [0, 1] and doc["merge"]["coverage"] == {n: [0, 1] for n in NAMES}
    assert [e["requests_sha256"] for e in doc["per_repeat"]] == [e["requests_sha256"] for e in whole["per_repeat"]]
    assert _strip(doc) == _strip(whole)
    assert "note" not in doc["merge"]


def test_schedulers_of_one_repeat_run_apart_keep_the_paired_bootstrap(tmp_path):
    whole = json.loads((_run(tmp_path / "whole") / "summary.json").read_text())
    first = _run(tmp_path / "first", names=NAMES[:2])
    rest = _run(tmp_path / "rest", names=NAMES[2:])
    doc = merge([load_run(first), load_run(rest)])
    assert doc["per_repeat"][0]["scheduler_order"] == NAMES
    vs, want = doc["versus_best_baseline"], whole["versus_best_baseline"]
    assert vs["best_baseline"] == want["best_baseline"]
    for name in NAMES:  # the same per-request E2E and bootstrap seed: the same paired CI
        assert vs["schedulers"][name] == want["schedulers"][name]
    # requests.csv instead of requests.parquet: the same pairs, latencies rounded to 6 digits
    df = read_requests_parquet(rest / "requests.parquet")
    write_requests_csv(df, rest / "requests.csv")
    (rest / "requests.parquet").unlink()
    again = merge([load_run(first), load_run(rest)])["versus_best_baseline"]["schedulers"]
    for name in NAMES:
        assert again[name]["low"] == pytest.approx(want["schedulers"][name]["low"], rel=1e-4)
        assert again[name]["num_paired_requests"] == want["schedulers"][name]["num_paired_requests"]


def test_runs_listing_other_schedulers_merge_but_a_shared_scheduler_parameters_must_agree(tmp_path):
    def config(names, window=60.0):
        return ("seed: 0\nexperiment:\n  schedulers: [" + ", ".join(names) + "]\n"
                f"  scheduler_overrides:\n    l4:\n      window_s: {window}\n")
    first = _run(tmp_path / "first", config=config(NAMES[:2]), names=NAMES[:2])  # runs l4
    rest = _run(tmp_path / "rest", config=config(NAMES[2:]), names=NAMES[2:])
    assert merge([load_run(first), load_run(rest)])["per_repeat"][0]["scheduler_order"] == NAMES
    # a run that did not run l4 may carry other l4 parameters (or none): they describe nothing it measured
    other = _run(tmp_path / "other", config=config(NAMES[2:], window=30.0), names=NAMES[2:])
    assert merge([load_run(first), load_run(other)])["per_repeat"][0]["scheduler_order"] == NAMES
    # two runs of l4 (repeats 0 and 1) with different parameters are refused
    again = _run(tmp_path / "again", config=config(NAMES[:2], window=30.0), names=NAMES[:2], first_repeat=1)
    with pytest.raises(MergeError, match=r"config differs.*scheduler_overrides\.l4\.window_s \(60\.0 vs 30\.0\)"):
        merge([load_run(first), load_run(rest), load_run(again)])


def test_a_run_without_per_request_records_still_merges_by_repeat(tmp_path):
    a = _run(tmp_path / "a")
    b = _run(tmp_path / "b", first_repeat=1, names=NAMES[:2])
    (a / "requests.parquet").unlink()
    doc = merge([load_run(a), load_run(b)])
    assert [r["per_request_records"] for r in doc["merge"]["runs"]] == [False, True]
    assert doc["merge"]["coverage"][NAMES[3]] == [0] and "different repeats" in doc["merge"]["note"]
    assert doc["schedulers"][NAMES[0]]["num_repeats"] == 2


def test_mismatches_are_refused_with_the_reason(tmp_path):
    a = _run(tmp_path / "a")
    with pytest.raises(MergeError, match="ran in both"):
        merge([load_run(a), load_run(_run(tmp_path / "again"))])
    other = _run(tmp_path / "other", config="seed: 1\nexperiment:\n  repeats: 3\n  first_repeat: 1\n", first_repeat=1)
    with pytest.raises(MergeError, match=r"config differs.*seed \(0 vs 1\)"):
        merge([load_run(a), load_run(other)])
    same_keys = _run(tmp_path / "ok", config="seed: 0\nexperiment:\n  repeats: 3\n  first_repeat: 1\n", first_repeat=1)
    assert merge([load_run(a), load_run(same_keys)])["repeats"]["indices"] == [0, 1]  # repeat keys may differ
    doc = json.loads((same_keys / "summary.json").read_text())
    doc["per_repeat"][0]["requests_sha256"] = "0" * 64
    doc["per_repeat"][0]["repeat"] = 0
    (same_keys / "summary.json").write_text(json.dumps(doc))
    with pytest.raises(MergeError, match="other requests"):
        merge([load_run(a), load_run(same_keys)])


def test_cli_writes_the_merge_and_says_why_not_in_one_line(tmp_path, capsys):
    a, b = _run(tmp_path / "a"), _run(tmp_path / "b", first_repeat=1)
    assert main([str(a), str(b), "--out", str(tmp_path / "m")]) == 0
    assert {p.name for p in (tmp_path / "m").iterdir()} == {"summary.json", "comparison.csv", "config_resolved.yaml",
                                                           "requests.csv"}
    assert "repeats [0, 1]" in capsys.readouterr().out
    joined, parts = per_request_e2el(tmp_path / "m"), {**per_request_e2el(a), **per_request_e2el(b)}
    assert sorted(joined) == [0, 1] and all(
        np.allclose(joined[r][n], parts[r][n], equal_nan=True, rtol=1e-5) for r in parts for n in parts[r])
    # the merged folder merges again like any run (its requests.csv read back, instances already "0;1")
    assert main([str(tmp_path / "m"), "--out", str(tmp_path / "again")]) == 0
    assert (tmp_path / "again" / "requests.csv").read_text() == (tmp_path / "m" / "requests.csv").read_text()
    (a / "requests.parquet").unlink()
    assert main([str(a), str(b), "--out", str(tmp_path / "m3")]) == 0
    assert not (tmp_path / "m3" / "requests.csv").exists()  # only when every run has per-request rows
    assert main([str(a), str(tmp_path / "nowhere"), "--out", str(tmp_path / "m2")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "no summary.json" in err and len(err.strip().splitlines()) == 1
