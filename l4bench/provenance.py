"""Where a summary.json came from: code version, software versions, engine, backend, GPU, config hash.

``collect`` builds the ``provenance`` block written into every summary.json; ``check_same_commit``
is what reports call before merging runs, so numbers of different builds are never mixed silently.
"""

from __future__ import annotations

import hashlib
import os
import platform
import shutil
import subprocess
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from l4bench import __version__

UNKNOWN = "unknown"
# Set to the commit of a clean checkout whose files were copied elsewhere without a usable .git
# (the GPU host gets a working tree with a stale .git): recorded instead of asking git.
CODE_COMMIT_ENV = "L4BENCH_CODE_COMMIT"
_PACKAGE_DIR = Path(__file__).resolve().parent


def _git(args: list[str], cwd: Path) -> str | None:
    """stdout of one git command in cwd, or None when git is missing or the command fails."""
    git = shutil.which("git")
    if git is None:
        return None
    try:
        out = subprocess.run([git, *args], cwd=cwd, capture_output=True, text=True, timeout=20, check=True)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip()


def git_state(package_dir: Path = _PACKAGE_DIR) -> dict[str, Any]:
    """Commit and dirty flag of the checkout holding package_dir ("unknown" when not a checkout).

    The package must be tracked by that repository (an installed wheel inside some other repo's
    tree is not a checkout of l4bench). Dirty means tracked files differ from the commit
    (untracked files, e.g. results/, do not count). $L4BENCH_CODE_COMMIT, when set, is taken as the
    commit of a clean copy instead (``git_commit_source`` says so).
    """
    told = os.environ.get(CODE_COMMIT_ENV, "").strip()
    if told:  # a copy of a checkout whose .git is absent or stale (e.g. a working tree sent to a GPU host)
        return {"git_commit": told, "git_dirty": False, "git_commit_source": CODE_COMMIT_ENV}
    commit = _git(["rev-parse", "HEAD"], package_dir)
    tracked = _git(["ls-files", "--error-unmatch", "__init__.py"], package_dir)
    if not commit or tracked is None:
        return {"git_commit": UNKNOWN, "git_dirty": UNKNOWN}
    status = _git(["status", "--porcelain", "--untracked-files=no"], package_dir)
    return {"git_commit": commit, "git_dirty": UNKNOWN if status is None else bool(status)}


def nvidia_gpus() -> dict[str, Any]:
    """GPU names and driver from nvidia-smi on this host (or a reason why not)."""
    smi = shutil.which("nvidia-smi")
    if smi is None:
        return {"name": UNKNOWN, "driver": UNKNOWN, "source": "nvidia-smi not on PATH", "simulated": False}
    try:
        out = subprocess.run(
            [smi, "--query-gpu=name,driver_version", "--format=csv,noheader"],
            capture_output=True, text=True, timeout=30, check=True,
        )
    except (OSError, subprocess.SubprocessError) as e:
        return {"name": UNKNOWN, "driver": UNKNOWN, "source": f"nvidia-smi failed: {e}", "simulated": False}
    rows = [ln.split(",") for ln in out.stdout.strip().splitlines() if ln.strip()]
    names = [r[0].strip() for r in rows]
    drivers = sorted({r[1].strip() for r in rows if len(r) > 1})
    return {
        "name": ", ".join(sorted(set(names))) or UNKNOWN,
        "count": len(names),
        "driver": ", ".join(drivers) or UNKNOWN,
        "source": f"nvidia-smi on {platform.node()}",
        "simulated": False,
    }


def live_attention_backend(engine_args: dict[str, Any], env: dict[str, Any]) -> str:
    """The backend a live engine was told to use (CLI flag or env), else that it chose its default."""
    for key in ("attention-backend", "attention_backend"):
        if engine_args.get(key):
            return str(engine_args[key])
    for key in ("VLLM_ATTENTION_BACKEND", "SGLANG_ATTENTION_BACKEND"):
        if env.get(key):
            return str(env[key])
    return "engine default (none configured)"


