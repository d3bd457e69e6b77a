"""Per-request records -> DataFrame -> summary; shared by simulated and live runs."""
