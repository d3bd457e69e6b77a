"""`l4bench-router` as a user runs it, over fake backends: startup facts, vLLM-shaped streams, JSON
errors, SIGTERM drain, and bad arguments as one `error:` line with exit 2."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
from pathlib import Path

import aiohttp
import pytest
from live_engine import free_port, router_argv

from l4bench.live.fake_backend import FakeBackend, FakeBackendConfig

REPO = Path(__file__).resolve().parents[2]


async def start_router(args: list[str]) -> tuple[asyncio.subprocess.Process, str, str]:
    """Start the router; returns (process, base URL, what it printed up to its banner)."""
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = await asyncio.create_subprocess_exec(
        *router_argv(), *args, "--port", str(port), "--log-level", "warning",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT, env=env,
    )  # fmt: skip
    assert proc.stdout is not None
    out = ""
    while "l4bench-router: http" not in out:
        line = await asyncio.wait_for(proc.stdout.readline(), 60)
        if not line:
            raise AssertionError(f"router exited before serving:\n{out}")
        out += line.decode()
    return proc, f"http://127.0.0.1:{port}", out


async def sse(session: aiohttp.ClientSession, url: str, body: dict) -> list[dict | str]:
    async with session.post(url, json=body) as resp:
        assert resp.status == 200, await resp.text()
        raw = (await resp.read()).decode()
    events = [e[len("data: ") :] for e in raw.split("\n\n") if e.startswith("data: ")]
    return [e if e == "[DONE]" else json.loads(e) for e in events]


async def _serve_and_check(tmp_path: Path) -> None:
    backends = [FakeBackend(FakeBackendConfig(token_delay_s=0.01)) for _ in range(2)]
    urls = [await b.start() for b in backends]
    proc, url, banner = await start_router(["--worker-urls", *urls, "--scheduler", "l4", "--model", "tiny-llama"])
    try:
        assert "warning: no --perf-profile" in banner and "analytic" in banner
        assert "2 workers of fake-model" in banner and "KV 65536 tokens" in banner
        async with aiohttp.ClientSession() as s:
            body = {"prompt": [1, 2, 3], "max_tokens": 5, "stream": True, "stream_options": {"include_usage": True}}
            ev = await sse(s, url + "/v1/completions", body)
            assert ev[-1] == "[DONE]" and len(ev) == 5 + 2  # one event per token, usage, [DONE]
            tokens, usage = ev[:5], ev[5]
            assert all(isinstance(e, dict) and e["id"].startswith("cmpl-") for e in ev[:-1])
            assert [e["choices"][0]["finish_reason"] for e in tokens] == [None] * 4 + ["length"]
            assert usage["choices"] == [] and usage["usage"]["completion_tokens"] == 5
            chat = {"messages": [{"role": "user", "content": "hi"}], "max_tokens": 3, "stream": True}
            ev = await sse(s, url + "/v1/chat/completions", chat)
            assert ev[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
            assert ev[0]["id"].startswith("chatcmpl-") and len(ev) == 1 + 3 + 1
            assert "usage" not in ev[-2] and ev[-2]["choices"][0]["finish_reason"] == "length"
            for method, path, status in (("GET", "/nope", 404), ("GET", "/v1/completions", 405)):
                async with s.request(method, url + path) as r:
                    err = (await r.json())["error"]
                    assert r.status == status and err["code"] == status and set(err) == {"message", "type", "param", "code"}
            async with s.post(url + "/v1/completions", data=b"{not json") as r:
                assert r.status == 400 and "Invalid JSON" in (await r.json())["error"]["message"]
            await backends[1].stop()
            await backends[0].stop()
            async with s.post(url + "/v1/completions", json={"prompt": [1], "max_tokens": 2}) as r:
                text = await r.text()
                assert r.status >= 500 and "error" in json.loads(text)
                assert "127.0.0.1" not in text and str(urls[0].rsplit(":", 1)[1]) not in text  # no backend address
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


def test_router_cli_serves_vllm_shaped_streams_and_json_errors(tmp_path: Path) -> None:
    asyncio.run(_serve_and_check(tmp_path))


async def _drain() -> None:
    backend = FakeBackend(FakeBackendConfig(token_delay_s=0.02))
    worker = await backend.start()
    proc, url, _ = await start_router(["--worker-urls", worker, "--scheduler", "round_robin"])
    async with aiohttp.ClientSession() as s:
        task = asyncio.create_task(sse(s, url + "/v1/completions", {"prompt": [1], "max_tokens": 60, "stream": True}))
        await asyncio.sleep(0.4)
        proc.send_signal(signal.SIGTERM)
        events = await task  # the request in flight finishes
        rc = await asyncio.wait_for(proc.wait(), 30)
    out = (await proc.stdout.read()).decode() if proc.stdout else ""
    await backend.stop()
    assert len(events) == 61 and events[-2]["choices"][0]["finish_reason"] == "length"
    assert rc == 0 and "draining 1 requests" in out and "stopped" in out


async def _kv_router() -> None:
    backends = [FakeBackend(FakeBackendConfig(token_delay_s=0.005)) for _ in range(2)]
    urls = [await b.start() for b in backends]
    args = ["--worker-urls", *urls, "--scheduler", "l4", "--model", "tiny-llama", "--kv-transfer", "nixl",
            "--migration-arg", "bandwidth_bytes_per_s=2e10"]
    proc, url, banner = await start_router(args)
    try:
        assert "hops kv_transfer" in banner
        async with aiohttp.ClientSession() as s:
            ev = await sse(s, url + "/v1/completions", {"prompt": [1, 2, 3], "max_tokens": 8, "stream": True})
            assert ev[-1] == "[DONE]" and ev[-2]["l4bench"]["error"] is None
        async with aiohttp.ClientSession() as s, s.get(url + "/metrics") as r:
            assert "l4bench_router_kv_transfer_hops_total" in await r.text()
    finally:
        proc.kill()
        await proc.wait()
        for b in backends:
            await b.stop()


def test_kv_transfer_flag_prices_hops_by_kv_and_serves() -> None:
    asyncio.run(_kv_router())


def test_sigterm_drains_requests_in_flight_and_exits_0() -> None:
    asyncio.run(_drain())


def _run(args: list[str]) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run([*router_argv(), *args], capture_output=True, text=True, timeout=120, env=env)


@pytest.mark.slow  # eight router start-ups (~3 s each); CI runs it
@pytest.mark.parametrize(
    "args, needle",
    [
        (["--scheduler", "nope"], "--scheduler: unknown scheduler 'nope'; valid:"),
        (["--scheduler", "vllm_router_round_robin"], "is an external router"),
        (["--perf-profile", "h100", "--model", "tiny-llama"], "--perf-profile: expected GPU/MODEL"),
        (["--perf-profile", "h200/tiny-llama"], "no fitted profile for gpu=h200 model=tiny-llama"),
        (["--scheduler-arg", "nope=1", "--model", "tiny-llama"], "--scheduler-arg.l4.nope: not an option"),
        (["--scheduler-arg", "novalue"], "--scheduler-arg: expected KEY=VALUE"),
        ([], "the workers serve 'fake-model', which matches no conf/model option"),
        (["--gpu", "tpu", "--model", "tiny-llama"], "--gpu: unknown gpu 'tpu'"),
        (["--kv-transfer", "nixl", "--migration-arg", "nope=1", "--model", "tiny-llama"],
         "--migration-arg.kv_transfer.nope: not an option"),
    ],
)
def test_bad_arguments_are_one_line_exit_2(args: list[str], needle: str) -> None:
    async def go() -> subprocess.CompletedProcess[str]:
        backend = FakeBackend()
        worker = await backend.start()
        try:
            argv = ["--worker-urls", worker, *args, "--port", str(free_port())]
            return await asyncio.to_thread(_run, argv)
        finally:
            await backend.stop()

    p = asyncio.run(go())
    assert p.returncode == 2, p.stdout + p.stderr
    assert needle in p.stderr, p.stderr
    assert "Traceback" not in p.stderr
    assert len([ln for ln in p.stderr.splitlines() if ln.startswith("error:")]) == 1


def test_unreachable_worker_and_bad_flag_are_one_line_exit_2() -> None:
    p = _run(["--worker-urls", f"http://127.0.0.1:{free_port()}", "--ready-timeout-s", "1"])
    assert p.returncode == 2 and "did not answer /health within 1 s" in p.stderr and "Traceback" not in p.stderr
    p = _run(["--worker-urls", "http://x", "--port", "eighty"])
    assert p.returncode == 2 and "invalid int value: 'eighty'" in p.stderr


def test_max_hop_retries_flag_defaults_to_the_router_config_and_rejects_negatives(capsys) -> None:
    from l4bench.live.router import RouterConfig
    from l4bench.live.router_cli import parser

    base = ["--worker-urls", "http://127.0.0.1:1"]
    assert parser().parse_args(base).max_hop_retries == RouterConfig.max_hop_retries
    assert parser().parse_args([*base, "--max-hop-retries", "0"]).max_hop_retries == 0
    with pytest.raises(SystemExit) as e:
        parser().parse_args([*base, "--max-hop-retries", "-1"])
    assert e.value.code == 2 and "--max-hop-retries: must be 0 or more, got -1" in capsys.readouterr().err
