"""Marker blocks in READMEs, the generator registry, and regenerate / check over a checkout."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from l4bench.errors import ConfigError

#: name -> function(repository root) -> markdown (no surrounding blank lines)
GENERATORS: dict[str, Callable[[Path], str]] = {}

BLOCK = re.compile(
    r"(?P<open><!-- l4bench\.report:(?P<name>[A-Za-z0-9_.-]+) -->\n)(?P<body>.*?)(?P<close><!-- /l4bench\.report -->)",
    re.S,
)


def register(name: str) -> Callable[[Callable[[Path], str]], Callable[[Path], str]]:
    """Decorator: make fn the generator of the blocks named NAME."""

    def deco(fn: Callable[[Path], str]) -> Callable[[Path], str]:
        if name in GENERATORS:
            raise ValueError(f"report generator {name!r} registered twice")
        GENERATORS[name] = fn
        return fn

    return deco


def _load_generators() -> None:
    """Import the modules that register generators (kept lazy: they import pandas)."""
    import l4bench.report.h200_eval  # noqa: F401
    import l4bench.report.kv_hop  # noqa: F401
    import l4bench.report.kv_hop_sim  # noqa: F401
    import l4bench.report.live_backend  # noqa: F401
    import l4bench.report.live_goals  # noqa: F401
    import l4bench.report.live_tables  # noqa: F401
    import l4bench.report.live_triton  # noqa: F401
    import l4bench.report.premise  # noqa: F401
    import l4bench.report.repeats_eval  # noqa: F401
    import l4bench.report.slo_rate  # noqa: F401
    import l4bench.report.tables  # noqa: F401


def render(name: str, root: Path) -> str:
    """The markdown of block NAME, from the committed files under root."""
    _load_generators()
    if name not in GENERATORS:
        raise ConfigError(f"report block '{name}': no such generator; valid: {', '.join(sorted(GENERATORS))}")
    return GENERATORS[name](root).strip("\n")


def regenerate(text: str, root: Path) -> tuple[str, list[str]]:
    """The text with every block regenerated, and the names of the blocks that changed."""
    changed: list[str] = []

    def sub(m: re.Match[str]) -> str:
        body = render(m["name"], root) + "\n"
        if body != m["body"]:
            changed.append(m["name"])
        return m["open"] + body + m["close"]

    return BLOCK.sub(sub, text), changed


def readme_files(root: Path) -> list[Path]:
    """README.md, every results/*/README.md (and one level deeper), results/profiles/<gpu>/<model>/*.md, docs/*.md."""
    files = [root / "README.md", *sorted(root.glob("results/*/README.md")), *sorted(root.glob("results/*/*/README.md")),
             *sorted(root.glob("results/profiles/*/*/*.md")), *sorted(root.glob("docs/*.md"))]
    return [f for f in files if f.is_file()]


def check(root: Path, write: bool = False, files: list[Path] | None = None) -> list[str]:
    """'path: block' for every stale block under root; with write, rewrite those files."""
    stale = []
    for path in files if files is not None else readme_files(root):
        text = path.read_text()
        new, changed = regenerate(text, root)
        stale += [f"{path.relative_to(root) if path.is_relative_to(root) else path}: {n}" for n in changed]
        if write and new != text:
            path.write_text(new)
    return stale
