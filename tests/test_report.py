"""README results tables equal their regeneration from committed results (python -m l4bench.report)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from l4bench.report import GENERATORS, check, readme_files, regenerate, render
from l4bench.report.__main__ import main
from l4bench.report.blocks import BLOCK

ROOT = Path(__file__).resolve().parents[1]


def test_every_readme_table_is_regenerated_from_committed_results():
    stale = check(ROOT)
    assert not stale, f"stale README tables (run `python -m l4bench.report`): {stale}"


def test_every_block_names_a_generator_and_every_generator_is_used():
    names = {m["name"] for f in readme_files(ROOT) for m in BLOCK.finditer(f.read_text())}
    render("bench_speed", ROOT)  # loads the registry
    assert names and names <= set(GENERATORS)
    assert set(GENERATORS) <= names, f"generators no README uses: {set(GENERATORS) - names}"


def _copy_results(tmp: Path, name: str) -> Path:
    """results/NAME (its README and the summaries its generators read) under a temp root."""
    shutil.copytree(
        ROOT / "results" / name, tmp / "results" / name, ignore=shutil.ignore_patterns("*.parquet", "*.png", "*.pdf")
    )
    return tmp


def test_a_hand_edited_number_fails_the_check_and_regeneration_fixes_it(tmp_path, capsys):
    root = _copy_results(tmp_path, "l4_eval")
    readme = root / "results" / "l4_eval" / "README.md"
    text = readme.read_text()
    block = next(m for m in BLOCK.finditer(text) if m["name"] == "l4_eval_mooncake")
    row = block["body"].splitlines()[2]  # first data row
    cells = row.split(" | ")
    cells[2] = "0.500"  # L4's mean E2E ratio at x1, "improved" by hand
    edited = text.replace(row, " | ".join(cells), 1)
    assert edited != text
    readme.write_text(edited)
    assert main(["--check", "--root", str(root)]) == 1
    assert "results/l4_eval/README.md: l4_eval_mooncake" in capsys.readouterr().out
    assert main(["--root", str(root)]) == 0  # regenerate in place
    assert readme.read_text() == text
    assert main(["--check", "--root", str(root)]) == 0


def test_a_changed_summary_makes_the_table_stale(tmp_path):
    root = _copy_results(tmp_path, "paper8_sim")
    summary = root / "results" / "paper8_sim" / "sweep_l4_round3" / "0" / "summary.json"
    summary.write_text(summary.read_text().replace('"migrations": 148', '"migrations": 149', 1))
    assert check(root, files=[root / "results" / "paper8_sim" / "README.md"]) == [
        "results/paper8_sim/README.md: paper8_sim_round3"
    ]


def test_ci_fields_are_shown_when_summaries_carry_them():
    from l4bench.report.tables import cell

    assert cell({"mean_e2el_ms": 5170.0}, "mean_e2el_ms", ".2f", 1e-3) == "5.17"
    for s in (
        {"mean_e2el_ms": 5170.0, "ci95": {"mean_e2el_ms": {"low": 5000.0, "high": 5400.0}}},
        {"mean_e2el_ms": 5170.0, "mean_e2el_ms_ci_low": 5000.0, "mean_e2el_ms_ci_high": 5400.0},
        {"mean_e2el_ms": 5170.0, "bootstrap_ci95": {"mean_e2el_ms": {"low": 5000.0, "high": 5400.0}}},
    ):
        assert cell(s, "mean_e2el_ms", ".2f", 1e-3) == "5.17 [5.00, 5.40]"
    both = {"mean_e2el_ms": 5170.0, "ci95": {"mean_e2el_ms": {"low": 4000.0, "high": 6000.0}},
            "bootstrap_ci95": {"mean_e2el_ms": {"low": 5000.0, "high": 5400.0}}}
    assert cell(both, "mean_e2el_ms", ".2f", 1e-3) == "5.17 [4.00, 6.00]"  # over repeats first


def test_unknown_block_is_one_clear_error():
    from l4bench.errors import ConfigError

    with pytest.raises(ConfigError, match="no such generator"):
        regenerate("<!-- l4bench.report:nope -->\nx\n<!-- /l4bench.report -->", ROOT)


def test_tables_merge_sweeps_of_different_commits_and_say_so(tmp_path):
    import json

    from l4bench.provenance import MixedCommitsError
    from l4bench.report.l4_eval import collect

    root = _copy_results(tmp_path, "l4_eval")
    bimodal = root / "results" / "l4_eval" / "bimodal"
    assert "Note:" not in render("l4_eval_bimodal", root)  # committed summaries: one (unknown) commit
    for path in sorted((bimodal / "l4_round3").glob("*/summary.json")):
        doc = json.loads(path.read_text())
        doc["provenance"] = {"git_commit": "f" * 40, "git_dirty": False}
        path.write_text(json.dumps(doc))
    with pytest.raises(MixedCommitsError, match="--allow-mixed-commits"):
        collect([bimodal / "baselines", bimodal / "l4_round3"], "arrival.rate")
    text = render("l4_eval_bimodal", root)
    note = text.splitlines()[-1]
    assert note.startswith("Note: merges sweeps of different commits (on purpose): ")
    assert "ffffffffffff (4 runs" in note and "unknown (8 runs" in note


def test_kv_hop_fit_recovers_a_known_cost_model():
    from l4bench.report.kv_hop import fit_mode

    rows = [{"mode": "kv_transfer", "context_tokens": n, "stall_s": 0.05 + 3e-4 * n} for n in (1024, 4096, 16384)]
    rows += [{"mode": "recompute", "context_tokens": n, "stall_s": 0.01 + 2e-5 * n + 5e-10 * n * n}
             for n in (1024, 4096, 16384, 65536)]
    rows.append({"mode": "kv_transfer", "context_tokens": 1024, "stall_s": 99.0, "warmup": True})  # ignored
    kv = fit_mode(rows, "kv_transfer")
    assert (kv.fixed_s, kv.per_token_s) == (pytest.approx(0.05, rel=1e-3), pytest.approx(3e-4, rel=1e-3))
    assert fit_mode(rows, "recompute").stall_s(32768) == pytest.approx(
        0.01 + 2e-5 * 32768 + 5e-10 * 32768**2, rel=1e-3)


@pytest.mark.parametrize("conf_name, probe", [("kv_transfer", "h200_shared_nixl"),
                                              ("kv_transfer_cuda_ipc", "h200_shared_nixl_cudaipc")])
def test_kv_transfer_migration_configs_are_the_fits_of_their_committed_probes(conf_name, probe):
    """conf/migration/*.yaml state a measured fit: their numbers must come from the probe they name."""
    import json

    import yaml

    from l4bench.report.kv_hop import fit_mode

    conf = yaml.safe_load((ROOT / "conf" / "migration" / f"{conf_name}.yaml").read_text())
    doc = json.loads((ROOT / "results" / "kv_hop" / probe / "nixl_probe.json").read_text())
    fit = fit_mode(doc["rows"], "kv_transfer")
    assert float(conf["fixed_s"]) == pytest.approx(fit.fixed_s, rel=0.01)  # PyYAML reads 3.77e8 as a string
    assert float(conf["bandwidth_bytes_per_s"]) == pytest.approx(fit.bandwidth_bytes_per_s(doc["kv_bytes_per_token"]), rel=0.01)
