"""The benchmark loop: per backend, a correctness check against fp32, warm-up, then passes in shuffled order.

Timing (CUDA): each launch sits between two CUDA events; before a pass the stream is held busy by
torch.cuda._sleep, so the CPU queues the whole pass ahead of the GPU and Python launch overhead is
not timed. A pass whose queueing outran the sleep is counted in `starved_passes`. A backend that
fails (import, plan or launch) is recorded with one line and the next one runs.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from l4bench.profiling.kernels.compositions import Composition
from l4bench.profiling.kernels.paged import (
    AttentionShape,
    PagedBatch,
    blocks_needed,
    make_batch,
    make_kv_pool,
    reference_attention,
)

Launch = Callable[[], None]
BackendFactory = Callable[[str, AttentionShape, Any, int], Any]


@dataclass
class BenchConfig:
    """What to run and how often."""

    backends: Sequence[str]
    shape: AttentionShape
    num_passes: int = 3
    launches_per_pass: int = 20
    warmup_launches: int = 3
    tolerance: float = 2e-2  # max abs error vs fp32 for bf16 outputs of N(0, 1) inputs
    seed: int = 0
    budget_s: float | None = None
    sleep_cycles: int = 20_000_000  # about 10 ms at H200 clocks: covers queueing one pass


@dataclass
class BackendResult:
    """Samples (us per launch, pass by pass) and checks of one backend."""

    name: str
    status: str = "ok"  # ok / failed / skipped
    error: str = ""
    settings: dict[str, Any] = field(default_factory=dict)
    samples_us: dict[str, list[list[float]]] = field(default_factory=dict)  # composition -> passes -> launches
    paths: dict[str, str] = field(default_factory=dict)
    check: dict[str, Any] = field(default_factory=dict)
    starved_passes: dict[str, int] = field(default_factory=dict)
    setup_s: float = 0.0


def one_line(err: BaseException) -> str:
    """An exception as one short line: 'Type: first line of the message'."""
    msg = str(err).strip().splitlines()
    return f"{type(err).__name__}: {msg[0] if msg else ''}"[:300]


class EventTimer:
    """CUDA-event timing of queued launches, the queue filled behind torch.cuda._sleep."""

    def __init__(self, sleep_cycles: int) -> None:
        self.sleep_cycles = sleep_cycles

    def time(self, launch: Launch, n: int) -> tuple[list[float], bool]:
        """(us per launch, starved): starved when the GPU finished the sleep before the CPU queued the pass."""
        starts = [torch.cuda.Event(enable_timing=True) for _ in range(n)]
        ends = [torch.cuda.Event(enable_timing=True) for _ in range(n)]
        after_sleep = torch.cuda.Event()
        torch.cuda._sleep(self.sleep_cycles)
        after_sleep.record()
        for s, e in zip(starts, ends, strict=True):
            s.record()
            launch()
            e.record()
        starved = after_sleep.query()  # True: the GPU already waited for the CPU
        torch.cuda.synchronize()
        return [s.elapsed_time(e) * 1000.0 for s, e in zip(starts, ends, strict=True)], starved


class WallTimer:
    """perf_counter timing, for CPU runs of the loop (tests): never starved."""

    def time(self, launch: Launch, n: int) -> tuple[list[float], bool]:
        """(us per launch, False)."""
        out = []
        for _ in range(n):
            t0 = time.perf_counter()
            launch()
            out.append((time.perf_counter() - t0) * 1e6)
        return out, False


def check_backend(backend: Any, batches: Sequence[PagedBatch], refs: Sequence[torch.Tensor], tol: float) -> dict:
    """Max abs error of the backend's output vs the fp32 reference on each check batch; passed if all <= tol."""
    errs = {}
    for batch, ref in zip(batches, refs, strict=True):
        batch.out.zero_()
        backend.prepare(batch)()
        errs[batch.comp.name] = float((batch.out.float() - ref).abs().max())
    worst = max(errs.values())
    return {"max_abs_err": worst, "per_batch": errs, "tolerance": tol, "passed": bool(worst <= tol)}


