"""Per-load comparison of L4 against every baseline from sweep summaries (l4bench/report/l4_eval.py).

Usage: python scripts/l4_eval_report.py SWEEP_DIR [SWEEP_DIR ...] [--load-key arrival.speedup]
         [--out PREFIX] [--slo-fraction 0.9] [--allow-mixed-commits]
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

from l4bench.report.l4_eval import main  # noqa: E402

if __name__ == "__main__":
    main()
