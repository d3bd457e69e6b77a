"""The KV-hop simulator twin's report: pairing across arms is checked, ratios are paired per repeat."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from l4bench.report.kv_hop_sim import collect, ratios_markdown, runs_markdown
from l4bench.report.repeats_eval import PairingError


def _summary(path: Path, arm_means: dict[str, list[float]], digests: list[str]) -> None:
    reps = [
        {"repeat": r, "requests_sha256": digests[r],
         "schedulers": {name: {"mean_e2el_ms": v[r], "p99_e2el_ms": 2 * v[r], "migrations": 10.0,
                               "stall_s_total": 5.0, "recomputed_tokens": 1e6} for name, v in arm_means.items()}}
        for r in range(len(digests))
    ]
    path.mkdir(parents=True)
    (path / "summary.json").write_text(json.dumps({"meta": {"arrival": {"rate": 0.4}}, "per_repeat": reps}))


def test_ratios_are_paired_per_repeat_and_mismatched_requests_refused(tmp_path: Path) -> None:
    base = tmp_path / "FLASH_ATTN"
    _summary(base / "recompute" / "r0.4", {"l4": [10.0, 20.0, 40.0], "least_requests": [20.0, 40.0, 80.0]}, ["a", "b", "c"])
    _summary(base / "kv_transfer" / "r0.4", {"l4": [5.0, 10.0, 20.0]}, ["a", "b", "c"])
    df = collect(tmp_path)
    table = ratios_markdown(df)
    # the repeats differ 4x in level, but every paired ratio is exactly 0.5: a zero-width interval
    assert "| l4 KV (measured) / l4 recompute | 0.500 [0.500, 0.500] | 0.500 [0.500, 0.500] |" in table
    assert "| l4 / least_requests | 0.500 [0.500, 0.500] |" in table
    assert "| FLASH_ATTN | 0.4 | kv_transfer | l4 | 3 |" in runs_markdown(df)
    _summary(base / "kv_bound" / "r0.4", {"l4": [5.0, 10.0, 20.0]}, ["a", "x", "c"])
    with pytest.raises(PairingError, match="different requests in repeat 1"):
        collect(tmp_path)
