"""Join the repeats and schedulers of several run directories of ONE experiment into one summary.

    python -m l4bench.merge_runs RUN_DIR [RUN_DIR ...] --out DIR [--allow-mixed-commits]

A live GPU session fits only a few runs, so an experiment's repeats come from several sessions
(``experiment.first_repeat=K`` runs repeat K in its own run directory), and a cut-off sweep can leave
a scheduler to a later one. Each RUN_DIR holds what the harness wrote (summary.json,
config_resolved.yaml; requests.parquet where it survived). Rules:

- the resolved configs must agree except for the keys in ``IGNORED_KEYS`` (which repeats and
  schedulers a run did and in what order, where it wrote); a scheduler's parameters, in
  ``experiment.scheduler_overrides.NAME``, must agree among the runs that ran NAME (a run that did
  not run it may lack them or differ); otherwise the merge is refused, naming the keys;
- a repeat found in several runs must have the same requests (``requests_sha256``) and different
  schedulers there: its runs are joined into one paired repeat; a scheduler run twice in one repeat
  is refused (keep one run directory out);
- runs of different git commits are refused unless --allow-mixed-commits.

DIR gets summary.json (the runs' ``per_repeat`` joined, then the same aggregates, ratios to the best
baseline and paired CIs the harness computes; ``merge`` says which run each repeat and scheduler came
from and which repeats each scheduler has), comparison.csv, and requests.csv (all runs' per-request
rows, so DIR reads like one run's folder) when every run has per-request records. Per-request E2E comes from each run's
requests.parquet or requests.csv (``l4bench.metrics.frame.write_requests_csv``); a run without either still contributes its per-run summaries (ratios over several
repeats use those), only its single-repeat request-level bootstrap is lost.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

#: Config keys that may differ between the runs of one experiment.
IGNORED_KEYS = ("experiment.repeats", "experiment.first_repeat", "experiment.shuffle_schedulers", "experiment.schedulers",
                "results_dir", "progress", "data_dir")


class MergeError(ValueError):
    """The runs cannot be merged (one line says why)."""


@dataclass
class Run:
    """One run directory: its summary, flattened config and per-request E2E (repeat -> scheduler -> ms)."""

    path: Path
    doc: dict[str, Any]
    config: dict[str, Any]
    latencies: dict[int, dict[str, np.ndarray]] = field(default_factory=dict)


def flatten(tree: Any, prefix: str = "") -> dict[str, Any]:
    """{"a.b": leaf} for a nested dict (lists are leaves)."""
    if not isinstance(tree, dict):
        return {prefix: tree}
    out: dict[str, Any] = {}
    for k, v in tree.items():
        out.update(flatten(v, f"{prefix}.{k}" if prefix else str(k)))
    return out


def where(path: Path) -> str:
    """path as recorded in the merged summary: relative to the working directory when under it."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


OVERRIDES = "experiment.scheduler_overrides."


def _ignored(key: str) -> bool:
    return any(key == k or key.startswith(k + ".") for k in IGNORED_KEYS) or key.startswith("hydra.")


def _override_of(key: str) -> str | None:
    """The scheduler whose parameter ``key`` is (None for any other key)."""
    return key[len(OVERRIDES):].split(".", 1)[0] if key.startswith(OVERRIDES) else None


def schedulers_run(run: Run) -> set[str]:
    """The schedulers a run directory has results for."""
    return {n for e in run.doc.get("per_repeat", []) for n in e.get("schedulers", {})}


def config_differences(a: dict[str, Any], b: dict[str, Any], shared: set[str]) -> list[str]:
    """Keys whose values differ between two flattened configs, ignoring ``IGNORED_KEYS`` and the
    parameters of every scheduler outside ``shared`` (the schedulers both runs ran)."""
    keys = sorted(k for k in set(a) | set(b) if not _ignored(k) and _override_of(k) in (None, *shared))
    return [k for k in keys if a.get(k) != b.get(k)]


def _check_configs(runs: list[Run]) -> None:
    """MergeError naming the keys where two runs' configs differ (a scheduler's parameters only
    between runs that both ran it)."""
    def refuse(run: Run, other: Run, diff: list[str]) -> None:
        shown = ", ".join(f"{k} ({other.config.get(k)!r} vs {run.config.get(k)!r})" for k in diff[:4])
        raise MergeError(f"{run.path}: config differs from {other.path}: {shown}"
                         + (f" and {len(diff) - 4} more" if len(diff) > 4 else ""))

    for i, run in enumerate(runs):
        for other in runs[:i]:
            diff = config_differences(other.config, run.config, shared=schedulers_run(run) & schedulers_run(other))
            if diff:
                refuse(run, other, diff)


