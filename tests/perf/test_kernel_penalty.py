"""Per-backend penalty of the analytic model from a kernels.csv (fixture: tests/data/kernels_tiny.csv)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from l4bench.errors import ConfigError
from l4bench.perf.analytic import AnalyticPerfModel
from l4bench.perf.base import BatchShape, GpuSpec, ModelSpec
from l4bench.perf.kernels import fit_penalty, load_penalty, mixed_ratios

TABLE = str(Path(__file__).resolve().parents[1] / "data" / "kernels_tiny.csv")
LLAMA = ModelSpec("llama-3.1-8b", 32, 4096, 32, 8, 128, 14336, 128256, 131072)
H200 = GpuSpec("h200", 150e9, 4.8e12, 989e12, 132)


def test_triton_penalty_is_recovered():
    pen = load_penalty(TABLE, "TRITON_ATTN")  # the fixture was built with beta 0.5, kappa 0.08
    assert pen.spread_beta == pytest.approx(0.5, rel=0.02) and pen.spread_kappa == pytest.approx(0.08, rel=0.02)
    assert pen.num_mixed == 10 and pen.max_abs_error_pct < 0.5
    assert pen.ratio(64.0) == pytest.approx(1 + 0.5 * (1 - 1 / 64) + 0.08 * 63, rel=0.02)


def test_flash_attn_penalty_is_small_and_failed_backend_is_one_clear_line():
    pen = load_penalty(TABLE, "FLASH_ATTN")
    assert pen.ratio(32.0) < 1.05 and pen.max_abs_error_pct < 3.0
    with pytest.raises(ConfigError, match="no mixed rows .* valid: FLASHINFER, FLASH_ATTN, TRITON_ATTN"):
        load_penalty(TABLE, "FLASHINFER")
    with pytest.raises(ConfigError, match="no kernels.csv"):
        load_penalty("/nonexistent/kernels.csv", "FLASH_ATTN")


def test_other_column_names_and_no_kind_column():
    df = pd.read_csv(TABLE).rename(columns={"max_seq_len": "max_len", "vs_homog": "ratio_vs_homogeneous"})
    df = df.drop(columns=["kind"])
    assert len(mixed_ratios(df, "TRITON_ATTN")) == 10
    assert fit_penalty(df, "TRITON_ATTN").spread_kappa == pytest.approx(0.08, rel=0.02)
    with pytest.raises(ConfigError, match="valid: backend, batch_size"):
        mixed_ratios(df.drop(columns=["max_len"]), "TRITON_ATTN")


def test_analytic_model_uses_the_backends_penalty():
    perf = AnalyticPerfModel(LLAMA, H200, spread_beta=0.0, kernel_table=TABLE, attention_backend="TRITON_ATTN")
    flat = AnalyticPerfModel(LLAMA, H200, spread_beta=0.0)
    homog = BatchShape(num_decodes=64, decode_context_sum=64 * 2048, decode_context_max=2048)
    mixed = BatchShape(num_decodes=64, decode_context_sum=64 * 2048, decode_context_max=65536)
    assert perf.step_time_s(homog) == flat.step_time_s(homog)
    extra = perf.step_time_s(mixed) - flat.step_time_s(mixed)
    attn = 64 * 2048 * LLAMA.kv_bytes_per_token / (H200.memory_bandwidth_bytes_s * 0.85)
    assert extra == pytest.approx(attn * (perf.kernel_penalty.ratio(32.0) - 1.0), rel=1e-9)
    times = perf.decode_step_times_s(64, 64 * 2048, 65536, 1040, 40)
    assert times == [perf.step_time_s(BatchShape(num_decodes=64, decode_context_sum=64 * 2048 + 64 * j,
                                                 decode_context_max=65536 + j, decode_context_min=1040 + j))
                     for j in range(40)]


def test_analytic_kernel_table_needs_a_backend_and_no_hand_penalty():
    with pytest.raises(ConfigError, match="attention_backend: required"):
        AnalyticPerfModel(LLAMA, H200, spread_beta=0.0, kernel_table=TABLE)
    with pytest.raises(ConfigError, match="fitted from perf.kernel_table"):
        AnalyticPerfModel(LLAMA, H200, spread_beta=1.0, kernel_table=TABLE, attention_backend="TRITON_ATTN")
    with pytest.raises(ConfigError, match="spread_kappa"):
        AnalyticPerfModel(LLAMA, H200, spread_kappa=-1.0)


def test_engine_names_map_to_the_benchmarks_names():
    from l4bench.perf.kernels import kernel_backend

    assert [kernel_backend(b) for b in ("FLASH_ATTN", "flash_attn_2", "TRITON_ATTN", "fa3_eager")] == [
        "fa3", "fa2", "triton", "fa3_eager"]
    df = pd.read_csv(TABLE)
    df = df.assign(backend=df["backend"].replace({"FLASH_ATTN": "fa3", "TRITON_ATTN": "triton"}))
    assert fit_penalty(df, "TRITON_ATTN").spread_kappa == fit_penalty(df, "triton").spread_kappa > 0
    assert fit_penalty(df, "FLASH_ATTN").spread_beta == fit_penalty(df, "fa3").spread_beta
