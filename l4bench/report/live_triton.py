"""README table of results/live/gpu_h200_shared_triton_r1: one live repeat on TRITON_ATTN and its
simulator twin (the same requests, checked by requests_sha256).

The live sweep lost its third scheduler (static_ranges) when the device machine was given back, and
its requests.parquet with it, so L4 / least_requests is an *unpaired* ratio here: its CI combines the
two runs' own request-bootstrap CIs of the mean in log space (independent, hence wider than the
paired CI the harness computes; since 00f8d35 it does so after every run, so a cut-off sweep keeps it).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from l4bench.report.blocks import register
from l4bench.report.live_stats import (
    LONG_PROMPT,
    first_instances,
    fmt_ratio,
    paired_ratio,
    short_instance,
    twin_error,
    twin_error_ci,
    unpaired_ratio,
    with_ci,
)
from l4bench.report.tables import table

RUN = Path("results") / "live" / "gpu_h200_shared_triton_r1"


def _doc(root: Path, side: str) -> dict[str, Any]:
    return json.loads((root / RUN / side / "summary.json").read_text())


@register("live_gpu_triton_r1")
def live_gpu_triton_r1(root: Path) -> str:
    """Live vs twin per scheduler, then L4 / least_requests live (unpaired) and in the twin."""
    live, sim = _doc(root, "live"), _doc(root, "sim")
    same = live["per_repeat"][0]["requests_sha256"] == sim["per_repeat"][0]["requests_sha256"]
    rows = []
    for name in sim["schedulers"]:
        s = sim["schedulers"][name]
        lv = live["schedulers"].get(name)
        if lv is None:
            rows.append([name, "not run (lost)", "", "", "", f"{s['mean_e2el_ms'] / 1e3:.2f}",
                         f"{s['p99_e2el_ms'] / 1e3:.1f}", f"{s['request_throughput']:.3f}", "", "", ""])
            continue
        rows.append([name, f"{lv['completed']} / {lv['num_prompts']}", with_ci(lv, "mean_e2el_ms", ".2f", 1e-3),
                     with_ci(lv, "p99_e2el_ms", ".1f", 1e-3), f"{lv['request_throughput']:.3f}",
                     f"{s['mean_e2el_ms'] / 1e3:.2f}", f"{s['p99_e2el_ms'] / 1e3:.1f}",
                     f"{s['request_throughput']:.3f}", twin_error(s["mean_e2el_ms"], lv["mean_e2el_ms"]),
                     twin_error(s["p99_e2el_ms"], lv["p99_e2el_ms"]),
                     twin_error(s["request_throughput"], lv["request_throughput"])])
    out = table(["scheduler", "live completed / measured", "live mean E2E s [95% CI]",
                 "live p99 E2E s [95% CI]", "live req/s", "sim mean E2E s", "sim p99 E2E s", "sim req/s",
                 "sim err mean", "sim err p99", "sim err req/s"], rows)
    lines = [f"\n\nSame requests live and in the twin (requests_sha256): {'yes' if same else 'NO'}."]
    a, b = live["schedulers"].get("l4"), live["schedulers"].get("least_requests")
    if a and b:
        for key, label in (("mean_e2el_ms", "mean E2E"), ("p99_e2el_ms", "p99 E2E"), ("mean_ttft_ms", "mean TTFT")):
            r, lo, hi = unpaired_ratio(a, b, key)
            tw = sim["schedulers"]["l4"][key] / sim["schedulers"]["least_requests"][key]
            lines.append(f"\nL4 / least_requests, {label}: live {r:.3f} [{lo:.3f}, {hi:.3f}] (unpaired CI), "
                         f"twin {tw:.3f}.")
    lines.append("\n\nMean TPOT (ms) per prompt-length class, live / sim: " + "; ".join(
        f"{name} " + ", ".join(f"{lb['bucket']} {lb['mean_tpot_ms']:.0f} / {sb['mean_tpot_ms']:.0f}"
                               for lb, sb in zip(live["schedulers"][name]["per_bucket"],
                                                 sim["schedulers"][name]["per_bucket"], strict=True)
                               if lb["count"] and lb["mean_tpot_ms"] is not None)
        for name in live["schedulers"]) + ".")
    return out + "".join(lines)


INTERFERENCE = Path("results") / "live" / "gpu_h200_shared_interference"


def interference_table(folder: Path) -> str:
    """benchmarks/shared_gpu_interference.py's phases: A's mean TPOT per load of B, per repeat."""
    doc = json.loads((folder / "interference_TRITON_ATTN.json").read_text())
    per_repeat = len(doc.get("b_loads") or ("idle", "short", "long"))
    idle: dict[int, float] = {}
    rows = []
    for i, p in enumerate(doc["phases"]):
        rep = i // per_repeat
        if p["b_load"] == "idle":
            idle[rep] = p["a_tpot_ms_mean"]
        b = "" if p["b_tpot_ms_mean"] is None else f"{p['b_tpot_ms_mean']:.1f}"
        rows.append([str(rep), _b_load_text(p), f"{p['a_tpot_ms_mean']:.1f}", f"{p['a_tpot_ms_mean'] / idle[rep]:.2f}", b])
    return table(["repeat", "instance B runs", "A mean TPOT (ms)", "A vs B idle", "B mean TPOT (ms)"], rows)


def _b_load_text(p: dict[str, Any]) -> str:
    """'short (32 x 1k)' for shortN phases (the request count read from the phase itself)."""
    load = p["b_load"]
    if load.startswith("short") and p.get("b"):
        return f"short ({len(p['b'])} x 1k)"
    return load


@register("shared_gpu_interference")
def shared_gpu_interference(root: Path) -> str:
    """The first probe (0faf7bd): B idle, the same short batch, or long prompts; 2 repeats."""
    return interference_table(root / INTERFERENCE)


INTERFERENCE_LOAD = Path("results") / "live" / "gpu_h200_shared_interference_load"


@register("shared_gpu_interference_load")
def shared_gpu_interference_load(root: Path) -> str:
    """The second probe (5ea4a97): B's short batch at 8, 32 and 128 requests too."""
    return interference_table(root / INTERFERENCE_LOAD)


