"""A few lines about one profile folder: `python -m l4bench.profiling.summary DIR [DIR ...]`.

Reads meta.json, profile.csv and burst.json (whichever exist; stdlib only, so it runs in any venv):
the backend asked for and the one vLLM used, how much was measured, each mixed composition against
its homogeneous twin (ratio of medians, and both 95% CIs), and the burst's short-request ITL.
"""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path
from typing import Any


def _ms(row: dict[str, str], key: str) -> float:
    return float(row[key]) * 1e3 if row.get(key) not in (None, "") else float("nan")


def mixed_lines(rows: list[dict[str, str]], limit: int = 12) -> list[str]:
    """One line per mixed row that has a measured homogeneous twin."""
    by_name = {r["name"]: r for r in rows}
    lines = []
    for row in rows:
        twin = by_name.get(row.get("homogeneous_name") or "")
        if twin is None:
            continue
        ratio = _ms(row, "step_time_s") / _ms(twin, "step_time_s")
        lines.append(f"  {row['name']:<40} {ratio:5.2f}x  ({_ms(row, 'step_time_ci_low_s'):.2f}-"
                     f"{_ms(row, 'step_time_ci_high_s'):.2f} ms vs {_ms(twin, 'step_time_ci_low_s'):.2f}-"
                     f"{_ms(twin, 'step_time_ci_high_s'):.2f} ms, passes {row.get('num_passes', '?')})")
    return lines[:limit]


def burst_lines(burst: dict[str, Any]) -> list[str]:
    """Short-request ITL per burst configuration, and the mixed/homogeneous ratio."""
    lines = []
    for name, cfg in burst.get("configs", {}).items():
        short = cfg.get("summary", {}).get("short", {})
        long = cfg.get("summary", {}).get("long", {})
        if not short:
            lines.append(f"  burst {name}: no runs")
            continue
        text = (f"  burst {name:<12} short ITL mean {short['itl_mean_ms']:.2f} ms "
                f"{short['itl_mean_ci95_ms']}, p90 {short['itl_p90_ms']:.2f} ms ({cfg['summary']['num_runs']} runs)")
        if long:
            text += f"; long ITL mean {long['itl_mean_ms']:.2f} ms"
        lines.append(text)
    if burst.get("comparison"):
        lines.append(f"  burst mixed/homogeneous: {burst['comparison']}")
    return lines


def describe(folder: Path) -> list[str]:
    """The summary lines of one profile folder."""
    folder = Path(folder)
    lines = [f"== {folder}"]
    meta_path = folder / "meta.json"
    if not meta_path.is_file():
        return lines + ["  no meta.json (the engine did not start?)"]
    meta = json.loads(meta_path.read_text())
    attn = meta.get("attention_backend", {})
    lines.append(f"  attention requested {attn.get('requested')} -> selected {attn.get('label')} "
                 f"(FA version {attn.get('flash_attn_version')}); {meta.get('gpu_name')}, vLLM "
                 f"{meta.get('vllm_version')}, {meta.get('cudagraph_mode')}, start-up {meta.get('startup_s')} s")
    lines.append(f"  {meta.get('num_measured', 0)}/{meta.get('num_planned', '?')} compositions, "
                 f"{meta.get('passes', 1)} passes, stopped by budget: {meta.get('stopped_by_budget')}, "
                 f"elapsed {meta.get('elapsed_s')} s")
    csv_path = folder / "profile.csv"
    if csv_path.is_file():
        with csv_path.open() as fh:
            lines += mixed_lines(list(csv.DictReader(fh)))
    burst_path = folder / "burst.json"
    if burst_path.is_file():
        lines += burst_lines(json.loads(burst_path.read_text()))
    elif "burst" in meta:
        lines.append(f"  burst: {meta['burst']}")
    return lines


def main(argv: list[str] | None = None) -> int:
    """Print the summary of every folder given."""
    for folder in argv if argv is not None else sys.argv[1:]:
        print("\n".join(describe(Path(folder))))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
