"""Hypothesis fuzz of the router's request bodies: never a 5xx, never a crash."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiohttp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from l4bench.live.fake_backend import FakeBackendConfig
from l4bench.live.router_testing import FakeCluster

_scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(2**40), 2**40)
    | st.floats(allow_nan=False)
    | st.text(max_size=20)
)
_json = st.recursive(
    _scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)
_prompt = st.one_of(
    st.lists(st.integers(-5, 40000), max_size=80),
    st.text(max_size=60),
    st.lists(st.text(max_size=5), max_size=3),
    _json,
)
_body = st.fixed_dictionaries(
    {},
    optional={
        "prompt": _prompt,
        "messages": st.one_of(
            _json,
            st.lists(st.fixed_dictionaries({"role": st.text(max_size=6), "content": _scalars}), max_size=3),
        ),
        "max_tokens": st.one_of(st.integers(-3, 100), _scalars),
        "model": st.sampled_from(["fake-model", "other", ""]) | _scalars,
        "stream": st.booleans() | _scalars,
        "stream_options": st.one_of(st.fixed_dictionaries({"include_usage": _scalars}), _scalars),
        "n": st.integers(-1, 3) | _scalars,
        "temperature": _scalars,
        "logprobs": _scalars,
        "return_token_ids": _scalars,
    },
)
_raw = st.one_of(
    _body.map(lambda b: json.dumps(b).encode()),
    _json.map(lambda b: json.dumps(b).encode()),
    st.binary(max_size=60),
)


def test_fuzz_request_bodies_never_5xx() -> None:
    async def go() -> None:
        async with (
            FakeCluster(2, backend=FakeBackendConfig(max_model_len=128)) as c,
            aiohttp.ClientSession() as s,
        ):
            loop_results: list[tuple[int, Any]] = []

            @settings(
                max_examples=150, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck)
            )
            @given(raw=_raw, chat=st.booleans())
            def one(raw: bytes, chat: bool) -> None:
                path = "/v1/chat/completions" if chat else "/v1/completions"
                fut = asyncio.run_coroutine_threadsafe(_send(s, c.url + path, raw), loop)
                status, text = fut.result(timeout=10)
                loop_results.append((status, text))
                assert status < 500, (raw, status, text)

            loop = asyncio.get_running_loop()
            await loop.run_in_executor(None, one)
            assert len(loop_results) >= 100
            assert any(st == 200 for st, _ in loop_results)  # some valid requests got through
            async with s.get(c.url + "/health") as r:
                assert r.status == 200

    asyncio.run(go())


async def _send(s: aiohttp.ClientSession, url: str, raw: bytes) -> tuple[int, str]:
    async with s.post(url, data=raw, headers={"Content-Type": "application/json"}) as r:
        return r.status, (await r.text())[:300]
