"""Regenerate every paper figure from results/: ``python -m paper_figs [--results DIR] [--out DIR]``.

A figure whose data is absent is skipped with one line naming the experiment that makes it.
Exit status 1 if any figure script raised an error (missing data is not an error).
"""

from __future__ import annotations

import argparse
import importlib
import sys
import time
from pathlib import Path

from paper_figs import FIGURES, common
from paper_figs.canvas import save, themed
from paper_figs.common import DEFAULT_OUT, DEFAULT_RESULTS, DOCS_FIGURES, MissingDataError


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    ap = argparse.ArgumentParser(prog="python -m paper_figs", description=__doc__.splitlines()[0])
    ap.add_argument("--results", type=Path, default=DEFAULT_RESULTS, help="results folder (default: results/)")
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output folder (default: paper_figs/out/)")
    ap.add_argument("--docs", type=Path, default=DOCS_FIGURES,
                    help="folder for the README gallery's PNG copies (default: docs/figures/); 'none' to skip")
    ap.add_argument("--only", nargs="*", default=None, help="figure names or prefixes, e.g. fig02 fig10")
    ap.add_argument("--allow-mixed-commits", action="store_true",
                    help="draw runs whose summaries record different git commits in one figure (refused by default)")
    return ap.parse_args(argv)


def render(name: str, results: Path, out: Path, docs: Path | None, pdf: bool = True) -> Path:
    """Build one figure module's figure and save it; returns the PNG path."""
    mod = importlib.import_module(f"paper_figs.{name}")
    with themed():
        fig = mod.build(results)
        return save(fig, mod.NAME, out, docs, pdf=pdf)


def main(argv: list[str] | None = None) -> int:
    """Render the selected figures; print each path (or why it was skipped) and the total time."""
    args = parse_args(argv)
    common.ALLOW_MIXED_COMMITS = bool(args.allow_mixed_commits)
    docs = None if str(args.docs).lower() == "none" else args.docs
    names = [n for n in FIGURES if not args.only or any(n.startswith(p) for p in args.only)]
    t0 = time.perf_counter()
    num_errors = 0
    for name in names:
        t1 = time.perf_counter()
        try:
            path = render(name, args.results, args.out, docs)
        except MissingDataError as e:
            print(f"skip  {name}: {e}")
            continue
        except Exception as e:  # noqa: BLE001 - one broken figure must not stop the others
            num_errors += 1
            print(f"ERROR {name}: {type(e).__name__}: {e}", file=sys.stderr)
            continue
        print(f"wrote {path} ({time.perf_counter() - t1:.1f} s)")
    print(f"{len(names)} figures in {time.perf_counter() - t0:.1f} s")
    return 1 if num_errors else 0


if __name__ == "__main__":
    sys.exit(main())
