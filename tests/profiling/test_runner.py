"""The profile runner without an engine: rows, CSV writing, the time budget, bad input, the CLI."""

from __future__ import annotations

import csv
import json
import time

import pytest

from l4bench.errors import ConfigError
from l4bench.perf.base import BatchShape
from l4bench.profiling.__main__ import parse_args
from l4bench.profiling.driver import StepSample
from l4bench.profiling.grid import Composition
from l4bench.profiling.runner import CSV_FIELDS, _run_grid, profile_row, read_model_config


class FakeDriver:
    """Answers like VllmStepDriver: step time grows with the decode count."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def _samples(self, comp: Composition, n: int) -> list[StepSample]:
        shape = BatchShape(num_prefill_tokens=comp.chunk_tokens, num_prefill_seqs=int(comp.chunk_tokens > 0),
                           num_decodes=comp.num_decodes, decode_context_sum=comp.decode_context_sum)
        return [StepSample(0.01 + 1e-4 * comp.num_decodes + 1e-3 * i, 0.02, shape) for i in range(n)]

    def measure_decode(self, comp: Composition, warmup_steps: int, measure_steps: int) -> list[StepSample]:
        self.calls.append(comp.name)
        return self._samples(comp, measure_steps)

    def measure_chunk(self, comp: Composition, warmup_steps: int, num_samples: int) -> list[StepSample]:
        self.calls.append(comp.name)
        return self._samples(comp, num_samples)


COMPS = [Composition("u", "uniform", ((1024, 8),)), Composition("c", "chunk", ((1024, 4),), 512, 0)]


def test_profile_row_takes_median_and_flags_exactness():
    samples = FakeDriver()._samples(COMPS[0], 5)
    row = profile_row(COMPS[0], samples, wall_s=1.0)
    assert set(row) == set(CSV_FIELDS)
    assert row["step_time_s"] == pytest.approx(0.0108 + 0.002)
    assert row["step_time_min_s"] < row["step_time_s"] < row["step_time_max_s"]
    assert row["is_exact"] is True and row["num_samples"] == 5


def test_run_grid_writes_every_composition(tmp_path):
    driver = FakeDriver()
    num, stopped = _run_grid(driver, COMPS, tmp_path / "p.csv", time.perf_counter(), None, (1, 3, 2))
    rows = list(csv.DictReader((tmp_path / "p.csv").open()))
    assert (num, stopped) == (2, False) and driver.calls == ["u", "c"]
    assert [r["name"] for r in rows] == ["u", "c"] and rows[1]["num_samples"] == "2"


def test_run_grid_stops_at_the_time_budget(tmp_path):
    driver = FakeDriver()
    num, stopped = _run_grid(driver, COMPS, tmp_path / "p.csv", time.perf_counter() - 10.0, 5.0, (1, 3, 2))
    assert (num, stopped) == (0, True) and driver.calls == []


def test_read_model_config(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({"vocab_size": 7}))
    assert read_model_config(tmp_path)["vocab_size"] == 7
    with pytest.raises(ConfigError, match="no config.json"):
        read_model_config(tmp_path / "missing")


def test_cli_arguments_match_run_profile(tmp_path):
    args = vars(parse_args(["--model-dir", "m", "--out", str(tmp_path), "--grid", "full", "--enforce-eager",
                            "--engine-kwargs", '{"dtype": "float32"}', "--no-fit"]))
    assert args["grid"] == "full" and args["enforce_eager"] is True and args["fit"] is False
    assert args["engine_kwargs"] == {"dtype": "float32"}
    import inspect

    from l4bench.profiling.runner import run_profile

    params = set(inspect.signature(run_profile).parameters)
    assert set(args) - {"out"} <= params | {"model_dir"}


def test_experiment_profile_keys_are_run_profile_kwargs():
    import inspect
    from pathlib import Path

    from omegaconf import OmegaConf

    from l4bench.profiling.runner import run_profile

    conf = Path(__file__).resolve().parents[2] / "conf" / "experiment"
    params = set(inspect.signature(run_profile).parameters) - {"out_dir", "model_dir"}
    for name in ("profile", "gpu_smoke"):
        cfg = OmegaConf.load(conf / f"{name}.yaml")
        assert cfg.experiment.get("task", "profile") == "profile"
        assert set(cfg.experiment.profile) <= params
    assert OmegaConf.load(conf / "gpu_smoke.yaml").experiment.profile.grid == "smoke"
