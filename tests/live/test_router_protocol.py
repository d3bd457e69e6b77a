"""The router speaks vLLM's OpenAI protocol: chunk shapes, one event per engine event across hops,
and every bad request a 4xx OpenAI-shaped JSON error (never a traceback, never a backend address)."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import pytest
from test_router import hop_scheduler, post

from l4bench.live.router_testing import FakeCluster


def test_one_chunk_per_engine_event_across_hops_with_usage_last() -> None:
    async def go() -> None:
        async with FakeCluster(3, scheduler=hop_scheduler(3, hop_every=4)) as c:
            body = {"prompt": list(range(10)), "max_tokens": 10, "stream": True,
                    "stream_options": {"include_usage": True}}  # fmt: skip
            status, chunks = await post(c.url, body)
            assert status == 200
            *tokens, usage = chunks
            assert len(tokens) == 10 and all(len(t["choices"][0]["token_ids"]) == 1 for t in tokens)
            assert [t["choices"][0]["finish_reason"] for t in tokens] == [None] * 9 + ["length"]
            assert usage["choices"] == [] and usage["usage"] == {
                "prompt_tokens": 10, "total_tokens": 20, "completion_tokens": 10}  # fmt: skip
            assert usage["l4bench"]["num_hops"] >= 1 and "usage" not in tokens[-1]
            assert c.router is not None and c.router.state.counters.token_events == 10

    asyncio.run(go())


def test_chat_stream_opens_with_the_role_and_uses_chatcmpl_ids() -> None:
    async def go() -> None:
        async with FakeCluster(2) as c:
            body = {"messages": [{"role": "user", "content": "a b c"}], "max_tokens": 3, "stream": True}
            status, chunks = await post(c.url, body, "/v1/chat/completions", headers={"X-Request-Id": "r1"})
            assert status == 200 and [ch["id"] for ch in chunks] == ["chatcmpl-r1"] * 4
            assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
            assert all("role" not in ch["choices"][0]["delta"] for ch in chunks[1:])
            assert chunks[-1]["choices"][0]["finish_reason"] == "length" and "l4bench" in chunks[-1]
            status, whole = await post(c.url, {**body, "stream": False}, "/v1/chat/completions")
            assert status == 200 and whole["id"].startswith("chatcmpl-")
            status, whole = await post(c.url, {"prompt": [1], "max_tokens": 2})
            assert status == 200 and whole["id"].startswith("cmpl-")

    asyncio.run(go())


BAD: list[tuple[str, str, Any, int]] = [
    ("POST", "/v1/completions", b"not json", 400),
    ("POST", "/v1/completions", b"[1, 2]", 400),
    ("POST", "/v1/completions", {"prompt": [1], "max_tokens": "many"}, 400),
    ("POST", "/v1/completions", {"prompt": [1], "max_tokens": -3}, 400),
    ("POST", "/v1/completions", {"prompt": [1], "stream": "yes"}, 400),
    ("POST", "/v1/completions", {"prompt": [1], "stream_options": [1]}, 400),
    ("POST", "/v1/completions", {"prompt": [1], "model": "other"}, 404),
    ("POST", "/v1/completions", {"prompt": [1], "n": 3}, 400),
    ("POST", "/v1/completions", {"prompt": [-1]}, 400),
    ("POST", "/v1/completions", {"max_tokens": 2}, 400),
    ("POST", "/v1/chat/completions", {"messages": "hi"}, 400),
    ("POST", "/v1/completions", {"prompt": [1], "max_tokens": 10**9}, 400),
    ("GET", "/v1/completions", None, 405),
    ("DELETE", "/v1/models", None, 405),
    ("GET", "/v2/anything", None, 404),
    ("POST", "/", b"", 404),
]


@pytest.mark.parametrize("method, path, body, status", BAD)
def test_bad_requests_are_openai_shaped_4xx_json(method: str, path: str, body: Any, status: int) -> None:
    async def go() -> None:
        async with FakeCluster(2) as c, aiohttp.ClientSession() as s:
            kw = {"json": body} if isinstance(body, dict) else {"data": body}
            async with s.request(method, c.url + path, **kw) as r:
                text = await r.text()
                assert r.status == status, text
                doc = await r.json(content_type=None)
            err = doc["error"]
            assert set(err) == {"message", "type", "param", "code"} and err["code"] == status
            assert "Traceback" not in text and "127.0.0.1" not in text

    asyncio.run(go())


def test_tokenize_is_forwarded_and_backend_failures_hide_addresses() -> None:
    async def go() -> None:
        async with FakeCluster(1) as c, aiohttp.ClientSession() as s:
            async with s.post(c.url + "/tokenize", json={"prompt": "a b"}) as r:
                # the fake backend has no /tokenize: its 404 comes back as a JSON error
                assert r.status == 404 and "error" in await r.json()
            await c.backends[0].stop()
            status, body = await post(c.url, {"prompt": [1, 2], "max_tokens": 2})
            assert status in (502, 503) and "127.0.0.1" not in str(body)

    asyncio.run(go())
