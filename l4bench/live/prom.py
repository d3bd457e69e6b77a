"""Prometheus text exposition of the router's state, written by hand (no client library needed)."""

from __future__ import annotations

import math
import re
from typing import Any

from l4bench.live.router_state import RouterState

_PREFIX = "l4bench_router_"
_NAME_OK = re.compile(r"[^a-zA-Z0-9_]")

#: Per-instance gauges: (metric name, help text, InstanceView attribute).
INSTANCE_GAUGES = (
    ("instance_running_requests", "Requests streaming tokens, per instance.", "num_running"),
    ("instance_waiting_requests", "Requests waiting for a first token, per instance.", "num_waiting"),
    ("instance_context_tokens", "Sum of running contexts, per instance.", "num_context_tokens"),
    ("instance_max_context_tokens", "Longest running context, per instance.", "max_context_tokens"),
    ("instance_healthy", "1 when the instance takes requests.", "is_healthy"),
)


def _num(value: float) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("+Inf" if value > 0 else "-Inf")
    return repr(float(value)) if isinstance(value, float) else str(int(value))


class _Writer:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def metric(self, name: str, kind: str, help_text: str, samples: list[tuple[str, float]]) -> None:
        full = _PREFIX + name
        self.lines.append(f"# HELP {full} {help_text}")
        self.lines.append(f"# TYPE {full} {kind}")
        for labels, value in samples:
            self.lines.append(f"{full}{labels} {_num(value)}")


def _scheduler_samples(snapshot: Any) -> dict[str, list[tuple[str, float]]]:
    """Scalars and lists of scalars of a scheduler snapshot, by metric name."""
    out: dict[str, list[tuple[str, float]]] = {}
    if not isinstance(snapshot, dict):
        return out
    for key, value in snapshot.items():
        name = _NAME_OK.sub("_", str(key))
        if isinstance(value, (int, float)):
            out[name] = [("", float(value))]
        elif isinstance(value, (list, tuple)):
            items = [
                (f'{{index="{i}"}}', float(x)) for i, x in enumerate(value) if isinstance(x, (int, float))
            ]
            if items:
                out[name] = items
    return out


def render_metrics(state: RouterState, snapshot: Any = None) -> str:
    """The /metrics body: router totals, per-instance load and health, scheduler snapshot gauges."""
    w = _Writer()
    c = state.counters
    w.metric("requests_total", "counter", "Client requests accepted for routing.", [("", c.requests)])
    w.metric("requests_completed_total", "counter", "Requests finished without error.", [("", c.completed)])
    w.metric("requests_failed_total", "counter", "Requests that ended with an error.", [("", c.failed)])
    w.metric(
        "requests_rejected_total",
        "counter",
        "Requests refused with a 4xx before routing.",
        [("", c.rejected)],
    )
    w.metric(
        "client_disconnects_total", "counter", "Requests whose client went away.", [("", c.disconnected)]
    )
    moves = [
        ('{kind="bound"}', c.hops_bound),
        ('{kind="rebalance"}', c.migrations),
        ('{kind="failover"}', c.failovers),
    ]
    w.metric("migrations_total", "counter", "Hops to a next backend request, by cause.", moves)
    w.metric(
        "recomputed_tokens_total",
        "counter",
        "Context tokens prefilled again by hops.",
        [("", c.recomputed_tokens)],
    )
    kv = [('{outcome="transferred"}', c.kv_hops), ('{outcome="fallback"}', c.kv_fallbacks)]
    w.metric("kv_transfer_hops_total", "counter", "Bound hops by KV transfer, by outcome.", kv)
    w.metric("kv_transfer_bytes_estimate_total", "counter",
             "Estimated KV bytes pulled by hops (context tokens x KV bytes per token).", [("", c.kv_bytes_estimate)])
    w.metric("generated_tokens_total", "counter", "Tokens streamed to clients.", [("", c.generated_tokens)])
    w.metric(
        "load_poll_misses_total", "counter", "Engine load polls that timed out or were unreadable.", [("", c.poll_misses)]
    )
    w.metric("routed_while_down_total", "counter",
             "Hops sent to a failed-down instance because none was healthy.", [("", c.routed_while_down)])
    w.metric(
        "token_events_total",
        "counter",
        "Token events received from engines (each is one SSE chunk to a streaming client).",
        [("", c.token_events)],
    )
    w.metric("inflight_requests_total", "gauge", "Requests being served.", [("", len(state.flights))])
    views = state.views()
    per = [(f'{{instance="{v.instance_id}"}}', v) for v in views]
    for name, help_text, attr in INSTANCE_GAUGES:
        w.metric(name, "gauge", help_text, [(lb, getattr(v, attr)) for lb, v in per])
    loads = [(f'{{instance="{i}"}}', ld) for i, ld in sorted(state.loads.items())]
    w.metric(
        "engine_running_requests",
        "gauge",
        "Engine-reported running requests.",
        [(lb, ld.num_running) for lb, ld in loads],
    )
    w.metric(
        "engine_waiting_requests",
        "gauge",
        "Engine-reported waiting requests.",
        [(lb, ld.num_waiting) for lb, ld in loads],
    )
    w.metric(
        "engine_kv_usage_frac",
        "gauge",
        "Engine-reported KV cache usage (0..1).",
        [(lb, ld.kv_usage_frac) for lb, ld in loads],
    )
    for name, samples in _scheduler_samples(snapshot).items():
        w.metric("scheduler_" + name, "gauge", "From the scheduler's snapshot().", samples)
    return "\n".join(w.lines) + "\n"
