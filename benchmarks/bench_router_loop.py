"""Event-loop stalls of l4bench's router while L4 re-solves its plan (64 instances x 64 bins).

The router runs in this process with an L4Scheduler over N endpoints (all on one zero-cost fake
backend process), its length window pre-filled with a Mooncake-like window (lognormal prompts,
median 7k tokens; 0.8 req/s per instance over 120 s, as benchmarks/bench_dp_grid.py) so that every
re-solve prices a full K x N plan. A client process streams requests through it at --rate; a 1 ms
ticker on the router's event loop records how late each tick fires. Three modes:
  inline:  the old path: the re-solve runs inside route() on the event loop;
  thread:  the re-solve runs in a worker thread (l4bench/live/resolver.py, executor="thread");
  process: the re-solve runs in a worker process (the router's default).
Reported per mode: worst and p99.9 tick lateness while a re-solve ran and outside re-solves (the
machine's own noise), re-solve count and time, and the client's latency. Pinning (unless --no-pin):
the router (with its solve thread) on CPU 1, client and backend on CPU 0.

    python benchmarks/bench_router_loop.py [--instances 64] [--bins 64] [--duration-s 20]
        [--rate 200] [--json results/bench/router_loop_stall.json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

from bench_router import free_port, machine_facts, open_loop, spawn, stop, wait_ready  # noqa: E402

MAX_MODEL_LEN = 131072
TICK_S = 0.001


def make_l4(cluster: Any, **kwargs: Any) -> Any:
    """L4Scheduler over cluster with Llama-3.1-8B on H100 (analytic perf model); kwargs: its knobs."""
    from bench_dp_grid import _specs

    from l4bench.l4 import L4Scheduler
    from l4bench.perf.analytic import AnalyticPerfModel

    model, gpu = _specs()
    return L4Scheduler(cluster, AnalyticPerfModel(model, gpu), np.random.default_rng(0), **kwargs)


def make_scheduler(num_instances: int, num_bins: int, resolve_interval_s: float) -> Any:
    """L4 over num_instances with num_bins bins, its window pre-filled with a full Mooncake-like window."""
    from bench_dp_grid import RATE_PER_INSTANCE, WINDOW_S, _specs, _window

    from l4bench.perf.analytic import AnalyticPerfModel
    from l4bench.types import ClusterSpec

    kv = AnalyticPerfModel(*_specs()).kv_capacity_tokens
    cluster = ClusterSpec(num_instances, MAX_MODEL_LEN, kv, 256, 8192)
    sched = make_l4(
        cluster, num_bins=num_bins, window_s=WINDOW_S, resolve_interval_s=resolve_interval_s,
        min_history_requests=16, rebalance_interval_s=None,
    )  # fmt: skip
    prompts, outputs = _window(num_instances, np.random.default_rng(num_instances))
    now = time.monotonic()
    for i, (p, o) in enumerate(zip(prompts.tolist(), outputs.tolist(), strict=True)):
        rid = -(i + 1)  # negative ids never collide with the router's
        sched.hist.add_arrival(rid, p, now - WINDOW_S + i / (RATE_PER_INSTANCE * num_instances))
        sched.hist.add_finish(rid, o)
    return sched


class Ticker:
    """Fires every TICK_S on the event loop; records each tick's lateness and when it fired."""

    def __init__(self) -> None:
        self.at_s: list[float] = []
        self.late_s: list[float] = []

    async def run(self) -> None:
        """Tick forever."""
        while True:
            due = time.perf_counter() + TICK_S
            await asyncio.sleep(TICK_S)
            now = time.perf_counter()
            self.at_s.append(now)
            self.late_s.append(now - due)


def timed_solves(sched: Any) -> list[tuple[float, float]]:
    """Wrap sched.solve to record (start, end) perf_counter times of every solve (either mode)."""
    spans: list[tuple[float, float]] = []
    solve = sched.solve

    def wrapped(snapshot: Any) -> Any:
        t0 = time.perf_counter()
        try:
            return solve(snapshot)
        finally:
            spans.append((t0, time.perf_counter()))

    sched.solve = wrapped
    return spans


def stall_stats(ticker: Ticker, spans: list[tuple[float, float]]) -> dict[str, float]:
    """Tick lateness (ms) during solves (a tick waiting on a solve fires at or after its end) and outside."""
    at, late = np.array(ticker.at_s), np.array(ticker.late_s) * 1e3
    during = np.zeros(len(at), dtype=bool)
    for t0, t1 in spans:  # a tick is "during" if it was due while the solve ran
        due = at - late / 1e3
        during |= (due <= t1) & (at >= t0)
    out: dict[str, float] = {"ticks": float(len(at)), "ticks_during_solves": float(during.sum())}
    for name, mask in (("during_solves", during), ("outside_solves", ~during)):
        v = late[mask]
        out[f"max_lag_{name}_ms"] = float(v.max()) if len(v) else 0.0
        out[f"p999_lag_{name}_ms"] = float(np.percentile(v, 99.9)) if len(v) else 0.0
    return out


