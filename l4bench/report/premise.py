"""Generators of the per-backend premise tables (docs/premise.md, results/live/gpu_h200_shared_triton).

Every number is read from committed files: the kernel benchmark's kernels.csv, the engine profiles'
profile.csv / fit.json / burst.json, burst_vs_sim.json (l4bench.perf.burst_check) and a live summary.json.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd

from l4bench.report.blocks import register
from l4bench.report.tables import cell, sig3, table

KERNELS = Path("results") / "kernels" / "h200" / "vllm-0.25.0"
PROFILES = Path("results") / "profiles" / "h200" / "llama-3.1-8b"
#: Engine backend folder -> its kernel benchmark name (l4bench.perf.kernels.KERNEL_NAMES).
STEP_BACKENDS = {"FLASH_ATTN": "fa3", "FLASH_ATTN_2": "fa2", "TRITON_ATTN": "triton"}
#: Backends timed only at kernel level (no engine profile yet) -> kernel benchmark name.
KERNEL_ONLY = {"FLASHINFER": "flashinfer"}
LIVE = Path("results") / "live" / "gpu_h200_shared_triton"


def _ci(v: float, lo: float, hi: float) -> str:
    """'v [lo, hi]' with three significant digits, or just v when the interval is missing."""
    if pd.isna(lo) or pd.isna(hi):
        return sig3(v)
    return f"{sig3(v)} [{sig3(lo)}, {sig3(hi)}]"


def kernel_rows(root: Path) -> pd.DataFrame:
    """The kernel benchmark's mixed rows of every backend that ran (kernels.csv)."""
    df = pd.read_csv(root / KERNELS / "kernels.csv")
    return df[(df["status"] == "ok") & (df["kind"] == "mixed")]


@register("premise_kernels")
def premise_kernels(root: Path) -> str:
    """docs/premise.md: per backend and composition, mixed / homogeneous and mixed / split with CIs."""
    df = pd.read_csv(root / KERNELS / "kernels.csv")
    mixed = kernel_rows(root)
    backends = list(dict.fromkeys(mixed["backend"]))
    header = ["composition (B, long)"] + [f"{b} {w}" for b in backends for w in ("vs homog", "vs split")]
    rows = []
    for comp in dict.fromkeys(mixed["composition"]):
        row = [str(comp)]
        for b in backends:
            r = mixed[(mixed["backend"] == b) & (mixed["composition"] == comp)].iloc[0]
            row += [_ci(r.vs_homog, r.vs_homog_ci_low, r.vs_homog_ci_high), _ci(r.vs_split, r.vs_split_ci_low,
                                                                                r.vs_split_ci_high)]
        rows.append(row)
    others = df[df["status"] != "ok"].drop_duplicates("backend")
    note = "; ".join(f"{r.backend}: {r.status} ({r.error})" if isinstance(r.error, str) else f"{r.backend}: {r.status}"
                     for r in others.itertuples())
    return table(header, rows) + (f"\n\nNot measured: {note}." if note else "")


def headline_pairs(root: Path, backend: str) -> list[dict[str, Any]]:
    """Homogeneous vs mixed decode steps of one backend's committed profile (the headline pairs)."""
    return profile_pairs(root / PROFILES / backend / "profile.csv")


def profile_pairs(path: Path) -> list[dict[str, Any]]:
    """Headline pairs of a profile.csv; ratio_lo / ratio_hi bound the ratio by the two 95% CIs (NaN: < 2 passes)."""
    df = pd.read_csv(path).set_index("name")
    out = []
    for name, m in df[df["group"] == "headline_mixed"].iterrows():
        u = df.loc[m["homogeneous_name"]]
        both = min(int(u.num_passes), int(m.num_passes)) >= 2
        out.append({
            "num_decodes": int(u.num_decodes), "uniform": str(m["homogeneous_name"]), "mixed": str(name),
            "uniform_ms": u.step_time_s * 1e3, "mixed_ms": m.step_time_s * 1e3,
            "passes": f"{int(u.num_passes)} / {int(m.num_passes)}", "ratio": m.step_time_s / u.step_time_s,
            "ratio_lo": m.step_time_ci_low_s / u.step_time_ci_high_s if both else float("nan"),
            "ratio_hi": m.step_time_ci_high_s / u.step_time_ci_low_s if both else float("nan"),
        })
    return sorted(out, key=lambda p: p["num_decodes"])


