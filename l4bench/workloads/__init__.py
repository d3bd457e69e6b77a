"""Workloads (traces, length tables, LongBench, synthetic) -> Requests; arrival processes."""

from l4bench.workloads.arrivals import (
    BurstArrivals,
    ConstantArrivals,
    GammaArrivals,
    PoissonArrivals,
    TraceArrivals,
)
from l4bench.workloads.base import Workload
from l4bench.workloads.burst import BurstWorkload
from l4bench.workloads.data import KNOWN_FILES, resolve_data_file
from l4bench.workloads.longbench import LongBenchWorkload
from l4bench.workloads.synthetic import (
    SyntheticBimodalWorkload,
    SyntheticLognormalWorkload,
    SyntheticZipfWorkload,
)
from l4bench.workloads.synthetic_mix import SyntheticMixWorkload
from l4bench.workloads.tokens import prompt_token_ids
from l4bench.workloads.traces import (
    AzureTraceWorkload,
    LengthsCsvWorkload,
    LengthTableWorkload,
    MooncakeWorkload,
)

__all__ = [
    "KNOWN_FILES",
    "AzureTraceWorkload",
    "BurstArrivals",
    "BurstWorkload",
    "ConstantArrivals",
    "GammaArrivals",
    "LengthTableWorkload",
    "LengthsCsvWorkload",
    "LongBenchWorkload",
    "MooncakeWorkload",
    "PoissonArrivals",
    "SyntheticBimodalWorkload",
    "SyntheticLognormalWorkload",
    "SyntheticMixWorkload",
    "SyntheticZipfWorkload",
    "TraceArrivals",
    "Workload",
    "prompt_token_ids",
    "resolve_data_file",
]