RUN2 = Path("results") / "live" / "gpu_h200_shared_triton_r2"


def per_request(run_dir: Path, repeat: int) -> dict[str, np.ndarray]:
    """Scheduler -> E2E ms per request of one repeat of a committed run (its requests.csv)."""
    from l4bench.merge_runs import per_request_e2el

    return per_request_e2el(run_dir)[repeat]


def placement(csv_path: Path) -> dict[str, dict[str, int]]:
    """Per scheduler, over measured requests: where each prompt class was first sent. The "short
    instance" is the one that got most short prompts; counts of long prompts sent there, short ones
    sent elsewhere, hops and recomputed tokens."""
    df = pd.read_csv(csv_path, dtype={"instances": str})
    df = df[df["is_measured"].astype(bool)]
    out = {}
    for name, g in df.groupby("scheduler", sort=False):
        first = first_instances(g["instances"])
        long = g["prompt_tokens"] > LONG_PROMPT
        short_inst = short_instance(first, long)
        out[str(name)] = {"long": int(long.sum()), "short": int((~long).sum()),
                          "long_on_short_instance": int((long & (first == short_inst)).sum()),
                          "short_elsewhere": int((~long & (first != short_inst)).sum()),
                          "hops": int(g["num_hops"].sum()), "recomputed_tokens": int(g["recomputed_tokens"].sum())}
    return out


@register("live_gpu_triton_r2")
def live_gpu_triton_r2(root: Path) -> str:
    """Repeat 1 live (three schedulers, paired) vs its twin; paired ratios; TPOT per class; placement."""
    live, sim = json.loads((root / RUN2 / "live" / "summary.json").read_text()), \
        json.loads((root / RUN2 / "sim" / "summary.json").read_text())
    csv_path = root / RUN2 / "live" / "requests.csv"
    e2e = per_request(root / RUN2 / "live", live["per_repeat"][0]["repeat"])
    same = live["per_repeat"][0]["requests_sha256"] == sim["per_repeat"][0]["requests_sha256"]
    rows = []
    for name, lv in live["schedulers"].items():
        s = sim["schedulers"][name]
        rows.append([name, f"{lv['completed']} / {lv['num_prompts']}", with_ci(lv, "mean_e2el_ms", ".2f", 1e-3),
                     with_ci(lv, "p99_e2el_ms", ".1f", 1e-3), with_ci(lv, "mean_ttft_ms", ".2f", 1e-3),
                     with_ci(lv, "mean_tpot_ms", ".1f", 1.0), f"{lv['request_throughput']:.3f}",
                     f"{lv['migrations']} ({lv['recomputed_tokens']:,})",
                     f"{s['mean_e2el_ms'] / 1e3:.2f}", twin_error_ci(s, lv, "mean_e2el_ms"), twin_error_ci(s, lv, "p99_e2el_ms"),
                     twin_error(s["request_throughput"], lv["request_throughput"])])
    out = table(["scheduler", "live completed / measured", "mean E2E s [95% CI]", "p99 E2E s [95% CI]",
                 "mean TTFT s [95% CI]", "mean TPOT ms [95% CI]", "req/s", "hops (recomputed tokens)",
                 "sim mean E2E s", "sim err mean [95% CI, %]", "sim err p99 [95% CI, %]", "sim err req/s"], rows)
    lines = [f"\n\nSame requests live and in the twin (requests_sha256): {'yes' if same else 'NO'}. "
             "The error's CI is the twin's value against the live value's bootstrap CI."]
    sims = sim["schedulers"]
    for base in ("least_requests", "static_ranges"):
        for q, label, key in ((None, "mean E2E", "mean_e2el_ms"), (99.0, "p99 E2E", "p99_e2el_ms")):
            tw = sims["l4"][key] / sims[base][key]
            lines.append(f"\nL4 / {base}, {label}: live {fmt_ratio(paired_ratio(e2e['l4'], e2e[base], q))} "
                         f"(paired request bootstrap), twin {tw:.3f}.")
    lines.append("\n\nMean TPOT (ms) per prompt-length class, live / sim: " + "; ".join(
        f"{name} " + ", ".join(f"{lb['bucket']} {lb['mean_tpot_ms']:.1f} / {sb['mean_tpot_ms']:.1f}"
                               for lb, sb in zip(lv["per_bucket"], sims[name]["per_bucket"], strict=True)
                               if lb["count"] and lb["mean_tpot_ms"] is not None)
        for name, lv in live["schedulers"].items()) + ".")
    lines.append("\n\nWhere requests went first, live (measured requests; the short instance is the one that got "
                 "most short prompts): " + "; ".join(
                     f"{n} {p['long_on_short_instance']} of {p['long']} long prompts on the short instance, "
                     f"{p['short_elsewhere']} of {p['short']} short ones on the other, {p['hops']} hops"
                     for n, p in placement(csv_path).items()) + ".")
    lines.append("\n\n" + twin_layouts(json.loads((root / RUN2 / "sim" / "timeline.json").read_text())["l4"]))
    return out + "".join(lines)