@register("premise_steps")
def premise_steps(root: Path) -> str:
    """docs/premise.md: step-level headline pairs per backend (engine profiles), mixed / homogeneous."""
    rows = []
    for backend in STEP_BACKENDS:
        for p in headline_pairs(root, backend):
            rows.append([backend, str(p["num_decodes"]), p["uniform"], p["mixed"], f"{p['uniform_ms']:.2f}",
                         f"{p['mixed_ms']:.2f}", p["passes"], _ci(p["ratio"], p["ratio_lo"], p["ratio_hi"])])
    return table(["backend", "decodes", "homogeneous", "mixed (same total tokens)", "homog. ms", "mixed ms",
                  "passes (homog. / mixed)", "mixed / homog. [bound from the two 95% CIs]"], rows)


@register("premise_fits")
def premise_fits(root: Path) -> str:
    """docs/premise.md: per-backend fitted step model, held-out error by whole composition."""
    rows = []
    for backend in STEP_BACKENDS:
        fit = json.loads((root / PROFILES / backend / "fit.json").read_text())
        meta = json.loads((root / PROFILES / backend / "meta.json").read_text())
        h = fit["holdout"]
        rows.append([
            backend, f"{meta['num_measured']} of {meta['num_planned']}", str(meta["passes"]),
            f"{fit['train_mape'] * 100:.1f}",
            f"{h['mixed']['mean_abs_pct']:.1f} (max {h['mixed']['max_abs_pct']:.1f})",
            f"{h['uniform']['mean_abs_pct']:.1f} (max {h['uniform']['max_abs_pct']:.1f})",
            f"{h['worst_seed_mean_abs_pct']['mixed']:.1f} / {h['worst_seed_mean_abs_pct']['uniform']:.1f}",
        ])
    return table(["backend", "compositions measured", "passes planned", "train error %",
                  "held-out mixed mean % (max)", "held-out uniform mean % (max)",
                  "worst fold seed, mixed / uniform %"], rows)


@register("premise_penalty")
def premise_penalty(root: Path) -> str:
    """docs/premise.md: the analytic model's penalty fitted per kernel backend (l4bench.perf.kernels)."""
    from l4bench.perf.kernels import fit_penalty, mixed_ratios

    df = pd.read_csv(root / KERNELS / "kernels.csv")
    rows = []
    for b in dict.fromkeys(kernel_rows(root)["backend"]):
        pen, mixed = fit_penalty(df, b), mixed_ratios(df, b)
        fit_vs = ", ".join(f"{r.ratio:.2f}->{pen.ratio(r.x):.2f}" for r in mixed.itertuples())
        rows.append([b, f"{pen.spread_beta:.4g}", f"{pen.spread_kappa:.4g}", str(pen.num_mixed),
                     f"{pen.max_abs_error_pct:.1f}", fit_vs])
    return table(["kernel backend", "spread_beta", "spread_kappa", "mixed rows", "max abs error %",
                  "measured -> fitted ratio per mixed row (kernels.csv order)"], rows)


def burst_results(root: Path, backend: str) -> dict[str, Any]:
    """burst_vs_sim.json of one backend (python -m l4bench.perf.burst_check ... --out)."""
    return json.loads((root / PROFILES / backend / "burst_vs_sim.json").read_text())


