"""One look for every l4bench figure: seaborn theme, a fixed colour and label per scheduler.

L4 and its ablations get warm colours and solid lines; baselines cool colours and dashed lines;
external routers light tints and dotted lines. Unknown names get a stable fallback colour
(from a hash of the name, so the same name is the same colour in every figure and run).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import Any

from l4bench.l4.names import is_l4_family

#: Known schedulers in the order figures list them.
SCHEDULER_ORDER: tuple[str, ...] = (
    "l4",
    "l4_no_dp",
    "l4_no_refine",
    "l4_no_balance",
    "l4_no_migration",
    "l4_always_hop",
    "llumnix",
    "sglang_bucket",
    "static_ranges",
    "least_tokens",
    "least_requests",
    "power_of_two",
    "round_robin",
    "random",
    "vllm_router_round_robin",
    "vllm_router_power_of_two",
    "vllm_router_cache_aware",
    "sglang_router",
)

PALETTE: dict[str, str] = {
    "l4": "#c0392b",
    "l4_no_dp": "#e67e22",
    "l4_no_refine": "#d4a017",
    "l4_no_balance": "#e377c2",
    "l4_no_migration": "#8c564b",
    "l4_always_hop": "#ff7f7f",
    "llumnix": "#08306b",
    "sglang_bucket": "#006d5b",
    "static_ranges": "#6b8e23",
    "least_tokens": "#2ca02c",
    "least_requests": "#17becf",
    "power_of_two": "#9467bd",
    "round_robin": "#1f77b4",
    "random": "#7f7f7f",
    "vllm_router_round_robin": "#7fb2e5",
    "vllm_router_power_of_two": "#b59ad6",
    "vllm_router_cache_aware": "#7fd1d9",
    "sglang_router": "#a8a83a",
}

LABELS: dict[str, str] = {
    "l4": "L4",
    "l4_no_dp": "L4 w/o DP",
    "l4_no_refine": "L4 w/o refine",
    "l4_no_balance": "L4 w/o balance",
    "l4_no_migration": "L4 w/o migration",
    "l4_always_hop": "L4, hop at every bound",
    "llumnix": "Llumnix",
    "sglang_bucket": "SGLang bucket",
    "static_ranges": "Static ranges",
    "least_tokens": "Least tokens",
    "least_requests": "Least requests",
    "power_of_two": "Power of two",
    "round_robin": "Round robin",
    "random": "Random",
    "vllm_router_round_robin": "vLLM router (RR)",
    "vllm_router_power_of_two": "vLLM router (Po2)",
    "vllm_router_cache_aware": "vLLM router (cache-aware)",
    "sglang_router": "SGLang router",
}

#: Colours for unknown names, distinct from the fixed palette.
_FALLBACK: tuple[str, ...] = (
    "#4e79a7", "#f28e2b", "#59a14f", "#b07aa1", "#ff9da7", "#9c755f",
    "#edc948", "#76b7b2", "#bab0ac", "#3b3b98", "#b33771", "#218c74",
)  # fmt: skip


def color_for(name: str) -> str:
    """The scheduler's fixed colour (hex); unknown names get a stable colour from a hash."""
    if name in PALETTE:
        return PALETTE[name]
    digest = hashlib.sha1(name.encode("utf-8")).digest()
    return _FALLBACK[int.from_bytes(digest[:4], "big") % len(_FALLBACK)]


def label_for(name: str) -> str:
    """The scheduler's display label (the name itself when unknown)."""
    return LABELS.get(name, name)


def linestyle_for(name: str) -> str:
    """Solid for L4 and its ablations, dotted for external routers, dashed for other baselines."""
    if is_l4_family(name):
        return "-"
    if "router" in name:
        return ":"
    return "--"


def order_schedulers(names: Iterable[str]) -> list[str]:
    """Known names in SCHEDULER_ORDER first, then unknown ones in their given order (no repeats)."""
    seen = list(dict.fromkeys(names))
    rank = {n: i for i, n in enumerate(SCHEDULER_ORDER)}
    known = sorted((n for n in seen if n in rank), key=rank.__getitem__)
    return known + [n for n in seen if n not in rank]


def style_rc() -> dict[str, Any]:
    """The theme as matplotlib rc params (for ``matplotlib.rc_context``; leaves globals alone)."""
    import seaborn as sns

    rc: dict[str, Any] = {}
    rc.update(sns.axes_style("whitegrid"))
    rc.update(sns.plotting_context("paper", font_scale=1.2))
    rc.update(
        {
            "figure.dpi": 100,
            "savefig.dpi": 150,
            "savefig.bbox": "tight",
            "axes.titleweight": "bold",
            "legend.frameon": False,
            "pdf.fonttype": 42,  # embed TrueType: editable text in paper PDFs
            "ps.fonttype": 42,
        }
    )
    return rc


def apply_style(use_agg: bool = True) -> None:
    """Set the l4bench theme globally (and the Agg backend: no display needed)."""
    import matplotlib as mpl

    if use_agg:
        mpl.use("Agg")
    rc: Any = style_rc()  # mpl's stubs want literal rc keys
    mpl.rcParams.update(rc)
