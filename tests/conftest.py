"""Shared test fixtures: where the workload data lives, small helpers."""

from __future__ import annotations

from pathlib import Path

import pytest
from _data import shared_workloads


@pytest.fixture
def data_dir() -> Path:
    """The shared workloads folder; skips the test when it is absent."""
    d = shared_workloads()
    if d is None:
        pytest.skip("workload data not found: set L4BENCH_DATA_DIR or place shared/workloads beside the repo")
    return d
