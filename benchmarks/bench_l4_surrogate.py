"""How well L4's affine step-time surrogate follows each measured H200 fit (l4bench/l4/README.md numbers).

For every backend profile under results/profiles/h200/llama-3.1-8b: the surrogate fitted on L4's probe
grid (16 instances' limits: max_model_len 131072, 256 seqs, 8192-token chunks, the profile's KV
capacity at 0.9 memory utilization), its mean / max relative error with and without the
longest-context term, the threshold the fit chose, and the headline mixed batch (one 64k context among
63 at 2k) as the fitted model and the surrogate see it.

    python benchmarks/bench_l4_surrogate.py
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from omegaconf import OmegaConf

from l4bench.l4 import cost
from l4bench.l4.nnls import fit_relative
from l4bench.l4.spread import spread_tokens
from l4bench.perf.base import BatchShape, GpuSpec, ModelSpec
from l4bench.perf.fitted import FittedPerfModel

REPO = Path(__file__).resolve().parent.parent
MAX_LEN, MAX_SEQS, CHUNK = 131072, 256, 8192


def _without_max_term(shapes: list[BatchShape], y: np.ndarray) -> np.ndarray:
    x = np.array([[1.0, s.num_tokens, s.num_decodes + s.num_prefill_seqs, s.decode_context_sum,
                   spread_tokens(s.num_decodes, s.decode_context_sum, s.decode_context_max),
                   s.num_decodes * s.decode_context_max, s.prefill_attention_tokens] for s in shapes])
    rel: np.ndarray = np.abs(x @ fit_relative(x, y) - y) / y
    return rel


def main() -> None:
    conf = REPO / "conf"
    model = ModelSpec(**OmegaConf.to_container(OmegaConf.load(conf / "model" / "llama-3.1-8b.yaml"), resolve=True))
    gpu = GpuSpec(**OmegaConf.to_container(OmegaConf.load(conf / "gpu" / "h200.yaml"), resolve=True))
    mixed = BatchShape(num_decodes=64, decode_context_sum=65536 + 63 * 2048, decode_context_max=65536,
                       decode_context_min=2048)
    print("backend        | mean err (no x) | max err (no x) | T  | x us/token | 1x64k+63x2k fit / surrogate ms")
    for fit in sorted((REPO / "results" / "profiles" / "h200" / "llama-3.1-8b").glob("*/fit.json")):
        backend = fit.parent.name
        perf = FittedPerfModel(model, gpu, gpu_memory_utilization=0.9, profile=f"h200/llama-3.1-8b/{backend}")
        kv = perf.kv_capacity_tokens
        shapes = cost._probe_shapes(MAX_LEN, MAX_SEQS, CHUNK, kv)
        y = np.array([perf.step_time_s(s) for s in shapes])
        st = cost.fit_affine(perf, MAX_LEN, MAX_SEQS, CHUNK, kv)
        yh = np.array([st.step_s(s.num_tokens, s.num_decodes + s.num_prefill_seqs, s.decode_context_sum,
                                 s.num_decodes, s.decode_context_max, s.prefill_attention_tokens) for s in shapes])
        rel, rel0 = np.abs(yh - y) / y, _without_max_term(shapes, y)
        sur = st.step_s(mixed.num_tokens, 64, mixed.decode_context_sum, 64, 65536)
        print(f"{backend:14s} | {rel.mean():6.2%} ({rel0.mean():6.2%}) | {rel.max():5.1%} ({rel0.max():5.1%}) | "
              f"{st.max_context_min_seqs:2d} | {st.per_max_context_s * 1e6:10.4f} | "
              f"{perf.step_time_s(mixed) * 1e3:6.1f} / {sur * 1e3:6.1f}")


if __name__ == "__main__":
    main()
