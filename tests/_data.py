"""Where test data lives (importable from any test: pyproject puts tests/ on the path)."""

from __future__ import annotations

import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def shared_workloads() -> Path | None:
    """The data directory for tests: $L4BENCH_DATA_DIR, else ../shared/workloads beside the repo."""
    env = os.environ.get("L4BENCH_DATA_DIR")
    for cand in ([Path(env)] if env else []) + [REPO.parent / "shared" / "workloads"]:
        if cand.is_dir():
            return cand
    return None
