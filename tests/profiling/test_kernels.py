"""Kernel benchmark, CPU parts: compositions, stats, CSV/README, the failure path, the fp32 reference."""

from __future__ import annotations

import math
import subprocess
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from l4bench.errors import ConfigError
from l4bench.profiling.kernels import report
from l4bench.profiling.kernels.compositions import (
    HOMOGENEOUS,
    MIXED,
    PART,
    build_grid,
    check_grid,
    parse_sizes,
    size_grid,
    split_evenly,
)
from l4bench.profiling.kernels.stats import bootstrap_ratio_ci, median_ci


def test_split_evenly_sums_exactly():
    for total, n in [(65536, 63), (65536, 60), (196608, 255), (7, 7), (10, 3)]:
        parts = split_evenly(total, n)
        assert len(parts) == n and sum(parts) == total and max(parts) - min(parts) <= 1
    with pytest.raises(ConfigError):
        split_evenly(3, 4)


def test_size_grid_equal_totals_positions_and_parts():
    comps = {c.name: c for c in size_grid(64, 2048)}
    homog = comps["b64_homog"]
    assert homog.kind == HOMOGENEOUS and homog.total_tokens == 131072 and homog.batch_size == 64
    mixed = [c for c in comps.values() if c.kind == MIXED]
    assert {c.name for c in mixed} == {"b64_1long_first", "b64_1long_last", "b64_4long_first", "b64_4long_last"}
    for c in mixed:
        assert c.total_tokens == homog.total_tokens and c.batch_size == homog.batch_size
        assert c.homogeneous == "b64_homog"
        parts = [comps[p] for p in c.parts]
        assert all(p.kind == PART for p in parts)
        assert Counter(parts[0].seq_lens) + Counter(parts[1].seq_lens) == Counter(c.seq_lens)
    first, last = comps["b64_1long_first"], comps["b64_1long_last"]
    assert first.seq_lens[0] == 65536 and max(first.seq_lens[1:]) <= 1041
    assert last.seq_lens[-1] == 65536 and last.seq_lens[:-1] == first.seq_lens[1:]
    assert comps["b64_4long_first"].seq_lens[:4] == (16384,) * 4
    assert comps["b64_4long_last"].seq_lens[-4:] == (16384,) * 4
    assert comps["b64_1long_alone"].seq_lens == (65536,)


def test_build_grid_two_sizes_and_errors():
    comps = build_grid(parse_sizes("64x2048,256x1024"))
    assert len(comps) == 18 and len({c.name for c in comps}) == 18
    assert {c.total_tokens for c in comps if c.kind != PART} == {131072, 262144}
    with pytest.raises(ConfigError):
        parse_sizes("64by2048")
    with pytest.raises(ConfigError):
        build_grid(parse_sizes("64x2048,64x1024"))
    with pytest.raises(ConfigError):  # 'short' sequences as long as the long ones
        size_grid(8, 16, long_tokens=32, num_few=4)
    assert [c.batch_size for c in check_grid()] == [5, 24]


def test_median_ci_brackets_and_covers():
    med, lo, hi = median_ci(np.arange(100.0))
    assert med == 49.5 and lo < med < hi and lo >= 35 and hi <= 64
    rng = np.random.default_rng(1)
    hits = 0
    for _ in range(400):  # the true median of Exp(1) is ln 2
        _, lo, hi = median_ci(rng.exponential(size=60))
        hits += lo <= math.log(2) <= hi
    assert 0.91 <= hits / 400 <= 0.99
    assert all(math.isnan(v) for v in median_ci([]))


def test_bootstrap_ratio_ci():
    rng = np.random.default_rng(0)
    x = rng.normal(100, 5, size=60)
    r, lo, hi = bootstrap_ratio_ci([2 * x], [x], rng)
    assert r == pytest.approx(2.0) and lo < 2.0 < hi and 0.02 < hi - lo < 0.15  # sets resampled independently
    a, b = rng.normal(100, 5, 60), rng.normal(50, 5, 60)
    r, lo, hi = bootstrap_ratio_ci([a + b], [a, b], rng)  # mixed == split
    assert lo < r < hi and 0.9 < r < 1.1
    y = rng.normal(120, 5, 60)
    r, lo, hi = bootstrap_ratio_ci([y], [x], rng)
    assert lo > 1.1 and hi < 1.3


def _fake_result(name, status="ok", error=""):
    from types import SimpleNamespace

    comps = size_grid(8, 64, long_tokens=256, num_few=2)
    rng = np.random.default_rng(3)
    samples = {}
    for c in comps:
        base = 10.0 + c.max_seq_len / 10 + c.batch_size  # a kernel slower on the longest sequence
        samples[c.name] = [list(rng.normal(base, 0.5, 20)) for _ in range(3)]
    res = SimpleNamespace(name=name, status=status, error=error, samples_us=samples if status == "ok" else {},
                          paths={c.name: "2D" for c in comps}, starved_passes={},
                          check={"max_abs_err": 1e-3, "passed": True} if status == "ok" else {})
    return res, comps


