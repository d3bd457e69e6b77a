"""Scheduler-name rules for L4 and its ablations (reports and figures tell them from the baselines)."""

from __future__ import annotations


def is_l4_family(name: str) -> bool:
    """L4 itself or one of its ablations (l4_no_dp, ...): not a baseline."""
    return name == "l4" or name.startswith("l4_")


def is_l4_ablation(name: str) -> bool:
    """An L4 ablation (l4_no_dp, l4_no_refine, ...)."""
    return name.startswith("l4_")
