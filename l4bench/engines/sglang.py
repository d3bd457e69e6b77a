"""SGLang behind its native /generate API (token-id prompts, incremental streaming)."""

from __future__ import annotations

from typing import Any

import aiohttp

from l4bench.engines.attention import sglang_cli_flags, sglang_selected_from_log
from l4bench.engines.base import EngineAdapter, EngineLoad, flag_args, parse_prometheus

#: OpenAI-style request fields that SGLang takes inside sampling_params (renamed where needed).
_SAMPLING_KEYS = {
    "temperature": "temperature",
    "top_p": "top_p",
    "top_k": "top_k",
    "min_p": "min_p",
    "ignore_eos": "ignore_eos",
    "stop": "stop",
    "stop_token_ids": "stop_token_ids",
    "frequency_penalty": "frequency_penalty",
    "presence_penalty": "presence_penalty",
    "repetition_penalty": "repetition_penalty",
    "min_tokens": "min_new_tokens",
    "seed": "sampling_seed",
}


class SglangEngine(EngineAdapter):
    """SGLang: `python -m sglang.launch_server`; hops via /generate with input_ids.

    The server is launched with --incremental-streaming-output so that every streamed chunk carries
    only the new output_ids and text (SGLang's default streams cumulative ones), and with
    --enable-metrics for the load gauges.
    """

    name = "sglang"
    health_path = "/health"
    completions_path = "/generate"
    chat_path = None  # SGLang's OpenAI chat endpoint does not return token ids
    metrics_path = "/metrics"
    python_module = "sglang"
    memory_fraction_flag = "mem-fraction-static"
    tensor_parallel_flag = "tp-size"

    def __init__(self, load_timeout_s: float = 2.0) -> None:
        self.load_timeout_s = load_timeout_s

    def launch_command(self, python: str, model: str, port: int, args: dict[str, Any]) -> list[str]:
        """argv of one SGLang server on 127.0.0.1:port (args: extra CLI flags)."""
        cmd = [python, "-m", "sglang.launch_server", "--model-path", model]
        cmd += ["--host", "127.0.0.1", "--port", str(port)]
        extra: dict[str, Any] = {"incremental-streaming-output": True, "enable-metrics": True}
        extra.update(args)
        for key in ("host", "port", "model-path", "model"):
            extra.pop(key, None)
        return cmd + flag_args(extra)

    def attention_flags(self, backend: str | None) -> dict[str, Any]:
        """--attention-backend NAME in SGLang's own names (triton, flashinfer, fa3, ...)."""
        return sglang_cli_flags(backend)

    def selected_attention(self, log_text: str) -> dict[str, Any]:
        """The attention_backend SGLang prints in its server_args at start."""
        return sglang_selected_from_log(log_text)

    def completion_body(
        self, prompt_token_ids: list[int], max_tokens: int, stream: bool, extra: dict[str, Any]
    ) -> dict[str, Any]:
        """A /generate body: input_ids plus sampling_params built from OpenAI-style extra fields."""
        sampling: dict[str, Any] = dict(extra.get("sampling_params") or {})
        for key, target in _SAMPLING_KEYS.items():
            if key in extra and extra[key] is not None:
                sampling[target] = extra[key]
        sampling["max_new_tokens"] = int(max_tokens)
        body: dict[str, Any] = {"input_ids": list(prompt_token_ids), "sampling_params": sampling}
        body["stream"] = bool(stream)
        if extra.get("rid"):
            body["rid"] = extra["rid"]
        return body

    def text_completion_body(
        self, prompt_text: str, max_tokens: int, stream: bool, extra: dict[str, Any]
    ) -> dict[str, Any]:
        """A /generate body with a text prompt."""
        body = self.completion_body([], max_tokens, stream, extra)
        del body["input_ids"]
        body["text"] = prompt_text
        return body

    def parse_chunk(self, chunk: dict[str, Any]) -> tuple[list[int], str, str | None]:
        """(output_ids, text, finish_reason) of one incremental /generate chunk."""
        ids = chunk.get("output_ids") or []
        text = chunk.get("text") or ""
        finish = (chunk.get("meta_info") or {}).get("finish_reason")
        reason: str | None
        if finish is None:
            reason = None
        elif isinstance(finish, dict):
            kind = str(finish.get("type", "stop"))
            reason = "error" if kind == "abort" else kind
        else:
            reason = str(finish)
        return [int(t) for t in ids], text, reason

    async def fetch_load(self, session: aiohttp.ClientSession, url: str) -> EngineLoad:
        """Running/queued requests and token usage from sglang:* gauges on /metrics."""
        timeout = aiohttp.ClientTimeout(total=self.load_timeout_s)
        async with session.get(url + self.metrics_path, timeout=timeout) as resp:
            resp.raise_for_status()
            values = parse_prometheus(await resp.text())
        return EngineLoad(
            num_running=int(values.get("sglang:num_running_reqs", 0.0)),
            num_waiting=int(values.get("sglang:num_queue_reqs", 0.0)),
            kv_usage_frac=float(values.get("sglang:token_usage", 0.0)),
        )

    async def abort(self, session: aiohttp.ClientSession, url: str, request_id: str) -> None:
        """POST /abort_request {"rid": request_id}; errors are ignored (best effort)."""
        timeout = aiohttp.ClientTimeout(total=self.load_timeout_s)
        try:
            async with session.post(url + "/abort_request", json={"rid": request_id}, timeout=timeout):
                pass
        except (aiohttp.ClientError, TimeoutError):
            return None
