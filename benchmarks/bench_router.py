"""Router overhead: added latency of l4bench's router (and of vllm-router) in front of a zero-cost backend.

An open-loop client sends `--rate` req/s for `--duration-s` seconds to the fake backend directly, then
through l4bench's router, then through vllm-router, all in front of the same fake backend process
(`l4bench.live.fake_backend`, tokens streamed immediately). Added latency = percentile via the router
minus the same percentile direct. Loopback only. Pinning (unless --no-pin): client on CPU 0, router
under test on CPU 1, backend on CPU 2 (or CPU 0 on a 2-core machine).

Run: .venv/bin/python benchmarks/bench_router.py --rate 500 --duration-s 10
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import aiohttp
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
VLLM_ROUTER = os.environ.get("VLLM_ROUTER_BIN", "/work/venv-vllm/bin/vllm-router")


def free_port() -> int:
    """A free TCP port on loopback."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_ready(url: str, timeout_s: float = 60.0) -> None:
    """Poll url until it answers 200."""
    import urllib.request

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=1) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.2)
    raise TimeoutError(f"{url} not ready after {timeout_s} s")


def spawn(cmd: list[str], cpus: set[int] | None) -> subprocess.Popen[bytes]:
    """Start a server process, optionally pinned to cpus."""
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    if cpus:
        os.sched_setaffinity(proc.pid, cpus)
    return proc


def stop(proc: subprocess.Popen[bytes]) -> None:
    """Terminate a server process started here."""
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


async def one(s: aiohttp.ClientSession, url: str, payload: bytes, stream: bool) -> tuple[int, float, float]:
    """(status, ttft_s, e2e_s) of one request."""
    t0 = time.perf_counter()
    first = None
    async with s.post(url, data=payload, headers={"Content-Type": "application/json"}) as r:
        if stream:
            async for _ in r.content.iter_any():
                if first is None:
                    first = time.perf_counter()
        else:
            await r.read()
    end = time.perf_counter()
    return r.status, (first or end) - t0, end - t0


async def open_loop(
    url: str, rate: float, duration_s: float, payload: bytes, stream: bool
) -> dict[str, float]:
    """Send rate req/s for duration_s (after a 1 s warm-up); latency percentiles in ms."""
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as s:
        for phase_s in (1.0, duration_s):
            n = int(rate * phase_s)
            tasks = []
            t0 = time.perf_counter()
            for i in range(n):
                delay = t0 + i / rate - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
                tasks.append(asyncio.create_task(one(s, url, payload, stream)))
            sent_s = time.perf_counter() - t0
            results = await asyncio.gather(*tasks, return_exceptions=True)
    ok = [r for r in results if isinstance(r, tuple) and r[0] == 200]
    bad = [repr(r)[:80] if not isinstance(r, tuple) else f"HTTP {r[0]}" for r in results if r not in ok]
    if bad:
        print(f"{url}: {len(bad)} errors, e.g. {sorted(set(bad))[:3]}", file=sys.stderr)
    ttft = np.array([r[1] for r in ok]) * 1e3
    e2e = np.array([r[2] for r in ok]) * 1e3
    return {
        "requests": n,
        "errors": n - len(ok),
        "achieved_rate": n / sent_s,
        "ttft_p50_ms": float(np.percentile(ttft, 50)),
        "ttft_p99_ms": float(np.percentile(ttft, 99)),
        "e2e_p50_ms": float(np.percentile(e2e, 50)),
        "e2e_p99_ms": float(np.percentile(e2e, 99)),
    }


def serve_router(backends: list[str], port: int) -> None:
    """Run l4bench's router (round robin) in this process until killed."""
    from l4bench.engines.vllm import VllmEngine
    from l4bench.live.endpoint import Endpoint
    from l4bench.live.router import RouterConfig, RouterServer
    from l4bench.sched.round_robin import RoundRobinScheduler
    from l4bench.types import ClusterSpec

    async def run() -> None:
        endpoints = [Endpoint(i, u) for i, u in enumerate(backends)]
        sched = RoundRobinScheduler(ClusterSpec(len(backends), 32768, 1_000_000))
        router = RouterServer(endpoints, sched, VllmEngine(), RouterConfig("fake-model", 32768))
        await router.start("127.0.0.1", port)
        await asyncio.Event().wait()

    asyncio.run(run())


