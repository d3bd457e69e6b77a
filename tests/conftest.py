"""Shared test fixtures: where the workload data lives, small helpers."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def shared_workloads() -> Path | None:
    """The data directory for tests: $L4BENCH_DATA_DIR, else ../shared/workloads beside the repo."""
    env = os.environ.get("L4BENCH_DATA_DIR")
    for cand in ([Path(env)] if env else []) + [REPO.parent / "shared" / "workloads"]:
        if cand.is_dir():
            return cand
    return None


@pytest.fixture
def data_dir() -> Path:
    """The shared workloads folder; skips the test when it is absent."""
    d = shared_workloads()
    if d is None:
        pytest.skip("workload data not found: set L4BENCH_DATA_DIR or place shared/workloads beside the repo")
    return d