def test_rows_csv_and_readme(tmp_path: Path):
    ok, comps = _fake_result("fake")
    bad, _ = _fake_result("broken", status="failed", error="import: ImportError: no _vllm_fa2_C")
    rows = report.build_rows([ok, bad], comps)
    assert len(rows) == len(comps) + 1
    mixed = {r["composition"]: r for r in rows if r.get("kind") == MIXED}
    r = mixed["b8_1long_first"]
    assert r["vs_homog"] > 1.5 and r["vs_homog_ci_low"] <= r["vs_homog"] <= r["vs_homog_ci_high"]
    assert r["split_us"] == pytest.approx(
        next(x["median_us"] for x in rows if x.get("composition") == "b8_1long_alone")
        + next(x["median_us"] for x in rows if x.get("composition") == "b8_1long_shorts_alone"))
    report.write_csv(rows, tmp_path / "kernels.csv")
    report.write_json({"provenance": {"gpu_name": "NVIDIA H200", "vllm_version": "0.25.0"}}, tmp_path / "kernels.json")
    text = report.write_readme(tmp_path).read_text()
    back = report.read_csv(tmp_path / "kernels.csv")
    assert len(back) == len(rows) and back[-1]["status"] == "failed"
    assert "| broken | failed |" in text and "no _vllm_fa2_C" in text
    assert text.count("| fake | b8_") == len(comps)
    assert "## Mixed / homogeneous" in text and "| b8_1long_first | " in text
    assert f"{float(back[0]['median_us']):.1f}" in text  # numbers come from the CSV


def test_gpu_slug():
    assert report.gpu_slug("NVIDIA H200") == "h200"
    assert report.gpu_slug("NVIDIA H100 80GB HBM3") == "h100"
    assert report.gpu_slug("") == "unknown-gpu"


def test_shape_from_llama_config():
    from l4bench.profiling.kernels.__main__ import MODEL_CONFIG, shape_from_config

    pytest.importorskip("torch")
    s = shape_from_config(MODEL_CONFIG, 16)
    assert (s.num_q_heads, s.num_kv_heads, s.head_dim, s.dtype, s.block_size) == (32, 8, 128, "bfloat16", 16)


