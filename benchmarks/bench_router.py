"""Router overhead and sustained rate: l4bench's router beside vllm-router and smg, zero-cost backend.

An open-loop client sends each of `--rates` req/s for `--duration-s` seconds to the fake backend
directly, then through each target router, all in front of the same fake backend process
(`l4bench.live.fake_backend`, tokens streamed immediately; prompts as text, which every router
accepts). Targets: l4bench's router with round_robin (`l4bench`) and with L4 (`l4bench-l4`), vllm-router
(round_robin) and smg (round_robin). Added latency = percentile via the router minus the same
percentile direct at the same rate. A target sustains a rate when every request succeeds, the client
kept the rate, and the added p99 end-to-end latency is <= --max-added-p99-ms. Loopback only.
Pinning (unless --no-pin): client on CPU 0, router under test on CPU 1, backend on CPU 2 (or CPU 0
on a 2-core machine).

Executables: vllm-router from $VLLM_ROUTER_BIN, else PATH; smg from $L4BENCH_SMG_BIN, else PATH
(scripts/setup_smg.sh). A target whose executable is missing is skipped with a note.

Run: python benchmarks/bench_router.py --rates 500 1000 2000 --duration-s 10 --json results/bench/x.json
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
TARGETS = ("l4bench", "l4bench-l4", "vllm-router", "smg")


def machine_facts() -> dict[str, object]:
    """CPU model, core count, load average and versions, for the result JSON."""
    import platform

    cpu = ""
    try:
        cpu = next(ln.split(":", 1)[1].strip() for ln in open("/proc/cpuinfo") if ln.startswith("model name"))
    except (OSError, StopIteration):
        cpu = platform.processor()
    return {
        "cpu": cpu, "cpu_count": os.cpu_count(), "loadavg_1_5_15": list(os.getloadavg()),
        "python": platform.python_version(), "aiohttp": aiohttp.__version__, "machine": platform.machine(),
        "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }  # fmt: skip


def executable(env_var: str, name: str) -> str | None:
    """$env_var if set, else name on PATH."""
    return os.environ.get(env_var) or shutil.which(name)


def router_version(name: str, exe: str) -> str:
    """vllm-router / smg version of the executable's venv (importlib.metadata there)."""
    dist = {"vllm-router": "vllm-router", "smg": "smg"}[name]
    py = Path(exe).parent / "python"
    if not py.exists():
        return "unknown"
    out = subprocess.run([str(py), "-c", f"import importlib.metadata as m; print(m.version('{dist}'))"],
                         capture_output=True, text=True)  # fmt: skip
    return out.stdout.strip() or "unknown"


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
    t_first = t_last = 0.0
    timeout = aiohttp.ClientTimeout(total=10.0)  # an overloaded target fails fast instead of stalling the run
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0), timeout=timeout) as s:
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
            t_first, t_last = t0, time.perf_counter()
    ok = [r for r in results if isinstance(r, tuple) and r[0] == 200]
    bad = [repr(r)[:80] if not isinstance(r, tuple) else f"HTTP {r[0]}" for r in results if r not in ok]
    if bad:
        print(f"{url}: {len(bad)} errors, e.g. {sorted(set(bad))[:3]}", file=sys.stderr)
    ttft = np.array([r[1] for r in ok]) * 1e3
    e2e = np.array([r[2] for r in ok]) * 1e3
    if not ok:
        return {"requests": n, "errors": n, "achieved_rate": n / sent_s, "completed_rate": 0.0}
    return {
        "requests": n,
        "errors": n - len(ok),
        "achieved_rate": n / sent_s,
        "completed_rate": len(ok) / (t_last - t_first),
        "ttft_p50_ms": float(np.percentile(ttft, 50)),
        "ttft_p99_ms": float(np.percentile(ttft, 99)),
        "e2e_p50_ms": float(np.percentile(e2e, 50)),
        "e2e_p99_ms": float(np.percentile(e2e, 99)),
    }


