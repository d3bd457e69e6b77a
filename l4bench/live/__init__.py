"""Live clusters: OpenAI-compatible router, launchers, load generator."""
