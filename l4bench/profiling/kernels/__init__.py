"""Decode-attention kernel benchmark: one layer, paged KV, each backend called as vLLM 0.25.0 calls it.

`python -m l4bench.profiling.kernels` (GPU; see README.md here). compositions, stats and report are
numpy-only; paged, backends and bench import torch (and the engines' packages) and are imported lazily.
"""
