"""README tables of one backend's live run folder (issue 15): results/live/<run>/{live,sim}/, where
live/ is the harness's run on the GPU host (summary.json, requests.csv) and sim/ its simulator twin
(the same requests, checked by requests_sha256).

One row per (repeat, scheduler): the live metrics with their request-bootstrap CIs, L4's paired
ratios to each baseline of the same repeat, and the twin's error against live. The backend's goals,
met or not from those numbers, are in l4bench.report.live_goals.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from l4bench.l4.names import is_l4_family
from l4bench.report.blocks import register
from l4bench.report.live_stats import (
    LONG_PROMPT,
    first_instances,
    fmt_ratio,
    paired_ratio,
    short_instance,
    twin_error,
    twin_error_ci,
    with_ci,
)
from l4bench.report.tables import table

FA3 = Path("results") / "live" / "gpu_h200_fa3_shared"
FA2 = Path("results") / "live" / "gpu_h200_fa2_shared"
TRITON_R2 = Path("results") / "live" / "gpu_h200_shared_triton_r2"


def live_run(run: Path) -> tuple[dict[str, Any], dict[int, dict[str, np.ndarray]]]:
    """run/live's summary and its per-request E2E (repeat -> scheduler -> ms)."""
    from l4bench.merge_runs import per_request_e2el

    return _summary(run, "live"), per_request_e2el(run / "live")


def _summary(run: Path, side: str) -> dict[str, Any]:
    """run/side/summary.json (side: live, or a twin's folder)."""
    return dict(json.loads((run / side / "summary.json").read_text()))


def _twin(sim: dict[str, Any], entry: dict[str, Any]) -> dict[str, Any]:
    """The twin's schedulers for the live repeat entry; refuses a twin that replayed other requests."""
    match = next((e for e in sim["per_repeat"] if e["repeat"] == entry["repeat"]), None)
    if match is None or match["requests_sha256"] != entry["requests_sha256"]:
        raise ValueError(f"repeat {entry['repeat']}: the twin did not replay the live requests")
    return dict(match["schedulers"])


def best_baseline(schedulers: dict[str, Any]) -> str:
    return min((n for n in schedulers if not is_l4_family(n)), key=lambda n: schedulers[n]["mean_e2el_ms"])


def _pairs(runs: dict[str, Any]) -> list[tuple[str, str]]:
    """(L4 or an L4 variant, baseline) for every pair a repeat ran; a variant also against l4."""
    baselines = [n for n in runs if not is_l4_family(n)]
    pairs = [(n, b) for n in runs if is_l4_family(n) for b in baselines]
    return pairs + [(n, "l4") for n in runs if is_l4_family(n) and n != "l4" and "l4" in runs]


