"""`python -m l4bench.router`: the standalone router command (l4bench.live.router_cli)."""