def main() -> None:
    """Parse flags, run the three configurations, print the comparison (and JSON with --json)."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rate", type=float, default=500.0)
    p.add_argument("--duration-s", type=float, default=10.0)
    p.add_argument("--max-tokens", type=int, default=8)
    p.add_argument("--prompt-tokens", type=int, default=32)
    p.add_argument("--no-stream", action="store_true")
    p.add_argument("--no-pin", action="store_true")
    p.add_argument("--skip-vllm-router", action="store_true")
    p.add_argument("--json", type=Path, default=None)
    p.add_argument("--serve-router", nargs="*", default=None, help=argparse.SUPPRESS)
    p.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    a = p.parse_args()
    if a.serve_router is not None:
        serve_router(a.serve_router, a.port)
        return
    pin = not a.no_pin and (os.cpu_count() or 1) >= 2
    client_cpus, router_cpus = ({0}, {1}) if pin else (None, None)
    backend_cpus = ({2} if (os.cpu_count() or 1) >= 3 else client_cpus) if pin else None
    if client_cpus:
        os.sched_setaffinity(0, client_cpus)
    stream = not a.no_stream
    body = {
        "model": "fake-model",
        "prompt": list(range(1, a.prompt_tokens + 1)),
        "max_tokens": a.max_tokens,
        "stream": stream,
    }
    payload = json.dumps(body).encode()
    bport = free_port()
    backend = spawn(
        [sys.executable, "-m", "l4bench.live.fake_backend", "--port", str(bport), "--token-delay-s", "0"],
        backend_cpus,
    )
    backend_url = f"http://127.0.0.1:{bport}"
    rows: dict[str, dict[str, float]] = {}
    try:
        wait_ready(backend_url + "/health")
        rows["direct"] = asyncio.run(
            open_loop(backend_url + "/v1/completions", a.rate, a.duration_s, payload, stream)
        )
        targets = [("l4bench", [sys.executable, __file__, "--serve-router", backend_url, "--port"])]
        if not a.skip_vllm_router and shutil.which(VLLM_ROUTER):
            vr = [VLLM_ROUTER, "--worker-urls", backend_url, "--policy", "round_robin", "--host", "127.0.0.1"]
            targets.append(("vllm-router", vr + ["--log-level", "warning", "--port"]))
        for name, cmd in targets:
            port = free_port()
            proc = spawn(cmd + [str(port)], router_cpus)
            try:
                wait_ready(f"http://127.0.0.1:{port}/health")
                url = f"http://127.0.0.1:{port}/v1/completions"
                rows[name] = asyncio.run(open_loop(url, a.rate, a.duration_s, payload, stream))
            finally:
                stop(proc)
    finally:
        stop(backend)
    report(rows, a, stream, pin)


def report(rows: dict[str, dict[str, float]], a: argparse.Namespace, stream: bool, pin: bool) -> None:
    """Print per-configuration latencies and the added latency over direct."""
    base = rows["direct"]
    print(
        f"rate={a.rate:.0f} req/s  duration={a.duration_s:.0f} s  stream={stream}  max_tokens={a.max_tokens}  pinned={pin}"
    )
    print(
        f"{'target':12s} {'rate':>6s} {'err':>4s} {'e2e p50':>8s} {'e2e p99':>8s} {'+p50':>7s} {'+p99':>7s} {'ttft+p50':>8s} {'ttft+p99':>8s}  (ms)"
    )
    for name, r in rows.items():
        added = {k: r[k] - base[k] for k in ("e2e_p50_ms", "e2e_p99_ms", "ttft_p50_ms", "ttft_p99_ms")}
        r.update({"added_" + k: v for k, v in added.items()})
        print(
            f"{name:12s} {r['achieved_rate']:6.0f} {r['errors']:4.0f} {r['e2e_p50_ms']:8.2f} {r['e2e_p99_ms']:8.2f} "
            f"{added['e2e_p50_ms']:7.2f} {added['e2e_p99_ms']:7.2f} {added['ttft_p50_ms']:8.2f} {added['ttft_p99_ms']:8.2f}"
        )
    if a.json is not None:
        a.json.write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
