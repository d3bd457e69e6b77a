"""Small helpers shared by the baseline schedulers: deterministic arg-min and parameter checks."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from l4bench.errors import ConfigError
from l4bench.types import InstanceView


def pick_min(
    views: Sequence[InstanceView], key: Callable[[InstanceView], float | tuple[float, ...]]
) -> InstanceView:
    """The view with the smallest key; ties go to the lowest instance_id (deterministic)."""
    if not views:
        raise ValueError("pick_min: no instances to choose from")
    best = views[0]
    best_key = (key(best), best.instance_id)
    for v in views[1:]:
        k = (key(v), v.instance_id)
        if k < best_key:
            best, best_key = v, k
    return best


def tokens_then_requests(v: InstanceView) -> tuple[float, ...]:
    """Load key: resident + queued tokens, then request count."""
    return (v.num_tokens, v.num_requests)


def requests_then_tokens(v: InstanceView) -> tuple[float, ...]:
    """Load key: running + waiting requests, then tokens."""
    return (v.num_requests, v.num_tokens)


def least_tokens_view(views: Sequence[InstanceView]) -> InstanceView:
    """The instance holding the fewest tokens (ties: fewer requests, then lowest id)."""
    return pick_min(views, tokens_then_requests)


def check_positive(option: str, key: str, value: float, *, allow_zero: bool = False) -> None:
    """Raise ConfigError unless value > 0 (or >= 0 with allow_zero)."""
    ok = value >= 0 if allow_zero else value > 0
    if not ok:
        bound = ">= 0" if allow_zero else "> 0"
        raise ConfigError(f"{option}.{key}: got {value!r}; valid: a number {bound}")


def check_choice(option: str, key: str, value: str, choices: Sequence[str]) -> None:
    """Raise ConfigError unless value is one of choices."""
    if value not in choices:
        raise ConfigError(f"{option}.{key}: got {value!r}; valid: {', '.join(choices)}")
