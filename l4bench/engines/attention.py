"""The attention backend knob (`engine.attention_backend`, the profiler's `attention_backend`).

One name per backend, as the engine spells it: vLLM's AttentionBackendEnum names (FLASH_ATTN,
TRITON_ATTN, FLASHINFER, ...) and SGLang's `--attention-backend` values (triton, flashinfer, fa3, ...).
vLLM runs FlashAttention 3 on Hopper under FLASH_ATTN; `FLASH_ATTN_2` / `FLASH_ATTN_3` pin the
FlashAttention version (vLLM 0.25: `--attention-backend FLASH_ATTN --attention-config
'{"flash_attn_version": 2}'`, or `attention_config={"backend": ..., "flash_attn_version": 2}` in
`vllm.LLM`). None means the engine's own choice. What the engine really selected is read back from
its log (servers) or its attention layers (in-process profiler) and recorded beside the request.
"""

from __future__ import annotations

import json
import re
from typing import Any

from l4bench.errors import ConfigError

#: AttentionBackendEnum members of vLLM 0.25.0 for decoder models on CUDA (vllm/v1/attention/backends/registry.py).
VLLM_BACKENDS = ("FLASH_ATTN", "TRITON_ATTN", "FLASHINFER", "FLEX_ATTENTION", "CPU_ATTN")
#: Our aliases: FLASH_ATTN with a pinned FlashAttention version.
FLASH_ATTN_VERSIONS = {"FLASH_ATTN_2": 2, "FLASH_ATTN_3": 3}

_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")


def _check_name(backend: str, valid: tuple[str, ...], engine: str) -> None:
    if backend not in valid:
        raise ConfigError(f"engine.attention_backend: unknown {engine} backend {backend!r}; valid: "
                          f"{', '.join(valid)} or null (the engine's default)")


def vllm_backend_config(backend: str | None) -> dict[str, Any]:
    """vLLM's AttentionConfig fields for `backend` ({} = the engine's default)."""
    if backend is None:
        return {}
    backend = str(backend).upper()
    _check_name(backend, VLLM_BACKENDS + tuple(FLASH_ATTN_VERSIONS), "vLLM")
    if backend in FLASH_ATTN_VERSIONS:
        return {"backend": "FLASH_ATTN", "flash_attn_version": FLASH_ATTN_VERSIONS[backend]}
    return {"backend": backend}


def vllm_llm_kwargs(backend: str | None) -> dict[str, Any]:
    """Keyword arguments of `vllm.LLM(...)` that select `backend` (vLLM 0.25: attention_config)."""
    config = vllm_backend_config(backend)
    return {"attention_config": config} if config else {}


def vllm_cli_flags(backend: str | None) -> dict[str, Any]:
    """vLLM server flags (flag_args form) that select `backend`."""
    config = vllm_backend_config(backend)
    if not config:
        return {}
    flags: dict[str, Any] = {"attention-backend": config["backend"]}
    if "flash_attn_version" in config:
        flags["attention-config"] = json.dumps({"flash_attn_version": config["flash_attn_version"]})
    return flags


def sglang_cli_flags(backend: str | None) -> dict[str, Any]:
    """SGLang server flags that select `backend` (its own names: triton, flashinfer, fa3, ...)."""
    if backend is None:
        return {}
    if not _NAME.match(str(backend)):
        raise ConfigError(f"engine.attention_backend: bad SGLang backend name {backend!r}; valid: e.g. triton, "
                          "flashinfer, fa3 or null")
    return {"attention-backend": str(backend)}


def backend_label(selected: str | None, flash_attn_version: int | None = None) -> str | None:
    """Our name for what an engine selected: FLASH_ATTN with FA2 -> FLASH_ATTN_2, FA3 -> FLASH_ATTN (FA3)."""
    if selected is None:
        return None
    if selected == "FLASH_ATTN" and flash_attn_version == 2:
        return "FLASH_ATTN_2"
    if selected == "FLASH_ATTN" and flash_attn_version is not None:
        return f"FLASH_ATTN (FA{flash_attn_version})"
    return selected


_VLLM_SELECTED = (
    re.compile(r"Using (?:AttentionBackendEnum\.)?([A-Z][A-Z0-9_]+) backend\."),
    re.compile(r"Using ([A-Z][A-Z0-9_]+) attention backend out of potential backends"),
)
_VLLM_FA = re.compile(r"Using FlashAttention version (\d)")
_SGLANG_SELECTED = re.compile(r"attention_backend='([A-Za-z0-9_]+)'")


def vllm_selected_from_log(text: str) -> dict[str, Any]:
    """The backend a vLLM server log says it selected ({"selected": None} when the log says nothing)."""
    selected = None
    for pattern in _VLLM_SELECTED:
        found = pattern.findall(text)
        if found:
            selected = found[-1]
            break
    fa = _VLLM_FA.findall(text)
    version = int(fa[-1]) if fa and selected == "FLASH_ATTN" else None
    return {"selected": selected, "flash_attn_version": version, "label": backend_label(selected, version)}


def sglang_selected_from_log(text: str) -> dict[str, Any]:
    """The attention backend an SGLang server log prints in its server_args."""
    found = _SGLANG_SELECTED.findall(text)
    selected = found[-1] if found else None
    return {"selected": selected, "flash_attn_version": None, "label": selected}
