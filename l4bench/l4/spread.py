"""Length spread of a decode batch: the project's one definition (perf models, fits and L4 use it).

Pad every decoding context of a batch to its longest one: of the n * max_ctx padded KV tokens, the
share that is padding is the batch's length spread,

    length_spread = 1 - ctx_sum / (n * max_ctx) = 1 - mean_ctx / max_ctx      (0: homogeneous)

and its token-weighted form, the feature the fits and L4's step-time surrogate use, is

    spread_tokens = ctx_sum * length_spread = ctx_sum - ctx_sum^2 / (n * max_ctx).

Both are 0 for an empty batch or one without context.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]


def length_spread(num_decodes: float, context_sum: float, context_max: float) -> float:
    """Share of the batch, padded to its longest context, that is padding (1 - mean / max)."""
    if num_decodes <= 0 or context_max <= 0:
        return 0.0
    return 1.0 - context_sum / (num_decodes * context_max)


def spread_tokens(num_decodes: float, context_sum: float, context_max: float) -> float:
    """context_sum * length_spread: the KV tokens that length spread weighs (0 when homogeneous)."""
    if num_decodes <= 0 or context_max <= 0:
        return 0.0
    return context_sum - context_sum * context_sum / (num_decodes * context_max)


def spread_tokens_array(num_decodes: FloatArray, context_sum: FloatArray, context_max: FloatArray) -> FloatArray:
    """spread_tokens elementwise (the same float operations, so equal to the scalar form)."""
    ok = (num_decodes > 0) & (context_max > 0)
    out: FloatArray = np.where(ok, context_sum - context_sum * context_sum / np.maximum(num_decodes * context_max,
                                                                                          1e-12), 0.0)
    return out


def length_spread_array(num_decodes: FloatArray, context_sum: FloatArray, context_max: FloatArray) -> FloatArray:
    """length_spread elementwise."""
    ok = (num_decodes > 0) & (context_max > 0)
    out: FloatArray = np.where(ok, 1.0 - context_sum / np.maximum(num_decodes * context_max, 1e-12), 0.0)
    return out
