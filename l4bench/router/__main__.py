"""`python -m l4bench.router --worker-urls URL... --scheduler l4`."""

from l4bench.live.router_cli import main

if __name__ == "__main__":
    main()