def backend_table(root: Path, run: Path, bound: str | None = None) -> str:
    """Scheduler x repeat table of a live backend run against its twin (sim/), then L4's paired ratios
    to each baseline. bound: a second twin folder (e.g. the same twin with perf.gpu_share=1, the
    no-contention bound of a shared GPU), shown as one more column."""
    (live, e2e), sim = live_run(root / run), _summary(root / run, "sim")
    other = _summary(root / run, bound) if bound else None
    rows, ratio_lines = [], []
    for entry in live["per_repeat"]:
        r, runs, twin = entry["repeat"], entry["schedulers"], _twin(sim, entry)
        twin_bound = _twin(other, entry) if other else {}
        baselines = [n for n in runs if not is_l4_family(n)]
        best = best_baseline(runs) if len(baselines) > 1 else None
        for name, lv in runs.items():
            tw = twin[name]
            rows.append([str(r), name + (" (best baseline)" if name == best else ""),
                         f"{lv['completed']} / {lv['num_prompts']}", with_ci(lv, "mean_e2el_ms", ".2f", 1e-3),
                         with_ci(lv, "p99_e2el_ms", ".1f", 1e-3), with_ci(lv, "mean_ttft_ms", ".2f", 1e-3),
                         with_ci(lv, "mean_tpot_ms", ".1f", 1.0), f"{lv['request_throughput']:.3f}",
                         str(lv["migrations"]), f"{tw['mean_e2el_ms'] / 1e3:.2f}", twin_error_ci(tw, lv, "mean_e2el_ms"),
                         twin_error_ci(tw, lv, "p99_e2el_ms"), twin_error(tw["request_throughput"], lv["request_throughput"]),
                         *([f"{twin_bound[name]['mean_e2el_ms'] / 1e3:.2f} / {twin_bound[name]['p99_e2el_ms'] / 1e3:.1f}"]
                           if other else [])])
        if r not in e2e:
            continue
        for name, base in _pairs(runs):
            mean = paired_ratio(e2e[r][name], e2e[r][base])
            p99 = paired_ratio(e2e[r][name], e2e[r][base], 99.0)
            label = "L4" if name == "l4" else name
            ratio_lines.append(f"repeat {r}, {label} / {base}{' (best)' if base == best else ''}: mean E2E "
                               f"{fmt_ratio(mean)}, p99 E2E {fmt_ratio(p99)} (twin "
                               f"{twin[name]['mean_e2el_ms'] / twin[base]['mean_e2el_ms']:.3f}, "
                               f"{twin[name]['p99_e2el_ms'] / twin[base]['p99_e2el_ms']:.3f}).")
    out = table(["repeat", "scheduler", "completed / measured", "mean E2E s [95% CI]", "p99 E2E s [95% CI]",
                 "mean TTFT s [95% CI]", "mean TPOT ms [95% CI]", "req/s", "hops", "twin mean E2E s",
                 "twin err mean [CI, %]", "twin err p99 [CI, %]", "twin err req/s",
                 *([f"{bound} twin mean / p99 E2E s"] if other else [])], rows)
    out += ("\n\nSame requests live and in every twin, each repeat (requests_sha256; the report refuses a twin "
            "that replayed others).")
    if not ratio_lines:
        return out + " No repeat ran L4 and a baseline live, so there is no paired ratio."
    return out + "\n\nPaired ratios (request bootstrap over the requests both completed, 95% CI):\n\n" + \
        "\n".join(f"- {line}" for line in ratio_lines)


def placement(root: Path, run: Path, sides: tuple[tuple[str, str], ...], long_prompt: int) -> str:
    """Where each prompt class went and what it got, per side (live, twins with requests.csv) and
    scheduler, over the repeats it ran (listed): the measured explanation of a mean-vs-tail trade between L4 and a
    static split. The short instance is the one that got most short prompts (static_ranges' first range)."""
    from l4bench.metrics.frame import read_requests_table

    rows = []
    for label, folder in sides:
        df = read_requests_table(root / run / folder)
        if df is None:
            raise ValueError(f"{run / folder}: no requests.csv or requests.parquet")
        df = df[df["is_measured"].astype(bool) & df["is_completed"].astype(bool)]
        for name, g in df.groupby("scheduler", sort=False):
            first, lg = first_instances(g["instances"]), g["prompt_tokens"] > long_prompt
            sh, inst = ~lg, short_instance(first, lg)
            on_short, on_long = int((first[lg] == inst).sum()), int((first[sh] != inst).sum())
            rows.append([label, name, ", ".join(str(int(x)) for x in sorted(g["repeat"].unique())),
                         f"{on_short} / {int(lg.sum())}", f"{on_long} / {int(sh.sum())}",
                         f"{g['e2el_ms'][sh].mean() / 1e3:.2f}", f"{g['ttft_ms'][sh].mean():.0f}",
                         f"{g['tpot_ms'][sh].mean():.1f}", f"{g['e2el_ms'][lg].mean() / 1e3:.2f}",
                         f"{g['e2el_ms'].mean() / 1e3:.2f}"])
    return table(["side", "scheduler", "repeats", "long prompts on the short instance", "short prompts elsewhere",
                  "short mean E2E s", "short mean TTFT ms", "short mean TPOT ms", "long mean E2E s",
                  "mean E2E s"], rows)