def per_request_e2el(run_dir: Path) -> dict[int, dict[str, np.ndarray]]:
    """Repeat -> scheduler -> E2E ms per request (sorted by request id; NaN: not measured or not completed),
    from the run's requests.parquet or requests.csv ({} when it has neither)."""
    from l4bench.metrics.frame import read_requests_table

    df = read_requests_table(run_dir)
    if df is None:
        return {}
    ok = df[df["is_measured"].astype(bool) & df["is_completed"].astype(bool)]
    out: dict[int, dict[str, np.ndarray]] = {}
    for rep, g in df.groupby("repeat"):
        ids = np.sort(g["request_id"].unique())
        kept = ok[ok["repeat"] == rep]
        out[int(rep)] = {
            str(name): kept[kept["scheduler"] == name].set_index("request_id")["e2el_ms"].reindex(ids).to_numpy(float)
            for name in g["scheduler"].unique()
        }
    return out


def load_run(path: Path) -> Run:
    """Read one run directory (MergeError when it has no summary.json or config)."""
    import yaml

    summary, config = path / "summary.json", path / "config_resolved.yaml"
    for f in (summary, config):
        if not f.is_file():
            raise MergeError(f"{path}: no {f.name}; give run directories the harness wrote")
    doc = json.loads(summary.read_text())
    return Run(path, doc, flatten(yaml.safe_load(config.read_text()) or {}), per_request_e2el(path))


def _join_repeats(runs: list[Run]) -> tuple[list[dict[str, Any]], list[dict[str, np.ndarray]], dict[str, Any]]:
    """per_repeat entries joined by repeat index (sorted), their per-request E2E, and where each came from."""
    reps: dict[int, dict[str, Any]] = {}
    lats: dict[int, dict[str, np.ndarray]] = {}
    source: dict[str, dict[str, str]] = {}
    for run in runs:
        for entry in run.doc["per_repeat"]:
            r = int(entry["repeat"])
            if r not in reps:
                reps[r] = {**entry, "schedulers": {}, "failed_schedulers": {}, "scheduler_order": []}
                lats[r] = {}
            elif reps[r]["requests_sha256"] != entry["requests_sha256"]:
                raise MergeError(f"repeat {r}: {run.path} replayed other requests than {sorted(set(source[str(r)].values()))}")
            for name, s in entry["schedulers"].items():
                if name in reps[r]["schedulers"]:
                    raise MergeError(f"repeat {r}: {name} ran in both {source[str(r)][name]} and {run.path}; "
                                     "leave one run directory out")
                reps[r]["schedulers"][name] = s
                source.setdefault(str(r), {})[name] = where(run.path)
                if name in run.latencies.get(r, {}):
                    lats[r][name] = run.latencies[r][name]
            reps[r]["failed_schedulers"].update(entry.get("failed_schedulers") or {})
            reps[r]["scheduler_order"] += list(entry.get("scheduler_order") or [])
    order = sorted(reps)
    return [reps[r] for r in order], [lats[r] for r in order], source


def _num_resamples(per_repeat: list[dict[str, Any]], default: Any) -> int:
    """The bootstrap resamples the runs used (recorded in every per-run entry's bootstrap_ci95)."""
    for entry in per_repeat:
        for s in entry["schedulers"].values():
            n = (s.get("bootstrap_ci95") or {}).get("num_resamples")
            if n is not None:
                return int(n)
    return int(default)


