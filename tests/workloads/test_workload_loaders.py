"""Each loader on the real shared files (numbers from shared/workloads/SOURCES.md) and on tiny fixtures."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from l4bench.errors import ConfigError
from l4bench.workloads import (
    AzureTraceWorkload,
    LengthsCsvWorkload,
    LengthTableWorkload,
    LongBenchWorkload,
    MooncakeWorkload,
)
from l4bench.workloads.data import KNOWN_FILES

FIXTURES = Path(__file__).resolve().parents[1] / "data"

# (workload, rows, input mean, output mean, duration_s or None) from SOURCES.md
REAL = [
    (lambda d: MooncakeWorkload("conversation", data_dir=d), 12031, 12035.1, 342.6, 3537.0),
    (lambda d: MooncakeWorkload("synthetic", data_dir=d), 3993, 15325.5, 149.1, 1022.0),
    (lambda d: AzureTraceWorkload("code", data_dir=d), 8819, 2047.8, 27.9, 3435.9),
    (lambda d: AzureTraceWorkload("conv", data_dir=d), 19366, 1154.7, 211.1, 3501.7),
    (lambda d: LengthTableWorkload("arxiv", data_dir=d), 28257, 2588.1, 291.4, None),
    (lambda d: LengthTableWorkload("bwb", data_dir=d), 33768, 1067.2, 1612.8, None),
    (lambda d: LengthTableWorkload("sharegpt", data_dir=d), 30731, 2340.0, 438.7, None),
]


def _rng() -> np.random.Generator:
    return np.random.default_rng(0)


@pytest.mark.parametrize("make,rows,in_mean,out_mean,duration", REAL)
def test_real_files_match_published_stats(data_dir, make, rows, in_mean, out_mean, duration):
    w = make(str(data_dir))
    reqs = w.load(_rng())
    assert len(reqs) == rows
    assert np.mean([r.prompt_tokens for r in reqs]) == pytest.approx(in_mean, abs=0.06)
    assert np.mean([r.output_tokens for r in reqs]) == pytest.approx(out_mean, abs=0.06)
    assert [r.request_id for r in reqs] == list(range(rows))
    assert reqs[0].arrival_s == 0.0
    arrivals = np.array([r.arrival_s for r in reqs])
    assert np.all(np.diff(arrivals) >= 0)
    if duration is None:
        assert not w.has_timestamps and np.all(arrivals == 0.0)
    else:
        assert w.has_timestamps and arrivals[-1] == pytest.approx(duration, abs=0.05)
    facts = w.describe()
    assert facts["num_requests"] == rows and facts["num_truncated"] == 0
    assert facts["sha256_matches_registry"] is True and facts["is_synthesized"] is False


def test_mooncake_hashes_block_count_and_prefix_reuse(data_dir):
    reqs = MooncakeWorkload(data_dir=str(data_dir)).load(_rng())
    assert all(len(r.prefix_hash_ids) == -(-r.prompt_tokens // 512) for r in reqs[:2000])
    seen: set[int] = set()
    hits = total = 0
    for r in reqs:
        hits += sum(h in seen for h in r.prefix_hash_ids)
        total += len(r.prefix_hash_ids)
        seen.update(r.prefix_hash_ids)
    assert total == 288_500 and hits / total == pytest.approx(0.366, abs=0.001)


def test_num_requests_takes_first_n_in_trace_order(data_dir):
    full = AzureTraceWorkload("conv", data_dir=str(data_dir)).load(_rng())
    head = AzureTraceWorkload("conv", data_dir=str(data_dir), num_requests=50).load(_rng())
    assert [(r.prompt_tokens, r.arrival_s) for r in head] == [
        (r.prompt_tokens, r.arrival_s) for r in full[:50]
    ]


def test_truncation_to_max_model_len(data_dir):
    w = MooncakeWorkload(data_dir=str(data_dir), max_model_len=32768)
    reqs = w.load(_rng())
    assert all(r.prompt_tokens + r.output_tokens <= 32768 for r in reqs)
    assert all(len(r.prefix_hash_ids) == -(-r.prompt_tokens // 512) for r in reqs)
    expected = sum(
        1
        for r in MooncakeWorkload(data_dir=str(data_dir)).load(_rng())
        if r.prompt_tokens + r.output_tokens > 32768
    )
    assert w.describe()["num_truncated"] == expected > 0


def test_mooncake_fixture_in_data_dir_key(tmp_path, monkeypatch):
    monkeypatch.delenv("L4BENCH_DATA_DIR", raising=False)
    (tmp_path / "mooncake").mkdir()
    shutil.copy(FIXTURES / "mooncake_tiny.jsonl", tmp_path / "mooncake" / "conversation_trace.jsonl")
    w = MooncakeWorkload(data_dir=str(tmp_path), max_model_len=1024)
    reqs = w.load(_rng())
    assert [r.arrival_s for r in reqs] == [0.0, 1.5, 1.5, 4.0]
    assert [r.prompt_tokens for r in reqs] == [1014, 1004, 600, 994]
    assert [r.prefix_hash_ids for r in reqs] == [(0, 1), (0, 1), (4, 5), (0, 6)]
    facts = w.describe()
    assert facts["num_truncated"] == 3 and facts["sha256_matches_registry"] is False


def test_lengths_csv_absolute_path_and_columns():
    w = LengthsCsvWorkload(
        str(FIXTURES / "lengths_tiny.csv"), input_column="prompt_len", output_column="gen_len"
    )
    reqs = w.load(_rng())
    assert [(r.prompt_tokens, r.output_tokens, r.arrival_s) for r in reqs] == [
        (100, 10, 0.0),
        (2000, 50, 0.0),
        (300, 7, 0.0),
    ]
    assert w.describe()["sha256"] and not w.has_timestamps


def test_lengths_csv_missing_column_names_valid_ones():
    w = LengthsCsvWorkload(str(FIXTURES / "lengths_tiny.csv"), input_column="input")
    with pytest.raises(
        ConfigError, match=r"lengths_csv.*no column.*'input'.*valid: prompt_len, gen_len, note"
    ):
        w.load(_rng())


@pytest.mark.parametrize(
    "make,pattern",
    [
        (
            lambda: MooncakeWorkload("toolagent"),
            r"workload.mooncake.trace: unknown value 'toolagent'; valid: conversation, synthetic",
        ),
        (lambda: AzureTraceWorkload("chat"), r"azure.kind.*valid: code, conv"),
        (lambda: LengthTableWorkload("c4"), r"valid: sharegpt, arxiv, bwb"),
        (lambda: LongBenchWorkload(version="v3"), r"version.*valid: v1, v2"),
        (lambda: LongBenchWorkload(source="web"), r"source.*valid: offline, online"),
        (lambda: MooncakeWorkload(num_requests=0), r"num_requests"),
        (lambda: MooncakeWorkload(max_model_len=1), r"max_model_len"),
    ],
)
def test_bad_options(make, pattern):
    with pytest.raises(ConfigError, match=pattern):
        make()


def test_missing_file_names_option_and_fix(tmp_path, monkeypatch):
    monkeypatch.delenv("L4BENCH_DATA_DIR", raising=False)
    w = LengthsCsvWorkload("nope/lengths.csv", data_dir=str(tmp_path))
    with pytest.raises(
        ConfigError, match=r"workload.path: cannot find nope/lengths.csv.*L4BENCH_DATA_DIR"
    ):
        w.load(_rng())


def test_longbench_offline_v1_matches_published_table():
    w = LongBenchWorkload()
    reqs = w.load(_rng())
    assert len(reqs) == 4750 and w.is_synthesized and w.describe()["is_synthesized"] is True
    by_task = {}
    for r in reqs:
        by_task.setdefault(r.tag, []).append(r)
    assert len(by_task) == 21 and len(by_task["lcc"]) == 500
    assert {r.output_tokens for r in by_task["gov_report"]} == {512}
    assert np.mean([r.prompt_tokens for r in by_task["narrativeqa"]]) == pytest.approx(
        18409 * 1.375, rel=0.08
    )
    assert np.mean([r.prompt_tokens for r in by_task["dureader"]]) == pytest.approx(15768 * 0.7, rel=0.08)


def test_longbench_offline_v2_tasks_and_truncation():
    w = LongBenchWorkload(
        version="v2",
        tasks=["code_repository_understanding", "single_document_qa/legal"],
        max_model_len=131072,
    )
    reqs = w.load(_rng())
    assert len(reqs) == 50 + 19
    assert {r.tag for r in reqs} == {"code_repository_understanding/code_repo_qa", "single_document_qa/legal"}
    assert all(r.prompt_tokens + r.output_tokens <= 131072 for r in reqs)
    assert w.describe()["num_truncated"] > 0
    with pytest.raises(ConfigError, match=r"tasks: unknown \['nope'\]; valid: code_repository_understanding"):
        LongBenchWorkload(version="v2", tasks=["nope"]).load(_rng())


def test_longbench_file_in_data_dir_is_used(data_dir):
    w = LongBenchWorkload(data_dir=str(data_dir), num_requests=10)
    assert len(w.load(_rng())) == 10
    assert w.describe()["sha256"] == KNOWN_FILES["longctx_benchmark_stats/longbench_v1_task_stats.csv"].sha256


def test_longbench_online_without_hf_extra_is_a_config_error():
    """The online path needs network + the hf extra; here only its guard can run."""
    try:
        import datasets  # noqa: F401
        import transformers  # noqa: F401
    except ImportError:
        with pytest.raises(ConfigError, match=r"'hf' extra"):
            LongBenchWorkload(source="online", tokenizer="x").load(_rng())
    else:
        pytest.skip("datasets+transformers installed: the guard does not trigger")
