"""Features of a batch composition that step-time fits combine linearly, and which ones each backend gets.

Every feature is a number computed from a BatchShape and the engine facts in FeatureParams. A fit
(l4bench.perf.fit) picks a feature set per attention backend, so a model can express what its kernel
does with long and short contexts in one batch:

- decode_padded_tokens = num_decodes * max context: a kernel that does not split the long sequence
  (one work unit per sequence) finishes when the longest one does, so it costs ~ batch x max_len;
- split_2d_context_max / split_3d_context_max / split_3d_step: vLLM's Triton unified attention
  runs a 3D "split" kernel (each sequence cut into 16 softmax segments, then a reduction) only when
  the batch is all decodes and has at most `split_seq_threshold` sequences, else the 2D kernel
  where one program walks a whole sequence (vllm/v1/attention/ops/triton_unified_attention.py);
- decode_context_spread = l4bench.l4.spread.spread_tokens (the project's one spread definition);
- long_first_context_max / long_last_context_max: where the longest decode sits in the batch
  (BatchShape.decode_max_position; unknown positions count half each, the mean of a random order).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from l4bench.errors import ConfigError
from l4bench.l4.spread import spread_tokens
from l4bench.perf.base import BatchShape

#: vLLM 0.25.0 constants of the Triton unified-attention backend (v1/attention/backends/triton_attn.py).
TRITON_MIN_LAUNCH_GRID_2D = 128
#: FLASH_ATTN with no recorded version is FA3 on Hopper, vLLM's default there.
DEFAULT_BACKEND = "FLASH_ATTN"


@dataclass(frozen=True, slots=True)
class FeatureParams:
    """Engine facts some features need (stored in fit.json beside the coefficients).

    Args:
        cudagraph_max_tokens: largest step (in tokens) vLLM replays from a CUDA graph; bigger steps
            run without graphs and pay the kernel launches (0 with enforce_eager).
        split_seq_threshold: most sequences for which Triton unified attention takes its 3D split path
            (vLLM: 128 // num_kv_heads, snapped to the nearest CUDA-graph capture size; 0 = never).
    """

    cudagraph_max_tokens: int = 512
    split_seq_threshold: int = 0


def is_split_3d(b: BatchShape, p: FeatureParams) -> bool:
    """Whether vLLM's Triton unified attention runs this batch on its 3D (split-KV) path."""
    num_seqs = b.num_decodes + b.num_prefill_seqs
    return b.num_prefill_seqs == 0 and 0 < num_seqs <= p.split_seq_threshold


def _prefill_context(b: BatchShape, p: FeatureParams) -> float:
    """Sum over prefill chunks of their mean attended context (exact for one chunk): KV each chunk streams."""
    if b.num_prefill_tokens == 0:
        return 0.0
    return b.prefill_attention_tokens * b.num_prefill_seqs / b.num_prefill_tokens


def _position(b: BatchShape) -> float:
    return 0.5 if b.decode_max_position is None else float(b.decode_max_position)


FEATURES: dict[str, Callable[[BatchShape, FeatureParams], float]] = {
    "const": lambda b, p: 1.0,
    "num_seqs": lambda b, p: float(b.num_decodes + b.num_prefill_seqs),
    "num_tokens": lambda b, p: float(b.num_tokens),
    "decode_context_sum": lambda b, p: float(b.decode_context_sum),
    "decode_context_max": lambda b, p: float(b.decode_context_max),
    "decode_context_spread": lambda b, p: spread_tokens(b.num_decodes, b.decode_context_sum, b.decode_context_max),
    "decode_padded_tokens": lambda b, p: float(b.num_decodes * b.decode_context_max),
    "split_2d_context_max": lambda b, p: 0.0 if is_split_3d(b, p) else float(b.decode_context_max),
    "split_3d_context_max": lambda b, p: float(b.decode_context_max) if is_split_3d(b, p) else 0.0,
    "split_3d_step": lambda b, p: float(is_split_3d(b, p)),
    "long_first_context_max": lambda b, p: b.decode_context_max * (1.0 - _position(b)),
    "long_last_context_max": lambda b, p: b.decode_context_max * _position(b),
    "prefill_attention_tokens": lambda b, p: float(b.prefill_attention_tokens),
    "prefill_context": _prefill_context,
    "prefill_step": lambda b, p: float(b.num_prefill_seqs > 0),
    "no_cudagraph": lambda b, p: float(b.num_tokens > p.cudagraph_max_tokens),
}
#: The feature set of the first (H100, FA3) fit; every backend's set starts from it.
DEFAULT_FEATURES = ("const", "num_seqs", "num_tokens", "decode_context_sum", "decode_context_max",
                    "prefill_attention_tokens", "prefill_context", "no_cudagraph")
_UNSPLIT = ("decode_padded_tokens", "decode_context_spread")
#: Per attention backend (vLLM's names; FLASH_ATTN_2 = FLASH_ATTN with flash_attn_version=2).
BACKEND_FEATURES: dict[str, tuple[str, ...]] = {
    # FA3 sizes its KV splits per sequence: on the H100 profile, neither spread nor padded tokens
    # lowers the held-out error (results/profiles/h100/llama-3.1-8b/fit_report.md), so none is added
    "FLASH_ATTN": DEFAULT_FEATURES,
    "FLASH_ATTN_2": DEFAULT_FEATURES + _UNSPLIT,
    "TRITON_ATTN": DEFAULT_FEATURES + ("decode_padded_tokens", "split_2d_context_max", "split_3d_context_max",
                                       "split_3d_step"),
    "FLASHINFER": DEFAULT_FEATURES + _UNSPLIT,
}
ORDER_FEATURES = ("long_first_context_max", "long_last_context_max")


def check_features(names: tuple[str, ...] | list[str]) -> None:
    """ConfigError naming the valid features when one is unknown."""
    unknown = [n for n in names if n not in FEATURES]
    if unknown:
        raise ConfigError(f"perf.features: unknown {unknown}; valid: {', '.join(FEATURES)}")


def feature_vector(batch: BatchShape, names: tuple[str, ...] | list[str],
                   params: FeatureParams = FeatureParams()) -> np.ndarray:
    """The named features of one batch."""
    check_features(names)
    return np.array([FEATURES[n](batch, params) for n in names], dtype=float)


def design_matrix(shapes: list[BatchShape], names: tuple[str, ...] | list[str],
                  params: FeatureParams = FeatureParams()) -> np.ndarray:
    """One row of features per batch."""
    return np.vstack([feature_vector(s, names, params) for s in shapes])


def shapes_of(df: pd.DataFrame) -> list[BatchShape]:
    """BatchShape of every profile row (decode_max_position used when the profile has it)."""
    has_pos = "decode_max_position" in df
    return [
        BatchShape(num_prefill_tokens=int(r["num_prefill_tokens"]), num_prefill_seqs=int(r["num_prefill_seqs"]),
                   prefill_attention_tokens=float(r["prefill_attention_tokens"]), num_decodes=int(r["num_decodes"]),
                   decode_context_sum=int(r["decode_context_sum"]), decode_context_max=int(r["decode_context_max"]),
                   decode_context_min=int(r["decode_context_min"]),
                   decode_max_position=(float(r["decode_max_position"]) if has_pos
                                        and pd.notna(r["decode_max_position"]) else None))
        for r in df.to_dict("records")
    ]


def backend_of(meta: dict[str, Any]) -> str:
    """Canonical backend name of a profile: vLLM's, FLASH_ATTN_2 for FlashAttention 2 (FLASH_ATTN = FA3).

    meta's attention_backend is a name or the profiler's record {requested, selected, flash_attn_version}.
    """
    rec = meta.get("attention_backend")
    version = meta.get("flash_attn_version")
    if isinstance(rec, dict):
        version = rec.get("flash_attn_version", version)
        rec = rec.get("selected") or rec.get("requested")
    name = str(rec or DEFAULT_BACKEND).upper()
    if name in ("FLASH_ATTN_2", "FLASH_ATTN_3"):
        name, version = "FLASH_ATTN", int(name[-1])
    if name == "FLASH_ATTN" and version is not None and int(version) == 2:
        return "FLASH_ATTN_2"
    return name


def features_for(meta: dict[str, Any], has_position: bool = False) -> tuple[str, ...]:
    """Feature set of a profile: meta's fit_features if set, else its backend's (plus order if measured)."""
    if meta.get("fit_features"):
        names = tuple(meta["fit_features"])
        check_features(names)
        return names
    names = BACKEND_FEATURES.get(backend_of(meta), DEFAULT_FEATURES + _UNSPLIT)
    return names + ORDER_FEATURES if has_position else names


def default_capture_sizes(max_num_seqs: int) -> list[int]:
    """vLLM 0.25.0's default CUDA-graph capture sizes (config/vllm.py)."""
    top = min(max_num_seqs * 2, 512)
    return [1, 2, 4] + list(range(8, 256, 8)) + list(range(256, top + 1, 16))


def split_threshold(meta: dict[str, Any]) -> int:
    """Triton unified attention's seq_threshold_3D for the profiled engine (0 for other backends)."""
    if backend_of(meta) != "TRITON_ATTN":
        return 0
    if meta.get("seq_threshold_3d") is not None:
        return int(meta["seq_threshold_3d"])
    kv_heads = int((meta.get("model_config") or {}).get("num_key_value_heads") or 8)
    threshold = TRITON_MIN_LAUNCH_GRID_2D // kv_heads
    mode = str(meta.get("cudagraph_mode") or "")
    if not meta.get("enforce_eager") and mode in ("FULL_AND_PIECEWISE", "FULL_DECODE_ONLY", "FULL"):
        sizes = meta.get("cudagraph_capture_sizes") or default_capture_sizes(
            int((meta.get("engine_kwargs") or {}).get("max_num_seqs") or 256))
        threshold = min(sizes, key=lambda s: abs(s - threshold))  # first of the closest, as vLLM's min()
    return threshold


def params_from_meta(meta: dict[str, Any]) -> FeatureParams:
    """Feature parameters implied by how the profiled engine ran (CUDA graphs or eager, backend)."""
    graphs = 0 if meta.get("enforce_eager") else int(meta.get("cudagraph_max_capture_size") or 512)
    return FeatureParams(cudagraph_max_tokens=graphs, split_seq_threshold=split_threshold(meta))
