"""The attention backend knob: engine arguments per name, bad names, what a log says was selected."""

from __future__ import annotations

import json

import pytest

from l4bench.engines.attention import (
    backend_label,
    sglang_cli_flags,
    sglang_selected_from_log,
    vllm_cli_flags,
    vllm_llm_kwargs,
    vllm_selected_from_log,
)
from l4bench.errors import ConfigError


def test_vllm_arguments_per_backend():
    assert vllm_llm_kwargs(None) == {} and vllm_cli_flags(None) == {}
    assert vllm_llm_kwargs("TRITON_ATTN") == {"attention_config": {"backend": "TRITON_ATTN"}}
    assert vllm_cli_flags("triton_attn") == {"attention-backend": "TRITON_ATTN"}
    assert vllm_llm_kwargs("FLASH_ATTN_2") == {"attention_config": {"backend": "FLASH_ATTN", "flash_attn_version": 2}}
    flags = vllm_cli_flags("FLASH_ATTN_2")
    assert flags["attention-backend"] == "FLASH_ATTN"
    assert json.loads(flags["attention-config"]) == {"flash_attn_version": 2}


def test_vllm_cli_flags_render_as_vllm_025_parses_them():
    from l4bench.engines.base import flag_args

    argv = flag_args(vllm_cli_flags("FLASH_ATTN_2"))
    assert argv == ["--attention-backend", "FLASH_ATTN", "--attention-config", '{"flash_attn_version": 2}']


def test_unknown_backend_is_one_config_error():
    with pytest.raises(ConfigError, match="valid: FLASH_ATTN, TRITON_ATTN"):
        vllm_llm_kwargs("FLASH_ATTN3")
    with pytest.raises(ConfigError, match="SGLang"):
        sglang_cli_flags("tri ton")
    assert sglang_cli_flags("triton") == {"attention-backend": "triton"} and sglang_cli_flags(None) == {}


def test_selected_backend_from_vllm_logs():
    forced = ("INFO 12-01 [cuda.py:416] Using AttentionBackendEnum.FLASH_ATTN backend.\n"
              "INFO 12-01 [flash_attn.py:719] Using FlashAttention version 2\n")
    assert vllm_selected_from_log(forced) == {"selected": "FLASH_ATTN", "flash_attn_version": 2,
                                              "label": "FLASH_ATTN_2"}
    auto = ("INFO [cuda.py:477] Using FLASH_ATTN attention backend out of potential backends: "
            "['FLASH_ATTN', 'FLASHINFER', 'TRITON_ATTN'].\nINFO Using FlashAttention version 3\n")
    assert vllm_selected_from_log(auto)["label"] == "FLASH_ATTN (FA3)"
    triton = "INFO Using AttentionBackendEnum.TRITON_ATTN backend.\n"
    assert vllm_selected_from_log(triton) == {"selected": "TRITON_ATTN", "flash_attn_version": None,
                                              "label": "TRITON_ATTN"}
    assert vllm_selected_from_log("nothing here")["selected"] is None


def test_selected_backend_from_sglang_log_and_labels():
    log = "server_args=ServerArgs(model_path='m', attention_backend='triton', sampling_backend='pytorch')"
    assert sglang_selected_from_log(log)["selected"] == "triton"
    assert sglang_selected_from_log("")["selected"] is None
    assert backend_label("FLASH_ATTN", 2) == "FLASH_ATTN_2" and backend_label(None) is None
    assert backend_label("TRITON_ATTN", None) == "TRITON_ATTN"
