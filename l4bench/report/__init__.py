"""Every results table in README.md and results/*/README.md, regenerated from committed results.

A generated table sits between markers in a README::

    <!-- l4bench.report:NAME -->
    | ... the table ... |
    <!-- /l4bench.report -->

NAME is a generator registered in ``l4bench.report.tables`` (a function of the repository root that
reads committed summary.json / comparison.csv / csv files and returns markdown).
``python -m l4bench.report`` rewrites every block in place; ``--check`` rewrites nothing and exits 1
listing the stale blocks (tests/test_report.py runs it).
"""

from l4bench.report.blocks import GENERATORS, check, readme_files, regenerate, register, render

__all__ = ["GENERATORS", "check", "readme_files", "regenerate", "register", "render"]
