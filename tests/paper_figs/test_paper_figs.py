"""Every paper figure script renders from the tiny fixture results (tests/data/results_fixture/)."""

from __future__ import annotations

import importlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from paper_figs import FIGURES
from paper_figs.__main__ import main, render
from paper_figs.common import MissingDataError, latest_sweep, load_summary, offered_rate, tidy
from paper_figs.fig04_max_rate_slo import max_rate

FIXTURE = Path(__file__).resolve().parents[1] / "data" / "results_fixture"


@pytest.mark.parametrize("name", FIGURES)
def test_figure_renders_from_fixture(name: str, tmp_path: Path) -> None:
    """Each script writes a non-trivial PNG (and PDF) from the fixture, named after the module."""
    pdf = name == "fig02_latency_vs_rate"  # PDF output checked once (it doubles the time)
    png = render(name, FIXTURE, tmp_path, None, pdf=pdf)
    assert png == tmp_path / f"{name}.png"
    assert (tmp_path / f"{name}.pdf").is_file() == pdf
    with Image.open(png) as im:
        w, h = im.size
        pixels = np.asarray(im.convert("L"))
    assert 500 < w < 2000 and 300 < h < 1400
    assert pixels.std() > 10  # something was drawn


@pytest.mark.parametrize("name", FIGURES)
def test_figure_skips_without_data(name: str, tmp_path: Path) -> None:
    """With an empty results folder every data figure raises MissingDataError naming what to run."""
    mod = importlib.import_module(f"paper_figs.{name}")
    with pytest.raises(MissingDataError, match=r"python (-m l4bench|benchmarks/)"):
        mod.build(tmp_path)


def test_main_skips_and_reports(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The one command prints a skip line per missing figure and succeeds."""
    rc = main(["--results", str(tmp_path / "none"), "--out", str(tmp_path / "out"), "--docs", "none",
               "--only", "fig02", "fig07"])
    out = capsys.readouterr().out
    assert rc == 0
    assert "skip  fig02_latency_vs_rate: no results/fig_rates/ sweep" in out
    assert "python benchmarks/bench_dp_grid.py" in out


def test_sweep_frame_and_rates() -> None:
    """The fixture sweep is three Poisson rates with one row per scheduler each."""
    runs = latest_sweep(FIXTURE, "fig_rates")
    assert [r.name for r in runs] == ["0", "1", "2"]
    df = tidy(runs)
    assert sorted(df["offered_rate"].unique()) == [2.0, 4.0, 8.0]
    assert df.groupby("offered_rate")["scheduler"].nunique().eq(5).all()
    assert offered_rate(load_summary(runs[0])) == 2.0


def test_trace_offered_rate() -> None:
    """Trace replay: requests over the replayed span (span / speedup, cut at max_duration_s)."""
    doc = {"num_requests": 100, "meta": {"arrival": {"speedup": 2.0, "max_duration_s": None},
                                         "workload_info": {"duration_s": 50.0}}}
    assert offered_rate(doc) == pytest.approx(4.0)
    doc["meta"]["arrival"]["max_duration_s"] = 10.0
    assert offered_rate(doc) == pytest.approx(10.0)


def test_max_rate_interpolates() -> None:
    """Crossing between 2 and 4 req/s at attainment 0.9 -> 3; flags for never-failed / never-met."""
    rates = np.array([4.0, 2.0, 8.0])
    assert max_rate(rates, np.array([0.8, 1.0, 0.1])) == (pytest.approx(3.0), "")
    assert max_rate(rates, np.array([1.0, 1.0, 0.95])) == (8.0, ">=")
    assert max_rate(rates, np.array([0.5, 0.5, 0.5]))[1] == "<"
