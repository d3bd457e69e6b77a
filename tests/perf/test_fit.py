"""Fitting the step-time model: known coefficients come back; the report and fit.json are written."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from l4bench.errors import ConfigError
from l4bench.perf.base import BatchShape
from l4bench.perf.fit import (
    DEFAULT_FEATURES,
    FeatureParams,
    design_matrix,
    feature_vector,
    fit_profile,
    fit_profile_dir,
    headline_table,
    main,
    split_holdout,
)

TRUE = {"const": 0.008, "num_seqs": 2e-5, "num_tokens": 2e-5, "decode_context_sum": 4.5e-8,
        "decode_context_max": 3e-9, "prefill_attention_tokens": 9e-10, "prefill_context": 2e-7,
        "no_cudagraph": 0.005}


def synthetic_profile(rng: np.random.Generator, noise: float = 0.0) -> pd.DataFrame:
    """Rows like profile.csv whose step times follow TRUE exactly (times (1 + noise))."""
    rows = []
    for i in range(80):
        n = int(rng.choice([0, 1, 4, 16, 64, 256])) if i % 3 else int(rng.choice([1, 8, 32]))
        ctx = rng.integers(256, 32_768, size=n) if n else np.array([], dtype=int)
        chunk = int(rng.choice([0, 512, 2048, 7680])) if i % 3 == 0 else 0
        prior = int(rng.choice([0, 16_384, 65_536])) if chunk else 0
        if n == 0 and chunk == 0:
            n, ctx = 1, np.array([1024])
        shape = BatchShape(chunk, int(chunk > 0), chunk * (prior + chunk / 2), n, int(ctx.sum()),
                           int(ctx.max(initial=0)), int(ctx.min(initial=0)))
        t = float(feature_vector(shape, list(TRUE)) @ np.array(list(TRUE.values())))
        rows.append({"name": f"r{i}", "group": "headline_uniform" if i == 0 else "uniform",
                     "req_num_decodes": n, "req_decode_context_sum": int(ctx.sum()),
                     "num_prefill_tokens": chunk, "num_prefill_seqs": int(chunk > 0),
                     "prefill_attention_tokens": shape.prefill_attention_tokens, "num_decodes": n,
                     "decode_context_sum": int(ctx.sum()), "decode_context_max": int(ctx.max(initial=0)),
                     "decode_context_min": int(ctx.min(initial=0)), "is_exact": True,
                     "step_time_s": t * (1 + noise * rng.standard_normal())})
    return pd.DataFrame(rows)


def test_fit_recovers_known_coefficients():
    df = synthetic_profile(np.random.default_rng(1))
    res = fit_profile(df, tuple(TRUE), holdout_fraction=0.2, rng=np.random.default_rng(0))
    got = dict(zip(res.features, res.coefficients, strict=True))
    for name, want in TRUE.items():
        assert got[name] == pytest.approx(want, rel=1e-3), name
    assert res.holdout_mape < 1e-6 and len(res.holdout_names) == 16


def test_fit_with_noise_stays_within_noise_and_coefficients_nonnegative():
    df = synthetic_profile(np.random.default_rng(2), noise=0.02)
    res = fit_profile(df, DEFAULT_FEATURES, 0.2, np.random.default_rng(0))
    assert min(res.coefficients) >= 0.0
    assert res.holdout_mape < 0.04


def test_split_is_seeded_and_disjoint():
    a = split_holdout(50, 0.2, np.random.default_rng(3))
    assert a == split_holdout(50, 0.2, np.random.default_rng(3))
    train, hold = a
    assert len(hold) == 10 and not set(train) & set(hold) and len(train) + len(hold) == 50


def test_no_cudagraph_feature_follows_params():
    big = BatchShape(num_prefill_tokens=600, num_prefill_seqs=1, prefill_attention_tokens=600 * 300.0)
    assert feature_vector(big, ["no_cudagraph"])[0] == 1.0
    assert feature_vector(big, ["no_cudagraph"], FeatureParams(cudagraph_max_tokens=1024))[0] == 0.0
    assert design_matrix([big, BatchShape(num_decodes=1)], ["const", "prefill_context"]).tolist() == [[1.0, 300.0],
                                                                                                      [1.0, 0.0]]
    with pytest.raises(ConfigError, match="unknown"):
        feature_vector(big, ["bogus"])


def test_headline_table_pairs_rows_by_batch_size():
    df = pd.DataFrame([
        {"name": "u", "group": "headline_uniform", "req_num_decodes": 64, "req_decode_context_sum": 131072,
         "step_time_s": 0.017},
        {"name": "m", "group": "headline_mixed", "req_num_decodes": 64, "req_decode_context_sum": 131072,
         "step_time_s": 0.0187},
    ])
    table = headline_table(df)
    assert table.loc[0, "mixed_over_uniform"] == pytest.approx(1.1)


def test_fit_profile_dir_writes_fit_and_report(tmp_path, capsys):
    synthetic_profile(np.random.default_rng(4)).to_csv(tmp_path / "profile.csv", index=False)
    synthetic_profile(np.random.default_rng(4), noise=0.01).to_csv(tmp_path / "profile_repeat.csv", index=False)
    (tmp_path / "meta.json").write_text(json.dumps({"kv_capacity_tokens": 123456, "cudagraph_max_capture_size": 256,
                                                    "engine_kwargs": {"gpu_memory_utilization": 0.9}}))
    assert main([str(tmp_path), "--features", ",".join(TRUE)]) == 0
    assert "held-out" in capsys.readouterr().out
    fit = json.loads((tmp_path / "fit.json").read_text())
    assert fit["params"] == {"cudagraph_max_tokens": 256} and fit["profile"]["kv_capacity_tokens"] == 123456
    assert set(fit["coefficients"]) == set(TRUE) and fit["split_stability"]["num_splits"] == 20
    report = (tmp_path / "fit_report.md").read_text()
    assert "held-out mean abs. relative error" in report and "| r0 |" not in report
    assert "## Reproducibility" in report and "80 compositions in both runs" in report
    with pytest.raises(ConfigError, match="no profile.csv"):
        fit_profile_dir(tmp_path / "nothing")
