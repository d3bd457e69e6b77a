"""Which Python interpreter starts the engine servers (vLLM, SGLang) of a local or Ray cluster.

Order: an explicit ``engine.python``; else the interpreter running l4bench when it can import the
engine (``pip install 'l4bench[vllm]'`` puts both in one environment, and a GPU host with the engine
on PYTHONPATH works as is); else ``$L4BENCH_ENGINE_PYTHON`` (a separate engine venv, e.g. the vLLM
CPU build that scripts/setup_live_cpu.sh makes). Neither: one ConfigError line naming both.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import sys
from collections.abc import Mapping
from pathlib import Path

from l4bench.errors import ConfigError

ENV_VAR = "L4BENCH_ENGINE_PYTHON"


def can_import(module: str) -> bool:
    """The running interpreter finds module (checked without importing it: vLLM's import takes seconds)."""
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def engine_python(module: str, configured: str | None = None, environ: Mapping[str, str] | None = None) -> str:
    """The interpreter that runs `python -m <module>...` servers (see the module docstring for the order).

    Args:
        module: the engine's top-level package (vllm, sglang).
        configured: engine.python from the config; wins when set.
        environ: the environment to read L4BENCH_ENGINE_PYTHON from (default os.environ).
    """
    env = os.environ if environ is None else environ
    if configured:
        return _checked(configured, "engine.python")
    if can_import(module):
        return sys.executable
    if env.get(ENV_VAR):
        return _checked(env[ENV_VAR], f"${ENV_VAR}")
    raise ConfigError(
        f"engine python: this interpreter ({sys.executable}) cannot import {module} and ${ENV_VAR} is not "
        f"set; valid: pip install 'l4bench[{module}]' here, or export {ENV_VAR}=<a python that imports {module}>"
    )


def _checked(python: str, source: str) -> str:
    """python as an absolute path (a bare name is looked up on PATH); ConfigError when it does not exist."""
    found = shutil.which(python) if os.sep not in python else None
    path = Path(found) if found else Path(python).expanduser()
    if not path.exists():
        raise ConfigError(f"{source}: {python} does not exist; valid: a path to a python that imports the engine")
    return str(path.absolute())
