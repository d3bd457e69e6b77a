"""Third-party clients through `l4bench-router --scheduler l4` over two vLLM CPU instances.

`vllm bench serve` (engine venv) and AIPerf 0.13.0 (clients venv, scripts/setup_clients.sh) must see
0 failed requests, exactly the requested output tokens (counted from the usage chunk), and one SSE
event per token: the inter-token sample count through the router is the engine's own. TTFT through
the router is measured against the same engine called directly (one request at a time, so neither
side queues) and printed.
Run: `pytest -m live tests/live/test_real_clients.py -s` (~3 min on 2 cores).
"""

from __future__ import annotations

import json
import os
import signal
import statistics
import subprocess
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from live_engine import REPO, engine_python, free_port, router_argv

from l4bench.engines.base import parse_prometheus
from l4bench.engines.vllm import VllmEngine
from l4bench.live.launchers import LocalClusterSpec, LocalLauncher

pytestmark = [pytest.mark.live, pytest.mark.slow]

MODEL = REPO / "l4bench" / "models" / "tiny-llama"
INPUT_TOKENS, OUTPUT_TOKENS = 64, 32
N, N_CHAT = 12, 6  # requests per vllm bench run (kept small: CI has 2 cores)


def clients_python() -> str:
    """The AIPerf venv's python: $L4BENCH_CLIENTS_PYTHON, else .venv-clients; skips when absent."""
    env = os.environ.get("L4BENCH_CLIENTS_PYTHON")
    python = env or str(REPO / ".venv-clients" / "bin" / "python")
    if not Path(python).exists():
        (pytest.fail if env else pytest.skip)(f"no clients venv at {python}: run `bash scripts/setup_clients.sh`")
    return python


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """Two vLLM CPU instances (the harness's launcher) and l4bench-router (l4) in front of them."""
    python = engine_python()
    logs = tmp_path_factory.mktemp("real_clients")
    adapter = VllmEngine("tiny-llama")
    args = {"max-model-len": 4160, "max-num-seqs": 64, "max-num-batched-tokens": 4160,
            "load-format": "dummy", "enforce-eager": True}  # fmt: skip
    spec = LocalClusterSpec(
        command=lambda i, port: adapter.launch_command(python, str(MODEL), port, args),
        num_instances=2, log_dir=logs, env=adapter.launch_env({"VLLM_CPU_KVCACHE_SPACE": "1"}),
        devices=("0", "1"), device_env_var="VLLM_CPU_OMP_THREADS_BIND", ready_timeout_s=600,
    )  # fmt: skip
    with LocalLauncher(spec) as launcher:
        urls = [e.url for e in launcher.start()]
        port = free_port()
        router = subprocess.Popen(
            [*router_argv(), "--worker-urls", *urls, "--scheduler", "l4", "--port", str(port), "--log-level", "warning"],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env={**os.environ, "PYTHONPATH": str(REPO)},
        )  # fmt: skip
        assert router.stdout is not None
        banner = ""
        while "l4bench-router: http" not in banner:
            line = router.stdout.readline()
            assert line, f"router exited:\n{banner}"
            banner += line
        try:
            yield {"python": python, "urls": urls, "router": f"http://127.0.0.1:{port}", "dir": logs, "banner": banner}
        finally:
            router.send_signal(signal.SIGTERM)
            assert router.wait(60) == 0  # drained and stopped


def vllm_bench(served: dict[str, Any], url: str, name: str, extra: list[str]) -> dict[str, Any]:
    """Run `vllm bench serve` (random dataset, ignore_eos) against url; returns its result JSON."""
    out = served["dir"]
    cmd = [
        served["python"], str(REPO / "tests" / "live" / "run_vllm_bench.py"),
        "--base-url", url, "--model", "tiny-llama", "--tokenizer", str(MODEL),
        "--dataset-name", "random", "--random-input-len", str(INPUT_TOKENS),
        "--random-output-len", str(OUTPUT_TOKENS), "--ignore-eos", "--seed", "0", "--disable-tqdm",
        "--ready-check-timeout-sec", "0", "--save-result", "--save-detailed",
        "--result-dir", str(out), "--result-filename", f"{name}.json", *extra,
    ]  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return json.loads((out / f"{name}.json").read_text())


