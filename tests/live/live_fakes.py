"""Test helpers: an EngineAdapter that launches l4bench's fake backend instead of a real engine."""

from __future__ import annotations

from typing import Any

from l4bench.engines.sglang import SglangEngine
from l4bench.engines.vllm import VllmEngine


class FakeEngine(VllmEngine):
    """vLLM-shaped adapter whose servers are `python -m l4bench.live.fake_backend` processes."""

    name = "fake"

    def __init__(self, token_delay_s: float = 0.0, max_model_len: int = 32768) -> None:
        super().__init__(served_model_name="fake-model")
        self.token_delay_s = token_delay_s
        self.max_model_len = max_model_len

    def launch_command(self, python: str, model: str, port: int, args: dict[str, Any]) -> list[str]:
        """argv of one fake backend on 127.0.0.1:port (model and engine args are ignored)."""
        return [
            python,
            "-m",
            "l4bench.live.fake_backend",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--token-delay-s",
            str(self.token_delay_s),
            "--max-model-len",
            str(self.max_model_len),
        ]


class FakeSglangEngine(SglangEngine):
    """SGLang-shaped adapter (/generate, sglang:* gauges) over the same fake backend processes."""

    name = "fake-sglang"

    def __init__(self, token_delay_s: float = 0.0, max_model_len: int = 32768) -> None:
        super().__init__()
        self._fake = FakeEngine(token_delay_s, max_model_len)

    def launch_command(self, python: str, model: str, port: int, args: dict[str, Any]) -> list[str]:
        """argv of one fake backend (it serves /generate too)."""
        return self._fake.launch_command(python, model, port, args)
