"""`python -m l4bench +experiment=NAME`."""

from l4bench.cli import main

if __name__ == "__main__":
    main()
