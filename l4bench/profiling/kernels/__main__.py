"""`python -m l4bench.profiling.kernels [--out DIR] [--sizes 64x2048,256x1024] [--backends ...] [--budget-s S]`."""

from __future__ import annotations

import argparse
import datetime as dt
import importlib
import json
import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from l4bench.errors import ConfigError
from l4bench.profiling.kernels.compositions import build_grid, check_grid, parse_sizes

MODEL_CONFIG = Path(__file__).resolve().parents[2] / "models" / "llama-3.1-8b" / "config.json"
DEFAULT_BACKENDS = "fa3,fa3_eager,fa2,triton,flashinfer,sglang_triton"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Options of the kernel benchmark."""
    ap = argparse.ArgumentParser(prog="python -m l4bench.profiling.kernels", description=__doc__)
    ap.add_argument("--out", type=Path, default=None, help="output folder (default results/kernels/<gpu>/vllm-<v>)")
    ap.add_argument("--model-config", type=Path, default=MODEL_CONFIG, help="HF config.json giving the head shapes")
    ap.add_argument("--sizes", default="64x2048,256x1024", help="batch sizes x homogeneous context length")
    ap.add_argument("--long-tokens", type=int, default=65536, help="tokens of the long part (1 or --num-few seqs)")
    ap.add_argument("--num-few", type=int, default=4, help="how many long sequences in the 'few long' batches")
    ap.add_argument("--backends", default=DEFAULT_BACKENDS, help="comma-separated, run in this order")
    ap.add_argument("--block-size", type=int, default=16, help="KV block size (vLLM's default for these backends)")
    ap.add_argument("--passes", type=int, default=3)
    ap.add_argument("--launches", type=int, default=20, help="timed launches per composition per pass")
    ap.add_argument("--tolerance", type=float, default=2e-2, help="max abs error vs fp32 to pass the check")
    ap.add_argument("--budget-s", type=float, default=None, help="stop timing new passes/backends after this")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--merge", action="store_true",
                    help="keep the other backends already in --out (same shape and grid); kernels.json `runs` lists both")
    return ap.parse_args(argv)


def shape_from_config(path: Path, block_size: int) -> Any:
    """AttentionShape of one layer of the model in `path` (heads, head_dim, torch_dtype)."""
    from l4bench.profiling.kernels.paged import AttentionShape

    try:
        cfg = json.loads(path.read_text())
    except (OSError, ValueError) as err:
        raise ConfigError(f"--model-config: cannot read {path}: {err}") from None
    heads = int(cfg["num_attention_heads"])
    return AttentionShape(
        num_q_heads=heads, num_kv_heads=int(cfg.get("num_key_value_heads", heads)),
        head_dim=int(cfg.get("head_dim") or cfg["hidden_size"] // heads),
        dtype=str(cfg.get("torch_dtype", "bfloat16")), block_size=block_size,
    )


def _version(module: str) -> str | None:
    try:
        return str(getattr(importlib.import_module(module), "__version__", "?"))
    except Exception:  # noqa: BLE001 - a missing package is recorded as None
        return None


def _cmd(args: list[str]) -> str | None:
    try:
        return subprocess.run(args, capture_output=True, text=True, timeout=20, check=True).stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


def provenance() -> dict[str, Any]:
    """GPU, driver, package versions, git commit, date."""
    import torch

    repo = str(Path(__file__).resolve().parents[3])
    try:
        from vllm.utils.flashinfer import has_flashinfer_cubin

        cubin: bool | None = has_flashinfer_cubin()
    except Exception:  # noqa: BLE001
        cubin = None
    return {
        "gpu_name": torch.cuda.get_device_name(0) if torch.cuda.is_available() else f"cpu ({platform.processor()})",
        "driver": _cmd(["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"]),
        "torch_version": torch.__version__, "cuda_version": getattr(torch.version, "cuda", None),
        "vllm_version": _version("vllm"), "flashinfer_version": _version("flashinfer"),
        "triton_version": _version("triton"), "python": sys.version.split()[0],
        "git_commit": _cmd(["git", "-C", repo, "rev-parse", "HEAD"]),
        "git_dirty": bool(_cmd(["git", "-C", repo, "status", "--porcelain", "--untracked-files=no"])),
        "date_utc": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        # vLLM's FLASHINFER backend on SM90 decodes with XQA only when flashinfer's cubins are available
        # (flashinfer-cubin installed or NVIDIA's artifactory reachable); else with the decode wrapper timed here
        "flashinfer_cubin_installed": cubin,
    }


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; a ConfigError prints as one line."""
    args = parse_args(argv)
    try:
        comps = build_grid(parse_sizes(args.sizes), args.long_tokens, args.num_few)
        backends = [b for b in args.backends.split(",") if b]
        try:
            import torch
        except ImportError:
            raise ConfigError("the kernel benchmark needs torch (and a CUDA GPU)") from None
        shape = shape_from_config(args.model_config, args.block_size)
        from l4bench.profiling.kernels.backends import BACKEND_NAMES

        unknown = sorted(set(backends) - set(BACKEND_NAMES))
        if unknown:
            raise ConfigError(f"--backends: unknown {unknown}; valid: {', '.join(BACKEND_NAMES)}")
        if not torch.cuda.is_available():
            raise ConfigError("the kernel benchmark needs a CUDA GPU (torch.cuda.is_available() is False)")
    except ConfigError as err:
        print(f"error: {err}")
        return 2
    return run(args, comps, shape, backends)


