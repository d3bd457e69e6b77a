"""Provenance of a summary.json, and the refusal to merge runs of different commits."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from _data import REPO

from l4bench import provenance
from l4bench.provenance import MixedCommitsError, check_same_commit, git_state


def test_git_state_of_this_checkout_names_a_commit():
    if not (REPO / ".git").exists():
        pytest.skip("not a git checkout")
    state = git_state()
    assert re.fullmatch(r"[0-9a-f]{40}", state["git_commit"]) and isinstance(state["git_dirty"], bool)


def test_git_state_outside_a_checkout_is_unknown(tmp_path):
    (tmp_path / "__init__.py").write_text("")
    assert git_state(tmp_path) == {"git_commit": "unknown", "git_dirty": "unknown"}


def test_git_state_without_git_on_path_is_unknown(monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")
    assert git_state()["git_commit"] == "unknown"


def test_git_state_takes_the_commit_a_copy_was_told(monkeypatch, tmp_path):
    (tmp_path / "__init__.py").write_text("")
    monkeypatch.setenv("L4BENCH_CODE_COMMIT", "abc1234")
    assert git_state(tmp_path) == {"git_commit": "abc1234", "git_dirty": False,
                                   "git_commit_source": "L4BENCH_CODE_COMMIT"}
    monkeypatch.setenv("L4BENCH_CODE_COMMIT", " ")
    assert git_state(tmp_path)["git_commit"] == "unknown"


def test_gpu_without_nvidia_smi_says_so(monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")
    gpu = provenance.nvidia_gpus()
    assert gpu["name"] == "unknown" and "not on PATH" in gpu["source"] and gpu["simulated"] is False


def test_collect_has_every_field():
    p = provenance.collect("a: 1\n", "simulator", "l4bench 0.1.0", "FLASH_ATTN", {"name": "h100", "simulated": True})
    assert set(p) >= {"git_commit", "git_dirty", "l4bench", "python", "numpy", "engine", "engine_version",
                      "attention_backend", "gpu", "host", "start_time", "config_sha256"}
    assert len(p["config_sha256"]) == 64


def test_attention_backend_names():
    assert provenance.live_attention_backend({"attention-backend": "FLASHINFER"}, {}) == "FLASHINFER"
    assert provenance.live_attention_backend({}, {"VLLM_ATTENTION_BACKEND": "TRITON_ATTN"}) == "TRITON_ATTN"
    assert "default" in provenance.live_attention_backend({}, {})

    class Perf:
        name, gpu_name, model_name = "fitted", "h100", "llama-3.1-8b"

    assert provenance.sim_attention_backend(Perf()) == "none named (perf model fitted, profile h100/llama-3.1-8b)"
    Perf.attention_backend = "FLASH_ATTN"
    assert provenance.sim_attention_backend(Perf()) == "FLASH_ATTN"


def _doc(commit: str | None, dirty: bool = False) -> dict:
    return {"provenance": {"git_commit": commit, "git_dirty": dirty}} if commit else {}


def test_same_commit_merges_and_says_so_in_one_line():
    line = check_same_commit([("a", _doc("abc")), ("b", _doc("abc"))], allow_mixed=False)
    assert line == "runs of one commit: abc"


@pytest.mark.parametrize("other", [_doc("def"), _doc("abc", dirty=True), _doc(None)])
def test_different_commits_are_refused_unless_allowed(other):
    docs = [("run/a", _doc("abc")), ("run/b", other)]
    with pytest.raises(MixedCommitsError, match="--allow-mixed-commits"):
        check_same_commit(docs, allow_mixed=False)
    assert check_same_commit(docs, allow_mixed=True).startswith("WARNING: merging runs of different commits")


def _sweep(root: Path, commit: str) -> Path:
    job = root / "0"
    job.mkdir(parents=True)
    s = {m: 1.0 for m in ("mean_e2el_ms", "p99_e2el_ms", "mean_ttft_ms", "p99_ttft_ms", "mean_tpot_ms",
                          "p99_tpot_ms", "request_throughput")} | {"completed": 1, "num_good_requests": 1}
    doc = {"meta": {"arrival": {"speedup": 1.0}}, "provenance": {"git_commit": commit, "git_dirty": False},
           "schedulers": {"l4": s, "round_robin": s}}
    (job / "summary.json").write_text(json.dumps(doc))
    return root


def test_eval_report_refuses_mixed_commits_in_one_line(tmp_path):
    a, b = _sweep(tmp_path / "a", "1" * 40), _sweep(tmp_path / "b", "2" * 40)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    cmd = [sys.executable, str(REPO / "scripts" / "l4_eval_report.py"), str(a), str(b)]
    p = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=120)
    assert p.returncode != 0 and "Traceback" not in p.stderr
    assert p.stderr.strip().startswith("error: refusing to merge runs of different commits")
    p = subprocess.run([*cmd, "--allow-mixed-commits"], capture_output=True, text=True, env=env, timeout=120)
    assert p.returncode == 0, p.stderr
    assert "WARNING: merging runs of different commits" in p.stderr


def test_live_report_refuses_mixed_commits(tmp_path):
    for i, commit in enumerate(("1" * 40, "2" * 40)):
        job = tmp_path / "res" / f"m_{i}" / "0"
        _sweep(job.parent, commit)
        (job / "config_resolved.yaml").write_text("arrival:\n  rate: 1.0\n")
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    cmd = [sys.executable, str(REPO / "scripts" / "live_report.py"), "--live", str(tmp_path / "res"),
           "--out", str(tmp_path / "out")]
    p = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=120)
    assert p.returncode != 0 and "Traceback" not in p.stderr
    assert "refusing to merge runs of different commits" in p.stderr and not (tmp_path / "out").exists()


def test_recorded_config_does_not_depend_on_where_the_data_lived(monkeypatch, tmp_path):
    from omegaconf import OmegaConf

    def text(data_dir: str) -> str:
        monkeypatch.setenv("L4BENCH_DATA_DIR", data_dir)
        cfg = OmegaConf.create({"data_dir": "${oc.env:L4BENCH_DATA_DIR,null}", "seed": "${x}", "x": 3})
        return provenance.recorded_config(cfg)

    a, b = text(str(tmp_path / "a")), text(str(tmp_path / "b"))
    assert a == b and str(tmp_path) not in a
    assert "seed: 3" in a  # everything else is resolved
    monkeypatch.setenv("L4BENCH_DATA_DIR", str(tmp_path))
    assert OmegaConf.create(a).data_dir == str(tmp_path)  # a reader's own environment resolves it
