"""Fitting the step-time model: known coefficients and penalties come back; fit.json and the report are written."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from perf_helpers import BASE, synthetic_profile

from l4bench.errors import ConfigError
from l4bench.perf.base import BatchShape
from l4bench.perf.features import BACKEND_FEATURES, FeatureParams, backend_of
from l4bench.perf.fit import (
    DEFAULT_FEATURES,
    LEGACY_BACKEND_NOTE,
    design_matrix,
    feature_vector,
    fit_profile,
    fit_profile_dir,
    headline_table,
    load_profile,
    main,
    usable_rows,
)

TRITON = FeatureParams(cudagraph_max_tokens=512, split_seq_threshold=16)


def test_fit_recovers_known_coefficients():
    df = synthetic_profile(np.random.default_rng(1))
    res = fit_profile(df, tuple(BASE))
    got = dict(zip(res.features, res.coefficients, strict=True))
    for name, want in BASE.items():
        assert got[name] == pytest.approx(want, rel=1e-3), name
    assert res.holdout.summaries[0]["all"]["max_abs_pct"] < 1e-4 and res.num_compositions == 80


def test_fit_with_noise_stays_within_noise_and_coefficients_nonnegative():
    df = synthetic_profile(np.random.default_rng(2), noise=0.02)
    res = fit_profile(df, DEFAULT_FEATURES)
    assert min(res.coefficients) >= 0.0
    assert res.holdout.summaries[0]["all"]["mean_abs_pct"] < 4.0


@pytest.mark.parametrize("penalty", ["decode_padded_tokens", "split_2d_context_max"])
def test_triton_fit_recovers_a_known_mixed_batch_penalty(penalty):
    """A kernel that walks the long sequence alone: the backend's features find it, the first set cannot."""
    coef = dict(BASE, **{penalty: 4e-8 if penalty == "split_2d_context_max" else 6e-10})
    df = synthetic_profile(np.random.default_rng(3), coef, noise=0.005, params=TRITON, num=120)
    res = fit_profile(df, BACKEND_FEATURES["TRITON_ATTN"], TRITON, "TRITON_ATTN")
    got = dict(zip(res.features, res.coefficients, strict=True))
    assert got[penalty] == pytest.approx(coef[penalty], rel=0.1)
    assert res.holdout.summaries[0]["mixed"]["mean_abs_pct"] < 2.0
    blind = fit_profile(df, DEFAULT_FEATURES, TRITON)
    assert blind.holdout.summaries[0]["mixed"]["max_abs_pct"] > 10.0  # the penalty is real and large


def test_no_cudagraph_and_split_features_follow_params():
    big = BatchShape(num_prefill_tokens=600, num_prefill_seqs=1, prefill_attention_tokens=600 * 300.0)
    assert feature_vector(big, ["no_cudagraph"])[0] == 1.0
    assert feature_vector(big, ["no_cudagraph"], FeatureParams(cudagraph_max_tokens=1024))[0] == 0.0
    assert design_matrix([big, BatchShape(num_decodes=1)], ["const", "prefill_context"]).tolist() == [[1.0, 300.0],
                                                                                                      [1.0, 0.0]]
    names = ["split_3d_step", "split_3d_context_max", "split_2d_context_max", "decode_padded_tokens"]
    small = BatchShape(num_decodes=16, decode_context_sum=16 * 1000, decode_context_max=5000)
    large = BatchShape(num_decodes=17, decode_context_sum=17 * 1000, decode_context_max=5000)
    with_prefill = BatchShape(4, 1, 8.0, 8, 8000, 5000, 100)
    assert feature_vector(small, names, TRITON).tolist() == [1.0, 5000.0, 0.0, 80_000.0]
    assert feature_vector(large, names, TRITON).tolist() == [0.0, 0.0, 5000.0, 85_000.0]
    assert feature_vector(with_prefill, names, TRITON).tolist() == [0.0, 0.0, 5000.0, 40_000.0]
    with pytest.raises(ConfigError, match="unknown"):
        feature_vector(big, ["bogus"])


def test_order_features_use_the_position_and_halve_when_unknown():
    names = ["long_first_context_max", "long_last_context_max"]
    last = BatchShape(num_decodes=4, decode_context_sum=10_000, decode_context_max=7000, decode_max_position=1.0)
    assert feature_vector(last, names).tolist() == [0.0, 7000.0]
    unknown = BatchShape(num_decodes=4, decode_context_sum=10_000, decode_context_max=7000)
    assert feature_vector(unknown, names).tolist() == [3500.0, 3500.0]


