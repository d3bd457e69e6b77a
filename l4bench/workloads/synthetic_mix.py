"""A mix of request classes, each with uniform prompt and output length ranges.

The live per-backend comparisons (issue 15) need workloads L4 was not tuned on, such as
"10% 16k-32k prompts, the rest 0.5k-2k, outputs 128-512" (conf/workload/bimodal_ranges.yaml) or
"short chat prompts with 2k-8k outputs beside long-prompt requests" (conf/workload/long_outputs.yaml).
Each request draws its class with the given probabilities, then its prompt and output length
uniformly (integers, both ends included) from that class's ranges; its tag is the class name.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from l4bench.errors import ConfigError
from l4bench.workloads.synthetic import _SyntheticWorkload


def _range(option: str, value: Any) -> tuple[int, int]:
    """[lo, hi] with 1 <= lo <= hi, or one line naming the option."""
    if not isinstance(value, Sequence) or isinstance(value, str) or len(value) != 2:
        raise ConfigError(f"{option}: must be [lo, hi], got {value!r}")
    try:
        lo, hi = int(value[0]), int(value[1])
    except (TypeError, ValueError):
        raise ConfigError(f"{option}: must be two integers, got {value!r}") from None
    if not 1 <= lo <= hi:
        raise ConfigError(f"{option}: need 1 <= lo <= hi, got [{lo}, {hi}]")
    return lo, hi


class SyntheticMixWorkload(_SyntheticWorkload):
    """Classes {name, fraction, prompt_tokens: [lo, hi], output_tokens: [lo, hi]}; fractions sum to 1."""

    name = "synthetic_mix"

    def __init__(
        self,
        classes: Sequence[Mapping[str, Any]],
        num_requests: int | None = None,
        max_model_len: int | None = None,
    ):
        option = f"workload.{self.name}.classes"
        if not isinstance(classes, Sequence) or isinstance(classes, str) or not classes:
            raise ConfigError(f"{option}: must be a non-empty list of classes")
        parsed = []
        for i, c in enumerate(classes):
            where = f"{option}[{i}]"
            if not isinstance(c, Mapping):
                raise ConfigError(f"{where}: must be a mapping, got {c!r}")
            extra = set(c) - {"name", "fraction", "prompt_tokens", "output_tokens"}
            if extra:
                raise ConfigError(f"{where}: unknown keys {sorted(extra)}")
            fraction = float(c.get("fraction", -1))
            if not 0.0 <= fraction <= 1.0:
                raise ConfigError(f"{where}.fraction: must be in [0, 1], got {c.get('fraction')!r}")
            parsed.append({"name": str(c.get("name", f"class{i}")), "fraction": fraction,
                           "prompt_tokens": list(_range(f"{where}.prompt_tokens", c.get("prompt_tokens"))),
                           "output_tokens": list(_range(f"{where}.output_tokens", c.get("output_tokens")))})
        total = sum(c["fraction"] for c in parsed)
        if abs(total - 1.0) > 1e-6:
            raise ConfigError(f"{option}: fractions must sum to 1, got {total:g}")
        self.classes = parsed
        super().__init__(num_requests, max_model_len)

    def _sample(self, rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray, list[str] | None]:
        p = np.array([c["fraction"] for c in self.classes])
        which = rng.choice(len(self.classes), size=n, p=p / p.sum())
        lo_p, hi_p = (np.array([c["prompt_tokens"][k] for c in self.classes]) for k in (0, 1))
        lo_o, hi_o = (np.array([c["output_tokens"][k] for c in self.classes]) for k in (0, 1))
        prompt = rng.integers(lo_p[which], hi_p[which] + 1)
        output = rng.integers(lo_o[which], hi_o[which] + 1)
        return prompt.astype(np.float64), output.astype(np.float64), [self.classes[k]["name"] for k in which]
