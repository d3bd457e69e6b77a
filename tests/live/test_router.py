"""The live router against in-process fake backends: streaming, hops, continuity, metrics."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiohttp

from l4bench.engines.sglang import SglangEngine
from l4bench.live.fake_backend import FakeBackendConfig, expected_tokens, fake_tokenize
from l4bench.live.router_testing import CyclingTestScheduler, FakeCluster
from l4bench.types import ClusterSpec, Migration


async def post(url: str, body: dict[str, Any], path: str = "/v1/completions", **kw: Any) -> tuple[int, Any]:
    """POST and return (status, parsed JSON or list of SSE chunks)."""
    async with aiohttp.ClientSession() as s, s.post(url + path, json=body, **kw) as r:
        raw = await r.read()
    if r.headers.get("Content-Type", "").startswith("text/event-stream"):
        lines = [ln[6:] for ln in raw.decode().split("\n") if ln.startswith("data: ")]
        assert lines[-1] == "[DONE]"
        return r.status, [json.loads(ln) for ln in lines[:-1]]
    return r.status, json.loads(raw)


def stream_ids(chunks: list[dict]) -> list[int]:
    """All token ids of a stream, in order."""
    return [t for c in chunks for t in c["choices"][0].get("token_ids", [])]


def hop_scheduler(n: int, hop_every: int | None) -> CyclingTestScheduler:
    return CyclingTestScheduler(ClusterSpec(n, 32768, 100_000), hop_every=hop_every)


def test_stream_and_whole_without_hops() -> None:
    async def go() -> None:
        async with FakeCluster(2) as c:
            prompt = [5, 6, 7]
            status, chunks = await post(c.url, {"prompt": prompt, "max_tokens": 5, "stream": True})
            assert status == 200
            assert stream_ids(chunks) == expected_tokens(prompt, 5)
            final = chunks[-1]
            assert final["choices"][0]["finish_reason"] == "length"
            assert final["l4bench"]["num_hops"] == 0 and final["l4bench"]["error"] is None
            status, body = await post(
                c.url,
                {"prompt": prompt, "max_tokens": 4, "model": "fake-model"},
                headers={"X-Request-Id": "abc"},
            )
            assert status == 200
            assert body["choices"][0]["token_ids"] == expected_tokens(prompt, 4)
            assert body["choices"][0]["text"] == "".join(f" t{t}" for t in expected_tokens(prompt, 4))
            assert body["l4bench"]["request_id"] == "abc"
            assert body["l4bench"]["instances"] == [1]  # round robin: second request
            assert body["usage"] == {"prompt_tokens": 3, "completion_tokens": 4, "total_tokens": 7}

    asyncio.run(go())


def test_hops_keep_the_stream_continuous() -> None:
    async def go() -> None:
        async with FakeCluster(3, scheduler=hop_scheduler(3, hop_every=4)) as c:
            prompt = list(range(10))
            status, chunks = await post(c.url, {"prompt": prompt, "max_tokens": 10, "stream": True})
            assert status == 200
            assert stream_ids(chunks) == expected_tokens(prompt, 10)  # exactly max_tokens, in order
            info = chunks[-1]["l4bench"]
            # bounds at contexts 14 and 18 -> 3 segments of 4, 4, 2 tokens on instances 0, 1, 2
            assert info["instances"] == [0, 1, 2] and info["num_hops"] == 2
            assert info["recomputed_tokens"] == 14 + 18
            assert info["stall_s"] >= 0.0
            bodies = [b for be in c.backends for b in be.bodies]
            assert sorted(b["max_tokens"] for b in bodies) == [2, 4, 4]
            assert all(b["return_token_ids"] for b in bodies)
            sched = c.scheduler
            assert [call for call in sched.calls if call[0] == "on_bound"] == [
                ("on_bound", 0, 14),
                ("on_bound", 0, 18),
            ]
            assert sched.calls[-1] == ("on_finish", 0, 10)
            status, body = await post(c.url, {"prompt": prompt, "max_tokens": 9})
            assert body["choices"][0]["token_ids"] == expected_tokens(prompt, 9)
            assert body["l4bench"]["num_hops"] == 2

    asyncio.run(go())


def test_sglang_engines_behind_the_openai_router_with_hops() -> None:
    """The router takes OpenAI bodies and drives SGLang's /generate (input_ids, incremental output_ids)."""

    async def go() -> None:
        async with FakeCluster(3, scheduler=hop_scheduler(3, hop_every=4), adapter=SglangEngine()) as c:
            prompt = list(range(10))
            status, chunks = await post(c.url, {"prompt": prompt, "max_tokens": 10, "stream": True})
            assert status == 200
            assert stream_ids(chunks) == expected_tokens(prompt, 10)
            assert chunks[-1]["l4bench"]["instances"] == [0, 1, 2]
            bodies = [b for be in c.backends for b in be.bodies]
            assert sorted(b["sampling_params"]["max_new_tokens"] for b in bodies) == [2, 4, 4]
            assert all("input_ids" in b for b in bodies)

    asyncio.run(go())