def twin_layouts(snapshots: list[dict[str, Any]]) -> str:
    """How the twin's L4 split the two instances over its timeline snapshots (the live router keeps none)."""
    sep = [s for s in snapshots if len(s["boundaries_tokens"]) == 2 and s["boundaries_tokens"][0] <= LONG_PROMPT]
    mixed = [s for s in snapshots if len(s["boundaries_tokens"]) == 2 and s["boundaries_tokens"][0] > LONG_PROMPT]
    one = len(snapshots) - len(sep) - len(mixed)
    step = snapshots[1]["t_s"] - snapshots[0]["t_s"] if len(snapshots) > 1 else 0
    bounds = sorted({s["boundaries_tokens"][0] for s in mixed})
    return (f"The twin's L4 layout ({len(snapshots)} snapshots, every {step:g} s): two stages split below the long "
            f"class (first bound <= {LONG_PROMPT}) in {len(sep)}, two stages with the first bound inside the long "
            f"class ({', '.join(map(str, bounds))} tokens: short and long prompts share stage 0) in {len(mixed)}, "
            f"one stage of both instances in {one}.")


REPEATS = Path("results") / "live" / "gpu_h200_shared_triton_repeats"


def _long_share(entry: dict[str, Any]) -> str:
    """Measured long prompts of a repeat (any scheduler's per_bucket: every scheduler saw the same requests)."""
    s = next(iter(entry["schedulers"].values()))
    long = sum(b["count"] for b in s["per_bucket"] if b["bucket"].startswith("[8192"))
    return f"{long} / {s['num_prompts']}"


