"""results/kv_hop/*: hop stall vs context length per mode (KV transfer vs recompute) and a fitted cost model.

Reads the probe's JSON (scripts/gpu_nixl_probe.py). The cost model per mode is nonnegative least squares
on relative error (l4bench.l4.nnls.fit_relative, the project's one fit routine) over every trial:
kv_transfer: stall = fixed + per_token x L (bytes move linearly); recompute: stall = fixed + per_token x L
+ per_token_pair x L^2 (a prefill's attention is quadratic). Error: per length, fitted vs median.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from l4bench.l4.nnls import fit_relative
from l4bench.report.blocks import register
from l4bench.report.tables import table

PROBE = Path("results") / "kv_hop" / "h200_shared_nixl" / "nixl_probe.json"
MODES = ("kv_transfer", "recompute")


def _features(mode: str, tokens: np.ndarray) -> np.ndarray:
    cols = [np.ones_like(tokens), tokens] + ([tokens**2] if mode == "recompute" else [])
    return np.stack(cols, axis=1)


def fit_mode(rows: list[dict[str, Any]], mode: str) -> np.ndarray:
    """Coefficients (fixed_s, per_token_s[, per_token_pair_s]) from every measured trial of one mode."""
    pts = [(r["context_tokens"], r["stall_s"]) for r in rows
           if r["mode"] == mode and not r.get("warmup") and "stall_s" in r]
    tokens = np.array([p[0] for p in pts], dtype=np.float64)
    return fit_relative(_features(mode, tokens), np.array([p[1] for p in pts], dtype=np.float64))


def predict(mode: str, coef: np.ndarray, tokens: float) -> float:
    """Fitted stall of one hop of `tokens` context."""
    return float((_features(mode, np.array([float(tokens)])) @ coef)[0])


@register("kv_hop_h200_shared_nixl")
def kv_hop_h200_shared_nixl(root: Path) -> str:
    """Per context length: median stall [min, max] per mode, their ratio, and each fit's error."""
    doc = json.loads((root / PROBE).read_text())
    coef = {m: fit_mode(doc["rows"], m) for m in MODES}
    out = []
    for n in doc["lengths"]:
        cells: list[str] = [f"{n:,}"]
        med = {}
        for m in MODES:
            s = doc["summary"].get(f"{n}/{m}")
            if not s:
                cells += ["", ""]
                continue
            med[m] = s["median_s"]
            fit = predict(m, coef[m], n)
            cells += [f"{s['median_s']:.3f} [{s['min_s']:.3f}, {s['max_s']:.3f}] (n={s['n']})",
                      f"{fit:.3f} ({100 * (fit / s['median_s'] - 1):+.1f}%)"]
        ratio = f"{med['kv_transfer'] / med['recompute']:.1f}" if len(med) == 2 else ""
        gbps = f"{n * doc['kv_bytes_per_token'] / med['kv_transfer'] / 1e9:.2f}" if "kv_transfer" in med else ""
        out.append(cells + [ratio, gbps])
    kv, rc = coef["kv_transfer"], coef["recompute"]
    note = (f"\n\nFits: kv_transfer stall = {kv[0]:.3g} s + {kv[1] * 1e6:.3g} us x L; recompute stall = "
            f"{rc[0]:.3g} s + {rc[1] * 1e6:.3g} us x L + {rc[2] * 1e12:.3g} ps x L^2 (L = context tokens).")
    return table(["context L (tokens)", "KV transfer stall s, median [min, max]", "KV fit s (error)",
                  "recompute stall s, median [min, max]", "recompute fit s (error)", "KV / recompute",
                  "effective KV GB/s"], out) + note