def test_text_prompt_learns_ids_from_the_engine_and_hops() -> None:
    async def go() -> None:
        async with FakeCluster(2, scheduler=hop_scheduler(2, hop_every=3)) as c:
            status, body = await post(c.url, {"prompt": "the quick brown fox jumps", "max_tokens": 7})
            assert status == 200
            ids = fake_tokenize("the quick brown fox jumps")
            assert body["choices"][0]["token_ids"] == expected_tokens(ids, 7)
            assert body["l4bench"]["num_hops"] >= 1
            status, chunks = await post(
                c.url,
                {"messages": [{"role": "user", "content": "hi there"}], "max_tokens": 5, "stream": True},
                path="/v1/chat/completions",
            )
            assert status == 200 and chunks[0]["object"] == "chat.completion.chunk"
            assert stream_ids(chunks) == expected_tokens(fake_tokenize("hi there"), 5)
            assert "".join(ch["choices"][0]["delta"]["content"] for ch in chunks).strip().startswith("t")

    asyncio.run(go())


def test_rebalance_migration_moves_a_running_request() -> None:
    async def go() -> None:
        sched = hop_scheduler(2, hop_every=None)
        async with FakeCluster(2, backend=FakeBackendConfig(token_delay_s=0.01), scheduler=sched) as c:
            task = asyncio.create_task(post(c.url, {"prompt": [1, 2, 3], "max_tokens": 30, "stream": True}))
            await asyncio.sleep(0.1)
            assert c.router is not None
            (flight,) = c.router.state.flights.values()
            sched.pending_migrations = [Migration(flight.seq, 0, 1)]
            assert c.router.rebalance_once() == 1
            status, chunks = await task
            assert stream_ids(chunks) == expected_tokens([1, 2, 3], 30)
            info = chunks[-1]["l4bench"]
            assert info["instances"] == [0, 1] and info["recomputed_tokens"] > 3
            assert c.backends[0].stats["aborted"] == 1  # the cut hop was aborted upstream

    asyncio.run(go())


def test_models_health_and_metrics() -> None:
    async def go() -> None:
        async with FakeCluster(2, scheduler=hop_scheduler(2, hop_every=2)) as c:
            await post(c.url, {"prompt": [1, 2], "max_tokens": 5})
            async with aiohttp.ClientSession() as s:
                async with s.get(c.url + "/v1/models") as r:
                    assert (await r.json())["data"][0]["id"] == "fake-model"
                async with s.get(c.url + "/health") as r:
                    assert r.status == 200
                await asyncio.sleep(0.05)
                async with s.get(c.url + "/metrics") as r:
                    text = await r.text()
            assert "l4bench_router_requests_total 1" in text
            assert 'l4bench_router_migrations_total{kind="bound"} 2' in text
            assert 'l4bench_router_instance_healthy{instance="1"} 1' in text
            assert "l4bench_router_recomputed_tokens_total 10" in text  # contexts 4 and 6

    asyncio.run(go())
