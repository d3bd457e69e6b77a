"""Shared by the live tests: find the engine venv, run the CLI, read what it wrote."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]


def engine_python() -> str:
    """The engine venv's python: $L4BENCH_ENGINE_PYTHON, else .venv-engine; skips when neither has vLLM."""
    env = os.environ.get("L4BENCH_ENGINE_PYTHON")
    python = env or str(REPO / ".venv-engine" / "bin" / "python")
    if not Path(python).exists():
        if env:
            pytest.fail(f"L4BENCH_ENGINE_PYTHON={env} does not exist")
        pytest.skip("no engine venv: run `bash scripts/setup_live_cpu.sh` or set L4BENCH_ENGINE_PYTHON")
    ok = subprocess.run([python, "-c", "import vllm"], capture_output=True, timeout=300).returncode == 0
    if not ok:
        (pytest.fail if env else pytest.skip)(f"{python} cannot import vllm")
    return python


def router_argv() -> list[str]:
    """`l4bench-router` next to this python when installed (pip install -e .), else `python -m l4bench.router`."""
    script = Path(sys.executable).parent / "l4bench-router"
    return [str(script)] if script.exists() else [sys.executable, "-m", "l4bench.router"]


def free_port() -> int:
    """A TCP port free on the loopback interface right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def results_dir(tmp_path: Path) -> Path:
    """Where live runs write: $L4BENCH_LIVE_RESULTS_DIR (kept for inspection) or the test's tmp dir."""
    keep = os.environ.get("L4BENCH_LIVE_RESULTS_DIR")
    return Path(keep).resolve() if keep else tmp_path


def run_cli(
    python: str, out: Path, overrides: list[str], timeout_s: float
) -> tuple[dict[str, Any], Path, float]:
    """`python -m l4bench <overrides>` with the engine venv; returns (summary.json, run dir, wall seconds)."""
    env = {**os.environ, "L4BENCH_ENGINE_PYTHON": python}
    t0 = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-m", "l4bench", *overrides, f"results_dir={out}", "progress=false"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout_s,
    )
    wall_s = time.monotonic() - t0
    assert proc.returncode == 0, (
        f"CLI failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-5000:]}"
    )
    summary_path = Path(proc.stdout.strip().splitlines()[-1])
    return json.loads(summary_path.read_text()), summary_path.parent, wall_s


def summary_table(summary: dict[str, Any]) -> str:
    """One line per scheduler: the numbers the smoke test is about."""
    cols = (
        "completed",
        "failed",
        "mean_ttft_ms",
        "mean_tpot_ms",
        "mean_e2el_ms",
        "p99_e2el_ms",
        "migrations",
        "wall_s",
    )
    lines = ["scheduler".ljust(26) + "".join(c.rjust(14) for c in cols)]
    for name, s in summary["schedulers"].items():
        cells = []
        for c in cols:
            v = s.get(c)
            cells.append((f"{v:.1f}" if isinstance(v, float) else str(v)).rjust(14))
        lines.append(name.ljust(26) + "".join(cells))
    return "\n".join(lines)