def sim_attention_backend(perf: Any) -> str:
    """The backend a simulator's perf model stands for: its own attribute if it has one, else its name."""
    for attr in ("attention_backend", "backend"):
        value = getattr(perf, attr, None)
        if isinstance(value, str) and value:
            return value
    profile = "/".join(str(getattr(perf, a)) for a in ("gpu_name", "model_name") if getattr(perf, a, None))
    where = f", profile {profile}" if profile else ""
    return f"none named (perf model {getattr(perf, 'name', '?')}{where})"


#: Config keys that name a place on the machine that ran, not the experiment (the data files are checked
#: by their own checksums): recorded as the interpolation a reader's own environment resolves.
LOCAL_KEYS = {"data_dir": "${oc.env:L4BENCH_DATA_DIR,null}"}


def recorded_config(cfg: Any) -> str:
    """config_resolved.yaml's text: the resolved config, with LOCAL_KEYS left as their interpolation so
    the file (and config_sha256) does not depend on where the data lived."""
    from omegaconf import OmegaConf

    tree = OmegaConf.to_container(cfg, resolve=True)
    if isinstance(tree, dict):
        tree.update({k: v for k, v in LOCAL_KEYS.items() if k in tree})
    return OmegaConf.to_yaml(OmegaConf.create(tree))


def config_sha256(resolved_config: str) -> str | None:
    """sha256 of config_resolved.yaml's text (check with `sha256sum config_resolved.yaml`)."""
    return hashlib.sha256(resolved_config.encode()).hexdigest() if resolved_config else None


def collect(
    resolved_config: str,
    engine: str,
    engine_version: str,
    attention_backend: str,
    gpu: dict[str, Any] | None,
) -> dict[str, Any]:
    """The provenance block of one run.

    Args:
        engine, engine_version: e.g. "Simulator" and the l4bench version, or "vllm" and "0.25.0"
            (live runs update the version once the engine answers).
        attention_backend: as configured, or the engine's default by name.
        gpu: the simulated GPU ({"name", "simulated": True, ...}); None on live runs: nvidia-smi.
    """
    import numpy as np

    return {
        **git_state(),
        "l4bench": __version__,
        "python": platform.python_version(),
        "numpy": np.__version__,
        "engine": engine,
        "engine_version": engine_version,
        "attention_backend": attention_backend,
        "gpu": gpu if gpu is not None else nvidia_gpus(),
        "host": platform.node(),
        "start_time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "config_sha256": config_sha256(resolved_config),
    }


def commit_of(doc: dict[str, Any]) -> str:
    """The git commit recorded in a summary.json document ("unknown" for older summaries)."""
    prov = doc.get("provenance") or {}
    commit = str(prov.get("git_commit") or UNKNOWN)
    return commit + ("+dirty" if prov.get("git_dirty") is True else "")


def mixed_commits(docs: Iterable[tuple[str, dict[str, Any]]]) -> str | None:
    """None when the (where, summary.json document) pairs share one commit, else "c1 (n runs, e.g. w); ..."."""
    by_commit: dict[str, list[str]] = {}
    for where, doc in docs:
        by_commit.setdefault(commit_of(doc), []).append(where)
    if len(by_commit) <= 1:
        return None
    return "; ".join(f"{c[:12]} ({len(w)} runs, e.g. {w[0]})" for c, w in sorted(by_commit.items()))


class MixedCommitsError(RuntimeError):
    """Runs of different commits were about to be merged without --allow-mixed-commits."""


def check_same_commit(docs: Iterable[tuple[str, dict[str, Any]]], allow_mixed: bool) -> str:
    """One line on the commits of runs about to be merged; MixedCommitsError when they differ and not allowed.

    Args:
        docs: (where, summary.json document) pairs.
        allow_mixed: merge anyway (the line then says which commits were mixed).
    """
    docs = list(docs)
    parts = mixed_commits(docs)
    if parts is None:
        return f"runs of one commit: {commit_of(docs[0][1]) if docs else UNKNOWN}"
    if not allow_mixed:
        raise MixedCommitsError(f"refusing to merge runs of different commits: {parts}; pass --allow-mixed-commits to merge anyway")
    return f"WARNING: merging runs of different commits (--allow-mixed-commits): {parts}"
