"""What a hop (or migration) costs: recompute the context on the destination, or move its KV there.

One object per mode (conf/migration/<mode>.yaml, the config key engine.migration), shared by the simulator (it charges the stall and
the recompute), the live router (it records the mode) and L4 (it prices hops by it):

- ``RecomputeMigration``: the destination prefills the whole context again; ``stall_s`` is a fixed
  extra latency on top (the simulator's old ``migration_stall_s``).
- ``KvTransferMigration``: the destination pulls the KV blocks (vLLM NixlConnector) and computes
  one token; stall = fixed_s + context bytes / bandwidth_bytes_per_s, fitted per host by
  ``fit_stall`` (conf/migration/kv_transfer.yaml says where its numbers come from).

Pure Python + numpy (no engine imports).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Protocol

import numpy as np

from l4bench.errors import ConfigError
from l4bench.l4.nnls import fit_relative

DTYPE_BYTES = {"float32": 4, "float16": 2, "bfloat16": 2, "half": 2, "fp8": 1, "float8": 1}


class MigrationCost(Protocol):
    """The interface every migration mode offers."""

    @property
    def mode(self) -> str:
        """recompute | kv_transfer."""
        ...

    @property
    def fixed_s(self) -> float:
        """Stall every hop adds, whatever its context."""
        ...

    @property
    def kv_bytes_per_token(self) -> int:
        """The model's KV bytes per token (0 when unknown)."""
        ...

    @property
    def per_token_s(self) -> float:
        """Stall added per context token (KV bytes over bandwidth; 0 for recompute)."""
        ...

    @property
    def recompute_fraction(self) -> float:
        """Share of the context the destination prefills again (1 recompute, 0 KV transfer)."""
        ...

    def stall_s(self, context_tokens: int) -> float:
        """Latency a hop of this context adds beyond the destination's prefill compute."""
        ...

    def bytes_moved(self, context_tokens: int) -> int:
        """KV bytes a hop moves (an estimate: context x per-token KV bytes; 0 for recompute)."""
        ...

    def with_kv_bytes_per_token(self, kv_bytes_per_token: int) -> MigrationCost:
        """A copy priced for a model with this many KV bytes per token."""
        ...


@dataclass(frozen=True)
class RecomputeMigration:
    """Hop by recompute: the destination prefills prompt + generated tokens (today's behaviour)."""

    fixed_s: float = 0.0  # extra latency per hop on top of the recompute
    kv_bytes_per_token: int = 0
    mode: str = "recompute"

    def __post_init__(self) -> None:
        if self.fixed_s < 0:
            raise ConfigError(f"migration.fixed_s: {self.fixed_s}; valid: >= 0")

    @property
    def per_token_s(self) -> float:
        """No per-token stall beyond the recompute itself."""
        return 0.0

    @property
    def recompute_fraction(self) -> float:
        """The whole context is prefilled again."""
        return 1.0

    def stall_s(self, context_tokens: int) -> float:
        """The fixed extra latency (the recompute itself is charged as destination prefill)."""
        return self.fixed_s

    def bytes_moved(self, context_tokens: int) -> int:
        """No KV moves."""
        return 0

    def with_kv_bytes_per_token(self, kv_bytes_per_token: int) -> RecomputeMigration:
        """A copy for a model with this many KV bytes per token (recorded, not charged)."""
        return replace(self, kv_bytes_per_token=int(kv_bytes_per_token))


