"""Command line: `python -m l4bench.profiling --model-dir DIR --out DIR --grid full|smoke [...]`."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from l4bench.errors import ConfigError
from l4bench.profiling.grid import GRID_NAMES


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Options of the profiler (the same names as run_profile's keyword arguments)."""
    ap = argparse.ArgumentParser(prog="python -m l4bench.profiling", description=__doc__)
    ap.add_argument("--model-dir", type=Path, required=True, help="folder with the model's config.json")
    ap.add_argument("--out", type=Path, required=True, help="output folder (profile.csv, meta.json, fit.json)")
    ap.add_argument("--grid", choices=GRID_NAMES, default="smoke")
    ap.add_argument("--max-model-len", type=int, default=None)
    ap.add_argument("--gpu-memory-utilization", type=float, default=0.9)
    ap.add_argument("--max-num-batched-tokens", type=int, default=8192)
    ap.add_argument("--max-num-seqs", type=int, default=1024)
    ap.add_argument("--enforce-eager", action="store_true", help="no CUDA graphs / torch.compile")
    ap.add_argument("--warmup-steps", type=int, default=2)
    ap.add_argument("--measure-steps", type=int, default=5)
    ap.add_argument("--chunk-samples", type=int, default=3)
    ap.add_argument("--time-budget-s", type=float, default=None, help="stop measuring after this (start-up included)")
    ap.add_argument("--max-compositions", type=int, default=None)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--engine-kwargs", type=json.loads, default=None, help='extra vllm.LLM kwargs as JSON')
    ap.add_argument("--no-fit", dest="fit", action="store_false")
    ap.add_argument("--holdout-fraction", type=float, default=0.2)
    ap.add_argument("--attention-backend", default=None,
                    help="vLLM backend: FLASH_ATTN, TRITON_ATTN, FLASHINFER, FLASH_ATTN_2, ... (default: vLLM's)")
    ap.add_argument("--passes", type=int, default=3, help="shuffled passes; every composition is measured in each")
    ap.add_argument("--max-priority", type=int, default=None, help="only compositions of priority <= this")
    ap.add_argument("--burst", action="store_true", help="then run the burst experiment (burst.json)")
    ap.add_argument("--burst-repeats", type=int, default=3)
    ap.add_argument("--burst-output-tokens", type=int, default=256)
    ap.add_argument("--burst-scale", type=int, default=1, help="divide the burst's prompt lengths by this")
    ap.add_argument("--burst-reserve-s", type=float, default=60.0, help="time kept for the burst within the budget")
    return ap.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Run one profile; a ConfigError prints as one line."""
    args = vars(parse_args(argv))
    from l4bench.profiling.runner import run_profile

    try:
        out = run_profile(args.pop("out"), args.pop("model_dir"), **args)
    except ConfigError as err:
        print(f"error: {err}")
        return 2
    print(f"[profile] wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
