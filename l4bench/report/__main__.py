"""python -m l4bench.report [--check] [--root DIR] [FILE ...]: regenerate the README results tables."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from l4bench.errors import ConfigError
from l4bench.report.blocks import check, readme_files


def main(argv: list[str] | None = None) -> int:
    """Rewrite every generated block (or, with --check, list the stale ones and return 1)."""
    ap = argparse.ArgumentParser(prog="python -m l4bench.report", description=__doc__)
    ap.add_argument("--check", action="store_true", help="change nothing; exit 1 if a block is stale")
    ap.add_argument("--root", type=Path, default=Path.cwd(), help="checkout root (default: cwd)")
    ap.add_argument("files", type=Path, nargs="*", help="READMEs (default: README.md, results/*/README.md)")
    a = ap.parse_args(argv)
    root = a.root.resolve()
    files = [f.resolve() for f in a.files] or readme_files(root)
    try:
        stale = check(root, write=not a.check, files=files)
    except (ConfigError, FileNotFoundError, KeyError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    for s in stale:
        print(("stale: " if a.check else "regenerated: ") + s)
    if a.check and stale:
        print("run `python -m l4bench.report` to regenerate", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