@dataclass(frozen=True)
class KvTransferMigration:
    """Hop by KV transfer: stall = fixed_s + context_tokens x kv_bytes_per_token / bandwidth_bytes_per_s."""

    fixed_s: float = 0.0  # conf/migration/kv_transfer.yaml carries the fitted values
    bandwidth_bytes_per_s: float = 1.0e10
    kv_bytes_per_token: int = 0  # set from the model (conf/model: 2 x layers x kv_heads x head_dim x dtype)
    mode: str = "kv_transfer"

    def __post_init__(self) -> None:
        if self.fixed_s < 0 or not self.bandwidth_bytes_per_s > 0:
            raise ConfigError(
                f"migration: fixed_s={self.fixed_s}, bandwidth_bytes_per_s={self.bandwidth_bytes_per_s}; "
                "valid: fixed_s >= 0, bandwidth_bytes_per_s > 0"
            )

    @property
    def per_token_s(self) -> float:
        """One token's KV bytes over the bandwidth."""
        return self.kv_bytes_per_token / self.bandwidth_bytes_per_s

    @property
    def recompute_fraction(self) -> float:
        """Nothing is prefilled again (the destination computes one token)."""
        return 0.0

    def stall_s(self, context_tokens: int) -> float:
        """Fixed cost plus the context's KV bytes over the link bandwidth."""
        return self.fixed_s + max(int(context_tokens), 0) * self.per_token_s

    def bytes_moved(self, context_tokens: int) -> int:
        """Estimated KV bytes of the context (the engine's real block layout may round up)."""
        return max(int(context_tokens), 0) * self.kv_bytes_per_token

    def with_kv_bytes_per_token(self, kv_bytes_per_token: int) -> KvTransferMigration:
        """A copy for a model with this many KV bytes per token."""
        return replace(self, kv_bytes_per_token=int(kv_bytes_per_token))


def kv_bytes_per_token(config: Mapping[str, Any], kv_cache_dtype: str | None = None) -> int:
    """2 x layers x kv_heads x head_dim x dtype bytes from a HF config.json dict (an estimate)."""
    layers = int(config["num_hidden_layers"])
    heads = int(config["num_attention_heads"])
    kv_heads = int(config.get("num_key_value_heads") or heads)
    head_dim = int(config.get("head_dim") or int(config["hidden_size"]) // heads)
    dtype = str(kv_cache_dtype or config.get("torch_dtype") or config.get("dtype") or "bfloat16")
    size = next((b for name, b in DTYPE_BYTES.items() if dtype.lower().startswith(name)), 2)
    return 2 * layers * kv_heads * head_dim * size


@dataclass(frozen=True)
class StallFit:
    """stall_s ~= fixed_s + per_token_s x L (+ per_token_pair_s x L^2 for recompute), by relative error."""

    fixed_s: float
    per_token_s: float
    per_token_pair_s: float  # 0 unless fitted with quadratic=True (a prefill's attention)
    mean_rel_error: float
    max_rel_error: float
    num_points: int

    def stall_s(self, context_tokens: float) -> float:
        """The fitted stall of one hop of this context."""
        L = float(context_tokens)
        return self.fixed_s + self.per_token_s * L + self.per_token_pair_s * L * L

    def bandwidth_bytes_per_s(self, kv_bytes_per_token: int) -> float | None:
        """The link bandwidth this slope implies for a model (None when the slope is 0)."""
        return kv_bytes_per_token / self.per_token_s if self.per_token_s > 0 else None


def fit_stall(context_tokens: Sequence[float], stall_s: Sequence[float], quadratic: bool = False) -> StallFit:
    """Fit fixed_s + per_token_s x L (+ L^2 term) to measured hop stalls (nonnegative, relative error).

    KV transfer: linear (bytes move linearly); recompute: quadratic=True (attention is quadratic).
    """
    x = np.asarray(context_tokens, dtype=np.float64)
    y = np.asarray(stall_s, dtype=np.float64)
    cols = 3 if quadratic else 2
    if x.shape != y.shape or x.size < cols or not (np.all(np.isfinite(y)) and np.all(y > 0)):
        raise ConfigError(f"fit_stall: need >= {cols} (context, stall > 0) pairs of equal length; "
                          f"got {x.size} and {y.size}")
    a = np.stack([np.ones_like(x), x] + ([x * x] if quadratic else []), axis=1)
    coef = fit_relative(a, y)
    rel = np.abs(a @ coef - y) / y
    pair = float(coef[2]) if quadratic else 0.0
    return StallFit(float(coef[0]), float(coef[1]), pair, float(rel.mean()), float(rel.max()), int(x.size))

