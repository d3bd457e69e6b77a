"""Does one vLLM instance's work slow the other instance sharing its GPU more than a flat 2x?

The simulator models two instances on one GPU as each taking every step 2x as long
(perf.gpu_share=0.5), whatever the other one runs. This probe measures instance A's time per output
token (TPOT) for the same short batch while instance B is (1) idle, (2) running the same short
batch, (3) running a few long-prompt requests. If the flat model held, (2) and (3) would be equal;
if B's long prefill chunks and long-context decodes hold A up, (3) > (2). ``--b-loads`` adds B's
short batch at other sizes (short8, short128: 8 or 128 requests) to see how A's slowdown grows
with the neighbour's load (a contention model needs that curve, not one point).

    python benchmarks/shared_gpu_interference.py --a http://127.0.0.1:8100 --b http://127.0.0.1:8101 \
        --model llama-3.1-8b --out interference.json [--repeats 2] [--b-loads idle,short8,short,short128,long]

Prints one line per phase and writes every request's TTFT/TPOT to --out. Needs servers started with
token-id prompts (--skip-tokenizer-init) and dummy weights; ignore_eos keeps output lengths fixed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import re
import statistics
import time
from typing import Any

import aiohttp


async def _one(session: aiohttp.ClientSession, url: str, model: str, prompt_len: int, out_len: int,
               rng: random.Random) -> dict[str, Any]:
    body = {"model": model, "prompt": [rng.randrange(1000, 30000) for _ in range(prompt_len)],
            "max_tokens": out_len, "ignore_eos": True, "stream": True, "return_token_ids": True,
            "temperature": 0.0}
    t0, times = time.perf_counter(), []
    async with session.post(url + "/v1/completions", json=body) as resp:
        resp.raise_for_status()
        async for raw in resp.content:
            line = raw.strip()
            if not line.startswith(b"data: ") or line == b"data: [DONE]":
                continue
            chunk = json.loads(line[6:])
            n = len((chunk.get("choices") or [{}])[0].get("token_ids") or [])
            times.extend([time.perf_counter()] * n)
    tpot = (times[-1] - times[0]) / (len(times) - 1) if len(times) > 1 else float("nan")
    return {"prompt_tokens": prompt_len, "output_tokens": len(times), "ttft_s": times[0] - t0, "tpot_s": tpot}


async def phase(a: str, b: str, model: str, b_load: str, seed: int) -> dict[str, Any]:
    """A: 32 x 1k-token prompts, 256 outputs; B: idle, a short batch (short: 32 like A's; shortN: N),
    or 4 x 24k prompts."""
    rng = random.Random(seed)
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=600)) as s:
        jobs = [_one(s, a, model, 1024, 256, rng) for _ in range(32)]
        if b_load.startswith("short"):
            jobs += [_one(s, b, model, 1024, 256, rng) for _ in range(int(b_load[5:] or 32))]
        elif b_load == "long":
            jobs += [_one(s, b, model, 24576, 256, rng) for _ in range(4)]
        res = await asyncio.gather(*jobs)
    a_res, b_res = res[:32], res[32:]
    return {"b_load": b_load, "seed": seed,
            "a_tpot_ms_mean": 1e3 * statistics.fmean(r["tpot_s"] for r in a_res),
            "b_tpot_ms_mean": 1e3 * statistics.fmean(r["tpot_s"] for r in b_res) if b_res else None,
            "a": a_res, "b": b_res}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--a", required=True)
    ap.add_argument("--b", required=True)
    ap.add_argument("--model", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--b-loads", default="idle,short,long",
                    help="B's load per phase, in order: idle, short (32 x 1k), shortN (N x 1k), long (4 x 24k)")
    args = ap.parse_args()
    loads = args.b_loads.split(",")
    shorts = [re.fullmatch(r"short([1-9][0-9]*)?", x) for x in loads]
    bad = [x for x, m in zip(loads, shorts, strict=True)
           if x not in ("idle", "long") and (m is None or int(m.group(1) or 32) > 512)]
    if bad or loads[0] != "idle":
        ap.error(f"--b-loads: {args.b_loads!r}; start with idle, then any of short, shortN (N <= 512), long")
    asyncio.run(phase(args.a, args.b, args.model, "idle", 999))  # warm-up: first-use kernels, graphs
    rows = []
    for r in range(args.repeats):
        for load in loads:
            p = asyncio.run(phase(args.a, args.b, args.model, load, 100 * r + len(rows)))
            rows.append(p)
            b_txt = f"{p['b_tpot_ms_mean']:.1f}" if p["b_tpot_ms_mean"] is not None else "-"
            print(f"repeat {r} B {load:5s}: A mean TPOT {p['a_tpot_ms_mean']:.1f} ms, B {b_txt} ms", flush=True)
            with open(args.out, "w") as f:  # after every phase: a cut-off run keeps what it measured
                json.dump({"b_loads": loads, "phases": rows}, f, indent=1)


if __name__ == "__main__":
    main()
