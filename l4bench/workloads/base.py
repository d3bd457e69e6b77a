"""Shared pieces of every workload: the Workload protocol and turning raw columns into Requests."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import numpy as np

from l4bench.errors import ConfigError
from l4bench.types import PREFIX_BLOCK_TOKENS, Request


@runtime_checkable
class Workload(Protocol):
    """What the CLI needs from a workload: load() plus facts for summary.json."""

    name: str
    has_timestamps: bool
    is_synthesized: bool

    def load(self, rng: np.random.Generator) -> list[Request]:
        """Build the requests (ids 0..n-1 in arrival order, arrival_s relative to the first)."""
        ...

    def describe(self) -> dict[str, Any]:
        """Facts for summary.json (source file, sha256, synthesized flag, counts)."""
        ...


@dataclass(frozen=True, slots=True)
class Columns:
    """Raw per-request columns of a workload before they become Requests."""

    arrival_s: np.ndarray  # float64; zeros when the source has no timestamps
    prompt_tokens: np.ndarray  # int64
    output_tokens: np.ndarray  # int64
    hash_ids: Sequence[Sequence[int]] | None = None
    tags: Sequence[str] | None = None
    texts: Sequence[str | None] | None = None


def check_choice(option: str, value: object, choices: Sequence[object]) -> None:
    """Raise ConfigError unless value is one of choices."""
    if value not in choices:
        valid = ", ".join(str(c) for c in choices)
        raise ConfigError(f"{option}: unknown value {value!r}; valid: {valid}")


def check_num_requests(option: str, num_requests: int | None) -> None:
    """num_requests must be None (all) or a positive int."""
    if num_requests is not None and (not isinstance(num_requests, int) or num_requests <= 0):
        raise ConfigError(f"{option}.num_requests: must be a positive int or null, got {num_requests!r}")


def check_max_model_len(option: str, max_model_len: int | None) -> None:
    """max_model_len must be None or at least 2 (one prompt and one output token)."""
    if max_model_len is not None and (not isinstance(max_model_len, int) or max_model_len < 2):
        raise ConfigError(f"{option}.max_model_len: must be an int >= 2 or null, got {max_model_len!r}")


def fit_lengths(
    prompt: np.ndarray, output: np.ndarray, max_model_len: int | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Clamp to >= 1 token each; truncate prompts so prompt + output <= max_model_len.

    Returns (prompt, output, was_truncated). An output alone longer than the model allows is
    cut to max_model_len - 1 so at least one prompt token remains.
    """
    prompt = np.maximum(np.asarray(prompt, dtype=np.int64), 1)
    output = np.maximum(np.asarray(output, dtype=np.int64), 1)
    if max_model_len is None:
        return prompt, output, np.zeros(len(prompt), dtype=bool)
    output = np.minimum(output, max_model_len - 1)
    limit = max_model_len - output
    truncated = prompt > limit
    return np.minimum(prompt, limit), output, truncated


def build_requests(cols: Columns, max_model_len: int | None) -> tuple[list[Request], int]:
    """Sort by arrival (stable), make arrivals relative, fit lengths, number ids 0..n-1.

    Returns the requests and how many prompts were truncated to fit max_model_len.
    """
    order = np.argsort(cols.arrival_s, kind="stable")
    arrival = np.asarray(cols.arrival_s, dtype=np.float64)[order]
    if len(arrival):
        arrival = arrival - arrival[0]
    prompt, output, truncated = fit_lengths(
        np.asarray(cols.prompt_tokens)[order], np.asarray(cols.output_tokens)[order], max_model_len
    )
    requests = []
    for new_id, old in enumerate(order.tolist()):
        p = int(prompt[new_id])
        hashes: tuple[int, ...] = ()
        if cols.hash_ids is not None:
            num_blocks = -(-p // PREFIX_BLOCK_TOKENS)
            hashes = tuple(int(h) for h in cols.hash_ids[old][:num_blocks])
        requests.append(
            Request(
                request_id=new_id,
                arrival_s=float(arrival[new_id]),
                prompt_tokens=p,
                output_tokens=int(output[new_id]),
                prefix_hash_ids=hashes,
                prompt_text=None if cols.texts is None else cols.texts[old],
                tag="" if cols.tags is None else cols.tags[old],
            )
        )
    return requests, int(truncated.sum())


def length_facts(requests: Sequence[Request]) -> dict[str, Any]:
    """Counts and mean lengths for describe()."""
    if not requests:
        return {"num_requests": 0}
    prompt = np.fromiter((r.prompt_tokens for r in requests), dtype=np.int64)
    output = np.fromiter((r.output_tokens for r in requests), dtype=np.int64)
    return {
        "num_requests": len(requests),
        "mean_prompt_tokens": float(prompt.mean()),
        "max_prompt_tokens": int(prompt.max()),
        "mean_output_tokens": float(output.mean()),
        "duration_s": requests[-1].arrival_s,
    }