def merge(runs: list[Run], allow_mixed_commits: bool = False) -> dict[str, Any]:
    """The merged summary.json document of runs of one experiment (MergeError when they do not match)."""
    from l4bench.metrics.ci import NUM_RESAMPLES
    from l4bench.metrics.repeats import aggregate, versus_best, versus_each_repeat_best
    from l4bench.provenance import MixedCommitsError, check_same_commit, commit_of

    if not runs:
        raise MergeError("no run directories given")
    first = runs[0]
    for run in runs[1:]:
        if run.doc.get("experiment") != first.doc.get("experiment"):
            raise MergeError(f"{run.path}: experiment {run.doc.get('experiment')!r}, not {first.doc.get('experiment')!r}")
    _check_configs(runs)
    try:
        commits = check_same_commit(((str(r.path), r.doc) for r in runs), allow_mixed_commits)
    except MixedCommitsError as e:
        raise MergeError(str(e)) from None
    per_repeat, latencies, source = _join_repeats(runs)
    reps = [r["schedulers"] for r in per_repeat]
    names = list(dict.fromkeys(n for r in reps for n in r))
    summaries = {n: aggregate([r[n] for r in reps if n in r]) for n in names}
    coverage = {n: [int(e["repeat"]) for e in per_repeat if n in e["schedulers"]] for n in names}
    boot = {"num_resamples": _num_resamples(per_repeat, first.config.get("metrics.bootstrap_resamples", NUM_RESAMPLES)),
            "seeds": [r["bootstrap_seed"] for r in per_repeat]}
    doc = {k: v for k, v in first.doc.items() if k not in ("per_repeat", "schedulers", "failed_schedulers")}
    doc["repeats"] = {**first.doc.get("repeats", {}), "count": len(per_repeat),
                      "indices": [int(e["repeat"]) for e in per_repeat],
                      "distinct_request_sets": len({e["requests_sha256"] for e in per_repeat})}
    doc["merge"] = {
        "runs": [{"dir": where(r.path), "git_commit": commit_of(r.doc),
                  "repeats": [int(e["repeat"]) for e in r.doc["per_repeat"]],
                  "schedulers": sorted({n for e in r.doc["per_repeat"] for n in e["schedulers"]}),
                  "per_request_records": bool(r.latencies)} for r in runs],
        "commits": commits, "source": source, "coverage": coverage,
    }
    if len({tuple(c) for c in coverage.values()}) > 1:
        doc["merge"]["note"] = ("schedulers cover different repeats: each ratio uses only the repeats both "
                                "schedulers ran; the best baseline is picked from means over different repeats")
    doc["per_repeat"] = per_repeat
    doc["schedulers"] = summaries
    doc["failed_schedulers"] = {n: m for e in per_repeat for n, m in e["failed_schedulers"].items()}
    doc["versus_best_baseline"] = versus_best(reps, summaries, latencies, boot)
    doc["versus_best_each_repeat"] = versus_each_repeat_best(reps, names)
    return doc


def write(doc: dict[str, Any], out: Path, runs: list[Run]) -> None:
    """summary.json, comparison.csv and the first run's config_resolved.yaml under out; requests.csv
    (every run's per-request rows, one table like a single run's) when every run has them."""
    import shutil

    import pandas as pd

    from l4bench.metrics.frame import read_requests_table, write_requests_csv
    from l4bench.metrics.summary import comparison_frame
    from l4bench.results_writer import write_json

    out.mkdir(parents=True, exist_ok=True)
    write_json(out / "summary.json", doc)
    comparison_frame(doc["schedulers"], doc["versus_best_baseline"],
                     doc["versus_best_each_repeat"]).to_csv(out / "comparison.csv", index=False)
    shutil.copy(runs[0].path / "config_resolved.yaml", out / "config_resolved.yaml")
    if all(r.latencies for r in runs):
        frames = [read_requests_table(r.path) for r in runs]
        write_requests_csv(pd.concat(frames, ignore_index=True).sort_values(["repeat", "scheduler", "request_id"]),
                           out / "requests.csv")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m l4bench.merge_runs", description=__doc__.split("\n\n")[0])
    ap.add_argument("runs", nargs="+", type=Path, help="run directories (summary.json, config_resolved.yaml)")
    ap.add_argument("--out", type=Path, required=True, help="where the merged summary.json goes")
    ap.add_argument("--allow-mixed-commits", action="store_true", help="merge runs of different git commits")
    args = ap.parse_args(argv)
    try:
        runs = [load_run(p) for p in args.runs]
        doc = merge(runs, args.allow_mixed_commits)
    except (MergeError, OSError, json.JSONDecodeError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    write(doc, args.out, runs)
    cov = ", ".join(f"{n} {c}" for n, c in doc["merge"]["coverage"].items())
    print(f"{doc['merge']['commits']}; repeats {doc['repeats']['indices']}; {cov} -> {args.out / 'summary.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