def twin_predictions(root: Path, run: Path, sides: tuple[tuple[str, str], ...]) -> str:
    """Twins committed before their live run: per side (label, folder) and repeat, each scheduler's
    mean / p99 E2E with the run's bootstrap CI and its mean over the repeat's best baseline."""
    rows = []
    for label, folder in sides:
        doc = _summary(root / run, folder)
        for entry in doc["per_repeat"]:
            runs = entry["schedulers"]
            best = best_baseline(runs)
            for name in (n for n in doc["schedulers"] if n in runs):  # as listed, not in run order
                s = runs[name]
                rows.append([label, str(entry["repeat"]), name + (" (best baseline)" if name == best else ""),
                             with_ci(s, "mean_e2el_ms", ".2f", 1e-3), with_ci(s, "p99_e2el_ms", ".1f", 1e-3),
                             f"{s['mean_e2el_ms'] / runs[best]['mean_e2el_ms']:.3f}", str(s["migrations"])])
    return table(["twin", "repeat", "scheduler", "mean E2E s [95% CI]", "p99 E2E s [95% CI]",
                  "mean / best baseline", "hops"], rows)


@register("live_gpu_fa2_twins")
def live_gpu_fa2_twins(root: Path) -> str:
    """results/live/gpu_h200_fa2_shared: the FA2 twins' predictions, committed before the live run."""
    return twin_predictions(root, FA2, (("flat share 0.5", "sim"), ("share 1", "sim_share1")))


def ratio_transfer(root: Path, run: Path, twins: tuple[tuple[str, str], ...]) -> str:
    """Do the twins' scheduler ratios hold live even where their levels do not? Per repeat and pair
    (_pairs), live's paired ratio with its request-bootstrap CI against each twin's ratio of means;
    "in" marks a twin ratio inside the live CI. Then per twin: how many fall inside, and how many
    are on the same side of 1 as live's estimate."""
    live, e2e = live_run(root / run)
    sims = [(label, _summary(root / run, folder)) for label, folder in twins]
    rows, inside, same_side, counted = [], [0] * len(sims), [0] * len(sims), [0] * len(sims)
    for entry in live["per_repeat"]:
        r, runs = entry["repeat"], entry["schedulers"]
        if r not in e2e:
            continue
        tws = [_twin(sim, entry) for _, sim in sims]
        for name, base in _pairs(runs):
            for label, key, q in (("mean", "mean_e2el_ms", None), ("p99", "p99_e2el_ms", 99.0)):
                est, lo, hi = paired_ratio(e2e[r][name], e2e[r][base], q)
                cells = []
                for i, tw in enumerate(tws):
                    if name not in tw or base not in tw:
                        cells.append("")
                        continue
                    t = tw[name][key] / tw[base][key]
                    counted[i] += 1
                    inside[i] += lo <= t <= hi
                    same_side[i] += (t - 1) * (est - 1) > 0
                    cells.append(f"{t:.3f}" + (" in" if lo <= t <= hi else ""))
                rows.append([str(r), f"{'L4' if name == 'l4' else name} / {base}", label,
                             fmt_ratio((est, lo, hi)), *cells])
    out = table(["repeat", "ratio", "E2E", "live, paired [95% CI]", *(f"twin: {label}" for label, _ in sims)], rows)
    lines = [f"{label}: {inside[i]} of {counted[i]} twin ratios inside the live CI, {same_side[i]} on the same "
             f"side of 1 as live" for i, (label, _) in enumerate(sims)]
    return out + "\n\n" + "\n".join(f"- {line}" for line in lines)


@register("live_gpu_fa3_ratio_transfer")
def live_gpu_fa3_ratio_transfer(root: Path) -> str:
    """results/live/gpu_h200_fa3_shared: the twins' scheduler ratios against live's paired ratios."""
    return ratio_transfer(root, FA3, (("flat 0.5", "sim"), ("share 1", "sim_share1"), ("time-sliced", "sim_timeslice")))


