"""max_tokens rules: an upper bound on the output, the true length only when asked (oracle)."""

from __future__ import annotations

import pytest

from l4bench.errors import ConfigError
from l4bench.types import Request
from l4bench.workloads.max_tokens import FixedMaxTokens, ModelMaxTokens, TrueLengthMaxTokens

REQS = [Request(0, 0.0, 100, 50), Request(1, 1.0, 3000, 900), Request(2, 2.0, 10, 300)]


def test_model_max_is_the_room_after_the_prompt():
    out = ModelMaxTokens().assign(REQS, 4096)
    assert [r.max_tokens for r in out] == [3996, 1096, 4086]
    assert [r.output_tokens for r in out] == [50, 900, 300]  # truth untouched
    assert all(r.max_tokens >= r.output_tokens for r in out)


def test_fixed_and_dataset_cap():
    out = FixedMaxTokens(cap_tokens=512).assign(REQS, 4096)
    assert [r.max_tokens for r in out] == [512, 512, 512]
    assert [r.output_tokens for r in out] == [50, 512, 300]  # the engine stops at the cap
    out = FixedMaxTokens().assign(REQS, 3500)  # null: the longest output (900), within the model's room
    assert [r.max_tokens for r in out] == [900, 500, 900]
    with pytest.raises(ConfigError, match="cap_tokens"):
        FixedMaxTokens(cap_tokens=0)


def test_true_length_only_as_the_named_oracle():
    out = TrueLengthMaxTokens().assign(REQS, 4096)
    assert [r.max_tokens for r in out] == [50, 900, 300]
    assert TrueLengthMaxTokens().describe()["oracle"] is True


def test_the_view_has_the_cap_but_not_the_true_length():
    v = ModelMaxTokens().assign(REQS, 4096)[1].view()
    assert v.max_tokens == 1096 and not hasattr(v, "output_tokens")