@register("premise_burst")
def premise_burst(root: Path) -> str:
    """docs/premise.md: the live burst vs its simulator twin per backend (inter-token times, ms)."""
    rows = []
    for backend in STEP_BACKENDS:
        doc = burst_results(root, backend)
        live = json.loads((root / PROFILES / backend / "burst.json").read_text())
        for res in doc["results"]:
            for kind in ("short", "long"):
                if kind not in res:
                    continue
                r, s = res[kind], live["configs"][res["config"]]["summary"][kind]
                lo, hi = s["itl_mean_ci95_ms"]
                goal = ("yes" if res["short_mean_within_goal"] else "no") if kind == "short" else ""
                rows.append([backend, res["config"], kind, f"{r['num_requests_live']} / {r['num_requests_sim']}",
                             f"{r['live_itl_mean_ms']:.2f} [{lo:.2f}, {hi:.2f}]", f"{r['sim_itl_mean_ms']:.2f}",
                             f"{r['itl_mean_ms_error_pct']:+.1f}", f"{r['live_itl_p90_ms']:.2f}",
                             f"{r['sim_itl_p90_ms']:.2f}", f"{r['itl_p90_ms_error_pct']:+.1f}", goal])
    return table(["backend", "burst", "requests", "n live / sim (all repeats)", "live ITL mean ms [95% CI]",
                  "sim ITL mean ms", "error %", "live p90", "sim p90", "p90 error %",
                  f"short within {doc['goal_pct']:g}%"], rows)


def _burst_ratio(root: Path, backend: str, side: str) -> float:
    """Short requests' mean ITL, mixed burst / homogeneous burst, live or sim."""
    res = {r["config"]: r["short"] for r in burst_results(root, backend)["results"]}
    return res["mixed"][f"{side}_itl_mean_ms"] / res["homogeneous"][f"{side}_itl_mean_ms"]


@register("premise_summary")
def premise_summary(root: Path) -> str:
    """README / docs/premise.md: per backend, the premise at kernel, step and burst level (mixed / homog.)."""
    mixed = kernel_rows(root)
    rows = []
    for backend, kb in (STEP_BACKENDS | KERNEL_ONLY).items():
        k = mixed[mixed["backend"] == kb]
        kernel = f"{k.vs_homog.min():.2f}-{k.vs_homog.max():.2f}" if len(k) else "not measured (budget)"
        has_profile = (root / PROFILES / backend / "profile.csv").is_file()
        pairs = headline_pairs(root, backend) if has_profile else []
        step = f"{min(p['ratio'] for p in pairs):.2f}-{max(p['ratio'] for p in pairs):.2f}" if pairs else "no profile"
        burst = (f"{_burst_ratio(root, backend, 'live'):.2f} / {_burst_ratio(root, backend, 'sim'):.2f}"
                 if has_profile else "no profile")
        rows.append([backend + (f" ({kb})" if kb != backend.lower() else ""), kernel, step, burst])
    return table(["backend (kernel name)", "one attention layer, mixed / homog. (range over 8 compositions)",
                  "engine step, mixed / homog. (range over headline pairs)",
                  "burst, short-request ITL mixed / homog., live / sim"], rows) + _host_notes(root)


def _host_notes(root: Path) -> str:
    """'\n\nNote (BACKEND): ...' for every profile whose meta.json carries a host_load_note."""
    notes = []
    for backend in STEP_BACKENDS:
        meta = json.loads((root / PROFILES / backend / "meta.json").read_text())
        if meta.get("host_load_note"):
            notes.append(f"\n\nNote ({backend} profile and burst): {meta['host_load_note']}.")
    return "".join(notes)


@register("live_gpu_h200_shared_triton")
def live_gpu_h200_shared_triton(root: Path) -> str:
    """results/live/gpu_h200_shared_triton: L4 vs least_requests, 2 vLLM instances on one H200."""
    doc = json.loads((root / LIVE / "rate_6" / "summary.json").read_text())
    vs = doc["versus_best_baseline"]["schedulers"]
    rows = []
    for name, s in doc["schedulers"].items():
        v = vs.get(name, {})
        rows.append([name, f"{s['completed']} / {s['num_prompts']}", cell(s, "mean_e2el_ms", ".2f", 1e-3),
                     cell(s, "p99_e2el_ms", ".2f", 1e-3), cell(s, "mean_ttft_ms", ".0f"),
                     cell(s, "p99_ttft_ms", ".0f"), cell(s, "mean_tpot_ms", ".1f"), cell(s, "p99_tpot_ms", ".1f"),
                     cell(s, "request_throughput", ".2f"),
                     _ci(v["ratio"], v["low"], v["high"]) if v else ""])
    return table(["scheduler", "completed", "mean E2E (s) [95% CI]", "p99 E2E (s) [95% CI]", "mean TTFT (ms) [95% CI]",
                  "p99 TTFT (ms) [95% CI]", "mean TPOT (ms) [95% CI]", "p99 TPOT (ms) [95% CI]", "throughput (req/s)",
                  f"mean E2E / {doc['versus_best_baseline']['best_baseline']} [95% CI]"], rows) + (
        "\n\nIntervals: the run's request bootstrap (one run per scheduler; the ratio is paired).")


