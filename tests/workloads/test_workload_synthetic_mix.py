"""SyntheticMixWorkload: classes with uniform length ranges (issue 15 workloads)."""

from __future__ import annotations

import numpy as np
import pytest
import yaml

from l4bench.errors import ConfigError
from l4bench.workloads import SyntheticMixWorkload

CLASSES = [
    {"name": "short", "fraction": 0.9, "prompt_tokens": [512, 2048], "output_tokens": [128, 512]},
    {"name": "long", "fraction": 0.1, "prompt_tokens": [16384, 32768], "output_tokens": [128, 512]},
]


def test_ranges_fractions_and_tags():
    reqs = SyntheticMixWorkload(CLASSES, num_requests=4000).load(np.random.default_rng(0))
    tags = np.array([r.tag for r in reqs])
    prompt = np.array([r.prompt_tokens for r in reqs])
    output = np.array([r.output_tokens for r in reqs])
    assert abs((tags == "long").mean() - 0.1) < 0.02
    assert prompt[tags == "short"].min() >= 512 and prompt[tags == "short"].max() <= 2048
    assert prompt[tags == "long"].min() >= 16384 and prompt[tags == "long"].max() <= 32768
    assert output.min() >= 128 and output.max() <= 512
    assert abs(prompt[tags == "short"].mean() - 1280) < 40  # uniform, not pinned to one end


def test_same_seed_same_requests_and_max_model_len_truncates():
    a = SyntheticMixWorkload(CLASSES, num_requests=200, max_model_len=20000).load(np.random.default_rng(7))
    b = SyntheticMixWorkload(CLASSES, num_requests=200, max_model_len=20000).load(np.random.default_rng(7))
    assert [(r.prompt_tokens, r.output_tokens) for r in a] == [(r.prompt_tokens, r.output_tokens) for r in b]
    assert max(r.prompt_tokens + r.output_tokens for r in a) <= 20000


@pytest.mark.parametrize("classes, match", [
    ([], "non-empty"),
    ([dict(CLASSES[0], fraction=0.5)], "sum to 1"),
    ([dict(CLASSES[0], fraction=1.0, prompt_tokens=[10, 5])], "lo <= hi"),
    ([dict(CLASSES[0], fraction=1.0, output_tokens=[1])], r"\[lo, hi\]"),
    ([dict(CLASSES[0], fraction=1.0, colour="red")], "unknown keys"),
])
def test_bad_classes_are_one_line(classes, match):
    with pytest.raises(ConfigError, match=match):
        SyntheticMixWorkload(classes)


@pytest.mark.parametrize("name", ["bimodal_ranges", "long_outputs"])
def test_shipped_yaml_loads(name):
    from pathlib import Path

    cfg = yaml.safe_load((Path(__file__).parents[2] / "conf" / "workload" / f"{name}.yaml").read_text())
    w = SyntheticMixWorkload(cfg["classes"], num_requests=50)
    assert len(w.load(np.random.default_rng(0))) == 50
