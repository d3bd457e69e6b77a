"""l4bench: length-aware scheduling (L4) for multi-instance LLM serving, with simulator and live harness."""

__version__ = "0.1.0"
