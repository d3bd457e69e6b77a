"""Synthetic length distributions: lognormal, bimodal (short/long mix), Zipf-like power law.

No timestamps (pair with an arrival process); randomness only from the rng given to load().
"""

from __future__ import annotations

from typing import Any

import numpy as np

from l4bench.errors import ConfigError
from l4bench.types import Request
from l4bench.workloads.base import (
    Columns,
    build_requests,
    check_max_model_len,
    check_num_requests,
    length_facts,
)

#: Requests drawn when num_requests is null.
DEFAULT_NUM_REQUESTS = 1000


def _positive(option: str, **values: float) -> None:
    for key, value in values.items():
        if not value > 0:
            raise ConfigError(f"{option}.{key}: must be > 0, got {value}")


class _SyntheticWorkload:
    """Common state: sample count, model length cap, facts recorded by load()."""

    name = "synthetic"
    has_timestamps = False
    is_synthesized = True

    def __init__(self, num_requests: int | None, max_model_len: int | None):
        check_num_requests(f"workload.{self.name}", num_requests)
        check_max_model_len(f"workload.{self.name}", max_model_len)
        self.num_requests = num_requests
        self.max_model_len = max_model_len
        self._facts: dict[str, Any] = {}

    @property
    def _n(self) -> int:
        return DEFAULT_NUM_REQUESTS if self.num_requests is None else self.num_requests

    def _sample(self, rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray, list[str] | None]:
        raise NotImplementedError

    def load(self, rng: np.random.Generator) -> list[Request]:
        """Draw num_requests (prompt, output) pairs; all arrivals are 0.0."""
        prompt, output, tags = self._sample(rng, self._n)
        cols = Columns(
            np.zeros(len(prompt)),
            np.rint(prompt).astype(np.int64),
            np.rint(output).astype(np.int64),
            tags=tags,
        )
        requests, num_truncated = build_requests(cols, self.max_model_len)
        self._facts = {**length_facts(requests), "num_truncated": num_truncated}
        return requests

    def describe(self) -> dict[str, Any]:
        """Facts for summary.json: parameters, synthesized flag, counts."""
        params = {k: v for k, v in vars(self).items() if not k.startswith("_")}
        return {"name": self.name, "is_synthesized": True, "has_timestamps": False, **params, **self._facts}


def _lognormal(rng: np.random.Generator, mean: float, sigma: float, n: int) -> np.ndarray:
    """Lognormal samples with the given mean (not median) and log-space sigma."""
    mu = np.log(mean) - sigma**2 / 2.0
    return rng.lognormal(mu, sigma, n)


class SyntheticLognormalWorkload(_SyntheticWorkload):
    """Prompt and output lengths each lognormal with a given mean and log-space sigma."""

    name = "synthetic_lognormal"

    def __init__(
        self,
        prompt_mean_tokens: float = 8192.0,
        prompt_sigma: float = 1.0,
        output_mean_tokens: float = 256.0,
        output_sigma: float = 0.5,
        num_requests: int | None = None,
        max_model_len: int | None = None,
    ):
        _positive(
            f"workload.{self.name}",
            prompt_mean_tokens=prompt_mean_tokens,
            prompt_sigma=prompt_sigma,
            output_mean_tokens=output_mean_tokens,
            output_sigma=output_sigma,
        )
        self.prompt_mean_tokens = prompt_mean_tokens
        self.prompt_sigma = prompt_sigma
        self.output_mean_tokens = output_mean_tokens
        self.output_sigma = output_sigma
        super().__init__(num_requests, max_model_len)

    def _sample(self, rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray, list[str] | None]:
        prompt = _lognormal(rng, self.prompt_mean_tokens, self.prompt_sigma, n)
        output = _lognormal(rng, self.output_mean_tokens, self.output_sigma, n)
        return prompt, output, None


class SyntheticBimodalWorkload(_SyntheticWorkload):
    """A mix of short and long prompts (e.g. 1k and 64k): the batch-mixing case L4 targets.

    Each prompt is short_tokens or long_tokens (with probability long_fraction), times a uniform
    jitter factor in [1 - jitter, 1 + jitter]; tag is "short" or "long".
    """

    name = "synthetic_bimodal"

    def __init__(
        self,
        short_tokens: int = 1024,
        long_tokens: int = 65536,
        long_fraction: float = 0.05,
        output_tokens: int = 256,
        jitter: float = 0.0,
        num_requests: int | None = None,
        max_model_len: int | None = None,
    ):
        option = f"workload.{self.name}"
        _positive(option, short_tokens=short_tokens, long_tokens=long_tokens, output_tokens=output_tokens)
        if not 0.0 <= long_fraction <= 1.0:
            raise ConfigError(f"{option}.long_fraction: must be in [0, 1], got {long_fraction}")
        if not 0.0 <= jitter < 1.0:
            raise ConfigError(f"{option}.jitter: must be in [0, 1), got {jitter}")
        self.short_tokens = short_tokens
        self.long_tokens = long_tokens
        self.long_fraction = long_fraction
        self.output_tokens = output_tokens
        self.jitter = jitter
        super().__init__(num_requests, max_model_len)

    def _sample(self, rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray, list[str] | None]:
        is_long = rng.random(n) < self.long_fraction
        base = np.where(is_long, self.long_tokens, self.short_tokens).astype(np.float64)
        prompt = base * rng.uniform(1.0 - self.jitter, 1.0 + self.jitter, n)
        output = np.full(n, float(self.output_tokens))
        return prompt, output, ["long" if x else "short" for x in is_long.tolist()]


class SyntheticZipfWorkload(_SyntheticWorkload):
    """Heavy-tailed prompts: density proportional to length**-exponent on [min_tokens, max_tokens].

    The continuous (bounded Pareto) form of a Zipf law: many short prompts, a few very long ones.
    Sampled by inverse CDF. Outputs are a fixed output_tokens.
    """

    name = "synthetic_zipf"

    def __init__(
        self,
        exponent: float = 1.2,
        min_tokens: int = 256,
        max_tokens: int = 131072,
        output_tokens: int = 256,
        num_requests: int | None = None,
        max_model_len: int | None = None,
    ):
        option = f"workload.{self.name}"
        _positive(option, exponent=exponent, min_tokens=min_tokens, output_tokens=output_tokens)
        if max_tokens <= min_tokens:
            raise ConfigError(f"{option}.max_tokens: must be > min_tokens ({min_tokens}), got {max_tokens}")
        self.exponent = exponent
        self.min_tokens = min_tokens
        self.max_tokens = max_tokens
        self.output_tokens = output_tokens
        super().__init__(num_requests, max_model_len)

    def _sample(self, rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray, list[str] | None]:
        u = rng.random(n)
        lo, hi, a = float(self.min_tokens), float(self.max_tokens), self.exponent
        if abs(a - 1.0) < 1e-9:
            prompt = lo * (hi / lo) ** u
        else:
            e = 1.0 - a
            prompt = (lo**e + u * (hi**e - lo**e)) ** (1.0 / e)
        return prompt, np.full(n, float(self.output_tokens)), None
