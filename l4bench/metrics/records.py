"""Raw per-request timings: the one record schema written by the simulator and by live runs.

Times are absolute seconds on the run's clock (arrival_s of the first request is ~0). Metrics
(TTFT, TPOT, ITL, E2E) are derived later from these raw fields, never stored instead of them.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(slots=True)
class RequestRecord:
    """What happened to one request."""

    request_id: int
    scheduler: str
    arrival_s: float
    prompt_tokens: int
    output_tokens: int  # requested (max_tokens)
    tag: str = ""
    num_generated_tokens: int = 0
    first_token_s: float | None = None
    finish_s: float | None = None
    token_times_s: list[float] = field(default_factory=list)  # one per generated token
    instances: list[int] = field(default_factory=list)  # instance of each hop, in order
    recomputed_tokens: int = 0  # tokens prefilled again because of hops / preemption
    stall_s: float = 0.0  # time between leaving one instance and resuming on the next
    hop_modes: list[str] = field(default_factory=list)  # per hop: kv_transfer | recompute | recompute_fallback
    hop_kv_bytes: list[int] = field(default_factory=list)  # per hop: KV bytes moved (estimate; 0 = recompute)
    hop_stalls_s: list[float] = field(default_factory=list)  # per hop: leaving the source -> next token (NaN: none)
    num_preemptions: int = 0
    error: str | None = None  # None when completed

    @property
    def num_hops(self) -> int:
        """Instance changes after the first placement."""
        return max(0, len(self.instances) - 1)

    @property
    def is_completed(self) -> bool:
        """Finished with every requested token and no error."""
        return self.error is None and self.finish_s is not None

    def to_row(self) -> dict[str, Any]:
        """A flat dict for a DataFrame row (lists stay lists -> parquet list columns)."""
        row = asdict(self)
        row["num_hops"] = self.num_hops
        return row


@dataclass(slots=True)
class RunResult:
    """Everything one scheduler's run produced, before metrics."""

    scheduler: str
    records: list[RequestRecord]
    duration_s: float  # first arrival to last finish
    batch_spread: list[float] = field(default_factory=list)  # per instance: mean length spread (1 - mean/max context) of its decode batches
    timeline: list[dict[str, Any]] = field(default_factory=list)  # scheduler snapshots over time
    extra: dict[str, Any] = field(default_factory=dict)  # engine-specific facts (versions, wall time)
