"""The fake backend's KV side: a prefix cache and vLLM NixlConnector's P/D protocol, without a GPU.

A request with ``kv_transfer_params.do_remote_decode`` keeps its context's "blocks" (token ids) for a
lease and, when not streamed, answers with ``kv_transfer_params`` naming this instance (as vLLM 0.25
does: streamed completions never carry them). A request with ``do_remote_prefill`` pulls those ids
from the named peer over HTTP (POST /fake_kv/pull, which frees them there, like NIXL's read
notification) and skips the simulated prefill of the pulled tokens. ``kv_failure`` makes either side
fail: "handoff" (no params returned), "pull" (the pull fails: a streamed error, as vLLM's
kv_load_failure_policy=fail reports it).
"""

from __future__ import annotations

import time
from typing import Any

import aiohttp
from aiohttp import web

KV_FAILURES = ("handoff", "pull")
_CACHE_ENTRIES = 256


class KvPullError(RuntimeError):
    """The destination could not pull the KV it was told to."""


class FakeKvPeer:
    """Held contexts for remote decodes, the pull endpoint, and a small prefix cache."""

    def __init__(self, lease_s: float = 30.0, failure: str | None = None, is_caching: bool = False) -> None:
        if failure is not None and failure not in KV_FAILURES:
            raise ValueError(f"kv_failure: unknown {failure!r}; valid: null, {', '.join(KV_FAILURES)}")
        self.lease_s = lease_s
        self.failure = failure
        self.is_caching = is_caching  # the prefix cache only matters when prefill has a cost
        self.host, self.port = "127.0.0.1", 0
        self.held: dict[str, tuple[list[int], float]] = {}  # request id -> (context ids, lease end)
        self.cache: list[list[int]] = []  # contexts of finished requests, newest last
        self.stats = {"held": 0, "pulled_tokens": 0, "served_pulls": 0, "expired": 0}

    @property
    def engine_id(self) -> str:
        """This instance's engine id in the params it hands out."""
        return f"fake-{self.port}"

    def cached_prefix_tokens(self, prompt: list[int]) -> int:
        """Longest cached context that prompt starts with."""
        if not self.is_caching:
            return 0
        return max((len(c) for c in self.cache if prompt[: len(c)] == c), default=0)

    def remember(self, context: list[int]) -> None:
        """Cache a finished (or cut) request's context, as vLLM keeps freed blocks hashed."""
        if not self.is_caching:
            return
        self.cache.append(list(context))
        del self.cache[:-_CACHE_ENTRIES]

    def hold(self, request_id: str, context: list[int], now_s: float) -> dict[str, Any]:
        """Keep context for a remote decode; the params a destination pulls it with."""
        self._expire(now_s)
        self.held[request_id] = (list(context), now_s + self.lease_s)
        self.stats["held"] += 1
        return {
            "do_remote_prefill": True,
            "do_remote_decode": False,
            "remote_block_ids": [list(range(-(-len(context) // 16)))],
            "remote_engine_id": self.engine_id,
            "remote_request_id": request_id,
            "remote_host": self.host,
            "remote_port": self.port,
            "tp_size": 1,
            "remote_num_tokens": len(context),
        }

    def _expire(self, now_s: float) -> None:
        for rid in [r for r, (_, end) in self.held.items() if end <= now_s]:
            del self.held[rid]
            self.stats["expired"] += 1

    def num_held(self) -> int:
        """Contexts held now (lease not expired): 0 once every hop has been pulled."""
        self._expire(time.monotonic())
        return len(self.held)

    async def handle_pull(self, request: web.Request) -> web.Response:
        """POST /fake_kv/pull {remote_request_id}: the held ids (freed here), 404 if unknown."""
        body = await request.json()
        self._expire(time.monotonic())
        got = self.held.pop(str(body.get("remote_request_id")), None)
        if got is None:
            return web.json_response({"error": "no such held request (expired or pulled)"}, status=404)
        self.stats["served_pulls"] += 1
        return web.json_response({"token_ids": got[0]})

    async def pull(self, params: dict[str, Any], prompt: list[int]) -> int:
        """Pull the source's KV for prompt; returns the tokens pulled; raises KvPullError."""
        if self.failure == "pull":
            raise KvPullError("KV transfer failed (kv_failure=pull)")
        url = f"http://{params.get('remote_host')}:{params.get('remote_port')}/fake_kv/pull"
        try:
            async with aiohttp.ClientSession() as session, session.post(
                url, json={"remote_request_id": params.get("remote_request_id")},
                timeout=aiohttp.ClientTimeout(total=10.0),
            ) as resp:
                doc = await resp.json()
        except (aiohttp.ClientError, OSError, ValueError) as exc:
            raise KvPullError(f"KV transfer failed: {type(exc).__name__}") from None
        doc = doc if isinstance(doc, dict) else {}
        ids = doc.get("token_ids")
        if not isinstance(ids, list) or ids != prompt:
            raise KvPullError(f"KV transfer failed: {doc.get('error', 'pulled ids do not match the prompt')}")
        self.stats["pulled_tokens"] += len(ids)
        return len(ids)
