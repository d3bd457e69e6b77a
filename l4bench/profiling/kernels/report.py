"""Kernel-benchmark tables: rows from the samples, kernels.csv, kernels.json (provenance) and README.md from the CSV."""

from __future__ import annotations

import csv
import json
import math
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from l4bench.metrics.stats import json_clean
from l4bench.profiling.kernels.compositions import MIXED, Composition
from l4bench.profiling.kernels.stats import bootstrap_ratio_ci, median_ci

COLUMNS = [
    "backend", "status", "composition", "kind", "size", "batch_size", "total_tokens", "max_seq_len",
    "long_position", "path", "num_samples", "num_passes", "median_us", "ci_low_us", "ci_high_us",
    "pass_median_min_us", "pass_median_max_us", "starved_passes",
    "vs_homog", "vs_homog_ci_low", "vs_homog_ci_high", "split_us", "vs_split", "vs_split_ci_low", "vs_split_ci_high",
    "check_max_abs_err", "check_passed", "error",
]


def gpu_slug(name: str) -> str:
    """'NVIDIA H200' -> 'h200', 'NVIDIA H100 80GB HBM3' -> 'h100'; the first model word, lower case."""
    words = [w for w in re.split(r"[\s_]+", name.lower()) if w and w not in ("nvidia", "geforce", "tesla")]
    return re.sub(r"[^a-z0-9.-]", "", words[0]) if words else "unknown-gpu"


def _flat(passes: list[list[float]]) -> np.ndarray:
    return np.asarray([x for p in passes for x in p], dtype=np.float64)


def backend_rows(res: Any, comps: Sequence[Composition], rng: np.random.Generator) -> list[dict[str, Any]]:
    """CSV rows of one backend: one per timed composition; a failed or skipped backend gives one row."""
    check = res.check or {}
    base = {"backend": res.name, "status": res.status, "error": res.error,
            "check_max_abs_err": check.get("max_abs_err"), "check_passed": check.get("passed")}
    if res.status != "ok":
        return [base]
    samples = {name: _flat(p) for name, p in res.samples_us.items()}
    rows = []
    for c in comps:
        if c.name not in samples:
            continue
        x = samples[c.name]
        med, lo, hi = median_ci(x)
        pass_meds = [float(np.median(p)) for p in res.samples_us[c.name]]
        row = dict(base, composition=c.name, kind=c.kind, size=c.size_label, batch_size=c.batch_size,
                   total_tokens=c.total_tokens, max_seq_len=c.max_seq_len, long_position=c.long_position,
                   path=res.paths.get(c.name, ""), num_samples=int(x.size), num_passes=len(pass_meds),
                   median_us=med, ci_low_us=lo, ci_high_us=hi, pass_median_min_us=min(pass_meds),
                   pass_median_max_us=max(pass_meds), starved_passes=res.starved_passes.get(c.name, 0))
        if c.kind == MIXED and c.homogeneous in samples:
            row["vs_homog"], row["vs_homog_ci_low"], row["vs_homog_ci_high"] = bootstrap_ratio_ci(
                [x], [samples[c.homogeneous]], rng)
        if c.kind == MIXED and all(p in samples for p in c.parts):
            parts = [samples[p] for p in c.parts]
            row["split_us"] = sum(float(np.median(p)) for p in parts)
            row["vs_split"], row["vs_split_ci_low"], row["vs_split_ci_high"] = bootstrap_ratio_ci([x], parts, rng)
        rows.append(row)
    return rows


def build_rows(results: Sequence[Any], comps: Sequence[Composition], seed: int = 0) -> list[dict[str, Any]]:
    """All rows, backends in run order (seeded bootstrap)."""
    rng = np.random.default_rng(seed)
    return [row for res in results for row in backend_rows(res, comps, rng)]


def _cell(v: Any) -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return ""
    if isinstance(v, float):
        return f"{v:.6g}"
    return str(v)


