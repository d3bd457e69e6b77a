"""Hop stall vs context length, KV transfer (NIXL) vs recompute, between two running vLLM servers.

Issue 16 item 3, the raw measurement. For each context length L and trial, a fresh random prompt of L
token ids (no prefix-cache hit is possible) is served as one L4 hop would be:

  kv_transfer: the source A runs the prompt with max_tokens=1 and
      kv_transfer_params={"do_remote_decode": true, ...} (vLLM's NixlConnector producer side), and
      returns params naming its blocks; the destination B gets the same prompt with those params
      (do_remote_prefill) and gets the KV instead of prefilling it: it READs the blocks from A with
      NixlConnector (= NixlPullConnector), or A WRITEs them into B's blocks with NixlPushConnector
      (vLLM 0.25's push mode; same request protocol, the direction is inside vLLM).
  recompute: B gets the same kind of prompt with no params and prefills all of it.

The stall is B's time to first token (request sent -> first streamed token), i.e. what a hop adds
before the request generates again. KV bytes are the model's per-token KV size x L (an estimate: the
blocks moved are whole 16-token blocks). Output: one JSON with every trial and medians per (L, mode).

  python scripts/gpu_nixl_probe.py --src http://127.0.0.1:8100 --dst http://127.0.0.1:8101 \
      --lengths 1024,4096,16384,32768,65536 --trials 3 --out OUT/nixl_probe.json

Standard library plus l4bench.l4 (numpy): run it from the repo root with the repo on PYTHONPATH.
"""

from __future__ import annotations

import argparse
import http.client
import json
import random
import statistics
import sys
import time
import urllib.parse
from pathlib import Path
from typing import Any

from l4bench.l4.migration import kv_bytes_per_token

PRODUCER = {"do_remote_decode": True, "do_remote_prefill": False, "remote_engine_id": None,
            "remote_block_ids": None, "remote_host": None, "remote_port": None}


def post(url: str, body: dict[str, Any], timeout_s: float = 300.0) -> tuple[float, float, dict[str, Any]]:
    """POST /v1/completions; (seconds to the first token, total seconds, final JSON or last chunk)."""
    u = urllib.parse.urlparse(url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=timeout_s)
    t0 = time.perf_counter()
    conn.request("POST", "/v1/completions", json.dumps(body), {"Content-Type": "application/json"})
    resp = conn.getresponse()
    if resp.status != 200:
        raise RuntimeError(f"{url}: HTTP {resp.status}: {resp.read()[:300]!r}")
    first = None
    last: dict[str, Any] = {}
    if not body.get("stream"):
        last = json.loads(resp.read())
        first = time.perf_counter() - t0
    else:
        for raw in resp:
            line = raw.decode().strip()
            if not line.startswith("data:") or line == "data: [DONE]":
                continue
            chunk = json.loads(line[5:])
            if first is None and chunk.get("choices") and chunk["choices"][0].get("text") is not None:
                first = time.perf_counter() - t0
            last = chunk
    total = time.perf_counter() - t0
    conn.close()
    return (first if first is not None else total), total, last


def request(prompt: list[int], max_tokens: int, stream: bool, params: dict[str, Any] | None) -> dict[str, Any]:
    """A /v1/completions body with token-id prompt, fixed output length, optional kv_transfer_params."""
    body: dict[str, Any] = {"model": MODEL, "prompt": prompt, "max_tokens": max_tokens, "ignore_eos": True,
                            "temperature": 0.0, "stream": stream}
    if params is not None:
        body["kv_transfer_params"] = params
    return body


def _count(ids: Any) -> int:
    """Block ids in a (possibly per-KV-group nested) list."""
    return sum(_count(x) for x in ids) if isinstance(ids, list) else int(ids is not None)


