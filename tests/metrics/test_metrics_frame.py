"""records_frame derived columns and the requests.parquet round trip."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from l4bench.metrics.frame import (
    REQUEST_COLUMNS,
    RequestsParquetWriter,
    parts_dir,
    read_requests_parquet,
    records_frame,
    write_requests_parquet,
)
from l4bench.metrics.records import RequestRecord, RunResult


def _runs() -> list[RunResult]:
    ok = RequestRecord(
        0, "ignored", 1.0, 100, 3, num_generated_tokens=3, first_token_s=1.5, finish_s=1.9,
        token_times_s=[1.5, 1.7, 1.9], instances=[2, 0],
    )  # fmt: skip
    one = RequestRecord(1, "ignored", 2.0, 50, 1, num_generated_tokens=1, first_token_s=2.25, finish_s=2.25,
                        token_times_s=[2.25], instances=[1])  # fmt: skip
    bad = RequestRecord(2, "ignored", 3.0, 70, 5, error="instance 1 died", instances=[1])
    return [RunResult("rr", [ok, one], 2.0), RunResult("l4", [bad], 1.0)]


def test_derived_columns() -> None:
    df = records_frame(_runs())
    assert list(df.columns) == list(REQUEST_COLUMNS)
    assert list(df["scheduler"]) == ["rr", "rr", "l4"]  # the run's name wins
    assert df["ttft_ms"].tolist()[:2] == pytest.approx([500.0, 250.0])
    assert df["e2el_ms"].tolist()[:2] == pytest.approx([900.0, 250.0])
    assert df["tpot_ms"].iloc[0] == pytest.approx(200.0)
    assert np.isnan(df["tpot_ms"].iloc[1])  # one token: no TPOT
    assert df["num_hops"].tolist() == [1, 0, 0]
    assert df["is_completed"].tolist() == [True, True, False]
    assert df["error"].iloc[2] == "instance 1 died" and np.isnan(df["e2el_ms"].iloc[2])


def test_parquet_round_trip(tmp_path: Path) -> None:
    df = records_frame(_runs())
    path = write_requests_parquet(df, tmp_path / "a" / "requests.parquet")
    back = read_requests_parquet(path)
    assert list(back.columns) == list(df.columns)
    for col in ("request_id", "prompt_tokens", "num_hops", "is_completed"):
        assert back[col].tolist() == df[col].tolist()
    np.testing.assert_allclose(back["ttft_ms"], df["ttft_ms"])
    for got, want in zip(back["token_times_s"], df["token_times_s"], strict=True):
        np.testing.assert_allclose(got, want, atol=1e-6)
    assert [list(v) for v in back["instances"]] == [[2, 0], [1], [1]]


def test_empty_frame_round_trip(tmp_path: Path) -> None:
    df = records_frame([])
    assert df.empty and list(df.columns) == list(REQUEST_COLUMNS)
    back = read_requests_parquet(write_requests_parquet(df, tmp_path / "r.parquet"))
    assert back.empty and list(back.columns) == list(REQUEST_COLUMNS)


def test_runs_written_before_a_kill_can_be_read(tmp_path: Path) -> None:
    """A writer never closed (its process killed mid-sweep) leaves every appended run readable."""
    path = tmp_path / "requests.parquet"
    writer = RequestsParquetWriter(path)
    first, second = records_frame(_runs()[:1]), records_frame(_runs()[1:])
    writer.append(first)
    writer.append(second)
    assert not path.exists()  # no close: as after a SIGKILL
    back = read_requests_parquet(path)
    assert back["scheduler"].tolist() == ["rr", "rr", "l4"]
    writer.close()
    assert path.exists() and not parts_dir(path).exists()
    assert read_requests_parquet(path)["request_id"].tolist() == [0, 1, 2]
