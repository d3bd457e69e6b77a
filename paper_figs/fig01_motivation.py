"""Fig. 1 (motivation): how a decode batch's step time depends on the spread of its context lengths.

(a) Homogeneous vs mixed decode batches with the same batch size and the same total KV tokens.
(b) Step time of n short (1k-token) decodes plus one long context, against the long one's length
(at 1k: n + 1 short ones); dashed (analytic only): the same tokens with no spread.
Data: the GPU profile ``results/profiles/h100/llama-3.1-8b/profile.csv`` when present (measured;
no dashed lines), else the analytic performance model (l4bench/perf/analytic.py), labelled so.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import yaml
from matplotlib.figure import Figure

from l4bench.perf.analytic import AnalyticPerfModel
from l4bench.perf.base import BatchShape, GpuSpec, ModelSpec
from l4bench.profiling.grid import headline_pairs
from paper_figs.canvas import KTOKENS, finish, new_figure
from paper_figs.common import REPO, rel

NAME = "fig01_motivation"
EXPERIMENTS = ("profile",)
GPU, MODEL = "h100", "llama-3.1-8b"
PROFILE = Path("profiles") / GPU / MODEL / "profile.csv"
SHORT_TOKENS = 1024
N_SHORT = (7, 31, 127)
LONG_TOKENS = (2048, 4096, 8192, 16384, 32768, 65536, 126976)
_MIXED = re.compile(r"mixed_n(\d+)x(\d+)_k(\d+)x(\d+)$")


def _shape(groups: list[tuple[int, int]]) -> BatchShape:
    """Pure-decode batch from (context_tokens, count) groups."""
    ctxs = [c for c, n in groups if n]
    return BatchShape(num_decodes=sum(n for _, n in groups), decode_context_sum=sum(c * n for c, n in groups),
                      decode_context_max=max(ctxs), decode_context_min=min(ctxs))


def _analytic() -> tuple[pd.DataFrame, pd.DataFrame]:
    """Headline pairs and the mixed-batch series computed from the analytic model."""
    def spec(group: str) -> dict:
        d = yaml.safe_load((REPO / "conf" / group / f"{MODEL if group == 'model' else GPU}.yaml").read_text())
        d.pop("_target_", None)
        return d

    perf = AnalyticPerfModel(ModelSpec(**spec("model")), GpuSpec(**spec("gpu")))
    pairs = []
    for uni, mix in headline_pairs():
        pairs.append({"label": f"{uni.num_decodes} x {uni.decode_groups[0][0] // 1024}k",
                      "mix_label": " + ".join(f"{n}x{c / 1024:.3g}k" for c, n in mix.decode_groups),
                      "uniform_ms": perf.step_time_s(_shape(list(uni.decode_groups))) * 1e3,
                      "mixed_ms": perf.step_time_s(_shape(list(mix.decode_groups))) * 1e3})
    rows = []
    for n, long in ((n, L) for n in N_SHORT for L in LONG_TOKENS):
        total, count = n * SHORT_TOKENS + long, n + 1
        rows.append({"n_short": n, "long_tokens": long,
                     "step_ms": perf.step_time_s(_shape([(SHORT_TOKENS, n), (long, 1)])) * 1e3,
                     "uniform_ms": perf.step_time_s(_shape([(total // count, count)])) * 1e3})
    return pd.DataFrame(pairs), pd.DataFrame(rows)


def _mix_label(name: str) -> str:
    """'headline_mixed_n63x1024_k1x66560' -> '63x1k + 1x65k' (the name itself if it does not parse)."""
    m = _MIXED.search(name)
    if not m:
        return name
    n, short, k, long = (int(g) for g in m.groups())
    return f"{n}x{short / 1024:g}k + {k}x{long / 1024:.3g}k"


def _measured(path: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Headline pairs and mixed rows from a profile.csv (step_time_s as measured)."""
    df = pd.read_csv(path)
    uni = df[df["group"] == "headline_uniform"].reset_index(drop=True)
    mix = df[df["group"] == "headline_mixed"].reset_index(drop=True)
    pairs = [{"label": f"{int(u.num_decodes)} x {u.decode_context_sum / u.num_decodes / 1024:.2g}k",
              "mix_label": _mix_label(str(m["name"])),
              "uniform_ms": u.step_time_s * 1e3, "mixed_ms": m.step_time_s * 1e3}
             for (_, u), (_, m) in zip(uni.iterrows(), mix.iterrows(), strict=False)]
    rows = []
    for _, r in df[df["group"] == "mixed"].iterrows():
        m = _MIXED.match(str(r["name"]))
        if m and int(m.group(2)) == SHORT_TOKENS and int(m.group(3)) == 1 and int(m.group(1)) in N_SHORT:
            rows.append({"n_short": int(m.group(1)), "long_tokens": int(m.group(4)),
                         "step_ms": r.step_time_s * 1e3, "uniform_ms": np.nan})
    by_name = df.set_index("name")["step_time_s"]
    for n in N_SHORT:  # no long context: n + 1 decodes of 1k tokens, where measured
        key = f"uniform_n{n + 1}_c{SHORT_TOKENS}"
        if key in by_name.index:
            rows.append({"n_short": n, "long_tokens": SHORT_TOKENS, "step_ms": by_name[key] * 1e3,
                         "uniform_ms": np.nan})
    return pd.DataFrame(pairs), pd.DataFrame(rows, columns=["n_short", "long_tokens", "step_ms", "uniform_ms"])