def serve_router(backends: list[str], port: int, scheduler: str) -> None:
    """Run l4bench's router (round_robin or l4) in this process until killed."""
    from l4bench.engines.vllm import VllmEngine
    from l4bench.live.endpoint import Endpoint
    from l4bench.live.router import RouterConfig, RouterServer
    from l4bench.types import ClusterSpec

    async def run() -> None:
        endpoints = [Endpoint(i, u) for i, u in enumerate(backends)]
        cluster = ClusterSpec(len(backends), 32768, 1_000_000)
        if scheduler == "l4":
            from bench_router_loop import make_l4  # noqa: PLC0415

            sched = make_l4(cluster)
        else:
            from l4bench.sched.round_robin import RoundRobinScheduler

            sched = RoundRobinScheduler(cluster)
        router = RouterServer(endpoints, sched, VllmEngine(), RouterConfig("fake-model", 32768))
        await router.start("127.0.0.1", port)
        await asyncio.Event().wait()

    asyncio.run(run())


def target_command(name: str, backends: list[str], exes: dict[str, str]) -> list[str]:
    """argv of one router under test (its --port is appended by the caller)."""
    if name in ("l4bench", "l4bench-l4"):
        sched = "l4" if name == "l4bench-l4" else "round_robin"
        return [sys.executable, __file__, "--serve-router", *backends, "--scheduler", sched, "--port"]
    if name == "vllm-router":
        return [exes[name], "--worker-urls", *backends, "--policy", "round_robin", "--host", "127.0.0.1",
                "--log-level", "error", "--max-concurrent-requests", "8192", "--port"]  # fmt: skip
    return [exes[name], "launch", "--worker-urls", *backends, "--policy", "round_robin", "--host",
            "127.0.0.1", "--log-level", "error", "--worker-startup-check-interval", "1",
            "--prometheus-port", str(free_port()), "--max-concurrent-requests", "8192", "--port"]  # fmt: skip


def wait_router(name: str, port: int) -> None:
    """Ready: /health for l4bench, /readiness (every worker healthy) for the Rust routers."""
    url = f"http://127.0.0.1:{port}"
    wait_ready(url + ("/health" if name.startswith("l4bench") else "/readiness"), 90.0)


