"""L4 ablations: each removes one mechanism of L4Scheduler (variants are classes, not flags)."""

from __future__ import annotations

from l4bench.l4.cost import CostTable
from l4bench.l4.partition import Partition
from l4bench.l4.scheduler import L4Scheduler
from l4bench.types import InstanceView, Migration


class L4NoDpScheduler(L4Scheduler):
    """No DP: the cold-start equal split (prior_num_stages stages, equal bins and instances) stays;
    refinement, balancing and migration still run."""

    name = "l4_no_dp"

    def _choose_partition(self, table: CostTable) -> Partition | None:
        """Keep the current layout (the cost table is still built, for refinement's plan)."""
        return None


class L4NoRefineScheduler(L4Scheduler):
    """No runtime range refinement: boundaries change only when the DP is re-solved."""

    name = "l4_no_refine"

    def _refine(self, now_s: float) -> None:
        """Boundaries stay as planned."""


class L4NoBalanceScheduler(L4Scheduler):
    """No power-of-two rebalancing inside a stage (dispatch by predicted load remains)."""

    name = "l4_no_balance"

    def _balance(self, views: dict[int, InstanceView], loads: dict[int, float]) -> list[Migration]:
        """No migrations between peers."""
        return []


class L4NoMigrationScheduler(L4Scheduler):
    """No migration: a request stays in the stage of its prompt length until it finishes; the DP
    plans for that (decode work is charged to the prompt's stage)."""

    name = "l4_no_migration"
    is_migrating = False

    def _hop_bound(self, stage: int, final_tokens: int | None = None) -> int | None:
        """Never hop."""
        return None
