"""A minimal vLLM-flavoured OpenAI-compatible backend for tests and the router overhead benchmark.

It generates tokens without a model: the next token id is a fixed function of the last token and the
context length, so a request continued elsewhere with prompt + generated ids produces exactly the
tokens an uninterrupted one would (the router's hop continuity can be checked end to end).

Run: python -m l4bench.live.fake_backend --port 8001 --token-delay-s 0
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from l4bench.live.fake_kv import FakeKvPeer, KvPullError

VOCAB_SIZE = 32000


def next_token(last_token: int, context_tokens: int) -> int:
    """The fake model: deterministic next token from the last token and the context length."""
    return (last_token * 31 + context_tokens * 7 + 11) % VOCAB_SIZE


def expected_tokens(prompt_ids: list[int], num_tokens: int) -> list[int]:
    """What an uninterrupted run of the fake model outputs after prompt_ids."""
    out: list[int] = []
    last = prompt_ids[-1] if prompt_ids else 0
    for i in range(num_tokens):
        last = next_token(last, len(prompt_ids) + i)
        out.append(last)
    return out


def fake_tokenize(text: str) -> list[int]:
    """Whitespace 'tokenizer' of the fake model (one id per word)."""
    return [sum(map(ord, word)) % VOCAB_SIZE for word in text.split()]


@dataclass(frozen=True)
class FakeBackendConfig:
    """Knobs of the fake backend."""

    model_name: str = "fake-model"
    token_delay_s: float = 0.0  # between streamed tokens
    first_token_delay_s: float = 0.0  # "prefill" before the first token
    max_model_len: int = 32768
    fail_after_tokens: int | None = None  # after streaming this many tokens in total, crash (drop streams)
    prefill_s_per_token: float = 0.0  # extra first-token delay per prompt token neither cached nor pulled
    kv_failure: str | None = None  # KV-transfer hops fail here: handoff | pull (fake_kv.py)
    kv_lease_s: float = 30.0  # held KV for a remote decode is dropped after this
    metrics_delay_s: float = 0.0  # /metrics answers this late (a busy engine's API server)


def _error(status: int, message: str, kind: str = "BadRequestError") -> web.Response:
    body = {"error": {"message": message, "type": kind, "param": None, "code": status}}
    return web.json_response(body, status=status)


class FakeBackend:
    """One fake engine instance: start() on a port, kill() to simulate a crash, stop() to shut down."""

    def __init__(self, config: FakeBackendConfig | None = None) -> None:
        self.config = config or FakeBackendConfig()
        self.stats: dict[str, int] = {"requests": 0, "completed": 0, "aborted": 0, "tokens": 0}
        self.is_dead = False
        self.num_running = 0
        self.bodies: list[dict[str, Any]] = []  # every accepted request body (tests inspect them)
        self.kv = FakeKvPeer(self.config.kv_lease_s, self.config.kv_failure, self.config.prefill_s_per_token > 0)
        self._runner: web.AppRunner | None = None
        self._transports: set[asyncio.BaseTransport] = set()

    def app(self) -> web.Application:
        """The aiohttp application (routes only)."""
        app = web.Application(client_max_size=64 << 20)
        app.router.add_post("/v1/completions", self._completions)
        app.router.add_post("/v1/chat/completions", self._completions)
        app.router.add_post("/generate", self._generate)  # SGLang's native API (input_ids or text)
        app.router.add_get("/health", self._health)
        app.router.add_get("/metrics", self._metrics)
        app.router.add_get("/v1/models", self._models)
        app.router.add_post("/fake_kv/pull", self.kv.handle_pull)
        return app

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Listen on host:port (0: a free port); returns the base URL."""
        self._runner = web.AppRunner(self.app(), access_log=None, shutdown_timeout=0.1)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        sock = site._server.sockets[0]  # type: ignore[union-attr]
        self.kv.host, self.kv.port = host, int(sock.getsockname()[1])
        return f"http://{host}:{sock.getsockname()[1]}"

    def kill(self) -> None:
        """Simulate a crash: drop every open stream and answer nothing but errors from now on."""
        self.is_dead = True
        for transport in list(self._transports):
            transport.abort()  # type: ignore[attr-defined]
        self._transports.clear()

    async def stop(self) -> None:
        """Stop listening and close everything."""
        self.kill()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _health(self, request: web.Request) -> web.Response:
        return web.Response(status=503 if self.is_dead else 200)

    async def _models(self, request: web.Request) -> web.Response:
        card = {"id": self.config.model_name, "object": "model", "max_model_len": self.config.max_model_len}
        return web.json_response({"object": "list", "data": [card]})

    async def _metrics(self, request: web.Request) -> web.Response:
        if self.is_dead:
            return web.Response(status=503)
        if self.config.metrics_delay_s:
            await asyncio.sleep(self.config.metrics_delay_s)
        labels = f'{{engine="0",model_name="{self.config.model_name}"}}'
        lines = [
            f"vllm:num_requests_running{labels} {float(self.num_running)}",
            f"vllm:num_requests_waiting{labels} 0.0",
            f"vllm:kv_cache_usage_perc{labels} 0.0",
            f"sglang:num_running_reqs{labels} {float(self.num_running)}",
            f"sglang:num_queue_reqs{labels} 0.0",
            f"sglang:token_usage{labels} 0.0",
            'vllm:cache_config_info{block_size="16",engine="0",num_gpu_blocks="4096"} 1.0',  # 65536 tokens
        ]
        return web.Response(text="\n".join(lines) + "\n")

    def _prompt_ids(self, body: dict[str, Any]) -> list[int] | None:
        if "messages" in body:
            msgs = body.get("messages") or []
            return fake_tokenize(" ".join(str(m.get("content", "")) for m in msgs if isinstance(m, dict)))
        prompt = body.get("prompt")
        if isinstance(prompt, str):
            return fake_tokenize(prompt)
        if isinstance(prompt, list) and all(isinstance(t, int) for t in prompt):
            return [int(t) for t in prompt]
        return None

    async def _completions(self, request: web.Request) -> web.StreamResponse:
        if self.is_dead:
            if request.transport is not None:
                request.transport.abort()  # type: ignore[attr-defined]
            return web.Response(status=500)
        try:
            body = await request.json()
        except ValueError:
            return _error(400, "invalid JSON")
        prompt = self._prompt_ids(body) if isinstance(body, dict) else None
        max_tokens = body.get("max_tokens", 16) if isinstance(body, dict) else None
        if prompt is None or not isinstance(max_tokens, int) or max_tokens < 1:
            return _error(400, "prompt must be a string or a list of token ids; max_tokens must be >= 1")
        limit = self.config.max_model_len
        if len(prompt) + max_tokens > limit:
            msg = f"This model's maximum context length is {limit} tokens. However, you requested {len(prompt) + max_tokens} tokens."
            return _error(400, msg)
        self.stats["requests"] += 1
        self.bodies.append(body)
        chat = "messages" in body
        kv = body.get("kv_transfer_params") if isinstance(body.get("kv_transfer_params"), dict) else {}
        try:
            pulled = await self.kv.pull(kv, prompt) if kv.get("do_remote_prefill") else 0
        except KvPullError as exc:
            return await self._kv_error(request, str(exc), bool(body.get("stream")))
        skipped = max(pulled, self.kv.cached_prefix_tokens(prompt))
        prefill_s = self.config.prefill_s_per_token * (len(prompt) - skipped)
        if kv.get("do_remote_decode") and self.config.kv_failure != "handoff":  # held until pulled or the lease ends
            kv = self.kv.hold(f"cmpl-{self.stats['requests']}", prompt, time.monotonic())
        else:
            kv = {}
        if body.get("stream"):  # streamed: params never returned (vLLM 0.25); held ones expire
            return await self._stream(request, prompt, max_tokens, chat, bool(body.get("return_token_ids")),
                                      prefill_s=prefill_s)
        return await self._whole(prompt, max_tokens, chat, bool(body.get("return_token_ids")), prefill_s, kv)

    async def _kv_error(self, request: web.Request, message: str, stream: bool) -> web.StreamResponse:
        """A failed KV pull as vLLM reports it: a streamed error event (200 OK), else HTTP 500."""
        err = {"error": {"message": message, "type": "InternalServerError", "param": None, "code": 500}}
        if not stream:
            return web.json_response(err, status=500)
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await resp.prepare(request)
        await resp.write(b"data: " + json.dumps(err).encode() + b"\n\ndata: [DONE]\n\n")
        return resp

    async def _generate(self, request: web.Request) -> web.StreamResponse:
        """SGLang's /generate: {input_ids | text, sampling_params: {max_new_tokens}, stream}."""
        try:
            body = await request.json()
        except ValueError:
            return _error(400, "invalid JSON")
        ids, text = body.get("input_ids"), body.get("text")
        prompt = (
            [int(t) for t in ids]
            if isinstance(ids, list)
            else fake_tokenize(text)
            if isinstance(text, str)
            else None
        )
        max_tokens = (body.get("sampling_params") or {}).get("max_new_tokens", 16)
        if prompt is None or not isinstance(max_tokens, int) or max_tokens < 1:
            return _error(400, "input_ids or text required; sampling_params.max_new_tokens must be >= 1")
        self.stats["requests"] += 1
        self.bodies.append(body)
        if not body.get("stream"):
            return web.json_response(
                self._chunk("gen", False, expected_tokens(prompt, max_tokens), "length", None, True)
            )
        return await self._stream(request, prompt, max_tokens, False, False, generate=True)

    def _chunk(
        self,
        rid: str,
        chat: bool,
        ids: list[int],
        finish: str | None,
        prompt: list[int] | None,
        generate: bool = False,
    ) -> dict:
        if generate:  # SGLang, --incremental-streaming-output: new ids only, finish in meta_info
            meta = {"id": rid, "finish_reason": None if finish is None else {"type": finish}}
            return {"output_ids": ids, "meta_info": meta}
        text = "".join(f" t{t}" for t in ids)
        if chat:
            choice: dict[str, Any] = {
                "index": 0,
                "delta": {"content": text},
                "finish_reason": finish,
                "token_ids": ids,
            }
            chunk = {
                "id": rid,
                "object": "chat.completion.chunk",
                "model": self.config.model_name,
                "choices": [choice],
            }
            if prompt is not None:
                chunk["prompt_token_ids"] = prompt
            return chunk
        choice = {
            "index": 0,
            "text": text,
            "finish_reason": finish,
            "token_ids": ids,
            "prompt_token_ids": prompt,
        }
        return {"id": rid, "object": "text_completion", "model": self.config.model_name, "choices": [choice]}

    def _count_token(self) -> bool:
        """Count one streamed token; True when the crash knob fires."""
        self.stats["tokens"] += 1
        limit = self.config.fail_after_tokens
        return limit is not None and self.stats["tokens"] >= limit

    async def _stream(
        self,
        request: web.Request,
        prompt: list[int],
        max_tokens: int,
        chat: bool,
        echo_ids: bool,
        generate: bool = False,
        prefill_s: float = 0.0,
    ) -> web.StreamResponse:
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await resp.prepare(request)
        transport = request.transport
        if transport is not None:
            self._transports.add(transport)
        rid = f"cmpl-{self.stats['requests']}"
        self.num_running += 1
        sent: list[int] = []
        try:
            if self.config.first_token_delay_s + prefill_s > 0:
                await asyncio.sleep(self.config.first_token_delay_s + prefill_s)
            for i, token in enumerate(expected_tokens(prompt, max_tokens)):
                if i and self.config.token_delay_s > 0:
                    await asyncio.sleep(self.config.token_delay_s)
                if self.is_dead:
                    raise ConnectionResetError("backend killed")
                finish = "length" if i == max_tokens - 1 else None
                first = prompt if (i == 0 and echo_ids) else None
                chunk = self._chunk(rid, chat, [token], finish, first, generate)
                await resp.write(b"data: " + json.dumps(chunk).encode() + b"\n\n")
                sent.append(token)
                if self._count_token():
                    self.kill()
                    raise ConnectionResetError("backend crashed (fail_after_tokens)")
            await resp.write(b"data: [DONE]\n\n")
            self.stats["completed"] += 1
        except (ConnectionResetError, asyncio.CancelledError):
            self.stats["aborted"] += 1
            raise
        finally:
            self.num_running -= 1
            self.kv.remember(prompt + sent)
            if transport is not None:
                self._transports.discard(transport)
        return resp

    async def _whole(
        self, prompt: list[int], max_tokens: int, chat: bool, echo_ids: bool, prefill_s: float = 0.0,
        kv: dict[str, Any] | None = None,
    ) -> web.Response:
        delay_s = self.config.first_token_delay_s + prefill_s + self.config.token_delay_s * (max_tokens - 1)
        if delay_s > 0:
            await asyncio.sleep(delay_s)
        ids = expected_tokens(prompt, max_tokens)
        self.kv.remember(prompt + ids)
        self.stats["tokens"] += len(ids)
        self.stats["completed"] += 1
        body = self._chunk(
            f"cmpl-{self.stats['requests']}", chat, ids, "length", prompt if echo_ids else None
        )
        if chat:
            choice = body["choices"][0]
            choice["message"] = {"role": "assistant", "content": choice.pop("delta")["content"]}
        body["usage"] = {
            "prompt_tokens": len(prompt),
            "completion_tokens": len(ids),
            "total_tokens": len(prompt) + len(ids),
        }
        body["created"] = int(time.time())
        if kv:
            body["kv_transfer_params"] = kv
        return web.json_response(body)


async def _serve(config: FakeBackendConfig, host: str, port: int) -> None:
    backend = FakeBackend(config)
    url = await backend.start(host, port)
    print(f"fake backend listening on {url}", flush=True)
    try:
        await asyncio.Event().wait()
    finally:
        await backend.stop()


def main(argv: list[str] | None = None) -> None:
    """Command line entry point: serve one fake backend until interrupted."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8001)
    parser.add_argument("--token-delay-s", type=float, default=0.0)
    parser.add_argument("--first-token-delay-s", type=float, default=0.0)
    parser.add_argument("--max-model-len", type=int, default=32768)
    parser.add_argument("--fail-after-tokens", type=int, default=None)
    parser.add_argument("--model-name", default="fake-model")
    parser.add_argument("--prefill-s-per-token", type=float, default=0.0)
    parser.add_argument("--kv-failure", choices=("handoff", "pull"), default=None)
    a = parser.parse_args(argv)
    cfg = FakeBackendConfig(
        a.model_name, a.token_delay_s, a.first_token_delay_s, a.max_model_len, a.fail_after_tokens,
        a.prefill_s_per_token, a.kv_failure,
    )
    try:
        asyncio.run(_serve(cfg, a.host, a.port))
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