def test_headline_table_pairs_rows_by_batch_size():
    df = pd.DataFrame([
        {"name": "u", "group": "headline_uniform", "req_num_decodes": 64, "req_decode_context_sum": 131072,
         "step_time_s": 0.017},
        {"name": "m", "group": "headline_mixed", "req_num_decodes": 64, "req_decode_context_sum": 131072,
         "step_time_s": 0.0187},
    ])
    table = headline_table(df)
    assert table.loc[0, "mixed_over_uniform"] == pytest.approx(1.1)


def test_median_column_preferred_when_the_profiler_writes_one():
    df = synthetic_profile(np.random.default_rng(5), num=6)
    df["step_time_median_s"] = df["step_time_s"] * 2
    assert usable_rows(df)["step_time_s"].tolist() == (df["step_time_s"] * 2).tolist()
    with pytest.raises(ConfigError, match="no step-time column"):
        usable_rows(df.drop(columns=["step_time_s", "step_time_median_s"]))


def test_fit_profile_dir_writes_fit_and_report(tmp_path, capsys):
    synthetic_profile(np.random.default_rng(4)).to_csv(tmp_path / "profile.csv", index=False)
    synthetic_profile(np.random.default_rng(4), noise=0.01).to_csv(tmp_path / "profile_repeat.csv", index=False)
    (tmp_path / "meta.json").write_text(json.dumps({"kv_capacity_tokens": 123456, "cudagraph_max_capture_size": 256,
                                                    "engine_kwargs": {"gpu_memory_utilization": 0.9}}))
    assert main([str(tmp_path), "--features", ",".join(BASE)]) == 0
    assert "held-out (5-fold over 80 compositions): mixed mean" in capsys.readouterr().out
    fit = json.loads((tmp_path / "fit.json").read_text())
    assert fit["params"] == {"cudagraph_max_tokens": 256, "split_seq_threshold": 0}
    assert fit["profile"]["kv_capacity_tokens"] == 123456 and fit["attention_backend"] == "FLASH_ATTN"
    assert fit["profile"]["attention_backend_source"].startswith("assumed")
    assert set(fit["coefficients"]) == set(BASE) and fit["holdout"]["num_seeds"] == 5
    assert fit["holdout"]["mixed"]["num_compositions"] == 25 and fit["holdout"]["uniform"]["num_compositions"] == 55
    report = (tmp_path / "fit_report.md").read_text()
    assert "5-fold over whole compositions" in report and "| this fit | mixed | 25 |" in report
    assert "## Reproducibility" in report and "80 compositions in both runs" in report
    assert main([str(tmp_path / "nothing")]) == 2
    with pytest.raises(ConfigError, match="no profile.csv"):
        fit_profile_dir(tmp_path / "nothing")


def test_backend_comes_from_meta_then_folder_then_legacy(tmp_path):
    record = {"requested": "FLASH_ATTN_2", "selected": "FLASH_ATTN", "flash_attn_version": 2}
    for folder, meta, column, want in (
            ("TRITON_ATTN", {}, None, ("TRITON_ATTN", "folder name")),
            ("FLASH_ATTN_2", {}, None, ("FLASH_ATTN_2", "folder name")),
            ("x", {"attention_backend": "FLASHINFER"}, None, ("FLASHINFER", "meta.json")),
            ("y", {"attention_backend": record}, None, ("FLASH_ATTN_2", "meta.json")),
            ("z", {}, "TRITON_ATTN", ("TRITON_ATTN", "profile.csv")),
            ("llama-3.1-8b", {}, None, ("FLASH_ATTN", LEGACY_BACKEND_NOTE))):
        d = tmp_path / folder
        d.mkdir()
        df = synthetic_profile(np.random.default_rng(0), num=4)
        if column:
            df["attention_backend"] = column
        df.to_csv(d / "profile.csv", index=False)
        (d / "meta.json").write_text(json.dumps(meta))
        _, got = load_profile(d)
        assert (backend_of(got), got["attention_backend_source"]) == want, folder
    assert load_profile(tmp_path / "llama-3.1-8b")[1]["flash_attn_version"] == 3
