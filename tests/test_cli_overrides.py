"""Override checks before Hydra runs: value types, and the keys that also take a list (rate sweeps)."""

from __future__ import annotations

import pytest

from l4bench.cli import GROUPS, conf_dir
from l4bench.cli_overrides import check_all, check_value
from l4bench.errors import ConfigError


def test_a_number_key_refuses_text_and_lists_unless_listed() -> None:
    with pytest.raises(ConfigError, match="seed: expected a number"):
        check_value("seed", 0, "abc")
    with pytest.raises(ConfigError, match="seed: expected a number"):
        check_value("seed", 0, [1, 2])
    check_value("arrival.rate", 4.0, [2, 4], list_ok=True)
    with pytest.raises(ConfigError, match="arrival.rate: expected a number"):
        check_value("arrival.rate", 4.0, [2, "a"], list_ok=True)
    with pytest.raises(ConfigError, match="expected a boolean"):
        check_value("progress", True, [1], list_ok=True)  # items of the wrong family still fail


def test_check_all_takes_a_rate_list_but_no_other_number_list() -> None:
    check_all(["+experiment=smoke", "arrival.rate=[2,4]"], conf_dir(), GROUPS)
    with pytest.raises(ConfigError, match="arrival.rate: expected a number"):
        check_all(["+experiment=smoke", "arrival.rate=[2,fast]"], conf_dir(), GROUPS)
    with pytest.raises(ConfigError, match="seed: expected a number"):
        check_all(["+experiment=smoke", "seed=[1,2]"], conf_dir(), GROUPS)