@register("live_gpu_triton_ratio_transfer")
def live_gpu_triton_ratio_transfer(root: Path) -> str:
    """results/live/gpu_h200_shared_triton_r2 (the TRITON repeat with per-request records): live paired
    ratios against the flat and the measured-contention twins' ratios."""
    return ratio_transfer(root, TRITON_R2, (("flat 0.5", "sim"),
                                            ("measured contention", "../gpu_h200_shared_triton_repeats/sim_contention")))


@register("live_gpu_fa3")
def live_gpu_fa3(root: Path) -> str:
    """results/live/gpu_h200_fa3_shared: the FA3 control, live vs twin."""
    return backend_table(root, FA3, bound="sim_share1")


def _bucket(s: dict[str, Any], prefix: str) -> dict[str, Any]:
    return next(b for b in s["per_bucket"] if b["bucket"].startswith(prefix) and b["count"])


def _prefill_alone_s(root: Path, run: Path, prompt_tokens: int) -> float:
    """The live config's fitted step-time model (share 1): one prompt prefilled alone, chunk by chunk."""
    from omegaconf import OmegaConf

    from l4bench.perf.base import BatchShape, GpuSpec, ModelSpec
    from l4bench.perf.fitted import FittedPerfModel

    cfg = OmegaConf.load(root / run / "live" / "config_resolved.yaml")
    model = ModelSpec(**OmegaConf.to_container(cfg.model))  # type: ignore[arg-type]
    gpu = GpuSpec(**OmegaConf.to_container(cfg.gpu))  # type: ignore[arg-type]
    fm = FittedPerfModel(model, gpu, profile=str(cfg.perf.profile), profile_dir=str(root / "results" / "profiles"))
    chunk, done, t = int(cfg.cluster.max_num_batched_tokens), 0, 0.0
    while done < prompt_tokens:
        c = min(chunk, prompt_tokens - done)
        t += fm.step_time_s(BatchShape(num_prefill_tokens=c, num_prefill_seqs=1, prefill_attention_tokens=c * (done + c / 2)))
        done += c
    return t


TWINS = (("twin, share 1", "sim_share1"), ("twin, idle neighbour 1x / busy 2x", "sim_timeslice"),
         ("twin, share 0.5", "sim"))


def share_bounds(root: Path, run: Path, name: str = "static_ranges") -> str:
    """Live against twins that differ only in how the shared GPU is split (TWINS: unshared, time-sliced
    by the neighbour's busy periods, the flat 0.5), per prompt class, with the long class's fastest
    live TTFT against the model's prefill alone."""
    import pandas as pd

    live = _summary(root / run, "live")["schedulers"][name]
    twins = [(label, _summary(root / run, folder)["schedulers"][name]) for label, folder in TWINS
             if (root / run / folder / "summary.json").is_file()]
    runs = [live, *(s for _, s in twins)]
    rows = [[label, *(f"{s[k] / 1e3:.2f}" for s in runs)]
            for label, k in (("mean E2E s", "mean_e2el_ms"), ("p99 E2E s", "p99_e2el_ms"))]
    for cls, prefix in (("short", "[0,"), ("long", f"[{LONG_PROMPT},")):
        b = [_bucket(s, prefix) for s in runs]
        rows.append([f"{cls} class mean TTFT s", *(f"{x['mean_ttft_ms'] / 1e3:.2f}" for x in b)])
        rows.append([f"{cls} class mean TPOT ms", *(f"{x['mean_tpot_ms']:.1f}" for x in b)])
    out = table([name, "live", *(label for label, _ in twins)], rows)
    df = pd.read_csv(root / run / "live" / "requests.csv")
    longs = df[df["is_measured"].astype(bool) & (df["scheduler"] == name) & (df["prompt_tokens"] > LONG_PROMPT)]
    median_prompt = int(longs["prompt_tokens"].median())
    return out + (f"\n\nLong class live ({len(longs)} measured requests, median prompt {median_prompt:,} tokens): "
                  f"TTFT fastest {longs['ttft_ms'].min() / 1e3:.2f} s, p10 {longs['ttft_ms'].quantile(0.1) / 1e3:.2f} s, "
                  f"median {longs['ttft_ms'].median() / 1e3:.2f} s; the fitted model's prefill of a "
                  f"{median_prompt:,}-token prompt alone at share 1: {_prefill_alone_s(root, run, median_prompt):.2f} s.")


