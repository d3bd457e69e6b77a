"""Global schedulers: one class per policy behind the GlobalScheduler protocol."""

from l4bench.sched.base import BaseScheduler, GlobalScheduler

__all__ = ["BaseScheduler", "GlobalScheduler"]
