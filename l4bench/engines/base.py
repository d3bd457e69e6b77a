"""The interface the live router and the launchers use to talk to one kind of serving engine.

An adapter knows an engine's command line, readiness probe, request body for a token-id prompt,
streamed chunk format, load metrics and abort call. It holds no connection state: the caller passes
the aiohttp session and the instance URL, so one adapter object serves every instance.
"""

from __future__ import annotations

import math
import re
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any

import aiohttp

from l4bench.errors import ConfigError


@dataclass(frozen=True, slots=True)
class EngineLoad:
    """An engine's own report of its load (polled from its metrics endpoint)."""

    num_running: int
    num_waiting: int
    kv_usage_frac: float  # 0..1 of the KV cache in use


def flag_args(args: dict[str, Any]) -> list[str]:
    """Turn {"max-model-len": 4096, "enforce-eager": True, "x": None} into CLI flags.

    True -> bare flag, False/None -> omitted, lists -> the flag followed by each item.
    """
    out: list[str] = []
    for key, value in args.items():
        flag = "--" + str(key).lstrip("-").replace("_", "-")
        if value is None or value is False:
            continue
        if value is True:
            out.append(flag)
        elif isinstance(value, (list, tuple)):
            out.append(flag)
            out.extend(str(v) for v in value)
        else:
            out.extend([flag, str(value)])
    return out


def parse_prometheus(text: str) -> dict[str, float]:
    """Sum every sample of each metric name over its labels (enough for per-engine gauges)."""
    totals: dict[str, float] = {}
    for line in text.splitlines():
        if not line or line[0] == "#":
            continue
        if "{" in line:
            name = line.split("{", 1)[0]
            rest = line.rsplit("}", 1)[-1]
        else:
            name, _, rest = line.partition(" ")
        fields = rest.split()
        if not fields:
            continue
        try:
            value = float(fields[0])
        except ValueError:
            continue
        if math.isnan(value):
            continue
        totals[name] = totals.get(name, 0.0) + value
    return totals


def prometheus_labels(text: str, metric: str) -> list[dict[str, str]]:
    """The label sets of every sample of one metric (info-style gauges carry their facts in labels)."""
    out: list[dict[str, str]] = []
    prefix = metric + "{"
    for line in text.splitlines():
        if not line.startswith(prefix):
            continue
        body = line[len(prefix) : line.rfind("}")]
        out.append(dict(re.findall(r'([A-Za-z_][A-Za-z0-9_]*)="((?:[^"\\]|\\.)*)"', body)))
    return out


class EngineAdapter(ABC):
    """What the router and the launchers need to know about one serving engine."""

    name: str = "base"
    health_path: str = "/health"
    completions_path: str = "/v1/completions"
    chat_path: str | None = "/v1/chat/completions"  # None: no chat endpoint with token ids
    metrics_path: str = "/metrics"
    python_module: str | None = None  # the package `python -m` starts servers from (vllm, sglang)
    memory_fraction_flag: str | None = None  # CLI flag: fraction of GPU memory one instance may use
    tensor_parallel_flag: str | None = None  # CLI flag: GPUs per instance (tensor parallel degree)

    def placement_args(self, gpus_per_instance: int, gpu_memory_utilization: float | None) -> dict[str, Any]:
        """Engine flags for an instance spanning gpus_per_instance GPUs with that memory fraction."""
        args: dict[str, Any] = {}
        if gpus_per_instance > 1 and self.tensor_parallel_flag:
            args[self.tensor_parallel_flag] = gpus_per_instance
        if gpu_memory_utilization is not None and self.memory_fraction_flag:
            args[self.memory_fraction_flag] = gpu_memory_utilization
        return args

    @abstractmethod
    def launch_command(self, python: str, model: str, port: int, args: dict[str, Any]) -> list[str]:
        """The argv that starts one server instance on 127.0.0.1:port (args: engine CLI flags)."""

    def launch_env(self, base: dict[str, str]) -> dict[str, str]:
        """The environment for one server process (default: base unchanged)."""
        return dict(base)

    def attention_flags(self, backend: str | None) -> dict[str, Any]:
        """CLI flags that select attention backend `backend` (None: the engine's default)."""
        if backend is not None:
            raise ConfigError(f"engine.attention_backend: engine {self.name} has no attention backend flag; "
                              "valid: null")
        return {}

    def kv_transfer_flags(self, mode: str | None) -> dict[str, Any]:
        """CLI flags that make every instance a KV-transfer peer in `mode` (None: no KV transfer)."""
        if mode is not None:
            raise ConfigError(f"engine.kv_transfer: engine {self.name} has no KV-transfer hops; valid: null")
        return {}

    def selected_attention(self, log_text: str) -> dict[str, Any]:
        """What a server log says about the attention backend it selected (None: it does not say)."""
        return {"selected": None, "flash_attn_version": None, "label": None}

    @abstractmethod
    def completion_body(
        self, prompt_token_ids: list[int], max_tokens: int, stream: bool, extra: dict[str, Any]
    ) -> dict[str, Any]:
        """The JSON body of one hop: a token-id prompt, capped max_tokens, sampling fields in extra.

        extra may hold "rid", the hop's request id, for engines that abort by id; others drop it.
        """

    def text_completion_body(
        self, prompt_text: str, max_tokens: int, stream: bool, extra: dict[str, Any]
    ) -> dict[str, Any]:
        """Like completion_body but for a text prompt (first hop of a text request, no tokenizer)."""
        body = self.completion_body([], max_tokens, stream, extra)
        body["prompt"] = prompt_text
        return body

    def chat_body(
        self, messages: list[Any], max_tokens: int, stream: bool, extra: dict[str, Any]
    ) -> dict[str, Any]:
        """The body of the first hop of a chat request (later hops use completion_body with token ids)."""
        raise NotImplementedError(f"engine {self.name} has no chat endpoint that returns token ids")

    @abstractmethod
    def parse_chunk(self, chunk: dict[str, Any]) -> tuple[list[int], str, str | None]:
        """One streamed chunk (or a whole non-streamed body) -> (new token ids, new text, finish_reason)."""

    def parse_prompt_ids(self, chunk: dict[str, Any]) -> list[int] | None:
        """The prompt's token ids if the engine echoes them in this chunk (vLLM: first chunk), else None."""
        return None

    @abstractmethod
    async def fetch_load(self, session: aiohttp.ClientSession, url: str) -> EngineLoad:
        """Poll the instance at url for its load; raises aiohttp.ClientError / TimeoutError when down."""

    async def fetch_kv_capacity_tokens(self, session: aiohttp.ClientSession, url: str) -> int | None:
        """The instance's KV cache size in tokens as the engine reports it; None when it does not."""
        return None

    async def abort(self, session: aiohttp.ClientSession, url: str, request_id: str) -> None:
        """Best-effort abort of request_id on the instance (closing its stream already aborts in vLLM)."""
        return None