@register("live_gpu_triton_repeats")
def live_gpu_triton_repeats(root: Path) -> str:
    """Both live repeats (r1: repeat 0, r2: repeat 1) against the twin: per-repeat means and ratios,
    then the ratio over repeats (geometric mean, t-interval on log ratios: the harness's rule)."""
    from l4bench.metrics.ci import log_ratio_interval

    live = json.loads((root / REPEATS / "live" / "summary.json").read_text())
    sim = json.loads((root / REPEATS / "sim" / "summary.json").read_text())
    from l4bench.merge_runs import per_request_e2el

    e2e_by_repeat = per_request_e2el(root / RUN2 / "live")  # the repeats with per-request records
    twin = {e["repeat"]: e["schedulers"] for e in sim["per_repeat"]}
    rows, ratios, twin_ratios = [], [], []
    for entry in live["per_repeat"]:
        r, s = entry["repeat"], entry["schedulers"]
        t = twin[r]
        if entry["requests_sha256"] != next(e for e in sim["per_repeat"] if e["repeat"] == r)["requests_sha256"]:
            raise ValueError(f"repeat {r}: the twin replayed other requests")
        if r in e2e_by_repeat:
            e2e = e2e_by_repeat[r]
            vs_lr = fmt_ratio(paired_ratio(e2e["l4"], e2e["least_requests"])) + " paired"
        else:
            vs_lr = fmt_ratio(unpaired_ratio(s["l4"], s["least_requests"], "mean_e2el_ms")) + " unpaired"
        ratios.append(s["l4"]["mean_e2el_ms"] / s["least_requests"]["mean_e2el_ms"])
        twin_ratios.append(t["l4"]["mean_e2el_ms"] / t["least_requests"]["mean_e2el_ms"])
        static = s.get("static_ranges")
        rows.append([str(r), _long_share(entry),
                     *(f"{s[n]['mean_e2el_ms'] / 1e3:.2f} / {t[n]['mean_e2el_ms'] / 1e3:.2f}" if n in s
                       else f"not run / {t[n]['mean_e2el_ms'] / 1e3:.2f}" for n in ("l4", "least_requests", "static_ranges")),
                     vs_lr, f"{twin_ratios[-1]:.3f}",
                     f"{s['l4']['mean_e2el_ms'] / static['mean_e2el_ms']:.3f}" if static else "",
                     f"{t['l4']['mean_e2el_ms'] / t['static_ranges']['mean_e2el_ms']:.3f}",
                     f"{t['l4_no_dp']['mean_e2el_ms'] / 1e3:.2f}"])
    out = table(["repeat", "measured long prompts", "l4 mean E2E s, live / twin", "least_requests, live / twin",
                 "static_ranges, live / twin", "L4 / LR live [95% CI]", "L4 / LR twin", "L4 / static live",
                 "L4 / static twin", "twin l4_no_dp s"], rows)
    over, over_twin = log_ratio_interval(ratios), log_ratio_interval(twin_ratios)
    return out + (f"\n\nL4 / least_requests over the {over['n']} repeats (geometric mean, t-interval on the log "
                  f"ratios, {over['n'] - 1} degree(s) of freedom): live {over['mean']:.3f} "
                  f"[{over['low']:.3f}, {over['high']:.3f}], twin {over_twin['mean']:.3f}. "
                  "Commits: " + ", ".join(f"{m['git_commit'][:8]} (repeat {', '.join(map(str, m['repeats']))})"
                                          for m in live["merge"]["runs"]) + ".")


ABLATIONS = REPEATS / "sim_ablations"


def _short_tpot(s: dict[str, Any]) -> str:
    b = next((b for b in s["per_bucket"] if b["bucket"].startswith("[0,") and b["count"]), None)
    return "" if b is None or b["mean_tpot_ms"] is None else f"{b['mean_tpot_ms']:.1f}"


@register("live_gpu_triton_ablations")
def live_gpu_triton_ablations(root: Path) -> str:
    """The twin of both live repeats with L4's ablations and more baselines: what in L4 costs it here."""
    doc = json.loads((root / ABLATIONS / "summary.json").read_text())
    reps = doc["per_repeat"]
    rows = []
    for name in doc["schedulers"]:
        cells = [name]
        for e in reps:
            s, l4 = e["schedulers"][name], e["schedulers"]["l4"]
            cells += [f"{s['mean_e2el_ms'] / 1e3:.2f}", f"{s['mean_e2el_ms'] / l4['mean_e2el_ms']:.3f}",
                      str(s["migrations"]), _short_tpot(s)]
        rows.append(cells)
    header = ["scheduler"]
    for e in reps:
        r = e["repeat"]
        header += [f"rep {r} mean E2E s", f"rep {r} / l4", f"rep {r} hops", f"rep {r} short-class TPOT ms"]
    return table(header, rows)


CONTENTION = REPEATS / "sim_contention"


@register("live_gpu_triton_models")
def live_gpu_triton_models(root: Path) -> str:
    """Live mean / p99 E2E per repeat and scheduler against both twins: the flat 2x and the contention curve."""
    live = json.loads((root / REPEATS / "live" / "summary.json").read_text())
    twins = [json.loads((root / d / "summary.json").read_text()) for d in (REPEATS / "sim", CONTENTION)]
    by_rep = [{e["repeat"]: e["schedulers"] for e in t["per_repeat"]} for t in twins]
    rows = []
    for entry in live["per_repeat"]:
        r = entry["repeat"]
        for name, lv in entry["schedulers"].items():
            cells = [str(r), name, with_ci(lv, "mean_e2el_ms", ".2f", 1e-3)]
            for t in by_rep:
                s = t[r][name]
                cells += [f"{s['mean_e2el_ms'] / 1e3:.2f}", twin_error_ci(s, lv, "mean_e2el_ms"), twin_error_ci(s, lv, "p99_e2el_ms")]
            rows.append(cells)
    return table(["repeat", "scheduler", "live mean E2E s [95% CI]", "flat twin mean s", "flat err mean [CI, %]",
                  "flat err p99 [CI, %]", "contention twin mean s", "contention err mean [CI, %]",
                  "contention err p99 [CI, %]"], rows)