def trial(src: str, dst: str, length: int, mode: str, rng: random.Random, out_tokens: int) -> dict[str, Any]:
    """One hop of `length` context tokens in `mode`; the stall is the destination's first-token time."""
    prompt = [rng.randrange(100, VOCAB - 100) for _ in range(length)]
    row: dict[str, Any] = {"context_tokens": length, "mode": mode}
    params = None
    if mode == "kv_transfer":
        _, src_s, resp = post(src, request(prompt, 1, False, dict(PRODUCER)))
        params = resp.get("kv_transfer_params")
        row["source_s"] = src_s
        row["params_returned"] = bool(params)
        if not params:
            row["error"] = "source returned no kv_transfer_params"
            return row
        row["remote_blocks"] = _count(params.get("remote_block_ids"))
    ttft, total, _ = post(dst, request(prompt, out_tokens, True, params))
    row.update(stall_s=ttft, dst_total_s=total, kv_bytes_estimate=length * KV_BYTES_PER_TOKEN)
    return row


def main(argv: list[str] | None = None) -> int:
    """Run every (length, mode, trial) in a shuffled order and write the JSON."""
    global MODEL, KV_BYTES_PER_TOKEN, VOCAB
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--src", required=True)
    ap.add_argument("--dst", required=True)
    ap.add_argument("--model", default="llama")
    ap.add_argument("--model-config", type=Path, default=Path("l4bench/models/llama-3.1-8b/config.json"))
    ap.add_argument("--lengths", default="1024,4096,16384,32768,65536")
    ap.add_argument("--trials", type=int, default=3)
    ap.add_argument("--output-tokens", type=int, default=4)
    ap.add_argument("--budget-s", type=float, default=240.0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--connector", default="NixlConnector",
                    help="the servers' kv_connector (recorded in the JSON; the probe's protocol is the same)")
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args(argv)
    MODEL = args.model
    cfg = json.loads(args.model_config.read_text())
    KV_BYTES_PER_TOKEN = kv_bytes_per_token(cfg)
    VOCAB = int(cfg["vocab_size"])
    rng = random.Random(args.seed)
    lengths = [int(x) for x in args.lengths.split(",")]
    t0 = time.monotonic()
    rows: list[dict[str, Any]] = []
    # warm-up: the first transfer pays the NIXL handshake between the two agents; recorded, not used
    for mode in ("kv_transfer", "recompute"):
        try:
            rows.append(trial(args.src, args.dst, 1024, mode, rng, args.output_tokens) | {"warmup": True})
        except Exception as err:  # noqa: BLE001 - one line, the probe goes on
            rows.append({"context_tokens": 1024, "mode": mode, "warmup": True, "error": str(err)[:300]})
        print(f"[probe] warm-up {mode}: {rows[-1]}", flush=True)
    plan = [(n, m) for n in lengths for m in ("kv_transfer", "recompute") for _ in range(args.trials)]
    rng.shuffle(plan)
    for i, (n, mode) in enumerate(plan):
        if time.monotonic() - t0 > args.budget_s:
            print(f"[probe] budget reached: {len(plan) - i} trials skipped", flush=True)
            break
        try:
            row = trial(args.src, args.dst, n, mode, rng, args.output_tokens)
        except Exception as err:  # noqa: BLE001
            row = {"context_tokens": n, "mode": mode, "error": str(err)[:300]}
        rows.append(row)
        print(f"[probe] {n:>6} {mode:<11} stall {row.get('stall_s', float('nan')):.3f} s "
              f"{row.get('error', '')}", flush=True)
    summary = {}
    for n in lengths:
        for mode in ("kv_transfer", "recompute"):
            xs = [r["stall_s"] for r in rows if not r.get("warmup") and r["context_tokens"] == n
                  and r["mode"] == mode and "stall_s" in r]
            if xs:
                summary[f"{n}/{mode}"] = {"n": len(xs), "median_s": statistics.median(xs), "min_s": min(xs),
                                          "max_s": max(xs)}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"connector": args.connector, "kv_bytes_per_token": KV_BYTES_PER_TOKEN, "lengths": lengths,
                                    "trials": args.trials, "output_tokens": args.output_tokens,
                                    "summary": summary, "rows": rows}, indent=1) + "\n")
    for k, v in summary.items():
        print(f"[probe] {k:<20} n={v['n']} median {v['median_s']:.3f} s [{v['min_s']:.3f}, {v['max_s']:.3f}]")
    return 0


MODEL = "llama"
KV_BYTES_PER_TOKEN = 0
VOCAB = 32000

if __name__ == "__main__":
    sys.exit(main())
