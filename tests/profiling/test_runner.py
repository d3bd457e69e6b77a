"""The profile runner without an engine: rows, shuffled passes, the time budget, bad input, the CLI."""

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
from l4bench.profiling.passes import PassPlan, run_passes
from l4bench.profiling.runner import CSV_FIELDS, profile_row, read_model_config

OLD_CSV_FIELDS = ("name", "group", "req_num_decodes", "req_decode_context_sum", "req_chunk_tokens",
                  "req_chunk_prior_tokens", "num_prefill_tokens", "num_prefill_seqs", "prefill_attention_tokens",
                  "num_decodes", "decode_context_sum", "decode_context_max", "decode_context_min", "step_time_s",
                  "step_time_min_s", "step_time_max_s", "engine_step_time_s", "num_samples", "is_exact", "wall_s")


class FakeDriver:
    """Answers like VllmStepDriver: step time grows with the decode count."""

    def __init__(self, clock_step_s: float = 0.0) -> None:
        self.calls: list[str] = []
        self.clock_step_s = clock_step_s

    def _samples(self, comp: Composition, n: int) -> list[StepSample]:
        if self.clock_step_s:
            time.sleep(self.clock_step_s)
        shape = BatchShape(num_prefill_tokens=comp.chunk_tokens, num_prefill_seqs=int(comp.chunk_tokens > 0),
                           num_decodes=comp.num_decodes, decode_context_sum=comp.decode_context_sum)
        visit = self.calls.count(comp.name)  # later visits are slower: the spread must show it
        return [StepSample(0.01 + 1e-4 * comp.num_decodes + 1e-3 * i + 1e-3 * visit, 0.02, shape, 0.0)
                for i in range(n)]

    def measure_decode(self, comp: Composition, warmup_steps: int, measure_steps: int) -> list[StepSample]:
        self.calls.append(comp.name)
        return self._samples(comp, measure_steps)

    def measure_chunk(self, comp: Composition, warmup_steps: int, num_samples: int) -> list[StepSample]:
        self.calls.append(comp.name)
        return self._samples(comp, num_samples)


COMPS = [Composition("u", "uniform", ((1024, 8),)), Composition("c", "chunk", ((1024, 4),), 512, 0)]


def test_profile_row_takes_median_and_flags_exactness():
    driver = FakeDriver()
    samples = driver._samples(COMPS[0], 5)
    row = profile_row(COMPS[0], [samples], wall_s=1.0)
    assert set(row) == set(CSV_FIELDS) and set(OLD_CSV_FIELDS) <= set(CSV_FIELDS)
    assert row["step_time_s"] == pytest.approx(0.0108 + 0.002)
    assert row["step_time_min_s"] < row["step_time_s"] < row["step_time_max_s"]
    assert row["is_exact"] is True and row["num_samples"] == 5 and row["num_passes"] == 1
    assert row["step_time_ci_low_s"] == row["step_time_ci_high_s"] == row["step_time_mean_s"]


def test_profile_row_over_passes_has_spread_and_ci():
    driver = FakeDriver()
    passes = []
    for _ in range(3):
        passes.append(driver._samples(COMPS[0], 5))
        driver.calls.append(COMPS[0].name)
    row = profile_row(COMPS[0], passes, wall_s=3.0, attention_backend="TRITON_ATTN")
    medians = [0.0108 + 0.002 + 1e-3 * v for v in range(3)]
    assert row["num_passes"] == 3 and row["num_samples"] == 15
    assert row["step_time_mean_s"] == pytest.approx(sum(medians) / 3)
    assert row["step_time_std_s"] == pytest.approx(1e-3)
    half = 4.303 * 1e-3 / 3**0.5
    assert row["step_time_ci_low_s"] == pytest.approx(row["step_time_mean_s"] - half)
    assert row["step_time_ci_high_s"] == pytest.approx(row["step_time_mean_s"] + half)
    assert row["pass_step_times_s"].count(";") == 2 and row["attention_backend"] == "TRITON_ATTN"
    assert row["decode_max_position"] == 0.0  # the fake says so; a real step reports NaN without a long one


