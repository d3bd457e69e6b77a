"""Whole-composition k-fold: no composition in train and test, mixed and uniform reported apart."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
from perf_helpers import BASE, synthetic_profile

from l4bench.perf.crossval import composition_folds, holdout_errors, out_of_fold, with_compositions
from l4bench.perf.features import (
    BACKEND_FEATURES,
    DEFAULT_FEATURES,
    ORDER_FEATURES,
    FeatureParams,
    backend_of,
    features_for,
    params_from_meta,
    split_threshold,
)


def test_folds_never_split_a_composition_and_test_each_once():
    ids = np.array([f"c{i % 13}" for i in range(91)])  # 7 passes of 13 compositions
    folds = composition_folds(ids, 5, np.random.default_rng(0))
    tested = np.concatenate(folds)
    assert sorted(tested.tolist()) == list(range(91))
    for test in folds:
        train = np.setdiff1d(np.arange(91), test)
        assert not set(ids[test]) & set(ids[train])


def test_holdout_does_not_leak_repeated_rows():
    """Times that depend only on the composition id (not on features): a leaking split would predict them."""
    df = with_compositions(synthetic_profile(np.random.default_rng(1), num=30, passes=3))
    rng = np.random.default_rng(7)
    noise = {c: rng.uniform(0.5, 1.5) for c in df["composition_id"].unique()}
    df["step_time_s"] = df["step_time_s"] * df["composition_id"].map(noise)
    # one indicator column per composition: fits its own rows exactly, knows nothing about others
    ids = df["composition_id"].to_numpy()
    x = (ids[:, None] == np.unique(ids)[None, :]).astype(float)
    pred = out_of_fold(x, df["step_time_s"].to_numpy(), ids, 5, np.random.default_rng(0))
    assert np.all(pred == 0.0)  # never trained on any row of the composition it predicts


def test_mixed_flag_from_profile_or_spread():
    df = synthetic_profile(np.random.default_rng(2), num=9)
    derived = with_compositions(df)
    assert derived["is_mixed"].tolist() == [name.startswith("mixed") for name in df["name"]]
    df["is_mixed"] = ["True"] * 9
    df["composition_id"] = list(range(9))
    given = with_compositions(df)
    assert given["is_mixed"].all() and given["composition_id"].tolist() == [str(i) for i in range(9)]


def test_holdout_summary_is_per_kind_and_json_ready():
    df = synthetic_profile(np.random.default_rng(3), num=40, noise=0.01)
    res = holdout_errors(df, tuple(BASE), FeatureParams(), 4, (0, 1))
    out = res.to_json()
    assert out["method"] == "4-fold over whole compositions" and out["num_seeds"] == 2
    assert out["mixed"]["num_compositions"] + out["uniform"]["num_compositions"] == 40
    assert 0 < out["all"]["mean_abs_pct"] < 5 and json.dumps(out)
    assert isinstance(res.table, pd.DataFrame) and len(res.table) == 40


def test_feature_sets_per_backend_and_meta_override():
    assert features_for({}) == DEFAULT_FEATURES == BACKEND_FEATURES["FLASH_ATTN"]
    assert "split_2d_context_max" in features_for({"attention_backend": "TRITON_ATTN"})
    assert backend_of({"attention_backend": "FLASH_ATTN", "flash_attn_version": 2}) == "FLASH_ATTN_2"
    assert backend_of({"attention_backend": "FLASH_ATTN_3"}) == "FLASH_ATTN"
    assert backend_of({"attention_backend": {"requested": None, "selected": "TRITON_ATTN"}}) == "TRITON_ATTN"
    assert "decode_padded_tokens" in features_for({"attention_backend": "FLASH_ATTN", "flash_attn_version": 2})
    assert features_for({}, has_position=True)[-2:] == ORDER_FEATURES
    assert features_for({"fit_features": ["const", "num_seqs"]}) == ("const", "num_seqs")


def test_triton_split_threshold_follows_vllm():
    llama = {"attention_backend": "TRITON_ATTN", "model_config": {"num_key_value_heads": 8},
             "cudagraph_mode": "FULL_AND_PIECEWISE", "engine_kwargs": {"max_num_seqs": 256}}
    assert split_threshold(llama) == 16  # 128 // 8, a capture size already
    assert split_threshold(dict(llama, cudagraph_capture_sizes=[1, 2, 4, 8, 24])) == 8  # nearest; ties: first
    assert split_threshold(dict(llama, model_config={"num_key_value_heads": 4}, enforce_eager=True)) == 32
    assert split_threshold(dict(llama, model_config={"num_key_value_heads": 3}, cudagraph_mode="NONE")) == 42
    assert split_threshold(dict(llama, seq_threshold_3d=5)) == 5
    assert split_threshold({"model_config": {"num_key_value_heads": 8}}) == 0
    assert params_from_meta(llama) == FeatureParams(cudagraph_max_tokens=512, split_seq_threshold=16)