async def run_mode(mode: str, a: argparse.Namespace, backend_url: str) -> dict[str, Any]:
    """One router with L4 over N endpoints of the fake backend, a client process, the ticker."""
    from l4bench.engines.vllm import VllmEngine
    from l4bench.live.endpoint import Endpoint
    from l4bench.live.resolver import OffLoopResolver
    from l4bench.live.router import RouterConfig, RouterServer

    sched = make_scheduler(a.instances, a.bins, a.resolve_interval_s)
    endpoints = [Endpoint(i, backend_url) for i in range(a.instances)]
    cfg = RouterConfig("fake-model", MAX_MODEL_LEN, load_poll_interval_s=a.poll_interval_s)
    router = RouterServer(endpoints, sched, VllmEngine(), cfg)
    if mode == "inline":  # what the router did before: no worker, re-solve inside route()
        router.resolver = None
        sched.resolve_inline = True
        timed = timed_solves(sched)
    else:  # the router's default worker is a process; "thread" is the other choice
        if mode == "thread":
            router.resolver.close()
            router.resolver = OffLoopResolver(sched, executor="thread")
    port = free_port()
    url = await router.start("127.0.0.1", port)
    ticker = Ticker()
    tick_task = asyncio.create_task(ticker.run())
    cmd = [sys.executable, __file__, "--client", url + "/v1/completions", "--rate", str(a.rate),
           "--duration-s", str(a.duration_s), "--max-tokens", str(a.max_tokens)]  # fmt: skip
    if a.no_client:  # re-solves alone: no requests, only the ticker and the solves
        end = time.perf_counter() + a.duration_s
        while time.perf_counter() < end:  # inline: the due check a route() would make, every 10 ms
            if mode == "inline":
                sched._maybe_resolve(time.monotonic())
            await asyncio.sleep(0.01)
        out = json.dumps({"e2e_p99_ms": float("nan"), "errors": 0}).encode()
    else:
        proc = await asyncio.create_subprocess_exec(
            *cmd, stdout=asyncio.subprocess.PIPE, env={**os.environ, "PYTHONPATH": str(REPO)}
        )
        if a.pin:
            os.sched_setaffinity(proc.pid, {0})
        out, _ = await proc.communicate()
    tick_task.cancel()
    spans = list(timed if mode == "inline" else router.resolver.spans_s)
    await router.stop()
    client = json.loads(out.decode().strip().splitlines()[-1])
    solve_ms = [(t1 - t0) * 1e3 for t0, t1 in spans]
    return {
        "mode": mode,
        **stall_stats(ticker, spans),
        "num_solves": len(spans),
        "solve_median_ms": float(np.median(solve_ms)) if solve_ms else None,
        "solve_max_ms": float(np.max(solve_ms)) if solve_ms else None,
        "client": client,
    }


def client_main(a: argparse.Namespace) -> None:
    """--client: stream --rate req/s for --duration-s to the URL; print the latency JSON."""
    body = {"model": "fake-model", "prompt": list(range(1, 33)), "max_tokens": a.max_tokens, "stream": True}
    print(json.dumps(asyncio.run(open_loop(a.client, a.rate, a.duration_s, json.dumps(body).encode(), True))))


def main() -> None:
    """Both modes against one fake backend; prints the table (and JSON with --json)."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--instances", type=int, default=64)
    p.add_argument("--bins", type=int, default=64)
    p.add_argument("--rate", type=float, default=200.0)
    p.add_argument("--duration-s", type=float, default=20.0)
    p.add_argument("--resolve-interval-s", type=float, default=0.5)
    p.add_argument("--max-tokens", type=int, default=8)
    p.add_argument("--poll-interval-s", type=float, default=0.5, help="router's load poll of every instance")
    p.add_argument("--modes", nargs="+", default=["inline", "thread", "process"], choices=["inline", "thread", "process"])
    p.add_argument("--no-pin", action="store_true")
    p.add_argument("--no-client", action="store_true", help="no requests: the re-solves' own effect on the loop")
    p.add_argument("--nice", type=int, default=None,
                   help="CPU priority of this benchmark and its children (e.g. -10 on a shared machine; needs root)")
    p.add_argument("--json", type=Path, default=None)
    p.add_argument("--client", default=None, help=argparse.SUPPRESS)
    a = p.parse_args()
    if a.client:
        client_main(a)
        return
    if a.nice is not None:
        os.setpriority(os.PRIO_PROCESS, 0, a.nice)  # children (backend, client) inherit it
    facts_before = machine_facts()
    a.pin = not a.no_pin and (os.cpu_count() or 1) >= 2
    if a.pin:  # the router (this process) on CPU 1; client and backend on CPU 0
        os.sched_setaffinity(0, {1})
    bport = free_port()
    backend = spawn([sys.executable, "-m", "l4bench.live.fake_backend", "--port", str(bport)], {0} if a.pin else None)
    url = f"http://127.0.0.1:{bport}"
    try:
        wait_ready(url + "/health")
        rows = [asyncio.run(run_mode(m, a, url)) for m in a.modes]
    finally:
        stop(backend)
    print(f"L4 re-solves: {a.instances} instances x {a.bins} bins, every {a.resolve_interval_s} s; "
          f"client {a.rate:.0f} req/s streaming for {a.duration_s:.0f} s")  # fmt: skip
    print(f"{'mode':8s} {'solves':>6s} {'solve ms':>9s} {'max lag in solve':>17s} {'max lag outside':>16s} "
          f"{'p99.9 outside':>14s} {'e2e p99':>8s} {'err':>4s}  (ms)")  # fmt: skip
    for r in rows:
        print(f"{r['mode']:8s} {r['num_solves']:6d} {r['solve_median_ms'] or 0:9.1f} "
              f"{r['max_lag_during_solves_ms']:17.2f} {r['max_lag_outside_solves_ms']:16.2f} "
              f"{r['p999_lag_outside_solves_ms']:14.2f} {r['client']['e2e_p99_ms']:8.2f} {r['client']['errors']:4.0f}")  # fmt: skip
    if a.json is not None:
        doc = {"rows": rows, "args": {k: v for k, v in vars(a).items() if k != "json"}, "machine_before": facts_before, "machine_after": machine_facts()}
        a.json.write_text(json.dumps(doc, indent=2))
        print(a.json)


if __name__ == "__main__":
    main()