def run_backend(
    name: str, make: BackendFactory, cfg: BenchConfig, batches: dict[str, PagedBatch],
    checks: tuple[list[PagedBatch], list[torch.Tensor]], timer: Any, deadline_s: float,
) -> BackendResult:
    """Check, warm up and time one backend over all compositions; failures become one recorded line."""
    res = BackendResult(name)
    t0 = time.monotonic()
    stage = "import"
    try:
        pool = next(iter(batches.values())).kv_cache
        backend = make(name, cfg.shape, pool.device, pool.shape[0])
        res.settings = backend.settings()
        stage = "check"
        res.check = check_backend(backend, checks[0], checks[1], cfg.tolerance)
        stage = "warm-up"
        for batch in batches.values():
            timer.time(backend.prepare(batch), cfg.warmup_launches)
            res.paths[batch.comp.name] = backend.path(batch)
        res.setup_s = time.monotonic() - t0
        stage = "timing"
        rng = np.random.default_rng(cfg.seed)
        for p in range(cfg.num_passes):
            if p > 0 and time.monotonic() > deadline_s:
                print(f"[kernels] {name}: budget reached after {p} passes", flush=True)
                break
            for cname in [str(n) for n in rng.permutation(list(batches))]:
                samples, starved = timer.time(backend.prepare(batches[cname]), cfg.launches_per_pass)
                res.samples_us.setdefault(cname, []).append(samples)
                res.starved_passes[cname] = res.starved_passes.get(cname, 0) + int(starved)
    except Exception as err:  # noqa: BLE001 - any backend failure is reported, the others still run
        res.status = "skipped" if str(err).startswith("skipped:") else "failed"
        res.error = str(err) if res.status == "skipped" else f"{stage}: {one_line(err)}"
    return res


def prepare_batches(
    comps: Sequence[Composition], checks: Sequence[Composition], shape: AttentionShape, device: Any, seed: int
) -> tuple[dict[str, PagedBatch], list[PagedBatch]]:
    """All batches on one KV pool (shuffled blocks); the pool holds the largest composition with 2x slack."""
    gen = torch.Generator(device=device).manual_seed(seed)
    rng = np.random.default_rng(seed)
    need = max(blocks_needed(c.seq_lens, shape.block_size) for c in list(comps) + list(checks))
    pool = make_kv_pool(2 * need, shape, device, gen)
    batches = {c.name: make_batch(c, pool, shape, rng, gen) for c in comps}
    return batches, [make_batch(c, pool, shape, rng, gen) for c in checks]


def run_all(
    cfg: BenchConfig, comps: Sequence[Composition], checks: Sequence[Composition], device: Any,
    make: BackendFactory, timer: Any, on_result: Callable[[list[BackendResult]], None] | None = None,
) -> list[BackendResult]:
    """Every backend in turn (progress printed per backend, `on_result` after each); past the budget the rest skip."""
    start = time.monotonic()
    deadline = start + cfg.budget_s if cfg.budget_s else float("inf")
    batches, check_batches = prepare_batches(comps, checks, cfg.shape, device, cfg.seed)
    refs = [reference_attention(b, cfg.shape.scale) for b in check_batches]
    results = []
    for name in cfg.backends:
        if time.monotonic() > deadline:
            res = BackendResult(name, status="skipped", error="skipped: time budget spent")
        else:
            res = run_backend(name, make, cfg, batches, (check_batches, refs), timer, deadline)
        results.append(res)
        print(f"[kernels] {progress_line(res)} (t={time.monotonic() - start:.0f}s)", flush=True)
        if on_result is not None:
            on_result(results)
    return results


def progress_line(res: BackendResult) -> str:
    """One line per backend: status, check, setup time, how many compositions were timed."""
    if res.status == "skipped":
        return f"{res.name}: {res.error}"  # the message starts with 'skipped:'
    if res.status != "ok":
        return f"{res.name}: failed: {res.error}"
    chk = res.check
    verdict = "pass" if chk.get("passed") else "FAIL"
    passes = min((len(v) for v in res.samples_us.values()), default=0)
    return (f"{res.name}: ok, check {verdict} (max abs err {chk.get('max_abs_err', float('nan')):.2e}), "
            f"setup {res.setup_s:.1f}s, {len(res.samples_us)} compositions x {passes} passes")