def main() -> None:
    """Parse flags, run direct + every target at every rate, print the comparison (JSON with --json)."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rates", type=float, nargs="+", default=[500.0])
    p.add_argument("--duration-s", type=float, default=10.0)
    p.add_argument("--max-tokens", type=int, default=8)
    p.add_argument("--prompt-tokens", type=int, default=32)
    p.add_argument("--instances", type=int, default=2, help="endpoints (all on the one fake backend)")
    p.add_argument("--targets", nargs="+", default=list(TARGETS), choices=TARGETS)
    p.add_argument("--max-added-p99-ms", type=float, default=2.0)
    p.add_argument("--no-stream", action="store_true")
    p.add_argument("--no-pin", action="store_true")
    p.add_argument("--nice", type=int, default=None,
                   help="CPU priority of this benchmark and its children (e.g. -10 on a shared machine; needs root)")
    p.add_argument("--json", type=Path, default=None)
    p.add_argument("--serve-router", nargs="*", default=None, help=argparse.SUPPRESS)
    p.add_argument("--scheduler", default="round_robin", help=argparse.SUPPRESS)
    p.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    a = p.parse_args()
    if a.serve_router is not None:
        serve_router(a.serve_router, a.port, a.scheduler)
        return
    if a.nice is not None:
        os.setpriority(os.PRIO_PROCESS, 0, a.nice)  # children (backend, routers) inherit it
    facts = {"before": machine_facts()}
    pin = not a.no_pin and (os.cpu_count() or 1) >= 2
    client_cpus, router_cpus = ({0}, {1}) if pin else (None, None)
    backend_cpus = ({2} if (os.cpu_count() or 1) >= 3 else client_cpus) if pin else None
    if client_cpus:
        os.sched_setaffinity(0, client_cpus)
    stream = not a.no_stream
    prompt = " ".join(f"t{i}" for i in range(1, a.prompt_tokens + 1))
    payload = json.dumps({"model": "fake-model", "prompt": prompt, "max_tokens": a.max_tokens, "stream": stream}).encode()
    exes = {n: e for n, e in (("vllm-router", executable("VLLM_ROUTER_BIN", "vllm-router")),
                              ("smg", executable("L4BENCH_SMG_BIN", "smg"))) if e}  # fmt: skip
    targets = [t for t in a.targets if t.startswith("l4bench") or t in exes]
    for t in set(a.targets) - set(targets):
        print(f"note: {t} skipped (no executable; see the module docstring)", file=sys.stderr)
    facts["versions"] = {n: router_version(n, e) for n, e in exes.items() if n in targets}
    bport = free_port()
    backend = spawn(
        [sys.executable, "-m", "l4bench.live.fake_backend", "--port", str(bport), "--token-delay-s", "0"],
        backend_cpus,
    )
    backend_url = f"http://127.0.0.1:{bport}"
    backends = [backend_url] * a.instances
    rows: dict[str, dict[str, dict[str, float]]] = {}
    try:
        wait_ready(backend_url + "/health")
        for name in ["direct", *targets]:
            proc = None
            url = backend_url + "/v1/completions"
            if name != "direct":
                port = free_port()
                proc = spawn(target_command(name, backends, exes) + [str(port)], router_cpus)
            try:
                if proc is not None:
                    wait_router(name, port)
                    url = f"http://127.0.0.1:{port}/v1/completions"
                rows[name] = {f"{r:g}": asyncio.run(open_loop(url, r, a.duration_s, payload, stream)) for r in a.rates}
            finally:
                if proc is not None:
                    stop(proc)
    finally:
        stop(backend)
    facts["after"] = machine_facts()
    report(rows, a, stream, pin, facts)


def report(rows: dict[str, dict[str, dict[str, float]]], a: argparse.Namespace, stream: bool, pin: bool,
           facts: dict[str, object]) -> None:  # fmt: skip
    """Per target and rate: latencies, added latency over direct, and the highest rate sustained."""
    print(f"duration={a.duration_s:.0f} s  stream={stream}  max_tokens={a.max_tokens}  pinned={pin}  "
          f"instances={a.instances}  load before {facts['before']['loadavg_1_5_15']}")  # type: ignore[index]
    print(f"{'target':12s} {'rate':>6s} {'sent':>6s} {'done/s':>6s} {'err':>5s} {'e2e p50':>8s} {'e2e p99':>8s} "
          f"{'+p50':>7s} {'+p99':>7s} {'ttft+p99':>8s}  (ms)")  # fmt: skip
    sustained: dict[str, float | None] = {}
    for name, by_rate in rows.items():
        sustained[name] = None
        for rate, r in by_rate.items():
            base = rows["direct"][rate]
            if "e2e_p99_ms" in r and "e2e_p99_ms" in base:
                r.update({"added_" + k: r[k] - base[k] for k in ("e2e_p50_ms", "e2e_p99_ms", "ttft_p50_ms", "ttft_p99_ms")})
            ok = (r["errors"] == 0 and r["achieved_rate"] >= 0.98 * float(rate)
                  and r.get("added_e2e_p99_ms", 0.0 if name == "direct" else 1e9) <= a.max_added_p99_ms)  # fmt: skip
            r["sustained"] = bool(ok)
            if ok:
                sustained[name] = max(sustained[name] or 0.0, float(rate))
            print(f"{name:12s} {float(rate):6.0f} {r['achieved_rate']:6.0f} {r['completed_rate']:6.0f} {r['errors']:5.0f} "
                  f"{r.get('e2e_p50_ms', float('nan')):8.2f} {r.get('e2e_p99_ms', float('nan')):8.2f} "
                  f"{r.get('added_e2e_p50_ms', 0.0):7.2f} {r.get('added_e2e_p99_ms', 0.0):7.2f} "
                  f"{r.get('added_ttft_p99_ms', 0.0):8.2f}{'' if ok else '  (not sustained)'}")  # fmt: skip
    best = ", ".join(f"{k} {v or 'none'}" for k, v in sustained.items())
    print(f"highest rate sustained (req/s, added p99 <= {a.max_added_p99_ms:.1f} ms, 0 errors): {best}")
    if a.json is not None:
        doc = {"rows": rows, "sustained_rate": sustained, "args": {k: v for k, v in vars(a).items() if k != "json"},
               "machine": facts, "backend": "l4bench.live.fake_backend (streams max_tokens tokens at once)"}  # fmt: skip
        a.json.write_text(json.dumps(doc, indent=2))
        print(a.json)


if __name__ == "__main__":
    main()
