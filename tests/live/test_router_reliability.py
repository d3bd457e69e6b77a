"""Router reliability: instance failures, bad input (always 4xx), API key, body limit, disconnects, queues."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import pytest

from l4bench.engines.vllm import VllmEngine
from l4bench.live.fake_backend import FakeBackendConfig, expected_tokens
from l4bench.live.router_testing import FakeCluster
from tests.live.test_router import post, stream_ids

SLOW = FakeBackendConfig(token_delay_s=0.01)


def test_killed_instance_mid_stream_continues_elsewhere() -> None:
    async def go() -> None:
        async with FakeCluster(2, backend=SLOW) as c:
            bodies = [{"prompt": [i + 1, 2, 3], "max_tokens": 40, "stream": i % 2 == 0} for i in range(6)]
            tasks = [asyncio.create_task(post(c.url, b)) for b in bodies]
            await asyncio.sleep(0.15)
            c.backends[0].kill()  # crash: open streams drop, later requests fail
            results = await asyncio.gather(*tasks)
            moved = 0
            for body, (status, out) in zip(bodies, results, strict=True):
                assert status == 200
                info = out[-1]["l4bench"] if body["stream"] else out["l4bench"]
                ids = stream_ids(out) if body["stream"] else out["choices"][0]["token_ids"]
                assert ids == expected_tokens(body["prompt"], 40)  # nothing lost, nothing repeated
                assert info["error"] is None
                if info["instances"][0] == 0:
                    assert info["instances"] == [0, 1] and info["recomputed_tokens"] > 3
                    moved += 1
            assert moved == 3  # round robin put half of them on the killed instance
            assert c.router is not None and not c.router.state.is_healthy(0)
            status, body = await post(c.url, {"prompt": [9], "max_tokens": 3})
            assert status == 200 and body["l4bench"]["instances"] == [1]

    asyncio.run(go())


def test_all_instances_dead_gives_an_error_record_naming_the_cause() -> None:
    async def go() -> None:
        async with FakeCluster(2, backend=SLOW, router_overrides={"max_hop_retries": 1}) as c:
            task = asyncio.create_task(post(c.url, {"prompt": [1, 2], "max_tokens": 50, "stream": True}))
            await asyncio.sleep(0.1)
            for b in c.backends:
                b.kill()
            status, chunks = await task
            assert status == 200  # tokens were already streamed
            final = chunks[-1]
            assert final["choices"][0]["finish_reason"] == "error"
            assert (
                "instance" in final["l4bench"]["error"]
                and final["error"]["message"] == final["l4bench"]["error"]
            )
            status, body = await post(c.url, {"prompt": [1, 2], "max_tokens": 5})
            assert status in (502, 503) and body["l4bench"]["error"]  # nothing streamed: a 5xx with the cause
            assert "instance" in body["error"]["message"]

    asyncio.run(go())


def test_fail_after_tokens_knob_fails_over() -> None:
    async def go() -> None:
        async with FakeCluster(2, backend=FakeBackendConfig(fail_after_tokens=5)) as c:
            # both backends crash after 5 tokens; two retries are allowed -> a request of 8 tokens
            # runs 5 tokens on one instance, then fails over to the other and finishes there
            status, body = await post(c.url, {"prompt": [3, 4], "max_tokens": 8})
            assert status == 200 and body["choices"][0]["token_ids"] == expected_tokens([3, 4], 8)
            assert body["l4bench"]["num_hops"] == 1

    asyncio.run(go())


BAD_BODIES: list[tuple[Any, int, str]] = [
    (b"{not json", 400, "Invalid JSON"),
    (b"[1, 2]", 400, "JSON object"),
    ({"max_tokens": 3}, 400, "prompt is required"),
    ({"prompt": 5, "max_tokens": 3}, 400, "prompt must be"),
    ({"prompt": [], "max_tokens": 3}, 400, "empty"),
    ({"prompt": [1, -2], "max_tokens": 3}, 400, "token ids"),
    ({"prompt": [1, True], "max_tokens": 3}, 400, "token ids"),
    ({"prompt": ["a", "b"], "max_tokens": 3}, 400, "Batched"),
    ({"prompt": [1], "max_tokens": 0}, 400, "max_tokens must be at least 1"),
    ({"prompt": [1], "max_tokens": -4}, 400, "max_tokens must be at least 1"),
    ({"prompt": [1], "max_tokens": "7"}, 400, "max_tokens must be an integer"),
    ({"prompt": [1], "max_tokens": 3.5}, 400, "max_tokens must be an integer"),
    ({"prompt": [1] * 60, "max_tokens": 10}, 400, "maximum context length is 64"),
    ({"prompt": [1], "max_tokens": 3, "model": "gpt-5"}, 404, "does not exist"),
    ({"prompt": [1], "max_tokens": 3, "stream": "yes"}, 400, "stream must be a boolean"),
    ({"prompt": [1], "max_tokens": 3, "n": 2}, 400, "n > 1"),
    ({"prompt": [1], "max_tokens": 3, "logprobs": 2}, 400, "logprobs"),
]


def test_bad_input_is_always_4xx_with_a_message() -> None:
    async def go() -> None:
        async with (
            FakeCluster(1, backend=FakeBackendConfig(max_model_len=64)) as c,
            aiohttp.ClientSession() as s,
        ):
            for body, want, text in BAD_BODIES:
                kw = {"data": body} if isinstance(body, bytes) else {"json": body}
                async with s.post(c.url + "/v1/completions", **kw) as r:
                    got = await r.json()
                assert r.status == want, (body, got)
                assert text in got["error"]["message"], (body, got)
            for body in ({"max_tokens": 3}, {"messages": [], "max_tokens": 3}, {"messages": [{"x": 1}]}):
                async with s.post(c.url + "/v1/chat/completions", json=body) as r:
                    assert r.status == 400 and "messages" in (await r.json())["error"]["message"]
            # text longer than the engine's context: the engine's 400 is passed through, never a 5xx
            async with s.post(c.url + "/v1/completions", json={"prompt": "w " * 70, "max_tokens": 2}) as r:
                assert r.status == 400 and "maximum context length" in (await r.json())["error"]["message"]
            assert c.backends[0].stats["requests"] == 0
            assert c.router is not None and c.router.state.counters.rejected == len(BAD_BODIES) + 3

    asyncio.run(go())


def test_api_key_and_body_limit() -> None:
    async def go() -> None:
        overrides = {"api_key": "sekrit", "max_body_bytes": 2000}
        async with FakeCluster(1, router_overrides=overrides) as c:
            status, body = await post(c.url, {"prompt": [1], "max_tokens": 2})
            assert status == 401 and "API key" in body["error"]["message"]
            auth = {"Authorization": "Bearer sekrit"}
            status, body = await post(
                c.url, {"prompt": [1], "max_tokens": 2}, headers={"Authorization": "Bearer nope"}
            )
            assert status == 401
            status, body = await post(c.url, {"prompt": [1], "max_tokens": 2}, headers=auth)
            assert status == 200
            status, body = await post(c.url, {"prompt": [1] * 1000, "max_tokens": 2}, headers=auth)
            assert status == 413 and "too large" in body["error"]["message"]
            async with aiohttp.ClientSession() as s, s.get(c.url + "/health") as r:
                assert r.status == 200  # probes need no key

    asyncio.run(go())


@pytest.mark.parametrize("stream", [True, False])
def test_client_disconnect_aborts_upstream(stream: bool) -> None:
    async def go() -> None:
        async with FakeCluster(1, backend=SLOW) as c:
            async with aiohttp.ClientSession() as s:
                body = {"prompt": [1, 2], "max_tokens": 500, "stream": stream}
                with pytest.raises(asyncio.TimeoutError):
                    async with s.post(
                        c.url + "/v1/completions", json=body, timeout=aiohttp.ClientTimeout(total=0.15)
                    ) as r:
                        await r.read()
            for _ in range(50):
                await asyncio.sleep(0.02)
                if c.backends[0].stats["aborted"]:
                    break
            assert c.backends[0].stats["aborted"] == 1 and c.backends[0].stats["completed"] == 0
            assert c.router is not None and not c.router.state.flights
            assert c.router.state.counters.disconnected == 1

    asyncio.run(go())


def test_queue_bound_gives_429() -> None:
    async def go() -> None:
        async with FakeCluster(1, backend=SLOW, router_overrides={"max_queue": 2}) as c:
            tasks = [asyncio.create_task(post(c.url, {"prompt": [1], "max_tokens": 20})) for _ in range(2)]
            await asyncio.sleep(0.05)
            status, body = await post(c.url, {"prompt": [1], "max_tokens": 2})
            assert status == 429 and "queue is full" in body["error"]["message"]
            assert [s for s, _ in await asyncio.gather(*tasks)] == [200, 200]

    asyncio.run(go())


def test_backend_timeout_is_an_error_not_a_hang() -> None:
    async def go() -> None:
        backend = FakeBackendConfig(first_token_delay_s=2.0)
        overrides = {"backend_timeout_s": 0.2, "max_hop_retries": 0}
        async with FakeCluster(1, backend=backend, router_overrides=overrides) as c:
            status, body = await post(c.url, {"prompt": [1], "max_tokens": 2})
            assert status == 504 and "timed out" in body["error"]["message"]

    asyncio.run(go())


def test_slow_load_polls_do_not_take_instances_out_of_routing() -> None:
    """A busy engine answers /metrics late; until poll_misses_to_down misses in a row it stays routable."""

    async def go() -> None:
        slow = FakeBackendConfig(token_delay_s=0.01, metrics_delay_s=0.3)
        cluster = FakeCluster(2, backend=slow, adapter=VllmEngine(load_timeout_s=0.05))
        cluster.router_overrides = {"load_poll_interval_s": 0.01, "poll_misses_to_down": 1000}
        async with cluster as c:
            await asyncio.sleep(0.5)  # several polls time out on both instances
            assert c.router is not None and c.router.state.counters.poll_misses >= 2
            results = await asyncio.gather(*(post(c.url, {"prompt": [i + 1], "max_tokens": 5}) for i in range(6)))
            assert [status for status, _ in results] == [200] * 6
            assert c.router.state.healthy_ids() == [0, 1]

    asyncio.run(go())


def test_repeated_poll_misses_or_a_refused_connection_take_an_instance_out() -> None:
    async def go() -> None:
        configs = [FakeBackendConfig(metrics_delay_s=0.3), FakeBackendConfig()]
        cluster = FakeCluster(2, backend_configs=configs, adapter=VllmEngine(load_timeout_s=0.05))
        cluster.router_overrides = {"load_poll_interval_s": 0.01, "poll_misses_to_down": 2}
        async with cluster as c:
            assert c.router is not None
            await asyncio.sleep(0.4)
            assert c.router.state.healthy_ids() == [1]  # instance 0: two slow polls in a row
            await c.backends[1].stop()  # its port now refuses connections
            await asyncio.sleep(0.2)
            assert c.router.state.healthy_ids() == []

    asyncio.run(go())


def test_every_instance_down_by_poll_misses_still_serves() -> None:
    """Failure evidence marking every instance down at once (slow polls on a loaded host) is not a 503."""

    async def go() -> None:
        slow = FakeBackendConfig(metrics_delay_s=0.3)
        cluster = FakeCluster(2, backend=slow, adapter=VllmEngine(load_timeout_s=0.05))
        cluster.router_overrides = {"load_poll_interval_s": 0.01, "poll_misses_to_down": 1}
        async with cluster as c:
            assert c.router is not None
            await asyncio.sleep(0.3)
            assert c.router.state.healthy_ids() == []  # both out by slow polls, both alive
            results = await asyncio.gather(*(post(c.url, {"prompt": [i + 1, 2], "max_tokens": 4}) for i in range(4)))
            assert [status for status, _ in results] == [200] * 4
            assert [body["choices"][0]["token_ids"] for _, body in results] == [
                expected_tokens([i + 1, 2], 4) for i in range(4)
            ]
            assert c.router.state.counters.routed_while_down >= 4
            for i in (0, 1):  # taken out by the operator: never used
                c.router.mark_unhealthy(i)
            status, body = await post(c.url, {"prompt": [1], "max_tokens": 2})
            assert status == 503 and "operator" in body["error"]["message"]

    asyncio.run(go())
