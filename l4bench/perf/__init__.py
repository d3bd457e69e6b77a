"""Performance models: step time of one engine iteration as a function of batch composition."""

from l4bench.perf.base import BatchShape, GpuSpec, ModelSpec, PerfModel

__all__ = ["BatchShape", "GpuSpec", "ModelSpec", "PerfModel"]