def write_csv(rows: Sequence[dict[str, Any]], path: Path) -> None:
    """kernels.csv with COLUMNS (missing values empty)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=COLUMNS, extrasaction="ignore")
        w.writeheader()
        for row in rows:
            w.writerow({k: _cell(row.get(k)) for k in COLUMNS})


def read_csv(path: Path) -> list[dict[str, str]]:
    """kernels.csv back as strings."""
    with path.open(newline="") as f:
        return list(csv.DictReader(f))


def _ratio(row: dict[str, str], key: str) -> str:
    if not row.get(key):
        return ""
    return f"{float(row[key]):.2f} [{float(row[key + '_ci_low']):.2f}, {float(row[key + '_ci_high']):.2f}]"


def readme_text(rows: Sequence[dict[str, str]], meta: dict[str, Any]) -> str:
    """README.md: the table of every timed row and the one-line status of every backend, from the CSV rows."""
    prov = meta.get("provenance", {})
    sh = meta.get("config", {}).get("shape", {})
    layer = (f"{sh.get('num_q_heads')} q heads, {sh.get('num_kv_heads')} KV heads, head_dim {sh.get('head_dim')}, "
             f"{sh.get('dtype')}, KV block {sh.get('block_size')}") if sh else "?"
    lines = [
        f"# Decode-attention kernel benchmark: {prov.get('gpu_name', '?')}, vLLM {prov.get('vllm_version', '?')}",
        "",
        f"flashinfer {prov.get('flashinfer_version', '?')}, triton {prov.get('triton_version', '?')}, torch "
        f"{prov.get('torch_version', '?')}, driver {prov.get('driver', '?')}, commit "
        f"{meta.get('code_commit') or prov.get('git_commit', '?')}, "
        f"{prov.get('date_utc', '?')}.",
        "",
        f"One attention layer ({layer}), paged KV cache, each backend called "
        "as vLLM calls it (see kernels.json `backends`). Median us per launch with its 95 % CI; ratios are "
        "medians' ratios with 95 % bootstrap CIs: `vs homog` = mixed / homogeneous batch of the same size and "
        "total tokens, `vs split` = mixed / (long part alone + short part alone). Generated by "
        "`l4bench.profiling.kernels.report.write_readme` from kernels.csv.",
        "",
        *_runs_lines(meta),
        "## Backends",
        "",
        "| backend | status | check max abs err (pass?) | note |",
        "|---|---|---|---|",
    ]
    seen: dict[str, dict[str, str]] = {}
    for r in rows:
        seen.setdefault(r["backend"], r)
    for name, r in seen.items():
        err = f"{float(r['check_max_abs_err']):.2e} ({r['check_passed']})" if r.get("check_max_abs_err") else ""
        lines.append(f"| {name} | {r['status']} | {err} | {r.get('error', '')} |")
    lines += _pivot(rows, "vs_homog", "Mixed / homogeneous (median ratio [95% CI])")
    lines += _pivot(rows, "vs_split", "Mixed / split (mixed over the sum of its parts alone)")
    lines += ["", "## Timings", "",
              "| backend | composition | B | max len | path | median us [95% CI] | vs homog | vs split |",
              "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        if r["status"] != "ok" or not r.get("median_us"):
            continue
        med = f"{float(r['median_us']):.1f} [{float(r['ci_low_us']):.1f}, {float(r['ci_high_us']):.1f}]"
        lines.append(f"| {r['backend']} | {r['composition']} | {r['batch_size']} | {r['max_seq_len']} | "
                     f"{r['path']} | {med} | {_ratio(r, 'vs_homog')} | {_ratio(r, 'vs_split')} |")
    return "\n".join(lines) + "\n"


def _runs_lines(meta: dict[str, Any]) -> list[str]:
    """One line per run when the tables merge several (`--merge`), else nothing."""
    runs = meta.get("runs") or []
    if len(runs) < 2:
        return []
    out = ["Merged from runs (`--merge`; each column comes from one run):", ""]
    for r in runs:
        commit = r.get("code_commit") or r.get("git_commit", "?")
        out.append(f"- {', '.join(r.get('backends', []))}: {r.get('date_utc', '?')}, commit {commit}, "
                   f"vLLM {r.get('vllm_version', '?')}, flashinfer {r.get('flashinfer_version', '?')}, "
                   f"triton {r.get('triton_version', '?')}, {r.get('wall_s', '?')} s")
    return out + [""]


def _pivot(rows: Sequence[dict[str, str]], key: str, title: str) -> list[str]:
    """Markdown table: a row per mixed composition, a column per backend with timings, cells = ratio [CI]."""
    timed = [r for r in rows if r["status"] == "ok" and r.get(key)]
    backends = list(dict.fromkeys(r["backend"] for r in timed))
    comps = list(dict.fromkeys(r["composition"] for r in timed))
    if not timed:
        return []
    cell = {(r["composition"], r["backend"]): _ratio(r, key) for r in timed}
    out = ["", f"## {title}", "", "| composition | " + " | ".join(backends) + " |",
           "|---|" + "---|" * len(backends)]
    out += [f"| {c} | " + " | ".join(cell.get((c, b), "") for b in backends) + " |" for c in comps]
    return out


def write_readme(out_dir: Path) -> Path:
    """README.md in `out_dir` from its kernels.csv and kernels.json."""
    rows = read_csv(out_dir / "kernels.csv")
    meta_path = out_dir / "kernels.json"
    meta = json.loads(meta_path.read_text()) if meta_path.exists() else {}
    path = out_dir / "README.md"
    path.write_text(readme_text(rows, meta))
    return path


def write_json(meta: dict[str, Any], path: Path) -> None:
    """kernels.json (provenance, config, per-backend settings and checks), NaN as null."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(json_clean(meta), indent=2, default=str) + "\n")
