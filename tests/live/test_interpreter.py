"""Engine interpreter resolution and per-instance GPU assignment for the local launcher."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from l4bench.errors import ConfigError
from l4bench.live.interpreter import engine_python
from l4bench.live.launchers import instance_devices


def test_running_interpreter_wins_when_it_imports_the_engine() -> None:
    assert engine_python("json", None, {"L4BENCH_ENGINE_PYTHON": "/nowhere/python"}) == sys.executable


def test_env_var_when_the_running_interpreter_lacks_the_engine(tmp_path: Path) -> None:
    py = tmp_path / "bin" / "python"
    py.parent.mkdir()
    py.write_text("")
    assert engine_python("no_such_engine_pkg", None, {"L4BENCH_ENGINE_PYTHON": str(py)}) == str(py)


def test_neither_is_one_line_naming_both() -> None:
    with pytest.raises(ConfigError) as e:
        engine_python("no_such_engine_pkg", None, {})
    msg = str(e.value)
    assert "\n" not in msg and "L4BENCH_ENGINE_PYTHON" in msg and "l4bench[no_such_engine_pkg]" in msg


def test_configured_python_wins_and_must_exist(tmp_path: Path) -> None:
    assert engine_python("json", sys.executable, {}) == str(Path(sys.executable).absolute())
    with pytest.raises(ConfigError, match="does not exist"):
        engine_python("json", str(tmp_path / "missing"), {})


def test_relative_env_path_is_made_absolute(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "venv" / "bin").mkdir(parents=True)
    (tmp_path / "venv" / "bin" / "python").write_text("")
    monkeypatch.chdir(tmp_path)
    got = engine_python("no_such_engine_pkg", None, {"L4BENCH_ENGINE_PYTHON": "venv/bin/python"})
    assert got == str(tmp_path / "venv" / "bin" / "python")


@pytest.mark.parametrize(
    ("n", "g", "visible", "want"),
    [
        (2, 1, ["0", "1"], ("0", "1")),
        (2, 2, ["0", "1", "2", "3"], ("0,1", "2,3")),
        (2, 0.5, ["0"], ("0", "0")),
        (3, 0.5, ["4", "5"], ("4", "4", "5")),
        (4, 0.25, ["7"], ("7", "7", "7", "7")),
        (2, 1, ["3", "6"], ("3", "6")),  # the harness's own CUDA_VISIBLE_DEVICES ids
    ],
)
def test_instance_devices(n: int, g: float, visible: list[str], want: tuple[str, ...]) -> None:
    assert instance_devices(n, g, visible) == want


@pytest.mark.parametrize(("n", "g", "visible"), [(2, 1, ["0"]), (3, 0.5, ["0"]), (2, 0.4, ["0"]), (1, 1.5, ["0", "1"])])
def test_instance_devices_rejects_what_does_not_fit(n: int, g: float, visible: list[str]) -> None:
    with pytest.raises(ConfigError, match="gpus_per_instance"):
        instance_devices(n, g, visible)