def build(results: Path) -> Figure:
    """Bars of the headline pairs (left) and step time vs the long context's length (right)."""
    path = Path(results) / PROFILE
    if path.is_file():
        pairs, series = _measured(path)
        meta_path = path.with_name("meta.json")
        meta = json.loads(meta_path.read_text()) if meta_path.is_file() else {}
        engine = f"vLLM {meta.get('vllm_version', '')}".strip()
        source = f"Data: measured GPU profile ({engine}, {GPU.upper()}, {MODEL}, dummy weights) | {rel(path)}"
        kind = "measured"
    else:
        pairs, series = _analytic()
        source = (f"Data: analytic perf model (l4bench/perf/analytic.py: roofline + length-spread term), "
                  f"{GPU.upper()}, {MODEL}; no GPU profile in results/{PROFILE.as_posix()} yet")
        kind = "analytic model, not measured"
    fig, (ax_a, ax_b) = new_figure(1, 2, width=11.0, height=4.0)
    x = np.arange(len(pairs))
    ax_a.bar(x - 0.2, pairs["uniform_ms"], 0.4, color="#4c72b0", label="homogeneous")
    ax_a.bar(x + 0.2, pairs["mixed_ms"], 0.4, color="#dd8452", label="mixed (same total tokens)")
    for xi, (u, m) in enumerate(zip(pairs["uniform_ms"], pairs["mixed_ms"], strict=True)):
        ax_a.text(xi + 0.2, m, f"{(m / u - 1) * 100:+.0f}%", ha="center", va="bottom", fontsize=8)
    ax_a.set_xticks(x, [f"{a}\nvs {b}" for a, b in zip(pairs["label"], pairs["mix_label"], strict=True)], fontsize=7)
    ax_a.set(ylabel="decode step time (ms)", title="(a) same batch size and KV tokens")
    ax_a.margins(y=0.12)
    ax_a.legend(fontsize=8, loc="upper left")
    ax_a.grid(axis="x", visible=False)
    palette = dict(zip(N_SHORT, ("#4c72b0", "#55a868", "#c44e52"), strict=True))
    for n, d in series.groupby("n_short"):
        d = d.sort_values("long_tokens")
        color = palette.get(int(n), "0.3")
        ax_b.plot(d["long_tokens"], d["step_ms"], color=color, marker="o", ms=4, label=f"{n} x 1k + 1 long")
        if d["uniform_ms"].notna().any():
            ax_b.plot(d["long_tokens"], d["uniform_ms"], color=color, ls="--", lw=1.2)
    ax_b.set(xscale="log", xlabel="longest context in the batch (tokens)", ylabel="decode step time (ms)",
             title="(b) one long context among 1k-token decodes")
    ax_b.set_xscale("log", base=2)
    ax_b.xaxis.set_major_formatter(KTOKENS)
    ax_b.legend(fontsize=8, loc="upper left", title="solid: mixed batch\ndashed: same tokens, no spread"
                if series["uniform_ms"].notna().any() else None, title_fontsize=7)
    return finish(fig, f"Decode step time vs length spread inside a batch ({kind})", source)


if __name__ == "__main__":
    from paper_figs.__main__ import main

    raise SystemExit(main(["--only", NAME]))