@register("live_gpu_fa3_share_bounds")
def live_gpu_fa3_share_bounds(root: Path) -> str:
    """results/live/gpu_h200_fa3_shared: static_ranges live between the twin's share-1 and share-0.5 bounds."""
    return share_bounds(root, FA3)


@register("live_gpu_fa3_placement")
def live_gpu_fa3_placement(root: Path) -> str:
    """results/live/gpu_h200_fa3_shared: where each prompt class went under each scheduler, live and in
    the share-1 twin with L4's spill turned off (l4_no_spill)."""
    return placement(root, FA3, (("live", "live"), ("twin, share 1", "sim_share1_spill")), LONG_PROMPT)


@register("live_gpu_fa2")
def live_gpu_fa2(root: Path) -> str:
    """results/live/gpu_h200_fa2_shared: FA2 live vs its flat twin, with the share-1 twin as a bound."""
    return backend_table(root, FA2, bound="sim_share1")


@register("live_gpu_fa2_ratio_transfer")
def live_gpu_fa2_ratio_transfer(root: Path) -> str:
    """results/live/gpu_h200_fa2_shared: the twins' predicted ratios (committed before the live run)
    against live's paired ratios."""
    return ratio_transfer(root, FA2, (("flat 0.5", "sim"), ("share 1", "sim_share1")))


@register("live_gpu_fa2_placement")
def live_gpu_fa2_placement(root: Path) -> str:
    """results/live/gpu_h200_fa2_shared: where each prompt class went under each scheduler, live."""
    return placement(root, FA2, (("live", "live"),), LONG_PROMPT)


def backend_penalty(root: Path, run: Path, control: Path) -> str:
    """The same requests on two backends, live: per repeat both ran and scheduler, run's mean / p99 E2E
    over control's, paired per request (refused unless both replayed the same requests)."""
    (live, e2e), (ctl, ctl_e2e) = live_run(root / run), live_run(root / control)
    rows = []
    for entry in live["per_repeat"]:
        r = entry["repeat"]
        other = next((e for e in ctl["per_repeat"] if e["repeat"] == r), None)
        if other is None or r not in e2e or r not in ctl_e2e:
            continue
        if other["requests_sha256"] != entry["requests_sha256"]:
            raise ValueError(f"repeat {r}: {run} and {control} replayed different requests")
        for name in (n for n in entry["schedulers"] if n in other["schedulers"]):
            a, b = entry["schedulers"][name], other["schedulers"][name]
            rows.append([str(r), name, f"{b['mean_e2el_ms'] / 1e3:.2f}", f"{a['mean_e2el_ms'] / 1e3:.2f}",
                         fmt_ratio(paired_ratio(e2e[r][name], ctl_e2e[r][name])),
                         fmt_ratio(paired_ratio(e2e[r][name], ctl_e2e[r][name], 99.0))])
    return table(["repeat", "scheduler", f"{control.name} mean E2E s", f"{run.name} mean E2E s",
                  "mean ratio, paired [95% CI]", "p99 ratio, paired [95% CI]"], rows)


@register("live_gpu_fa2_vs_fa3")
def live_gpu_fa2_vs_fa3(root: Path) -> str:
    """results/live/gpu_h200_fa2_shared against the FA3 control: what the FA2 backend costs each scheduler."""
    return backend_penalty(root, FA2, FA3)