def _range(values: list[float]) -> str:
    return f"{min(values):.2f}-{max(values):.2f}x"


@register("premise_readme")
def premise_readme(root: Path) -> str:
    """README: the premise paragraph, every number read from the committed H200 results."""
    mixed = kernel_rows(root)
    k = {b: mixed[mixed["backend"] == b]["vs_homog"].tolist() for b in ("fa3", "fa2", "triton", "flashinfer")}
    fa3_first = mixed[(mixed["backend"] == "fa3") & (mixed["long_position"] == "first")]["vs_homog"].tolist()
    fa3_last = mixed[(mixed["backend"] == "fa3") & (mixed["long_position"] == "last")]["vs_homog"].tolist()
    steps = {b: _range([p["ratio"] for p in headline_pairs(root, b)]) for b in STEP_BACKENDS}
    burst = {b: (_burst_ratio(root, b, "live"), _burst_ratio(root, b, "sim")) for b in STEP_BACKENDS}
    p50 = {b: json.loads((root / PROFILES / b / "burst.json").read_text())["comparison"]
           ["short_itl_p50_mixed_over_homogeneous"] for b in STEP_BACKENDS}
    live = json.loads((root / LIVE / "rate_6" / "summary.json").read_text())["versus_best_baseline"]
    l4 = live["schedulers"]["l4"]
    return (
        "Whether mixing long and short contexts in one decode batch costs anything depends on the attention "
        "backend (measured on an NVIDIA H200, vLLM 0.25.0, Llama-3.1-8B shapes; docs/premise.md). At equal "
        "batch size and total KV tokens, one attention layer of FlashAttention 3 (vLLM's FLASH_ATTN on Hopper) "
        f"runs {_range(k['fa3'])} the homogeneous time ({_range(fa3_first)} with the long sequence first, "
        f"{_range(fa3_last)} with it last), FlashAttention 2 {_range(k['fa2'])}, vLLM's Triton unified "
        f"attention {_range(k['triton'])} and FlashInfer's decode wrapper {_range(k['flashinfer'])}. A whole "
        f"engine step (EngineCore.step, CUDA graphs) is {steps['FLASH_ATTN']} on FLASH_ATTN, "
        f"{steps['FLASH_ATTN_2']} on FLASH_ATTN_2 and {steps['TRITON_ATTN']} on TRITON_ATTN; in a burst of "
        "63 x 1k + 1 x 64k vs 64 x 2k prompts the short requests' mean inter-token time rises "
        f"{burst['FLASH_ATTN'][0]:.2f}x on FLASH_ATTN (median {p50['FLASH_ATTN']:.2f}x: the steps that carry the "
        f"long prefill's chunks, not the decode kernel), {burst['FLASH_ATTN_2'][0]:.2f}x on FLASH_ATTN_2 and "
        f"{burst['TRITON_ATTN'][0]:.2f}x on TRITON_ATTN (median {p50['TRITON_ATTN']:.2f}x); the simulator with "
        f"each backend's fitted model gives {burst['FLASH_ATTN'][1]:.2f}x, {burst['FLASH_ATTN_2'][1]:.2f}x and "
        f"{burst['TRITON_ATTN'][1]:.2f}x. So length-aware scheduling has little to gain from the kernel on FA3 "
        "and a large one on TRITON_ATTN, FA2 and FlashInfer's decode wrapper. One live TRITON_ATTN run "
        f"(2 instances sharing one H200, bimodal 1k/24k, 6 req/s, one repeat) gives L4 {l4['ratio']:.3f}x "
        f"[{l4['low']:.3f}, {l4['high']:.3f}] the mean E2E of {live['best_baseline']} "
        "(results/live/gpu_h200_shared_triton)."
    ) + _host_notes(root)
