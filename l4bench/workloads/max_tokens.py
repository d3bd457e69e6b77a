"""The client's max_tokens: an upper bound on each request's output, never its true length.

A router (and so every scheduler) sees the max_tokens the client sends, not where the engine will
stop. Each rule here sets ``Request.max_tokens`` from what a client could know before sending:
the model's context limit, a cap fixed for the dataset, or (only when asked, as an oracle
ablation) the true length. ``assign(requests, max_model_len)`` returns new Requests; a cap below
a request's true length also shortens that output (the engine stops at the cap).
"""

from __future__ import annotations

from dataclasses import replace

from l4bench.errors import ConfigError
from l4bench.types import Request


class ModelMaxTokens:
    """max_tokens = max_model_len - prompt_tokens: what a client that sets no cap is allowed."""

    name = "model_max"

    def assign(self, requests: list[Request], max_model_len: int) -> list[Request]:
        """Requests with max_tokens set to the model's room after the prompt."""
        return [replace(r, max_tokens=max(max_model_len - r.prompt_tokens, 1)) for r in requests]

    def describe(self) -> dict[str, object]:
        """Parameters for summary.json."""
        return {"rule": self.name}


class FixedMaxTokens:
    """max_tokens = one cap for every request (cap_tokens; null: the workload's longest output).

    The cap never exceeds the model's room after the prompt; outputs longer than the cap are cut
    to it (the engine would stop there).
    """

    name = "fixed"

    def __init__(self, cap_tokens: int | None = None):
        if cap_tokens is not None and (not isinstance(cap_tokens, int) or cap_tokens < 1):
            raise ConfigError(f"max_tokens.cap_tokens: must be an int >= 1 or null, got {cap_tokens!r}")
        self.cap_tokens = cap_tokens

    def assign(self, requests: list[Request], max_model_len: int) -> list[Request]:
        """Requests with max_tokens = the cap (outputs above it cut to it)."""
        if not requests:
            return []
        cap = self.cap_tokens if self.cap_tokens is not None else max(r.output_tokens for r in requests)
        out = []
        for r in requests:
            m = max(min(cap, max_model_len - r.prompt_tokens), 1)
            out.append(replace(r, max_tokens=m, output_tokens=min(r.output_tokens, m)))
        return out

    def describe(self) -> dict[str, object]:
        """Parameters for summary.json."""
        return {"rule": self.name, "cap_tokens": self.cap_tokens}


class TrueLengthMaxTokens:
    """ORACLE: max_tokens = the true output length. Only for an explicit ablation; never a default."""

    name = "true_length"

    def assign(self, requests: list[Request], max_model_len: int) -> list[Request]:
        """Requests whose max_tokens tells the router exactly where the engine stops."""
        return [replace(r, max_tokens=r.output_tokens) for r in requests]

    def describe(self) -> dict[str, object]:
        """Parameters for summary.json."""
        return {"rule": self.name, "oracle": True}
