"""results/kv_hop/*: hop stall vs context length per mode (KV transfer vs recompute) and a fitted cost model.

Reads the probe's JSON (scripts/gpu_nixl_probe.py). The cost model per mode is nonnegative least squares
on relative error (l4bench.l4.migration.fit_stall, on the project's one fit routine) over every trial:
kv_transfer: stall = fixed + per_token x L (bytes move linearly); recompute: stall = fixed + per_token x L
+ per_token_pair x L^2 (a prefill's attention is quadratic). Error: per length, fitted vs median.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from l4bench.l4.migration import StallFit, fit_stall
from l4bench.report.blocks import register
from l4bench.report.tables import table

KV_HOP = Path("results") / "kv_hop"
PROBE = KV_HOP / "h200_shared_nixl" / "nixl_probe.json"  # NIXL/UCX default transports: the READ ran on tcp/lo
PROBE_CUDA_IPC = KV_HOP / "h200_shared_nixl_cudaipc" / "nixl_probe.json"  # the READ on cuda_ipc
MODES = ("kv_transfer", "recompute")


def fit_mode(rows: list[dict[str, Any]], mode: str) -> StallFit:
    """The stall model of one mode from every measured trial (warm-ups left out): l4bench.l4.migration.fit_stall."""
    pts = [(r["context_tokens"], r["stall_s"]) for r in rows
           if r["mode"] == mode and not r.get("warmup") and "stall_s" in r]
    return fit_stall([p[0] for p in pts], [p[1] for p in pts], quadratic=mode == "recompute")


@register("kv_hop_h200_shared_nixl")
def kv_hop_h200_shared_nixl(root: Path) -> str:
    """The pull probe with NIXL/UCX's default transports (UCX chose TCP loopback)."""
    return probe_table(json.loads((root / PROBE).read_text()))


@register("kv_hop_h200_shared_nixl_cudaipc")
def kv_hop_h200_shared_nixl_cudaipc(root: Path) -> str:
    """The pull probe with UCX's CUDA IPC GET turned on, then its stalls against the default-transport run's."""
    doc, tcp = (json.loads((root / p).read_text()) for p in (PROBE_CUDA_IPC, PROBE))
    rows = []
    for n in doc["lengths"]:
        key = f"{n}/kv_transfer"
        if key in doc["summary"] and key in tcp["summary"]:
            fast, slow = doc["summary"][key]["median_s"], tcp["summary"][key]["median_s"]
            rows.append([f"{n:,}", f"{slow:.3f}", f"{fast:.3f}", f"{slow / fast:.1f}"])
    return probe_table(doc) + "\n\nAgainst the default transports (../h200_shared_nixl, another " \
        "session on a machine of the same kind, same probe):\n\n" + \
        table(["context L (tokens)", "KV stall s, default transports (tcp/lo)", "KV stall s, cuda_ipc",
               "speed-up"], rows)


def probe_table(doc: dict[str, Any]) -> str:
    """Per context length of one probe's JSON: median stall [min, max] per mode, their ratio, and each fit's error."""
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
            fit = coef[m].stall_s(n)
            cells += [f"{s['median_s']:.3f} [{s['min_s']:.3f}, {s['max_s']:.3f}] (n={s['n']})",
                      f"{fit:.3f} ({100 * (fit / s['median_s'] - 1):+.1f}%)"]
        ratio = f"{med['kv_transfer'] / med['recompute']:.2f}" if len(med) == 2 else ""
        gbps = f"{n * doc['kv_bytes_per_token'] / med['kv_transfer'] / 1e9:.2f}" if "kv_transfer" in med else ""
        out.append(cells + [ratio, gbps])
    kv, rc = coef["kv_transfer"], coef["recompute"]
    note = (f"\n\nFits: kv_transfer stall = {kv.fixed_s:.3g} s + {kv.per_token_s * 1e6:.3g} us x L; recompute stall = "
            f"{rc.fixed_s:.3g} s + {rc.per_token_s * 1e6:.3g} us x L + {rc.per_token_pair_s * 1e12:.3g} ps x L^2 "
            "(L = context tokens).")
    return table(["context L (tokens)", "KV transfer stall s, median [min, max]", "KV fit s (error)",
                  "recompute stall s, median [min, max]", "recompute fit s (error)", "KV / recompute",
                  "effective KV GB/s"], out) + note
