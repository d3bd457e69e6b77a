"""Fault injection for live runs: kill one instance mid-replay and account for every request in flight."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from typing import Any

from l4bench.metrics.records import RequestRecord
from l4bench.types import Request


@dataclass(frozen=True)
class FaultPlan:
    """Kill instance `instance` at `at_s` seconds after the replay starts (SIGKILL of its process group)."""

    instance: int
    at_s: float


_URL = re.compile(r"https?://[^\s)]+")


def error_reason(error: str) -> str:
    """A short class of an error string for counting: URLs dropped, first two ':'-separated parts."""
    parts = _URL.sub("<url>", error).split(":")
    return ":".join(parts[:2]).strip()[:100]


def fault_report(
    requests: list[Request], records: list[RequestRecord], plan: FaultPlan, kill: dict[str, Any]
) -> dict[str, Any]:
    """What happened to the requests in flight at the kill: continued elsewhere, failed (by reason), lost."""
    by_id = {r.request_id: r for r in records}
    in_flight = [int(i) for i in kill["in_flight"]]
    done = [i for i in in_flight if i in by_id and by_id[i].is_completed]
    moved = [
        i for i in done if plan.instance in by_id[i].instances and by_id[i].instances[-1] != plan.instance
    ]
    failed = [i for i in in_flight if i in by_id and not by_id[i].is_completed]
    reasons = Counter(error_reason(by_id[i].error or "no error, not finished") for i in failed)
    all_failed = Counter(error_reason(r.error) for r in records if r.error is not None)
    return {
        "killed_instance": plan.instance,
        "kill_s": round(float(kill["kill_s"]), 3),
        "in_flight_at_kill": len(in_flight),
        "in_flight_completed": len(done),
        "continued_after_hop": len(moved),
        "in_flight_failed": len(failed),
        "in_flight_failed_reasons": dict(reasons),
        "failed_total": sum(all_failed.values()),
        "failed_total_reasons": dict(all_failed),
        "lost": len({r.request_id for r in requests} - set(by_id)),
    }
