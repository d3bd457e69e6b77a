"""Discrete-event simulator of a multi-instance vLLM-v1-like cluster."""

from l4bench.sim.simulator import Simulator

__all__ = ["Simulator"]
