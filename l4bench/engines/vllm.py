"""vLLM behind its OpenAI-compatible server (checked against vLLM 0.32 CPU; fields also in 0.25)."""

from __future__ import annotations

import json
from typing import Any

import aiohttp

from l4bench.engines.attention import vllm_cli_flags, vllm_selected_from_log
from l4bench.engines.base import EngineAdapter, EngineLoad, flag_args, parse_prometheus, prometheus_labels
from l4bench.errors import ConfigError

#: engine.kv_transfer values -> vLLM's --kv-transfer-config (every instance sends and receives KV).
KV_TRANSFER_CONFIGS = {"nixl": {"kv_connector": "NixlConnector", "kv_role": "kv_both"}}


class VllmEngine(EngineAdapter):
    """vLLM: `python -m vllm.entrypoints.openai.api_server`, hops via /v1/completions token-id prompts."""

    name = "vllm"
    health_path = "/health"
    completions_path = "/v1/completions"
    metrics_path = "/metrics"
    python_module = "vllm"
    memory_fraction_flag = "gpu-memory-utilization"
    tensor_parallel_flag = "tensor-parallel-size"

    def __init__(self, served_model_name: str | None = None, load_timeout_s: float = 2.0) -> None:
        self.served_model_name = served_model_name
        self.load_timeout_s = load_timeout_s

    def launch_command(self, python: str, model: str, port: int, args: dict[str, Any]) -> list[str]:
        """argv of one vLLM server on 127.0.0.1:port (args: extra CLI flags, e.g. {"load-format": "dummy"})."""
        cmd = [python, "-m", "vllm.entrypoints.openai.api_server", "--model", model]
        cmd += ["--host", "127.0.0.1", "--port", str(port)]
        extra = dict(args)
        for key in ("host", "port", "model"):
            extra.pop(key, None)
        if self.served_model_name and "served-model-name" not in extra:
            extra["served-model-name"] = self.served_model_name
        return cmd + flag_args(extra)

    def launch_env(self, base: dict[str, str]) -> dict[str, str]:
        """base plus the CPU-build defaults vLLM needs (1 GiB KV cache when unset)."""
        env = dict(base)
        if "CUDA_VISIBLE_DEVICES" not in env:
            env.setdefault("VLLM_CPU_KVCACHE_SPACE", "1")
        return env

    def attention_flags(self, backend: str | None) -> dict[str, Any]:
        """--attention-backend NAME (+ --attention-config '{"flash_attn_version": 2}' for FLASH_ATTN_2)."""
        return vllm_cli_flags(backend)

    def kv_transfer_flags(self, mode: str | None) -> dict[str, Any]:
        """--kv-transfer-config '{"kv_connector":"NixlConnector","kv_role":"kv_both"}' for mode nixl."""
        if mode is None:
            return {}
        if mode not in KV_TRANSFER_CONFIGS:
            raise ConfigError(f"engine.kv_transfer: unknown {mode!r}; valid: null, {', '.join(KV_TRANSFER_CONFIGS)}")
        return {"kv-transfer-config": json.dumps(KV_TRANSFER_CONFIGS[mode], separators=(",", ":"))}

    def selected_attention(self, log_text: str) -> dict[str, Any]:
        """The backend vLLM logged at start ("Using ... backend", "Using FlashAttention version N")."""
        return vllm_selected_from_log(log_text)

    def completion_body(
        self, prompt_token_ids: list[int], max_tokens: int, stream: bool, extra: dict[str, Any]
    ) -> dict[str, Any]:
        """A /v1/completions body with a token-id prompt; return_token_ids makes hops possible."""
        body: dict[str, Any] = {k: v for k, v in extra.items() if k != "rid"}
        body.update(prompt=list(prompt_token_ids), max_tokens=int(max_tokens), stream=bool(stream))
        body["return_token_ids"] = True
        if self.served_model_name and "model" not in body:
            body["model"] = self.served_model_name
        return body

    def chat_body(
        self, messages: list[Any], max_tokens: int, stream: bool, extra: dict[str, Any]
    ) -> dict[str, Any]:
        """A /v1/chat/completions body (first hop of a chat request); prompt ids come back in chunk 1."""
        body: dict[str, Any] = {k: v for k, v in extra.items() if k != "rid"}
        body.update(messages=messages, max_tokens=int(max_tokens), stream=bool(stream), return_token_ids=True)
        if self.served_model_name and "model" not in body:
            body["model"] = self.served_model_name
        return body

    def parse_chunk(self, chunk: dict[str, Any]) -> tuple[list[int], str, str | None]:
        """(token_ids, text, finish_reason) of choice 0 of a streamed chunk or a whole response."""
        choices = chunk.get("choices") or []
        if not choices:
            return [], "", None
        choice = choices[0]
        ids = choice.get("token_ids") or []
        text = choice.get("text")
        if text is None:  # chat-completion chunk
            text = (choice.get("delta") or choice.get("message") or {}).get("content") or ""
        return [int(t) for t in ids], text, choice.get("finish_reason")

    def parse_prompt_ids(self, chunk: dict[str, Any]) -> list[int] | None:
        """vLLM echoes prompt_token_ids in the first chunk when return_token_ids is set."""
        choices = chunk.get("choices") or []
        ids = choices[0].get("prompt_token_ids") if choices else None
        if ids is None:
            ids = chunk.get("prompt_token_ids")
        return [int(t) for t in ids] if ids is not None else None

    async def fetch_kv_capacity_tokens(self, session: aiohttp.ClientSession, url: str) -> int | None:
        """num_gpu_blocks x block_size from the vllm:cache_config_info labels on /metrics."""
        timeout = aiohttp.ClientTimeout(total=max(self.load_timeout_s, 5.0))
        async with session.get(url + self.metrics_path, timeout=timeout) as resp:
            resp.raise_for_status()
            text = await resp.text()
        for labels in prometheus_labels(text, "vllm:cache_config_info"):
            blocks, size = labels.get("num_gpu_blocks", ""), labels.get("block_size", "")
            if blocks.isdigit() and size.isdigit():
                return int(blocks) * int(size)
        return None

    async def fetch_load(self, session: aiohttp.ClientSession, url: str) -> EngineLoad:
        """Running/waiting requests and KV usage from vllm:* gauges on /metrics."""
        timeout = aiohttp.ClientTimeout(total=self.load_timeout_s)
        async with session.get(url + self.metrics_path, timeout=timeout) as resp:
            resp.raise_for_status()
            values = parse_prometheus(await resp.text())
        kv = values.get("vllm:kv_cache_usage_perc", values.get("vllm:gpu_cache_usage_perc", 0.0))
        return EngineLoad(
            num_running=int(values.get("vllm:num_requests_running", 0.0)),
            num_waiting=int(values.get("vllm:num_requests_waiting", 0.0)),
            kv_usage_frac=float(kv),
        )
