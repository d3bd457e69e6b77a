"""The per-backend premise tables (l4bench/report/premise.py) follow the committed H200 results."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest

from l4bench.report import check, render
from l4bench.report.premise import KERNELS, LIVE, PROFILES, headline_pairs

ROOT = Path(__file__).resolve().parents[1]
NAMES = ("premise_summary", "premise_readme", "premise_kernels", "premise_penalty", "premise_steps",
         "premise_fits", "premise_burst", "live_gpu_h200_shared_triton")


@pytest.fixture()
def root(tmp_path: Path) -> Path:
    """The premise's inputs and docs/premise.md under a temp root."""
    for rel in (KERNELS, PROFILES, LIVE):
        shutil.copytree(ROOT / rel, tmp_path / rel, ignore=shutil.ignore_patterns("*.log", "*.parquet"))
    (tmp_path / "docs").mkdir()
    shutil.copy(ROOT / "docs" / "premise.md", tmp_path / "docs" / "premise.md")
    return tmp_path


def test_kernel_table_cells_are_the_csv_ratios_with_their_cis(root: Path):
    df = pd.read_csv(root / KERNELS / "kernels.csv")
    r = df[(df.backend == "fa2") & (df.composition == "b64_1long_first")].iloc[0]
    row = next(ln for ln in render("premise_kernels", root).splitlines() if ln.startswith("| b64_1long_first "))
    assert f"{r.vs_homog:.2f} [{r.vs_homog_ci_low:.2f}, {r.vs_homog_ci_high:.2f}]" in row
    text = render("premise_kernels", root)
    assert "| triton vs homog |" in text and "| flashinfer vs split |" in text
    assert "sglang_triton: skipped (skipped: sglang not installed)" in text


def test_a_changed_kernel_ratio_makes_docs_premise_stale(root: Path):
    path = root / KERNELS / "kernels.csv"
    df = pd.read_csv(path)
    df.loc[(df.backend == "fa3") & (df.composition == "b256_1long_last"), "vs_homog"] = 2.5
    df.to_csv(path, index=False)
    stale = check(root, files=[root / "docs" / "premise.md"])
    assert "docs/premise.md: premise_kernels" in stale and "docs/premise.md: premise_readme" in stale


def test_step_pairs_have_a_ci_only_with_two_passes_each(root: Path):
    path = root / PROFILES / "TRITON_ATTN" / "profile.csv"
    df = pd.read_csv(path)
    df.loc[df.name == "headline_mixed_n63x1024_k1x66560", "num_passes"] = 1
    df.to_csv(path, index=False)
    pairs = {p["num_decodes"]: p for p in headline_pairs(root, "TRITON_ATTN")}
    assert pairs[16]["ratio_lo"] < pairs[16]["ratio"] < pairs[16]["ratio_hi"]
    assert pd.isna(pairs[64]["ratio_lo"])  # one pass: no interval is made up
    assert pairs[64]["ratio"] == pytest.approx(pairs[64]["mixed_ms"] / pairs[64]["uniform_ms"])


def test_burst_table_flags_the_goal_from_the_check_json(root: Path):
    path = root / PROFILES / "TRITON_ATTN" / "burst_vs_sim.json"
    path.write_text(path.read_text().replace('"short_mean_within_goal": true', '"short_mean_within_goal": false'))
    rows = [ln for ln in render("premise_burst", root).splitlines() if ln.startswith("| TRITON_ATTN ")]
    short = [ln for ln in rows if "| short |" in ln]
    assert len(short) == 2 and all(ln.endswith("| no |") for ln in short)


@pytest.mark.parametrize("name", NAMES)
def test_every_premise_generator_renders_from_the_committed_results(name: str):
    text = render(name, ROOT)
    assert text and "nan" not in text.lower().replace("nanosec", "")
