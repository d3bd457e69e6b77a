"""Measure a grid in shuffled passes and aggregate every composition over them (profile.csv).

Priority levels run one after another (so a run cut short by its budget has the premise rows
complete); inside a level, each of `passes` passes visits every composition once, in an order
shuffled with a seeded generator. Every measured step goes to profile_samples.csv as it happens, and
profile.csv is rewritten after every pass, so a stopped or killed run keeps what it measured.
"""

from __future__ import annotations

import csv
import math
import statistics
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from l4bench.profiling.driver import StepSample
from l4bench.profiling.grid import Composition
from l4bench.profiling.shape import shape_matches
from l4bench.profiling.stats import pass_stats

SHAPE_FIELDS = ("num_prefill_tokens", "num_prefill_seqs", "prefill_attention_tokens", "num_decodes",
                "decode_context_sum", "decode_context_max", "decode_context_min")
CSV_FIELDS = ("name", "group", "req_num_decodes", "req_decode_context_sum", "req_chunk_tokens",
              "req_chunk_prior_tokens", *SHAPE_FIELDS, "step_time_s", "step_time_min_s", "step_time_max_s",
              "engine_step_time_s", "num_samples", "is_exact", "wall_s",
              # added with the per-backend profiles (issue 13) and the noise work (issue 12 item 7):
              "priority", "homogeneous_name", "req_long_first", "decode_max_position", "num_passes",
              "step_time_mean_s", "step_time_std_s", "step_time_iqr_s", "step_time_ci_low_s",
              "step_time_ci_high_s", "pass_step_times_s", "attention_backend")
SAMPLE_FIELDS = ("name", "pass_index", "visit_index", "step_index", "core_step_s", "engine_step_s",
                 "num_decodes", "num_prefill_tokens", "decode_context_max", "decode_max_position")


@dataclass
class PassPlan:
    """How to measure: passes per level, steps per visit, seed of the shuffles, deadline (perf_counter)."""

    passes: int = 3
    warmup_steps: int = 2
    measure_steps: int = 5
    chunk_samples: int = 3
    seed: int = 0
    deadline: float | None = None
    attention_backend: str | None = None
    visits: dict[str, list[list[StepSample]]] = field(default_factory=dict)
    walls: dict[str, float] = field(default_factory=dict)


def profile_row(comp: Composition, passes: list[list[StepSample]], wall_s: float,
                attention_backend: str | None = None) -> dict[str, Any]:
    """One CSV row: the requested composition, the middle step's shape, step-time statistics over passes."""
    every = [s for samples in passes for s in samples]
    middle = passes[0][len(passes[0]) // 2]
    row: dict[str, Any] = {
        "name": comp.name, "group": comp.group, "req_num_decodes": comp.num_decodes,
        "req_decode_context_sum": comp.decode_context_sum, "req_chunk_tokens": comp.chunk_tokens,
        "req_chunk_prior_tokens": comp.chunk_prior_tokens,
    }
    row.update({k: v for k, v in asdict(middle.shape).items() if k in SHAPE_FIELDS})
    row.update(pass_stats([[s.core_step_s for s in samples] for samples in passes]))
    positions = [s.max_position for s in every if not math.isnan(s.max_position)]
    row.update({
        "engine_step_time_s": statistics.median(s.engine_step_s for s in every), "num_samples": len(every),
        "is_exact": all(shape_matches(s.shape, comp.num_decodes, comp.chunk_tokens) for s in every),
        "wall_s": round(wall_s, 3), "priority": comp.priority, "homogeneous_name": comp.homogeneous,
        "req_long_first": comp.is_long_first,
        "decode_max_position": statistics.median(positions) if positions else "",
        "pass_step_times_s": ";".join(f"{statistics.median(s.core_step_s for s in p):.6g}" for p in passes),
        "attention_backend": attention_backend or "",
    })
    return row


def _measure(driver: Any, comp: Composition, plan: PassPlan) -> list[StepSample]:
    if comp.chunk_tokens:
        return list(driver.measure_chunk(comp, plan.warmup_steps, plan.chunk_samples))
    return list(driver.measure_decode(comp, plan.warmup_steps, plan.measure_steps))


def _write_rows(path: Path, comps: list[Composition], plan: PassPlan) -> int:
    rows = [profile_row(c, plan.visits[c.name], plan.walls[c.name], plan.attention_backend)
            for c in comps if plan.visits.get(c.name)]
    tmp = path.with_suffix(".tmp")
    with tmp.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=CSV_FIELDS)
        writer.writeheader()
        writer.writerows(rows)
    tmp.replace(path)
    return len(rows)


def _visit(driver: Any, comp: Composition, plan: PassPlan, pass_index: int, visit_index: int,
           samples_writer: Any) -> bool:
    t0 = time.perf_counter()
    try:
        samples = _measure(driver, comp, plan)
    except RuntimeError as err:  # one bad composition must not lose the others
        print(f"[profile] {comp.name} (pass {pass_index}): {err}", flush=True)
        return False
    if not samples:
        return False
    plan.visits.setdefault(comp.name, []).append(samples)
    plan.walls[comp.name] = plan.walls.get(comp.name, 0.0) + time.perf_counter() - t0
    for i, s in enumerate(samples):
        samples_writer.writerow({
            "name": comp.name, "pass_index": pass_index, "visit_index": visit_index, "step_index": i,
            "core_step_s": f"{s.core_step_s:.7g}", "engine_step_s": f"{s.engine_step_s:.7g}",
            "num_decodes": s.shape.num_decodes, "num_prefill_tokens": s.shape.num_prefill_tokens,
            "decode_context_max": s.shape.decode_context_max,
            "decode_max_position": "" if math.isnan(s.max_position) else round(s.max_position, 4),
        })
    median_ms = statistics.median(s.core_step_s for s in samples) * 1e3
    print(f"[profile] pass {pass_index} {comp.name}: {median_ms:.2f} ms ({time.perf_counter() - t0:.1f} s)",
          flush=True)
    return True


def run_passes(driver: Any, comps: list[Composition], out_dir: Path, plan: PassPlan) -> tuple[int, bool]:
    """Measure `comps` level by level in shuffled passes; returns (rows written, stopped by the deadline)."""
    out_dir = Path(out_dir)
    levels = sorted({c.priority for c in comps})
    stopped, visit_index, num_rows = False, 0, 0
    with (out_dir / "profile_samples.csv").open("w", newline="") as fh:
        samples_writer = csv.DictWriter(fh, fieldnames=SAMPLE_FIELDS)
        samples_writer.writeheader()
        for level in levels:
            level_comps = [c for c in comps if c.priority == level]
            for pass_index in range(plan.passes):
                rng = np.random.default_rng([plan.seed, level, pass_index])
                for i in rng.permutation(len(level_comps)):
                    if plan.deadline is not None and time.perf_counter() > plan.deadline:
                        stopped = True
                        break
                    _visit(driver, level_comps[int(i)], plan, pass_index, visit_index, samples_writer)
                    visit_index += 1
                    fh.flush()
                num_rows = _write_rows(out_dir / "profile.csv", comps, plan)
                if stopped:
                    print(f"[profile] deadline reached in priority {level}, pass {pass_index}", flush=True)
                    return num_rows, True
    return num_rows, stopped
