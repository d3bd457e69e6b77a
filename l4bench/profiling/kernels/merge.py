"""`--merge`: add this run's backends to the tables already in the output folder.

A later session can time the backends an earlier one did not reach (e.g. the Triton kernel and
FlashInfer after FA3/FA2) without re-running those: rows and `backends` entries of every backend
not in this run are kept, and kernels.json `runs` lists each run's provenance and backends, so a
reader sees which session timed which column. Both runs must use the same layer shape and grid.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from l4bench.errors import ConfigError
from l4bench.profiling.kernels.report import read_csv

#: Config keys that must agree for two runs' ratios to share one table.
SAME_KEYS = ("shape", "sizes", "long_tokens", "num_few", "seed")


def load_previous(out_dir: Path, config: dict[str, Any]) -> tuple[list[dict[str, str]], dict[str, Any]]:
    """The folder's kernels.csv rows and kernels.json, checked against this run's config ({} when empty)."""
    csv_path, json_path = out_dir / "kernels.csv", out_dir / "kernels.json"
    if not csv_path.exists() or not json_path.exists():
        return [], {}
    try:
        meta = json.loads(json_path.read_text())
    except ValueError as err:
        raise ConfigError(f"--merge: cannot read {json_path}: {err}") from None
    old = meta.get("config", {})
    differ = [k for k in SAME_KEYS if k in old and old[k] != config.get(k)]
    if differ:
        raise ConfigError(f"--merge: {out_dir} was measured with other {', '.join(differ)}; use another --out")
    return read_csv(csv_path), meta


def merged(
    prev_rows: list[dict[str, str]], prev_meta: dict[str, Any], rows: list[dict[str, Any]], meta: dict[str, Any],
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Previous rows/backends of backends this run did not time, then this run's; `runs` appended."""
    mine = set(meta.get("backends", {}))
    # a backend this run only skipped (budget) keeps its earlier timings
    timed = {name for name, b in meta.get("backends", {}).items() if b.get("status") != "skipped"}
    keep_prev = {name for name, b in prev_meta.get("backends", {}).items()
                 if name not in timed and (name not in mine or b.get("status") == "ok")}
    out_rows = [r for r in prev_rows if r.get("backend") in keep_prev]
    out_rows += [r for r in rows if r.get("backend") not in keep_prev]
    backends = {k: v for k, v in prev_meta.get("backends", {}).items() if k in keep_prev}
    backends |= {k: v for k, v in meta.get("backends", {}).items() if k not in keep_prev}
    runs = list(prev_meta.get("runs") or ([_run(prev_meta)] if prev_meta else []))
    runs.append(_run(meta))
    return out_rows, meta | {"backends": backends, "runs": runs}


def _run(meta: dict[str, Any]) -> dict[str, Any]:
    timed = [k for k, v in meta.get("backends", {}).items() if v.get("status") != "skipped"]
    keep = ("git_commit", "git_dirty", "date_utc", "gpu_name", "driver", "vllm_version", "flashinfer_version",
            "triton_version", "torch_version", "code_commit", "code_commit_note")
    prov = meta.get("provenance", {}) | {k: meta[k] for k in ("code_commit", "code_commit_note") if k in meta}
    return {"backends": timed, "wall_s": meta.get("wall_s"), **{k: prov[k] for k in keep if k in prov}}
