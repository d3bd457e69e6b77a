"""What the router shows its scheduler of max_tokens: the client's cap, never the emulated stop."""

from __future__ import annotations

import pytest

from l4bench.live.router_api import ClientError, client_max_tokens, parse_request


def parsed(**body):
    return parse_request(
        {"prompt": [1, 2, 3], **body}, is_chat=False, model_name="m", max_model_len=4096,
        default_max_tokens=16, tokenizer=None,
    )


def test_ordinary_client_cap_is_the_body_max_tokens():
    assert client_max_tokens(parsed(max_tokens=100), None) == 100


def test_with_ignore_eos_the_body_max_tokens_is_engine_side_only():
    p = parsed(max_tokens=100, ignore_eos=True)  # the benchmark's emulated EOS = true length
    assert client_max_tokens(p, None) is None
    assert client_max_tokens(p, "4000") == 4000  # the loadgen's header carries the client's cap


@pytest.mark.parametrize("header", ["abc", "50"])
def test_bad_or_inconsistent_cap_header_is_a_400(header):
    with pytest.raises(ClientError) as e:
        client_max_tokens(parsed(max_tokens=100, ignore_eos=True), header)
    assert e.value.status == 400