def _itl_counts(doc: dict[str, Any]) -> list[int]:
    return [len(x) for x in doc["itls"]]


def token_events(router_url: str) -> int:
    """The router's count of token events received from the engines (its /metrics)."""
    with urllib.request.urlopen(router_url + "/metrics", timeout=10) as resp:
        text = resp.read().decode()
    return int(parse_prometheus(text)["l4bench_router_token_events_total"])


def test_vllm_bench_serve_through_l4bench_router(served: dict[str, Any]) -> None:
    serial = ["--backend", "openai", "--num-prompts", str(N), "--max-concurrency", "1"]
    direct = vllm_bench(served, served["urls"][0], "direct", serial)
    events0 = token_events(served["router"])
    routed = vllm_bench(served, served["router"], "router", serial)
    events1 = token_events(served["router"])
    chat = ["--backend", "openai-chat", "--endpoint", "/v1/chat/completions", "--num-prompts", str(N_CHAT),
            "--max-concurrency", "2"]  # fmt: skip
    routed_chat = vllm_bench(served, served["router"], "router_chat", chat)
    events2 = token_events(served["router"])
    rows = {"direct (instance 0)": direct, "l4bench-router l4": routed, "l4bench-router l4, chat": routed_chat}
    print("\nvllm bench serve, random 64 in / 32 out, ignore_eos:")
    for label, d in rows.items():
        counts = _itl_counts(d)
        print(f"  {label:26s} completed {d['completed']:3d} failed {d['failed']} output_lens {sorted(set(d['output_lens']))} "
              f"ITL samples {sum(counts)} (per request {min(counts)}..{max(counts)}) TTFT p50 {d['median_ttft_ms']:.1f} ms "
              f"ITL p50 {d['median_itl_ms']:.2f} ms")  # fmt: skip
    print(f"  TTFT p50 overhead through the router: {routed['median_ttft_ms'] - direct['median_ttft_ms']:+.1f} ms")
    print(f"  token events the router got from the engines: {events1 - events0} (completions), {events2 - events1} (chat)")
    for d, n in ((direct, N), (routed, N), (routed_chat, N_CHAT)):
        assert (d["completed"], d["failed"]) == (n, 0)
        assert d["output_lens"] == [OUTPUT_TOKENS] * n  # from the usage chunk (choices: [])
    # One SSE chunk per engine event, none merged or split: the client's samples are exactly the
    # engine's events (first chunk = TTFT, each later one an ITL sample; chat: the role chunk comes
    # first). vLLM itself coalesces steps when its API server falls behind (an overloaded machine),
    # direct or not, so the reference is what the engines sent, not OUTPUT_TOKENS - 1.
    assert sum(_itl_counts(routed)) + N == events1 - events0
    assert sum(_itl_counts(routed_chat)) == events2 - events1
    assert statistics.median([t * 1e3 for t in routed["ttfts"]]) < direct["median_ttft_ms"] + 500.0


