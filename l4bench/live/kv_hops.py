"""Hops by KV transfer (vLLM NixlConnector, engine.kv_transfer=nixl): the source's handoff call.

vLLM 0.25.0 returns ``kv_transfer_params`` only in a non-streamed /v1/completions response
(CompletionResponse, vllm/entrypoints/openai/completion/serving.py:512-642); the streamed chunks
(CompletionStreamResponse, completion/protocol.py:584) carry no such field. So the hop does what
vLLM's P/D proxy does (tests/v1/kv_connector/nixl_integration/toy_proxy_server.py): the client's
segment streams as usual up to the bound; then one non-streamed ``max_tokens=1`` request with the
whole context (prompt + generated ids) and ``do_remote_decode`` goes to the source (its prefix cache
holds all but the tail, so it computes a few tokens and keeps the blocks: NixlConnector
request_finished, nixl/pull_scheduler.py:181-270); its token is discarded and its
``kv_transfer_params`` go with the same context to the destination, which pulls the blocks instead of
prefilling and generates the next token itself. The source frees the blocks when the destination's
read completes (the reader's notification sent with its READ, nixl/pull_worker.py:247 -> 329) or when their lease expires
(``kv_lease_duration`` in kv_connector_extra_config, 30 s by default, base_scheduler.py:70,
base_worker.py:1962-1979), so an
abandoned hop leaks nothing for longer than the lease.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

from l4bench.engines.base import EngineAdapter
from l4bench.errors import ConfigError
from l4bench.l4.migration import kv_bytes_per_token

#: The handoff's ask: keep the blocks for a remote decode (the P side of vLLM's P/D protocol).
REMOTE_DECODE_PARAMS: dict[str, Any] = {
    "do_remote_decode": True,
    "do_remote_prefill": False,
    "remote_engine_id": None,
    "remote_block_ids": None,
    "remote_host": None,
    "remote_port": None,
}
#: Sampling fields a max_tokens=1 handoff must not carry (vLLM rejects min_tokens > max_tokens).
_HANDOFF_DROP = ("stream_options", "min_tokens", "min_completion_tokens", "kv_transfer_params")


@dataclass(frozen=True)
class KvHopConfig:
    """KV-transfer hop settings of one router."""

    kv_bytes_per_token: int = 0  # for the bytes-moved estimate (context x this)
    timeout_s: float = 60.0  # handoff call, and the destination's silence before its first token


@dataclass
class Handoff:
    """The source's answer: the params for the destination, or why there are none."""

    params: dict[str, Any] | None
    reason: str = ""


def has_blocks(params: Any) -> bool:
    """Params a destination can pull from: a dict naming the source engine and some block ids."""
    if not isinstance(params, dict) or params.get("remote_engine_id") is None:
        return False
    blocks = params.get("remote_block_ids") or []
    return any(bool(g) for g in blocks) if all(isinstance(g, list) for g in blocks) else bool(blocks)


async def request_handoff(
    session: aiohttp.ClientSession,
    adapter: EngineAdapter,
    url: str,
    context_ids: list[int],
    extra: dict[str, Any],
    timeout_s: float,
) -> Handoff:
    """Ask the source to keep the KV of context_ids for a remote decode; never raises."""
    fields = {k: v for k, v in extra.items() if k not in _HANDOFF_DROP}
    body = adapter.completion_body(context_ids, 1, False, fields)
    body["kv_transfer_params"] = dict(REMOTE_DECODE_PARAMS)
    headers = {"X-Request-Id": str(extra.get("rid", "handoff"))}
    try:
        async with session.post(
            url + adapter.completions_path, json=body, headers=headers,
            timeout=aiohttp.ClientTimeout(total=timeout_s),
        ) as resp:
            text = await resp.text()
            if resp.status >= 400:
                return Handoff(None, f"handoff HTTP {resp.status}: {text[:200]}")
        doc = json.loads(text)
    except asyncio.TimeoutError:
        return Handoff(None, "handoff timed out")
    except (aiohttp.ClientError, ConnectionError, ValueError) as exc:
        return Handoff(None, f"handoff failed ({type(exc).__name__})")
    params = doc.get("kv_transfer_params") if isinstance(doc, dict) else None
    if not has_blocks(params):
        return Handoff(None, "handoff returned no kv_transfer_params with blocks")
    return Handoff(dict(params))


def kv_settings(
    mode: str | None, migration: Any, model_dir: Path, engine_args: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """RouterConfig fields and summary facts for engine.kv_transfer; the migration model must agree."""
    priced = getattr(migration, "mode", None)
    if priced is not None and (priced == "kv_transfer") != (mode is not None):
        raise ConfigError(
            f"migration={priced} with engine.kv_transfer={mode}: L4 would price hops by a mode the router "
            "does not use; valid: migration=kv_transfer with engine.kv_transfer=nixl, migration=recompute with null"
        )
    per_token = int(getattr(migration, "kv_bytes_per_token", 0) or 0)
    if not per_token and (model_dir / "config.json").is_file():
        dtype = engine_args.get("kv-cache-dtype")
        config = json.loads((model_dir / "config.json").read_text())
        per_token = kv_bytes_per_token(config, None if dtype in (None, "auto") else str(dtype))
    router = {"kv_transfer": mode, "kv_bytes_per_token": per_token}
    facts = {"mode": mode or "recompute", "connector": "NixlConnector" if mode == "nixl" else None,
             "kv_bytes_per_token_estimate": per_token}
    return router, facts