def test_package_imports_without_torch():
    code = ("import sys, l4bench.profiling.kernels.report, l4bench.profiling.kernels.__main__ as m; "
            "m.parse_args([]); print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def _tiny():
    from l4bench.profiling.kernels.paged import AttentionShape

    return AttentionShape(num_q_heads=4, num_kv_heads=2, head_dim=8, dtype="float32", block_size=4)


def test_reference_matches_contiguous_attention():
    torch = pytest.importorskip("torch")
    from l4bench.profiling.kernels.bench import prepare_batches
    from l4bench.profiling.kernels.compositions import Composition
    from l4bench.profiling.kernels.paged import reference_attention

    shape = _tiny()
    comp = Composition("t", "check", (1, 5, 9, 16), "t")
    batches, _ = prepare_batches([comp], [], shape, "cpu", 0)
    batch = batches["t"]
    ref = reference_attention(batch, shape.scale)
    table = batch.block_table.numpy()
    for i, n in enumerate(comp.seq_lens):
        tok = np.arange(n)
        blocks, offs = table[i, tok // 4], tok % 4
        k = batch.kv_cache[blocks, 0, offs].double()  # (n, Hkv, D) by token index
        v = batch.kv_cache[blocks, 1, offs].double()
        for h in range(4):
            q = batch.query[i, h].double()
            w = torch.softmax(k[:, h // 2] @ q * shape.scale, dim=0)
            assert torch.allclose(ref[i, h].double(), w @ v[:, h // 2], atol=1e-5)
    assert len(set(table[table > 0].tolist())) == int((table > 0).sum())  # distinct blocks


class _RefBackend:
    def __init__(self, shape):
        self.shape = shape

    def settings(self):
        return {"kind": "reference"}

    def path(self, batch):
        return "ref"

    def prepare(self, batch):
        from l4bench.profiling.kernels.paged import reference_attention

        return lambda: batch.out.copy_(reference_attention(batch, self.shape.scale).to(batch.out.dtype))


def _factory(name, shape, device, max_pages):
    if name == "broken":
        raise ImportError("libcudart.so.13: cannot open shared object file\nsecond line")
    return _RefBackend(shape)


def test_run_all_failure_is_one_line_and_others_run(capsys):
    pytest.importorskip("torch")
    from l4bench.profiling.kernels.bench import BenchConfig, WallTimer, run_all

    shape = _tiny()
    comps = size_grid(6, 8, long_tokens=20, num_few=2)
    cfg = BenchConfig(backends=["broken", "ref"], shape=shape, num_passes=2, launches_per_pass=3, warmup_launches=1)
    results = run_all(cfg, comps, check_grid()[:1], "cpu", _factory, WallTimer())
    broken, ref = results
    assert broken.status == "failed" and broken.error == "import: ImportError: libcudart.so.13: cannot open shared object file"
    assert ref.status == "ok" and ref.check["passed"] and ref.check["max_abs_err"] < 1e-6
    assert set(ref.samples_us) == {c.name for c in comps} and all(len(p) == 2 for p in ref.samples_us.values())
    lines = [ln for ln in capsys.readouterr().out.splitlines() if "broken" in ln]
    assert len(lines) == 1
    rows = report.build_rows(results, comps)
    assert rows[0]["status"] == "failed" and sum(r["backend"] == "ref" for r in rows) == len(comps)


def test_main_run_writes_tables_on_cpu(tmp_path: Path):
    pytest.importorskip("torch")
    from l4bench.profiling.kernels import __main__ as cli
    from l4bench.profiling.kernels.bench import WallTimer

    args = cli.parse_args(["--out", str(tmp_path), "--sizes", "6x8", "--long-tokens", "20", "--num-few", "2",
                           "--passes", "2", "--launches", "2"])
    comps = build_grid(parse_sizes(args.sizes), args.long_tokens, args.num_few)
    assert cli.run(args, comps, _tiny(), ["ref", "broken"], device="cpu", timer=WallTimer(), make=_factory) == 0
    rows = report.read_csv(tmp_path / "kernels.csv")
    assert [r["status"] for r in rows].count("ok") == len(comps) and rows[-1]["backend"] == "broken"
    meta = __import__("json").loads((tmp_path / "kernels.json").read_text())
    assert meta["backends"]["broken"]["status"] == "failed" and meta["backends"]["ref"]["check"]["passed"]
    assert meta["provenance"]["torch_version"] and meta["config"]["num_passes"] == 2
    assert "| ref | b6_1long_first |" in (tmp_path / "README.md").read_text()


def test_main_rejects_bad_options(capsys):
    from l4bench.profiling.kernels.__main__ import main

    assert main(["--sizes", "64"]) == 2
    assert main(["--backends", "fa9"]) == 2  # without torch: 'needs torch'; with: unknown backend
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 2 and all(line.startswith("error: ") for line in out)
    assert "unknown ['fa9']" in out[1] or "needs torch" in out[1]


def test_merge_keeps_earlier_backends_and_refuses_another_grid(tmp_path: Path, capsys):
    pytest.importorskip("torch")
    from l4bench.profiling.kernels import __main__ as cli
    from l4bench.profiling.kernels.bench import WallTimer

    flags = ["--out", str(tmp_path), "--sizes", "6x8", "--long-tokens", "20", "--num-few", "2",
             "--passes", "2", "--launches", "2"]
    args = cli.parse_args(flags)
    comps = build_grid(parse_sizes(args.sizes), args.long_tokens, args.num_few)
    assert cli.run(args, comps, _tiny(), ["ref"], device="cpu", timer=WallTimer(), make=_factory) == 0
    first = [r for r in report.read_csv(tmp_path / "kernels.csv") if r["backend"] == "ref"]
    args = cli.parse_args(flags + ["--merge"])
    assert cli.run(args, comps, _tiny(), ["ref2", "broken"], device="cpu", timer=WallTimer(), make=_factory) == 0
    rows = report.read_csv(tmp_path / "kernels.csv")
    assert [r for r in rows if r["backend"] == "ref"] == first  # the earlier run's rows, untouched
    assert sum(r["backend"] == "ref2" for r in rows) == len(comps) and rows[-1]["backend"] == "broken"
    meta = __import__("json").loads((tmp_path / "kernels.json").read_text())
    assert set(meta["backends"]) == {"ref", "ref2", "broken"}
    assert [r["backends"] for r in meta["runs"]] == [["ref"], ["ref2", "broken"]]
    text = (tmp_path / "README.md").read_text()
    assert "Merged from runs" in text and "| ref | b6_1long_first |" in text and "| ref2 | b6_1long_first |" in text
    # without --merge the folder holds only this run
    assert cli.run(cli.parse_args(flags), comps, _tiny(), ["ref2"], device="cpu", timer=WallTimer(), make=_factory) == 0
    assert {r["backend"] for r in report.read_csv(tmp_path / "kernels.csv")} == {"ref2"}
    other = cli.parse_args(["--out", str(tmp_path), "--sizes", "4x8", "--long-tokens", "20", "--num-few", "2",
                            "--merge"])
    capsys.readouterr()
    assert cli.run(other, build_grid(parse_sizes("4x8"), 20, 2), _tiny(), ["ref"], device="cpu",
                   timer=WallTimer(), make=_factory) == 2
    assert "measured with other sizes" in capsys.readouterr().out
