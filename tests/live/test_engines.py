"""Engine adapters: launch commands, request bodies and chunk parsing (real vLLM 0.32 / SGLang shapes)."""

from __future__ import annotations

import asyncio
import json

import aiohttp

from l4bench.engines.base import EngineLoad, flag_args, parse_prometheus
from l4bench.engines.sglang import SglangEngine
from l4bench.engines.vllm import VllmEngine
from l4bench.live.fake_backend import FakeBackend

# Captured from `vllm.entrypoints.openai.api_server` 0.32.0 (CPU, --skip-tokenizer-init), return_token_ids=true.
VLLM_FIRST = json.loads(
    '{"id":"cmpl-b5","object":"text_completion","created":1,"model":"m","choices":[{"index":0,"text":"",'
    '"logprobs":null,"finish_reason":null,"stop_reason":null,"prompt_token_ids":[1,2,3,4],"token_ids":[1376]}]}'
)
VLLM_LAST = json.loads(
    '{"id":"cmpl-b5","object":"text_completion","created":1,"model":"m","choices":[{"index":0,"text":"",'
    '"logprobs":null,"finish_reason":"length","stop_reason":null,"prompt_token_ids":null,"token_ids":[1376]}],'
    '"system_fingerprint":"vllm-0.32.0"}'
)
VLLM_METRICS = """# HELP vllm:num_requests_running Number of requests in model execution batches.
# TYPE vllm:num_requests_running gauge
vllm:num_requests_running{engine="0",model_name="/m/tiny-llama"} 3.0
vllm:num_requests_waiting{engine="0",model_name="/m/tiny-llama"} 2.0
vllm:num_requests_waiting_by_reason{engine="0",model_name="/m/tiny-llama",reason="capacity"} 2.0
vllm:kv_cache_usage_perc{engine="0",model_name="/m/tiny-llama"} 0.25
vllm:num_requests_running{engine="1",model_name="/m/tiny-llama"} 1.0
"""


def test_flag_args() -> None:
    args = {
        "load-format": "dummy",
        "max_model_len": 4096,
        "enforce-eager": True,
        "off": False,
        "none": None,
        "l": [1, 2],
    }
    assert flag_args(args) == [
        "--load-format",
        "dummy",
        "--max-model-len",
        "4096",
        "--enforce-eager",
        "--l",
        "1",
        "2",
    ]


def test_vllm_launch_and_env() -> None:
    cmd = VllmEngine().launch_command(
        "/py", "/m", 8100, {"load-format": "dummy", "port": 1, "skip-tokenizer-init": True}
    )
    assert cmd[:4] == ["/py", "-m", "vllm.entrypoints.openai.api_server", "--model"]
    assert cmd[cmd.index("--port") + 1] == "8100" and cmd.count("--port") == 1
    assert "--skip-tokenizer-init" in cmd and cmd[cmd.index("--load-format") + 1] == "dummy"
    assert VllmEngine().launch_env({"PATH": "/bin"})["VLLM_CPU_KVCACHE_SPACE"] == "1"
    assert VllmEngine().launch_env({"VLLM_CPU_KVCACHE_SPACE": "8"})["VLLM_CPU_KVCACHE_SPACE"] == "8"
    assert "VLLM_CPU_KVCACHE_SPACE" not in VllmEngine().launch_env({"CUDA_VISIBLE_DEVICES": "0"})


def test_vllm_body_and_chunks() -> None:
    eng = VllmEngine()
    body = eng.completion_body([1, 2], 7, True, {"ignore_eos": True, "temperature": 0.0, "rid": "r-0"})
    assert body == {
        "prompt": [1, 2],
        "max_tokens": 7,
        "stream": True,
        "return_token_ids": True,
        "ignore_eos": True,
        "temperature": 0.0,
    }
    assert eng.parse_chunk(VLLM_FIRST) == ([1376], "", None)
    assert eng.parse_prompt_ids(VLLM_FIRST) == [1, 2, 3, 4]
    assert eng.parse_chunk(VLLM_LAST) == ([1376], "", "length")
    assert eng.parse_prompt_ids(VLLM_LAST) is None
    chat = {
        "prompt_token_ids": [9, 8],
        "choices": [{"index": 0, "delta": {"content": "hi"}, "token_ids": [5], "finish_reason": None}],
    }
    assert eng.parse_chunk(chat) == ([5], "hi", None) and eng.parse_prompt_ids(chat) == [9, 8]
    assert eng.chat_body([{"role": "user", "content": "x"}], 3, True, {})["return_token_ids"] is True


def test_prometheus_parse_sums_engines() -> None:
    values = parse_prometheus(VLLM_METRICS)
    assert values["vllm:num_requests_running"] == 4.0 and values["vllm:kv_cache_usage_perc"] == 0.25


def test_vllm_fetch_load_from_fake_backend() -> None:
    async def go() -> None:
        backend = FakeBackend()
        url = await backend.start()
        try:
            async with aiohttp.ClientSession() as s:
                assert await VllmEngine().fetch_load(s, url) == EngineLoad(0, 0, 0.0)
                await VllmEngine().abort(s, url, "x")  # a no-op for vLLM
        finally:
            await backend.stop()

    asyncio.run(go())


def test_sglang_launch_body_and_chunks() -> None:
    eng = SglangEngine()
    cmd = eng.launch_command("/py", "/m", 30000, {"tp-size": 2, "mem-fraction-static": 0.8})
    assert cmd[:5] == ["/py", "-m", "sglang.launch_server", "--model-path", "/m"]
    assert (
        "--incremental-streaming-output" in cmd
        and "--enable-metrics" in cmd
        and cmd[cmd.index("--tp-size") + 1] == "2"
    )
    body = eng.completion_body(
        [1, 2, 3], 5, True, {"ignore_eos": True, "temperature": 0.0, "seed": 3, "rid": "abc-1"}
    )
    assert body == {
        "input_ids": [1, 2, 3],
        "sampling_params": {"ignore_eos": True, "temperature": 0.0, "sampling_seed": 3, "max_new_tokens": 5},
        "stream": True,
        "rid": "abc-1",
    }
    assert eng.text_completion_body("hello", 2, False, {})["text"] == "hello"
    mid = {
        "text": " a",
        "output_ids": [11],
        "meta_info": {"id": "abc-1", "finish_reason": None, "completion_tokens": 1},
    }
    end = {"text": " b", "output_ids": [12], "meta_info": {"finish_reason": {"type": "length", "length": 5}}}
    aborted = {
        "text": "",
        "output_ids": [],
        "meta_info": {"finish_reason": {"type": "abort", "message": "x"}},
    }
    assert eng.parse_chunk(mid) == ([11], " a", None)
    assert eng.parse_chunk(end) == ([12], " b", "length")
    assert eng.parse_chunk(aborted) == ([], "", "error")
    assert eng.completions_path == "/generate" and eng.chat_path is None
    metrics = 'sglang:num_running_reqs{model_name="m"} 5\nsglang:num_queue_reqs{model_name="m"} 1\nsglang:token_usage{model_name="m"} 0.5\n'
    values = parse_prometheus(metrics)
    assert values["sglang:num_running_reqs"] == 5.0 and values["sglang:token_usage"] == 0.5