def test_run_passes_visits_every_composition_in_each_pass_in_shuffled_orders(tmp_path):
    comps = [Composition(f"u{i}", "uniform", ((1024, i + 1),), priority=1 + (i >= 6)) for i in range(8)]
    driver = FakeDriver()
    num, stopped = run_passes(driver, comps, tmp_path, PassPlan(passes=3, measure_steps=3, seed=1))
    assert (num, stopped) == (8, False)
    assert sorted(driver.calls) == sorted([c.name for c in comps] * 3)
    first = driver.calls[:18]  # priority 1 (six compositions) in all three passes before priority 2
    assert set(first) == {f"u{i}" for i in range(6)}
    orders = [first[0:6], first[6:12], first[12:18]]
    assert len({tuple(o) for o in orders}) > 1  # shuffled, not the same order every pass
    rows = list(csv.DictReader((tmp_path / "profile.csv").open()))
    assert [r["name"] for r in rows] == [c.name for c in comps] and {r["num_passes"] for r in rows} == {"3"}
    samples = list(csv.DictReader((tmp_path / "profile_samples.csv").open()))
    assert len(samples) == 8 * 3 * 3 and {s["pass_index"] for s in samples} == {"0", "1", "2"}
    again = FakeDriver()
    run_passes(again, comps, tmp_path / ".." / tmp_path.name, PassPlan(passes=3, measure_steps=3, seed=1))
    assert again.calls == driver.calls  # seeded


class TickClock:
    """perf_counter that advances one second per call (deadlines without sleeping)."""

    def __init__(self) -> None:
        self.now = 0.0

    def perf_counter(self) -> float:
        self.now += 1.0
        return self.now


def test_run_passes_stops_at_the_deadline_and_keeps_rows(tmp_path, monkeypatch):
    from l4bench.profiling import passes

    clock = TickClock()
    monkeypatch.setattr(passes, "time", clock)
    driver = FakeDriver()
    num, stopped = run_passes(driver, COMPS, tmp_path, PassPlan(passes=3, measure_steps=2, deadline=9.5))
    assert stopped and num == 2 and 2 <= len(driver.calls) < 6
    rows = list(csv.DictReader((tmp_path / "profile.csv").open()))
    assert len(rows) == num and all(int(r["num_passes"]) >= 1 for r in rows)
    none = FakeDriver()
    assert run_passes(none, COMPS, tmp_path, PassPlan(deadline=0.0)) == (0, True)
    assert none.calls == []


def test_read_model_config(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({"vocab_size": 7}))
    assert read_model_config(tmp_path)["vocab_size"] == 7
    with pytest.raises(ConfigError, match="no config.json"):
        read_model_config(tmp_path / "missing")


def test_cli_arguments_match_run_profile(tmp_path):
    args = vars(parse_args(["--model-dir", "m", "--out", str(tmp_path), "--grid", "full", "--enforce-eager",
                            "--engine-kwargs", '{"dtype": "float32"}', "--no-fit", "--attention-backend",
                            "FLASH_ATTN_2", "--passes", "4", "--burst", "--max-priority", "1"]))
    assert args["grid"] == "full" and args["enforce_eager"] is True and args["fit"] is False
    assert args["attention_backend"] == "FLASH_ATTN_2" and args["passes"] == 4 and args["burst"] is True
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
    for name in ("profile", "gpu_smoke", "profile_backend"):
        cfg = OmegaConf.load(conf / f"{name}.yaml")
        assert cfg.experiment.get("task", "profile") == "profile"
        assert set(cfg.experiment.profile) <= params
    assert OmegaConf.load(conf / "gpu_smoke.yaml").experiment.profile.grid == "smoke"
