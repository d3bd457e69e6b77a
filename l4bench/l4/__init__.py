"""The L4 core: length-aware multi-instance scheduling, pure Python + numpy, time passed in.

Use from any router: ``from l4bench.l4 import L4Scheduler, partition``; see README.md here.
"""

from l4bench.l4.ablations import (
    L4NoBalanceScheduler,
    L4NoDpScheduler,
    L4NoMigrationScheduler,
    L4NoRefineScheduler,
)
from l4bench.l4.balance import BalanceParams, balance_stage
from l4bench.l4.cost import (
    AffineStepTime,
    CostParams,
    CostTable,
    Objective,
    StepTimeModel,
    fit_affine,
    stage_cost_table,
)
from l4bench.l4.histogram import BinStats, LengthHistogram, bin_of, bin_stats, make_bin_edges
from l4bench.l4.partition import Partition, dp_table, equal_partition, partition
from l4bench.l4.refine import RefineParams, refine_boundaries
from l4bench.l4.scheduler import L4Scheduler
from l4bench.l4.stages import StageLayout, contiguous_layout, reassign

__all__ = [
    "AffineStepTime",
    "BalanceParams",
    "BinStats",
    "CostParams",
    "CostTable",
    "L4NoBalanceScheduler",
    "L4NoDpScheduler",
    "L4NoMigrationScheduler",
    "L4NoRefineScheduler",
    "L4Scheduler",
    "LengthHistogram",
    "Objective",
    "Partition",
    "RefineParams",
    "StageLayout",
    "StepTimeModel",
    "balance_stage",
    "bin_of",
    "bin_stats",
    "contiguous_layout",
    "dp_table",
    "equal_partition",
    "fit_affine",
    "make_bin_edges",
    "partition",
    "reassign",
    "refine_boundaries",
    "stage_cost_table",
]