def run(
    args: argparse.Namespace, comps: list, shape: Any, backends: list[str],
    device: str = "cuda", timer: Any = None, make: Any = None,
) -> int:
    """Measure, then write kernels.csv, kernels.json and README.md (CUDA events and the real backends by default)."""
    from dataclasses import asdict

    from l4bench.profiling.kernels import merge, report
    from l4bench.profiling.kernels.backends import make_backend
    from l4bench.profiling.kernels.bench import BenchConfig, EventTimer, run_all

    t0 = time.monotonic()
    prov = provenance()
    out = args.out or Path("results/kernels") / report.gpu_slug(prov["gpu_name"]) / f"vllm-{prov['vllm_version']}"
    cfg = BenchConfig(backends=backends, shape=shape, num_passes=args.passes, launches_per_pass=args.launches,
                      tolerance=args.tolerance, seed=args.seed, budget_s=args.budget_s)
    print(f"[kernels] {prov['gpu_name']}, vLLM {prov['vllm_version']}, flashinfer {prov['flashinfer_version']}; "
          f"{len(comps)} compositions x {len(backends)} backends -> {out}", flush=True)
    config = {k: v for k, v in asdict(cfg).items() if k != "shape"} | {"shape": asdict(shape),
              "sizes": args.sizes, "long_tokens": args.long_tokens, "num_few": args.num_few,
              "model_config": str(args.model_config), "kv_block_order": "shuffled distinct blocks of one pool"}

    try:
        prev_rows, prev_meta = merge.load_previous(out, config) if args.merge else ([], {})
    except ConfigError as err:
        print(f"error: {err}")
        return 2

    def write(results: list) -> None:  # after every backend, so a run cut short still leaves its tables
        meta = {"provenance": prov, "config": config, "wall_s": round(time.monotonic() - t0, 1),
                "backends": {r.name: {"status": r.status, "error": r.error, "settings": r.settings,
                                      "check": r.check, "paths": r.paths, "setup_s": round(r.setup_s, 1)}
                             for r in results},
                "compositions": {c.name: list(c.seq_lens) for c in comps + check_grid()}}
        rows = report.build_rows(results, comps, args.seed)
        if args.merge:
            rows, meta = merge.merged(prev_rows, prev_meta, rows, meta)
        report.write_csv(rows, out / "kernels.csv")
        report.write_json(meta, out / "kernels.json")
        report.write_readme(out)

    timer = timer or EventTimer(cfg.sleep_cycles)
    run_all(cfg, comps, check_grid(), device, make or make_backend, timer, on_result=write)
    print(f"[kernels] wrote {out}/kernels.csv, kernels.json, README.md in {time.monotonic() - t0:.0f}s", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
