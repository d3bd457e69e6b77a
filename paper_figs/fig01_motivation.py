"""Fig. 1 (motivation), per attention backend: what a mixed decode batch costs vs a homogeneous one.

Both panels show mixed / homogeneous at equal batch size and total KV tokens (1 = no penalty), log scale:
(a) kernel level: one decode-attention layer per backend, the kernel benchmark's compositions, with
its 95% bootstrap CIs (``results/kernels/<gpu>/<engine>/kernels.csv``);
(b) step level: a whole engine step (EngineCore.step) per profiled backend, the profiles' headline
pairs, with the interval bounded by the two compositions' 95% CIs where both have >= 2 passes
(``results/profiles/<gpu>/<model>/<backend>/profile.csv``).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from l4bench.report.premise import profile_pairs
from paper_figs.canvas import finish, new_figure
from paper_figs.common import MissingDataError, rel

NAME = "fig01_motivation"
EXPERIMENTS = ("profile",)
GPU, ENGINE, MODEL = "h200", "vllm-0.25.0", "llama-3.1-8b"
KERNELS = Path("kernels") / GPU / ENGINE / "kernels.csv"
PROFILES = Path("profiles") / GPU / MODEL
_MIXED = re.compile(r"mixed_n(\d+)x(\d+)_k(\d+)x(\d+)$")
COLORS = {"fa3": "#4c72b0", "fa3_eager": "#8fa8d0", "fa2": "#c44e52", "triton": "#55a868", "flashinfer": "#8172b2",
          "FLASH_ATTN": "#4c72b0", "TRITON_ATTN": "#55a868", "FLASH_ATTN_2": "#c44e52", "FLASHINFER": "#8172b2"}
LABELS = {"fa3": "FA3 (vLLM FLASH_ATTN)", "fa3_eager": "FA3, eager", "fa2": "FA2", "triton": "Triton unified",
          "flashinfer": "FlashInfer decode", "FLASH_ATTN": "FLASH_ATTN (FA3)", "TRITON_ATTN": "TRITON_ATTN",
          "FLASH_ATTN_2": "FLASH_ATTN_2 (FA2)"}


def kernel_ratios(path: Path) -> pd.DataFrame:
    """Mixed rows of every backend that ran: composition, backend, vs_homog and its CI."""
    df = pd.read_csv(path)
    return df[(df["status"] == "ok") & (df["kind"] == "mixed")].reset_index(drop=True)


def step_ratios(folder: Path) -> pd.DataFrame:
    """Headline pairs of every profiled backend under folder (one row per backend and batch size)."""
    rows = []
    for csv in sorted(folder.glob("*/profile.csv")):
        for p in profile_pairs(csv):
            rows.append({"backend": csv.parent.name, **p})
    return pd.DataFrame(rows)


def _bars(ax: Axes, df: pd.DataFrame, x_key: str, ticks: list[str], lo: str, hi: str) -> None:
    """Grouped bars of df.ratio per backend, with whiskers where an interval exists, values on top."""
    backends = list(dict.fromkeys(df["backend"]))
    width = 0.8 / len(backends)
    xs = {k: i for i, k in enumerate(dict.fromkeys(df[x_key]))}
    for j, b in enumerate(backends):
        d = df[df["backend"] == b]
        x = np.array([xs[k] for k in d[x_key]]) - 0.4 + width * (j + 0.5)
        r = d["ratio"].to_numpy(float)
        err = np.vstack([r - d[lo].to_numpy(float), d[hi].to_numpy(float) - r])
        ax.bar(x, r, width, color=COLORS.get(b, "0.5"), label=LABELS.get(b, b), bottom=0, zorder=2)
        ax.errorbar(x, r, yerr=np.nan_to_num(err), fmt="none", ecolor="0.15", elinewidth=0.9, capsize=2, zorder=3)
        top = np.fmax(r, d[hi].to_numpy(float))
        for xi, ri, ti in zip(x, r, top, strict=True):
            ax.text(xi, np.nan_to_num(ti, nan=ri) * 1.04, f"{ri:.2f}", ha="center", va="bottom", fontsize=6.5,
                    rotation=90)
    ax.axhline(1.0, color="0.2", lw=0.8, ls="--", zorder=1)
    ax.set_yscale("log")
    ax.set_ylim(0.6, max(2.0, float(df["ratio"].max()) * 1.9))
    ax.set_xticks(range(len(xs)), ticks, fontsize=7)
    ax.set_yticks([t for t in (0.75, 1, 1.5, 2, 3, 5, 10, 20) if t <= ax.get_ylim()[1]])
    ax.yaxis.set_major_formatter(lambda v, _pos: f"{v:g}")
    ax.yaxis.set_minor_formatter(lambda v, _pos: "")
    ax.grid(axis="x", visible=False)
    ax.legend(fontsize=7.5, loc="upper right")


def _kernel_tick(name: str) -> str:
    """'b64_1long_first' -> 'B64\\n1 long\\nfirst'."""
    parts = name.split("_")
    if len(parts) != 3:
        return name
    size, long, pos = parts
    return f"{size.upper()}\n{long.replace('long', ' long')}\n{pos}"


def _step_tick(mixed: str) -> str:
    """'headline_mixed_n63x1024_k1x66560' -> '63x1k+1x65k' (the name itself if it does not parse)."""
    m = _MIXED.search(mixed)
    if not m:
        return mixed
    n, short, k, long = (int(g) for g in m.groups())
    return f"{n}x{short / 1024:g}k\n+{k}x{long / 1024:.3g}k"


def build(results: Path) -> Figure:
    """(a) kernel-level and (b) step-level mixed / homogeneous per backend."""
    kpath, pfolder = Path(results) / KERNELS, Path(results) / PROFILES
    if not kpath.is_file() and not list(pfolder.glob("*/profile.csv")):
        raise MissingDataError(f"no kernel table ({rel(kpath)}) or engine profiles ({rel(pfolder)}/*/profile.csv): "
                               "python -m l4bench.profiling.kernels and python -m l4bench +experiment=profile (GPU)")
    fig, (ax_a, ax_b) = new_figure(1, 2, width=12.0, height=4.6)
    sources = []
    if kpath.is_file():
        k = kernel_ratios(kpath).rename(columns={"vs_homog": "ratio"})
        k = k[k["backend"] != "fa3_eager"]  # FA3 without full CUDA graphs (num_splits per batch): tracks fa3 in kernels.csv
        _bars(ax_a, k, "composition", [_kernel_tick(c) for c in dict.fromkeys(k["composition"])],
              "vs_homog_ci_low", "vs_homog_ci_high")
        meta = json.loads(kpath.with_name("kernels.json").read_text()) if kpath.with_name("kernels.json").is_file() else {}
        skipped = [b for b, v in meta.get("backends", {}).items() if v.get("status") != "ok"]
        title = "(a) one attention layer (kernel)" + (f"\nnot measured: {', '.join(skipped)}" if skipped else "")
        ax_a.set(title=title, ylabel="mixed / homogeneous time")
        sources.append(rel(kpath))
    steps = step_ratios(pfolder)
    if not steps.empty:
        first = steps.drop_duplicates("num_decodes")
        ticks = [f"{n} decodes\n{_step_tick(m)}" for n, m in zip(first["num_decodes"], first["mixed"], strict=True)]
        _bars(ax_b, steps, "num_decodes", ticks, "ratio_lo", "ratio_hi")
        ax_b.set(title="(b) whole engine step (EngineCore.step); no whisker: < 2 passes",
                 ylabel="mixed / homogeneous step time")
        sources.append(f"{rel(pfolder)}/{{{','.join(dict.fromkeys(steps['backend']))}}}/profile.csv")
    source = (f"Data: measured, NVIDIA {GPU.upper()}, {ENGINE.replace('-', ' ')}, {MODEL} shapes (dummy weights); "
              "mixed = 1 or 4 long contexts among short ones, same batch size and KV tokens; fa3_eager (in kernels.csv) "
              "left out.\nThe FLASH_ATTN profile ran while simulator jobs shared the host's CPUs (step time includes CPU "
              f"work). | {' ; '.join(sources)}")
    return finish(fig, "A mixed decode batch vs a homogeneous one, per attention backend", source)


if __name__ == "__main__":
    from paper_figs.__main__ import main

    raise SystemExit(main(["--only", NAME]))
