"""Synthetic step-time profiles whose times follow known coefficients (profile.csv columns)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from l4bench.perf.base import BatchShape
from l4bench.perf.features import FeatureParams, feature_vector

DEFAULT_PARAMS = FeatureParams()
BASE = {"const": 0.008, "num_seqs": 2e-5, "num_tokens": 2e-5, "decode_context_sum": 4.5e-8,
        "decode_context_max": 3e-9, "prefill_attention_tokens": 9e-10, "prefill_context": 2e-7,
        "no_cudagraph": 0.005}


def _row(name: str, shape: BatchShape, t_s: float, group: str) -> dict:
    return {"name": name, "group": group, "req_num_decodes": shape.num_decodes,
            "req_decode_context_sum": shape.decode_context_sum, "num_prefill_tokens": shape.num_prefill_tokens,
            "num_prefill_seqs": shape.num_prefill_seqs, "prefill_attention_tokens": shape.prefill_attention_tokens,
            "num_decodes": shape.num_decodes, "decode_context_sum": shape.decode_context_sum,
            "decode_context_max": shape.decode_context_max, "decode_context_min": shape.decode_context_min,
            "is_exact": True, "step_time_s": t_s}


def synthetic_shapes(rng: np.random.Generator, num: int = 80) -> list[tuple[str, BatchShape]]:
    """Uniform, mixed (a few long among short) and prefill-chunk compositions."""
    out = []
    for i in range(num):
        kind = ("uniform", "mixed", "chunk")[i % 3]
        n = int(rng.choice([1, 4, 8, 16, 24, 64, 256]))
        if kind == "mixed":
            n = max(n, 4)
            k = int(rng.integers(1, 4))
            ctx = np.array([int(rng.choice([16_384, 65_536]))] * k + [int(rng.choice([512, 1024]))] * (n - k))
        else:
            ctx = np.full(n, int(rng.choice([512, 2048, 8192])))
        chunk = int(rng.choice([512, 2048, 7680])) if kind == "chunk" else 0
        prior = int(rng.choice([0, 16_384])) if chunk else 0
        shape = BatchShape(chunk, int(chunk > 0), chunk * (prior + chunk / 2), n, int(ctx.sum()), int(ctx.max()),
                           int(ctx.min()))
        out.append((f"{kind}_{i}", shape))
    return out


def synthetic_profile(rng: np.random.Generator, coef: dict[str, float] | None = None, noise: float = 0.0,
                      params: FeatureParams = DEFAULT_PARAMS, num: int = 80, passes: int = 1) -> pd.DataFrame:
    """profile.csv rows timed by `coef` (default BASE), times (1 + noise); `passes` rows per composition."""
    coef = coef or BASE
    rows = []
    for name, shape in synthetic_shapes(rng, num):
        t = float(feature_vector(shape, list(coef), params) @ np.array(list(coef.values())))
        group = "headline_uniform" if name == "uniform_0" else name.split("_")[0]
        for _ in range(passes):
            rows.append(_row(name, shape, t * (1 + noise * rng.standard_normal()), group))
    return pd.DataFrame(rows)