def test_aiperf_through_l4bench_router(served: dict[str, Any]) -> None:
    python = clients_python()
    out = served["dir"] / "aiperf"
    aiperf = Path(python).parent / "aiperf"
    cmd = [
        str(aiperf), "profile", "--model", "tiny-llama", "--url", served["router"],
        "--endpoint-type", "completions", "--streaming", "--tokenizer", str(MODEL.relative_to(REPO)),
        "--prompt-input-tokens-mean", str(INPUT_TOKENS), "--prompt-input-tokens-stddev", "0",
        "--prompt-output-tokens-mean", str(OUTPUT_TOKENS), "--prompt-output-tokens-stddev", "0",
        "--extra-inputs", "ignore_eos:true", "--request-count", "16", "--concurrency", "2",
        "--random-seed", "0", "--artifact-dir", str(out), "--ui-type", "none",
        "--no-server-metrics", "--no-gpu-telemetry", "--workers-max", "1",
    ]  # fmt: skip
    # AIPerf takes an absolute tokenizer path for a hub id: give it the path relative to the repo
    events0 = token_events(served["router"])
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600, cwd=REPO)
    events = token_events(served["router"]) - events0
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-3000:]
    doc = json.loads((out / "profile_export_aiperf.json").read_text())
    records = [json.loads(line) for line in (out / "profile_export.jsonl").read_text().splitlines() if line]
    # a request answered in one chunk (the engine coalesced every step) has no inter_chunk_latency
    gaps = [len(r["metrics"].get("inter_chunk_latency", {}).get("value", [])) for r in records]
    print(f"\naiperf 0.13.0 through l4bench-router l4: {doc['request_count']['avg']:.0f} requests, "
          f"errors {doc['error_summary']}, output tokens {doc['usage_completion_tokens']['sum']:.0f}, "
          f"inter-chunk samples {sum(gaps)} (per request {min(gaps)}..{max(gaps)}; engine events {events}), "
          f"TTFT p50 {doc['time_to_first_token']['p50']:.1f} ms, ITL p50 {doc['inter_token_latency']['p50']:.2f} ms")  # fmt: skip
    assert doc["request_count"]["avg"] == 16 and doc["error_summary"] == [] and not doc["was_cancelled"]
    assert len(records) == 16 and all(r.get("error") is None for r in records)
    assert doc["output_sequence_length"]["min"] == doc["output_sequence_length"]["max"] == OUTPUT_TOKENS
    assert doc["usage_completion_tokens"]["sum"] == 16 * OUTPUT_TOKENS
    assert sum(gaps) + len(records) == events  # one SSE chunk per engine event


def _stream(url: str, path: str, body: dict[str, Any]) -> list[dict[str, Any]]:
    req = urllib.request.Request(url + path, json.dumps(body).encode(), {"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=120) as resp:
        raw = resp.read().decode()
    events = [e[len("data: ") :] for e in raw.split("\n\n") if e.startswith("data: ")]
    assert events[-1] == "[DONE]"
    return [json.loads(e) for e in events[:-1]]


def _shape(chunk: dict[str, Any]) -> tuple[Any, ...]:
    """What a client parses: object, id prefix, choices, finish_reason, delta keys, usage."""
    choice = (chunk["choices"] or [{}])[0]
    return (chunk["object"], chunk["id"].split("-")[0], len(chunk["choices"]), choice.get("finish_reason"),
            sorted(choice.get("delta", {})), sorted(chunk.get("usage") or {}))  # fmt: skip


def _runs(shapes: list[tuple[Any, ...]]) -> list[tuple[tuple[Any, ...], int]]:
    """Consecutive equal shapes as (shape, how many)."""
    out: list[tuple[tuple[Any, ...], int]] = []
    for s in shapes:
        if out and out[-1][0] == s:
            out[-1] = (s, out[-1][1] + 1)
        else:
            out.append((s, 1))
    return out


def test_chunk_shapes_and_tokenize_match_vllm(served: dict[str, Any]) -> None:
    direct, router = served["urls"][0], served["router"]
    completion = {"model": "tiny-llama", "prompt": "t1 t2 t3", "max_tokens": 4, "ignore_eos": True,
                  "stream": True, "stream_options": {"include_usage": True}}  # fmt: skip
    chat = {"model": "tiny-llama", "messages": [{"role": "user", "content": "t5 t6"}], "max_tokens": 4,
            "ignore_eos": True, "stream": True}  # fmt: skip
    for path, body in (("/v1/completions", completion), ("/v1/chat/completions", chat)):
        # vLLM itself may put two tokens in one chunk when its output queue holds both (seen under CI
        # load on the direct stream), so the chunk count is not the engine's to promise: compare the
        # sequence of chunk kinds, each run of equal shapes counted once.
        want = _runs([_shape(c) for c in _stream(direct, path, body)])
        got = _runs([_shape(c) for c in _stream(router, path, body)])
        assert [s for s, _ in got] == [s for s, _ in want], (path, got, want)
    req = json.dumps({"model": "tiny-llama", "prompt": "t1 t2 t3"}).encode()
    answers = []
    for url in (direct, router):
        r = urllib.request.Request(url + "/tokenize", req, {"Content-Type": "application/json"})
        with urllib.request.urlopen(r, timeout=30) as resp:
            answers.append(json.loads(resp.read()))
    assert answers[0] == answers[1] and answers[0]["tokens"] == [1, 2, 3]
