"""ResolvePlan: what one re-solve of L4's stage partition produces (made by solve(), applied by install())."""

from __future__ import annotations

from dataclasses import dataclass

from l4bench.l4.cost import CostTable
from l4bench.l4.partition import Partition


@dataclass(frozen=True)
class ResolvePlan:
    """One re-solve's result: the window's cost table and the partition chosen on it."""

    solved_at_s: float
    table: CostTable
    partition: Partition | None
