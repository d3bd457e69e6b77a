"""Which engine version a live run used (recorded in RunResult.extra)."""

from __future__ import annotations

import json
import subprocess
import urllib.error
import urllib.request


def engine_version(engine: str, python: str | None, url: str | None = None) -> str:
    """The engine's version: its /version endpoint if it answers, else `python -c 'import engine'`."""
    if url:
        try:
            with urllib.request.urlopen(url + "/version", timeout=5.0) as resp:
                version = json.loads(resp.read()).get("version")
                if version:
                    return str(version)
        except (urllib.error.URLError, OSError, ValueError):
            pass
    if python is None:
        return "unknown"
    try:
        out = subprocess.run(
            [python, "-c", f"import {engine}; print({engine}.__version__)"],
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        )
        return out.stdout.strip().splitlines()[-1]
    except (OSError, subprocess.SubprocessError, IndexError):
        return "unknown"
